// The service starts only against a chain that holds the program, its token_info and mint, with the
// configured authority; it says which is wrong otherwise. Open /health says only {status}; /health/details
// (operator) reports the chain it uses. The authority key file must be private (chmod 600).
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Keypair } from '@solana/web3.js';
import { loadConfig } from '../../../src/config.js';
import { ChainSetupError, ConfigError, ValidationError } from '../../../src/errors.js';
import { makeApp } from '../../../src/http/app.js';
import { makeLog } from '../../../src/log.js';
import { startService } from '../../../src/service.js';
import { startLocalnet } from '../../../anchor-localnet/server.js';
import { AUTHORITY_KEYPAIR_PATH as COMMITTED_KEY } from '../../../anchor-localnet/paths.js';
import { privateAuthorityKey, privateRecValidatorKey } from '../../support/localnet.js';
import { nonLoopbackAddress } from '../../support/network.js';

const AUTHORITY_KEYPAIR_PATH = privateAuthorityKey();
const REC_VALIDATOR_KEYPAIR_PATH = privateRecValidatorKey();

const lines: string[] = [];
const sink = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
const log = makeLog('info', sink);
const dir = mkdtempSync(join(tmpdir(), 'startup-'));

it('starts on embedded defaults (the committed key exempt from the mode check), on every interface with HOST=0.0.0.0; /health says only its status, /health/details the rest to operators', async () => {
  const service = await startService(loadConfig({ PORT: '0', HOST: '0.0.0.0', LOCALNET_SLOT_MS: '50', PGLITE_DIR: join(dir, 'pglite'), LOCALNET_LEDGER_DIR: join(dir, 'ledger') }), log);
  try {
    const other = nonLoopbackAddress();
    if (other) expect((await fetch(`http://${other}:${new URL(service.apiUrl!).port}/health`)).status).toBe(200);
    const res = await fetch(`${service.apiUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect((await fetch(`${service.apiUrl}/health/details`)).status).toBe(401);
    expect((await fetch(`${service.apiUrl}/health/details`, { headers: { authorization: 'Bearer dev-gateway-key' } })).status).toBe(403);
    const details = await fetch(`${service.apiUrl}/health/details`, { headers: { authorization: 'Bearer dev-operator-token' } });
    expect(details.status).toBe(200);
    const body = (await details.json()) as any;
    expect(body).toMatchObject({
      status: 'ok',
      db: { status: 'ok' },
      rpc: { status: 'ok', url: service.rpcUrl.replace(/\/$/, '') },
      program: { id: '6FZKcVKCLFSNLMxypFJGU4K14xUBnxNW9VAuKGhmqjGX', version: '0.1.1' },
      rec_validator: { address: expect.any(String), registered: true },
      rent_budget: { per_day: 1000 },
      worker: { running: true, paused: false, reason: null, in_flight_limit: expect.any(Number), open_batches: expect.any(Number), in_flight: expect.any(Number) },
    });
    for (const part of ['db', 'rpc', 'program', 'mint', 'fee_payer', 'rent_budget']) expect(body[part].age_ms).toEqual(expect.any(Number));
    expect(body.rent_budget.new_token_accounts_left_today).toEqual(expect.any(Number));
    expect(BigInt(body.fee_payer.lamports)).toBeGreaterThan(0n);
    // The demo set: meters of each kind on the `demo` gateway, and a printed curl that works as printed.
    expect(service.demo?.meterIds).toEqual(['demo-interval-1', 'demo-interval-2', 'demo-register-1', 'demo-register-2']);
    const curl = service.demo!.curl(service.apiUrl!, 'dev-gateway-key');
    const [, url, key, payload] = /curl -s -X POST (\S+) -H 'authorization: Bearer ([^']+)' -H 'content-type: application\/json' -d '([^']+)'/.exec(curl)!;
    const posted = await fetch(url!, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: payload });
    expect(posted.status).toBe(202);
    expect(((await posted.json()) as any).accepted).toBe(1);
    const meters = (await (await fetch(`${service.apiUrl}/meters`, { headers: { authorization: 'Bearer dev-gateway-key' } })).json()) as any;
    expect(meters.meters.map((m: any) => [m.meter_id, m.kind, m.gateway_id])).toEqual([
      ['demo-interval-1', 'interval', 'demo'],
      ['demo-interval-2', 'interval', 'demo'],
      ['demo-register-1', 'register', 'demo'],
      ['demo-register-2', 'register', 'demo'],
    ]);
    const missing = await fetch(`${service.apiUrl}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as any).error.code).toBe('NOT_FOUND');
  } finally {
    await service.stop();
  }
});

describe('refuses to start against the wrong chain, saying which', () => {
  let net: Awaited<ReturnType<typeof startLocalnet>>;
  beforeAll(async () => {
    net = await startLocalnet({ slotMs: 50 });
  });
  afterAll(() => net.stop());
  const cfg = (over: Record<string, string>) =>
    loadConfig({ PORT: '0', SOLANA_RPC_URL: net.url, SOLANA_WS_URL: net.wsUrl, AUTHORITY_KEYPAIR_PATH, REC_VALIDATOR_KEYPAIR_PATH, GATEWAY_API_KEYS: 'g', OPERATOR_TOKEN: 'o', PGLITE_DIR: join(dir, 'pg-ext'), ...over });

  it('an authority that is not token_info\'s', async () => {
    const path = join(dir, 'other.json');
    writeFileSync(path, JSON.stringify(Array.from(Keypair.generate().secretKey)), { mode: 0o600 });
    const err = await startService(cfg({ AUTHORITY_KEYPAIR_PATH: path }), log).catch((e) => e);
    expect(err).toBeInstanceOf(ChainSetupError);
    expect(err.message).toMatch(/is not token_info's authority/);
  });

  it('a program id with nothing deployed', async () => {
    const err = await startService(cfg({ ENERGY_TOKEN_PROGRAM_ID: Keypair.generate().publicKey.toBase58() }), log).catch((e) => e);
    expect(err.message).toMatch(/is not deployed on this chain/);
  });

  it('an unreadable or malformed keypair file, without printing its contents', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '[1,2,3]', { mode: 0o600 });
    await expect(startService(cfg({ AUTHORITY_KEYPAIR_PATH: join(dir, 'none.json') }), log)).rejects.toThrow(/cannot read .*none\.json \(ENOENT\)/);
    const err = await startService(cfg({ AUTHORITY_KEYPAIR_PATH: bad }), log).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).not.toContain('[1,2,3]');
  });

  it('a key file others can read (as ssh does: chmod 600), or not owned by the running user', async () => {
    const open = join(dir, 'open.json');
    writeFileSync(open, JSON.stringify(Array.from(Keypair.generate().secretKey)));
    for (const mode of [0o666, 0o644, 0o640, 0o604]) {
      chmodSync(open, mode);
      const err = await startService(cfg({ AUTHORITY_KEYPAIR_PATH: open }), log).catch((e) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toMatch(new RegExp(`permissions 0${mode.toString(8)} for .*open\\.json are too open.*chmod 600`));
    }
    // The committed localnet key is exempt only in embedded mode: against a configured RPC it is checked.
    const err = await startService(cfg({ AUTHORITY_KEYPAIR_PATH: COMMITTED_KEY }), log).catch((e) => e);
    expect(err.message).toMatch(/are too open.*chmod 600/);
  });

  it('an RPC that does not answer', async () => {
    const err = await startService(cfg({ SOLANA_RPC_URL: 'http://user:SECRET@127.0.0.1:9/v2/SECRET?api-key=SECRET', SOLANA_WS_URL: 'ws://127.0.0.1:10' }), log).catch((e) => e);
    expect(err).toBeInstanceOf(ChainSetupError);
    // The URL as displayUrl shows it: a provider's key in it is never in a message.
    expect(err.message).toMatch(/cannot reach the Solana RPC at http:\/\/127\.0\.0\.1:9:/);
    expect(err.message + lines.join('')).not.toContain('SECRET');
  });
});

describe('error mapping', () => {
  const app = makeApp({
    log,
    health: () => {
      throw new ValidationError('bad thing', 'thing');
    },
  });
  it('a 4xx AppError keeps its code, message and field', async () => {
    const res = await app.request('/health');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'VALIDATION_ERROR', message: 'bad thing', field: 'thing' } });
  });
  it('a 500 hides its detail from the caller and logs it', async () => {
    const broken = makeApp({ log, health: () => { throw new Error('secret detail'); } });
    const res = await broken.request('/health');
    expect(res.status).toBe(500);
    expect(JSON.stringify(await res.json())).not.toContain('secret detail');
    expect(lines.join('')).toContain('secret detail');
  });
  it('redacts key material in logs', () => {
    log.info({ secretKey: [1, 2, 3], headers: { authorization: 'Bearer s3cret' } }, 'x');
    const last = lines[lines.length - 1]!;
    expect(last).not.toContain('s3cret');
    expect(last).toContain('[redacted]');
  });
});
