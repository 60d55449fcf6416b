// Registering meters for tests: through the operator's PUT /meters, as a deployment does, with defaults
// that make plausibility no concern (a 1 GW meter active since 2020) unless a test says otherwise.
import { makeMetrics } from '../../src/http/metrics.js';
import { queueStats } from '../../src/minting/repo.js';
import { Writable } from 'node:stream';
import { Keypair } from '@solana/web3.js';
import type { Hono } from 'hono';
import type { TrustProxy } from '../../src/config.js';
import type { Database } from '../../src/db/client.js';
import { makeApp } from '../../src/http/app.js';
import { makeAuth } from '../../src/http/auth.js';
import { makeRateLimiter, type RateLimitSettings } from '../../src/http/rateLimit.js';
import { type Log, makeLog } from '../../src/log.js';
import { syncGatewaysFromEnv } from '../../src/meters/gateways.js';
import { gatewayRoutes, meterRoutes } from '../../src/meters/routes.js';
import type { AcceptPolicy } from '../../src/readings/accept.js';
import { readingRoutes } from '../../src/readings/routes.js';
import { gridTokenXRoutes } from '../../src/readings/gridTokenXRoutes.js';
import { postgresAvailable, type TestDatabase } from './db.js';

export type Request = (path: string, init?: RequestInit) => Promise<Response>;

export interface MeterSpec {
  meter_id: string;
  gateway_id?: string;
  user_id?: string;
  wallet_address?: string;
  kind?: 'interval' | 'register';
  interval_minutes?: number;
  max_kw?: string;
  active_from?: string;
  public_key?: string | null;
  register_baseline?: { kwh: string; at: string };
}

export const LONG_AGO = '2020-01-01T00:00:00.000Z';

/** A meter as PUT /meters takes it: interval by default, 15 minutes, 1 GW, a fresh wallet. */
export const meterSpec = (m: MeterSpec): MeterSpec => {
  const kind = m.kind ?? 'interval';
  return {
    gateway_id: 'gw',
    user_id: `owner-of-${m.meter_id}`,
    wallet_address: Keypair.generate().publicKey.toBase58(),
    kind,
    max_kw: '1000000',
    active_from: LONG_AGO,
    ...(kind === 'interval' ? { interval_minutes: 15 } : { register_baseline: { kwh: '0', at: m.active_from ?? LONG_AGO } }),
    ...m,
  };
};

/** PUT /meters as the operator; returns the stored meters (throws with the answer on anything but 200). */
export async function registerMeters(request: Request, operatorToken: string, meters: MeterSpec[]): Promise<Required<MeterSpec>[]> {
  const res = await request('/meters', {
    method: 'PUT',
    headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(meters.map(meterSpec)),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`PUT /meters answered ${res.status}: ${text}`);
  return (JSON.parse(text) as { meters: Required<MeterSpec>[] }).meters;
}

export const silentLog = makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() }));

export const TEST_POLICY: AcceptPolicy = {
  rate: { tokensPerKwh: '1', decimals: 9, maxKwh: '1000' },
  tolerance: '0.05',
  requireSigned: false,
  maxTokensPerReading: 30n * 10n ** 12n,
};

/**
 * The API's registry and readings routes over a test database, without a chain: gateways `gw` and
 * `gw-2` from the environment (keys `gw-key`, `gw-2-key`), operators `operator` (token `op`) and `alice`
 * (`alice-op`), metrics token `metrics-token`.
 */
export async function registryApp(
  database: Database,
  over: Partial<AcceptPolicy> & { maxReadingsPerRequest?: number; log?: Log; limits?: RateLimitSettings; kwhDecimals?: number; trustProxy?: TrustProxy } = {},
): Promise<{ app: Hono; request: Request }> {
  await syncGatewaysFromEnv(database.db, [
    { gatewayId: 'gw', key: 'gw-key' },
    { gatewayId: 'gw-2', key: 'gw-2-key' },
  ]);
  const db = database.db;
  const plainAuth = makeAuth({ db, operators: [{ name: 'operator', token: 'op' }, { name: 'alice', token: 'alice-op' }], metricsToken: 'metrics-token' });
  const limiter = over.limits ? makeRateLimiter({ db, auth: plainAuth, limits: over.limits }) : undefined;
  const auth = limiter?.auth ?? plainAuth;
  const { limits: _, kwhDecimals = 6, trustProxy, ...policyOver } = over;
  const policy = { ...TEST_POLICY, ...policyOver };
  const app = makeApp({
    log: over.log ?? silentLog,
    trustProxy,
    health: () => ({ status: 'ok' }),
    auth,
    metrics: makeMetrics({ queueCounts: async () => (await queueStats(db)).counts, feePayerLamports: async () => null }),
    routes: [
      readingRoutes({ db, policy, maxReadingsPerRequest: over.maxReadingsPerRequest ?? 1000, auth, log: over.log, limiter }),
      gridTokenXRoutes({ db, policy, maxReadingsPerRequest: over.maxReadingsPerRequest ?? 1000, kwhDecimals, auth, log: over.log, limiter }),
      meterRoutes({ db, rate: policy.rate, auth, log: over.log }),
      gatewayRoutes({ db, auth, log: over.log }),
    ],
  });
  return { app, request: async (path, init) => app.request(path, init) };
}

/** JSON requests with a bearer token. */
export const client = (request: Request) => {
  const call = (method: string, token: string) => (path: string, body?: unknown) =>
    request(path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
  return { post: (t: string) => call('POST', t), put: (t: string) => call('PUT', t), get: (t: string) => call('GET', t), del: (t: string) => call('DELETE', t) };
};

export interface RegistryFixture {
  /** Null when the Postgres tests skip (no server, outside CI). */
  t: TestDatabase | null;
  request: Request;
  ready(): boolean;
}

/**
 * In a describe.each(DATABASES) block: a fresh database with the registry app over it before the tests
 * (then `setup`, e.g. registering meters), dropped after them.
 */
export function useRegistry(kind: string, open: () => Promise<TestDatabase>, setup?: (fx: RegistryFixture) => Promise<void>, over: Parameters<typeof registryApp>[1] = {}): RegistryFixture {
  const fx: RegistryFixture = { t: null, request: () => Promise.reject(new Error('no database')), ready: () => fx.t !== null };
  beforeAll(async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    fx.t = await open();
    fx.request = (await registryApp(fx.t.database, over)).request;
    await setup?.(fx);
  });
  afterAll(() => fx.t?.drop());
  return fx;
}
