// Property-based fuzzing of every endpoint's body, query and headers: never a 5xx, never a half-stored
// request. `npm test` runs FUZZ_CASES=1000 by default; `npm run test:faults` runs 10,000.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { Keypair } from '@solana/web3.js';
import { count } from 'drizzle-orm';
import { loadConfig } from '../../src/config.js';
import { readings } from '../../src/db/schema.js';
import { makeLog } from '../../src/log.js';
import { startService, type RunningService } from '../../src/service.js';
import { openApiDocument } from '../../src/http/openapi.js';

const CASES = Number(process.env.FUZZ_CASES ?? 1000);
const errors: string[] = [];
const log = makeLog('error', new Writable({ write(c, _e, cb) { errors.push(String(c)); cb(); } }));
let svc: RunningService;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-'));
  svc = await startService(
    loadConfig({ PORT: '0', LOCALNET_SLOT_MS: '50', PGLITE_DIR: join(dir, 'pg'), WORKER: 'off', SYNC_WINDOW_MS: '0', GATEWAY_API_KEYS: 'gw', OPERATOR_TOKEN: 'op', MAX_READINGS_PER_REQUEST: '20' }),
    log,
  );
}, 60_000);
afterAll(() => svc?.stop());

const wallets = Array.from({ length: 3 }, () => Keypair.generate().publicKey.toBase58());
const routes = Object.entries(openApiDocument.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path })));

// The routes that store things are drawn most often.
const writes = routes.filter((r) => r.method === 'POST' && (r.path === '/readings' || r.path === '/mint-batch'));
const routeArb = fc.oneof({ arbitrary: fc.constantFrom(...writes), weight: 3 }, { arbitrary: fc.constantFrom(...routes), weight: 2 });
const idLike = fc.oneof(fc.uuid(), fc.string(), fc.constantFrom('', '%00', '..', 'null', '0b7f3c1a-4d0e-4f8e-8a40-111111111111'));
const nearReading = fc.record(
  {
    reading_id: fc.oneof(fc.uuid(), fc.string(), fc.integer(), fc.constant(null)),
    meter_id: fc.oneof(fc.string({ maxLength: 30 }), fc.integer(), fc.constant('m-fuzz')),
    user_id: fc.oneof(fc.string({ maxLength: 300 }), fc.constant('u')),
    wallet_address: fc.oneof(fc.constantFrom(...wallets), fc.string(), fc.constant('11111111111111111111111111111111')),
    kwh_amount: fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constantFrom('1', '0.5', '1000', '1000.000000001', '-0', '1e3', '0.0000000001')),
    reading_timestamp: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string(), fc.constant('2026-01-01T00:00:00Z')),
  },
  { requiredKeys: [] },
);
// A valid reading with at most one field replaced: reaches storage, conflicts and duplicates.
const validReading = fc.record({
  meter_id: fc.constantFrom('m1', 'm2', 'm3'),
  user_id: fc.constantFrom('u1', 'u2'),
  wallet_address: fc.constantFrom(...wallets),
  kwh_amount: fc.constantFrom('1', '2.5', '0.000000001', '999'),
  reading_timestamp: fc.integer({ min: 0, max: 50 }).map((i) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString()),
});
const mutated = fc.tuple(validReading, fc.option(fc.tuple(fc.constantFrom('meter_id', 'user_id', 'wallet_address', 'kwh_amount', 'reading_timestamp', 'reading_id'), fc.anything()), { freq: 2 })).map(
  ([r, m]) => (m ? { ...r, [m[0]]: m[1] } : r),
);
const body = fc.oneof(
  mutated.map((r) => JSON.stringify(r)),
  fc.array(mutated, { maxLength: 25 }).map((rs) => JSON.stringify({ readings: rs })),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  nearReading.map((r) => JSON.stringify(r)),
  fc.array(nearReading, { maxLength: 25 }).map((rs) => JSON.stringify({ readings: rs })),
  fc.record({ reading_ids: fc.oneof(fc.array(idLike, { maxLength: 5 }), fc.string()), prefer_async: fc.oneof(fc.boolean(), fc.string()) }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
  fc.string(),
  fc.constant(''),
);
const headers = fc.record(
  {
    authorization: fc.oneof(
      { arbitrary: fc.constantFrom('Bearer gw', 'Bearer op'), weight: 8 },
      { arbitrary: fc.constantFrom('Bearer nope', 'Basic Z3c=', 'Bearer ', ''), weight: 1 },
      { arbitrary: fc.string(), weight: 1 },
    ),
    'content-type': fc.constantFrom('application/json', 'text/plain', 'multipart/form-data; boundary=x'),
    'idempotency-key': fc.string({ maxLength: 250 }),
  },
  { requiredKeys: ['authorization'] },
);
const query = fc.dictionary(fc.constantFrom('status', 'wallet', 'cursor', 'limit', 'access_token'), fc.oneof(fc.string(), fc.constantFrom('pending', 'op', 'gw', '5', '-1', wallets[0]!)));

const safeHeader = (v: string) => !/[\r\n\0]/.test(v) && /^[\x20-\x7e]*$/.test(v);

const statuses = new Map<number, number>();
afterAll(() => process.stdout.write(`fuzz statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}\n`));

it(`${CASES} random requests: no 5xx, and a POST /readings stores all of its rows or none`, async () => {
  const rows = async () => (await svc.database.db.select({ n: count() }).from(readings))[0]!.n;
  await fc.assert(
    fc.asyncProperty(routeArb, idLike, body, headers, query, async (route, id, b, h, q) => {
      const path = route.path.replace('{id}', encodeURIComponent(id)).replace('{wallet}', encodeURIComponent(id));
      const qs = new URLSearchParams(q).toString();
      const cleanHeaders = Object.fromEntries(Object.entries(h).filter(([, v]) => safeHeader(v)));
      const before = route.method === 'POST' && route.path === '/readings' ? await rows() : 0;
      const res = await svc.app.request(`${path}${qs ? `?${qs}` : ''}`, {
        method: route.method,
        headers: cleanHeaders,
        ...(route.method === 'GET' ? {} : { body: b }),
      });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) throw new Error(`${route.method} ${path} → ${res.status}: ${text}\n${errors.slice(-3).join('')}`);
      if (route.method === 'POST' && route.path === '/readings') {
        const after = await rows();
        const accepted = res.status === 202 ? (JSON.parse(text) as { accepted: number }).accepted : 0;
        expect(after - before).toBe(accepted);
      }
    }),
    { numRuns: CASES },
  );
}, 600_000);
