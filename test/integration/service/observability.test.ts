// What operators look at: /openapi.json matches the routes the app really serves, /metrics reports the
// queue and the fee payer (to an operator or the metrics token only), /health/details reports the database
// and the worker's pause with its reason; the worker pauses below the fee-payer floor; the server binds
// 127.0.0.1 by default (HOST); and a database is never run against another chain.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../../src/config.js';
import { openApiDocument } from '../../../src/http/openapi.js';
import { makeLog } from '../../../src/log.js';
import { startService, type RunningService } from '../../../src/service.js';
import { startLocalnet } from '../../../anchor-localnet/server.js';
import { privateAuthorityKey, privateRecValidatorKey } from '../../support/localnet.js';
import { nonLoopbackAddress } from '../../support/network.js';
import { ChainSetupError } from '../../../src/errors.js';
import { freshPostgres, postgresAvailable, waitFor } from '../../support/db.js';

const lines: string[] = [];
const log = makeLog('info', new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } }));
const dir = mkdtempSync(join(tmpdir(), 'obs-'));
let svc: RunningService;

beforeAll(async () => {
  svc = await startService(
    loadConfig({ PORT: '0', LOCALNET_SLOT_MS: '50', PGLITE_DIR: join(dir, 'pg'), LOCALNET_LEDGER_DIR: join(dir, 'ledger'), BATCH_INTERVAL_MS: '50', MIN_FEE_PAYER_LAMPORTS: String(Number.MAX_SAFE_INTEGER) }),
    log,
  );
});
afterAll(() => svc.stop());

it('documents exactly the routes the app serves', async () => {
  const served = new Set(
    // The console's HTML pages and the rendered reference (/console, /docs) are not API routes.
    svc.app.routes.filter((r) => r.method !== 'ALL' && !/^\/(console|docs)(\/|$)/.test(r.path)).map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
  );
  const documented = new Set(Object.entries(openApiDocument.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)));
  expect([...served].sort()).toEqual([...documented].sort());
  const res = await fetch(`${svc.apiUrl}/openapi.json`);
  expect(((await res.json()) as any).openapi).toBe('3.0.3');
});

const asOperator = { headers: { authorization: 'Bearer dev-operator-token' } };

it('reports the queue and the fee payer in Prometheus text (operators only here: no METRICS_TOKEN), and the database in /health/details', async () => {
  expect((await fetch(`${svc.apiUrl}/metrics`)).status).toBe(401);
  const text = await (await fetch(`${svc.apiUrl}/metrics`, asOperator)).text();
  expect(text).toMatch(/energy_readings\{status="pending"\} \d+/);
  expect(text).toMatch(/energy_fee_payer_lamports \d+/);
  // Nothing minted yet today on this fresh database: the whole default budget is left.
  expect(text).toMatch(/energy_token_accounts_budget_left 1000\n/);
  expect(text).not.toMatch(/energy_readings\{status="recorded"\}/);
  const health = (await (await fetch(`${svc.apiUrl}/health/details`, asOperator)).json()) as any;
  expect(health.db).toMatchObject({ status: 'ok', age_ms: expect.any(Number) });
});

it('binds 127.0.0.1 by default: not reachable on another interface', async () => {
  expect(new URL(svc.apiUrl!).hostname).toBe('127.0.0.1');
  const other = nonLoopbackAddress();
  if (!other) return; // a machine with loopback only: nothing else to try
  const answered = await fetch(`http://${other}:${new URL(svc.apiUrl!).port}/health`).then(() => true, () => false);
  expect(answered).toBe(false);
});

it('pauses claiming while the fee payer is below its floor, and says so', async () => {
  await waitFor(() => lines.some((l) => l.includes('worker paused')), 30_000, 'the worker to say it paused');
  const paused = lines.find((l) => l.includes('worker paused'));
  expect(paused).toMatch(/below MIN_FEE_PAYER_LAMPORTS/);
  const details = (await (await fetch(`${svc.apiUrl}/health/details`, asOperator)).json()) as any;
  expect(details.worker).toMatchObject({ running: true, paused: true, reason: expect.stringMatching(/below MIN_FEE_PAYER_LAMPORTS/) });
  expect(details.fee_payer).toMatchObject({ below_floor: true, age_ms: expect.any(Number) });
  // The open /health: the database answers, so 200, paused worker or not.
  expect(await (await fetch(`${svc.apiUrl}/health`)).json()).toEqual({ status: 'ok' });
});

it('refuses to run a database against another chain, saying so', async () => {
  if (!(await postgresAvailable())) return;
  const db = await freshPostgres();
  const [a, b] = [await startLocalnet({ slotMs: 50 }), await startLocalnet({ slotMs: 50 })];
  const AUTHORITY_KEYPAIR_PATH = privateAuthorityKey();
  const cfg = (net: typeof a) =>
    loadConfig({ PORT: '0', DATABASE_URL: db.url!, SOLANA_RPC_URL: net.url, SOLANA_WS_URL: net.wsUrl, AUTHORITY_KEYPAIR_PATH, REC_VALIDATOR_KEYPAIR_PATH: privateRecValidatorKey(), GATEWAY_API_KEYS: 'g', OPERATOR_TOKEN: 'o', WORKER: 'off' });
  try {
    const first = await startService(cfg(a), log);
    await first.stop();
    const again = await startService(cfg(a), log); // same chain: fine
    await again.stop();
    const err = await startService(cfg(b), log).catch((e) => e);
    expect(err).toBeInstanceOf(ChainSetupError);
    expect(err.message).toMatch(/holds readings of another chain/);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await db.drop();
  }
});
