// The operator-control and console routes over a test database, beside the registry app: operators
// `operator` (token `op`) and `alice` (`alice-op`), gateways `gw` (key `gw-key`) and `gw-2`. No chain: the
// health details are a fixed report.
import { randomUUID } from 'node:crypto';
import type { Hono } from 'hono';
import { Keypair } from '@solana/web3.js';
import type { Database } from '../../src/db/client.js';
import { consoleRoutes } from '../../src/console/routes.js';
import type { HealthDetails } from '../../src/http/app.js';
import { makeAuth } from '../../src/http/auth.js';
import { controlRoutes } from '../../src/minting/controlRoutes.js';
import type { Settings } from '../../src/minting/repo.js';
import { readings } from '../../src/db/schema.js';
import type { TrustProxy } from '../../src/config.js';
import type { Log } from '../../src/log.js';
import { registryApp, type Request } from './meters.js';

export const DEFAULTS: Settings = { batchIntervalMs: 50, maxBatchSize: 500, maxAttempts: 5, backoffMs: 2000 };

export const FIXED_HEALTH: HealthDetails = {
  status: 'ok',
  db: { status: 'ok', age_ms: 0 },
  rpc: { status: 'ok', age_ms: 0, url: 'http://127.0.0.1:8899' },
  program: { id: 'prog', version: '0.1.1', age_ms: 0 },
  rec_validator: { address: 'validator', registered: true, age_ms: 0 },
  mint: { address: 'mint', age_ms: 0 },
  fee_payer: { address: 'payer', lamports: '5000000000', below_floor: false, age_ms: 0 },
  rent_budget: { new_token_accounts_left_today: 1000, per_day: 1000, age_ms: 0 },
  fee_budget: { lamports_left_today: '10000000000', per_day: '10000000000', age_ms: 0 },
  worker: null,
};

export async function consoleApp(database: Database, opts: { sessionHours?: number; log?: Log; trustProxy?: TrustProxy } = {}): Promise<{ app: Hono; request: Request }> {
  const { app } = await registryApp(database, { log: opts.log, trustProxy: opts.trustProxy });
  const db = database.db;
  const auth = makeAuth({ db, operators: [{ name: 'operator', token: 'op' }, { name: 'alice', token: 'alice-op' }] });
  app.route('/', controlRoutes({ db, auth, defaults: DEFAULTS, log: opts.log }));
  app.route('/', consoleRoutes({ db, auth, sessionHours: opts.sessionHours ?? 12, defaults: DEFAULTS, healthDetails: () => FIXED_HEALTH, chain: { genesisHash: 'genesis', database: database.kind }, log: opts.log }));
  return { app, request: async (path, init) => app.request(new URL(path, 'http://console.test').toString(), init) };
}

/** Readings straight into the table (no meter needed), in the given status with the given error. */
export async function seedStatus(database: Database, n: number, status: 'pending' | 'failed' | 'completed', over: { error?: string; meterId?: string; gatewayId?: string } = {}): Promise<string[]> {
  const wallet = Keypair.generate().publicKey.toBase58();
  const rows = Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    meterId: over.meterId ?? `seed-${randomUUID().slice(0, 8)}`,
    userId: 'u',
    walletAddress: wallet,
    kwhAmount: '1',
    tokensToMint: '1000000000',
    readingTimestamp: new Date(Date.UTC(2026, 0, 1, 0, i)),
    gatewayId: over.gatewayId ?? 'gw',
    status,
    lastError: over.error ?? null,
    attempts: status === 'failed' ? 5 : 0,
  }));
  await database.db.insert(readings).values(rows);
  return rows.map((r) => r.id);
}
