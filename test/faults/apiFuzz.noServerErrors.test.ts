// Property-based fuzzing of every endpoint's body, query and headers (control characters in text fields,
// stream tickets, query tokens, Idempotency-Key races among them; numerals of thousands of digits, lone UTF-16
// surrogates, NUL and other text Postgres cannot store, dates out of range or that do not exist, prototype
// names as keys and path segments, malformed Origin, Referer, Host, X-Forwarded-* and cookies; the console's
// pages with a session): never a 500, no 5xx without Retry-After,
// never a half-stored request, ?access_token= never a credential for the event stream, one batch per
// Idempotency-Key however many requests race with it, and well-formed readings of the registered meters
// mostly accepted (so the acceptance paths stay covered). `npm test` runs FUZZ_CASES=1000 by default;
// `npm run test:faults` runs 10,000.
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
import { registerMeters } from '../support/meters.js';

const CASES = Number(process.env.FUZZ_CASES ?? 1000);
const errors: string[] = [];
const log = makeLog('error', new Writable({ write(c, _e, cb) { errors.push(String(c)); cb(); } }));
let svc: RunningService;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-'));
  svc = await startService(
    loadConfig({ PORT: '0', LOCALNET_SLOT_MS: '50', PGLITE_DIR: join(dir, 'pg'), LOCALNET_LEDGER_DIR: join(dir, 'ledger'), WORKER: 'off', SYNC_WINDOW_MS: '0', GATEWAY_API_KEYS: 'gw:gw', OPERATOR_TOKEN: 'op', MAX_READINGS_PER_REQUEST: '20',
      // The rate limits have their own test (test/integration/http); here they would only turn readings into 429s.
      GATEWAY_READINGS_PER_SECOND: '0', GATEWAY_REQUESTS_PER_SECOND: '0',
      // Forwarded headers are then read (app.request has no socket: the walk is still exercised up to it).
      TRUST_PROXY: '1' }),
    log,
  );
  // Meters that take whatever a day can hold (1 GW, a 1,440-minute interval), and one register meter.
  await registerMeters(async (path, init) => svc.app.request(path, init), 'op', [
    ...['m1', 'm2', 'm3'].map((meter_id, i) => ({ meter_id, user_id: `u${i}`, wallet_address: wallets[i]!, interval_minutes: 1440 })),
    { meter_id: 'r1', kind: 'register' as const, wallet_address: wallets[0]! },
  ]);
  // A finished batch and a stream ticket for it: the fuzz draws its id and the ticket among others.
  const batch = (await (await svc.app.request('/mint-batch', { method: 'POST', headers: { authorization: 'Bearer op' }, body: '{"prefer_async":false}' })).json()) as { batch_id: string };
  known.batchId = batch.batch_id;
  known.ticket = ((await (await svc.app.request(`/batches/${batch.batch_id}/stream-ticket`, { method: 'POST', headers: { authorization: 'Bearer op' } })).json()) as { ticket: string }).ticket;
  // A console session: the fuzz draws its cookie among forged ones, so the console's pages are reached too.
  const login = await svc.app.request('http://localhost/console/login', { method: 'POST', headers: { origin: 'http://localhost', 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=op' });
  known.cookie = login.headers.get('set-cookie')!.split(';')[0]!;
}, 60_000);
afterAll(() => svc?.stop());

const wallets = Array.from({ length: 3 }, () => Keypair.generate().publicKey.toBase58());
/** Drawn as the Authorization value: the request goes without the header. */
const NO_HEADER = '<none>';
const known = { batchId: '0b7f3c1a-4d0e-4f8e-8a40-111111111111', ticket: 'est_none', cookie: 'ets_session=none' };
/** Text with control characters (NUL, C0, DEL, C1): malformed input, never a 500. */
const controlText = fc.oneof(
  fc.constantFrom('m\u0000x', 'm1\u0000', '\u0001', 'a\u001fb', 'del\u007f', 'c1\u0085', 'line\nbreak', 'tab\tin'),
  fc.tuple(fc.string({ maxLength: 10 }), fc.integer({ min: 0, max: 0x9f }).filter((c) => c < 0x20 || c >= 0x7f), fc.string({ maxLength: 10 })).map(([a, c, b]) => `${a}${String.fromCharCode(c)}${b}`),
);
/** Text Postgres cannot store, or that breaks naive code: lone surrogates, NUL, non-characters, a BOM. */
const unstorableText = fc.oneof(
  fc.constantFrom('\ud800', 'a\udc00b', '\udbff', '\udfff\ud800', 'nul\u0000', '\u0000', '\uffff', '\ufeffm1', 'x\ud83d'),
  fc.tuple(fc.string({ maxLength: 8 }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.string({ maxLength: 8 })).map(([a, c, b]) => `${a}${String.fromCharCode(c)}${b}`),
);
/** Numerals a parser might spend time on: thousands of digits, tiny and huge. */
const longNumeral = fc.oneof(
  fc.integer({ min: 50, max: 20_000 }).map((n) => `0.${'0'.repeat(n)}1`),
  fc.integer({ min: 50, max: 20_000 }).map((n) => '9'.repeat(n)),
  fc.integer({ min: 50, max: 5_000 }).map((n) => `1.${'0'.repeat(n)}`),
  fc.constantFrom('1e309', '-1e-309', '0x10', '1_000', '１'),
);
const pad = (n: number, w: number) => String(Math.abs(n)).padStart(w, '0');
/** Date-times outside 1970..9999 or that do not exist, and near misses of the format. */
const badDate = fc.oneof(
  fc.constantFrom('+275760-09-13T00:00:00.000Z', '+010000-01-01T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '10000-01-01T00:00:00Z', '0000-01-01T00:00:00Z', '1969-12-31T23:59:59.999Z',
    '2026-02-30T00:00:00Z', '2026-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:00:60Z', '2026-01-01T00:00:00+24:00', '9999-12-31T23:59:59-00:01', '2026-01-01', '2026-01-01T00:00'),
  fc.record({ y: fc.integer({ min: -300_000, max: 300_000 }), m: fc.integer({ min: 0, max: 13 }), d: fc.integer({ min: 0, max: 32 }), h: fc.integer({ min: 0, max: 25 }), mi: fc.integer({ min: 0, max: 61 }) }).map(
    ({ y, m, d, h, mi }) => `${y < 0 ? '-' : y > 9999 ? '+' : ''}${pad(y, y < 0 || y > 9999 ? 6 : 4)}-${pad(m, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:00Z`,
  ),
);
/** Object.prototype's names, and others code may look up by a client's key. */
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__', '__lookupSetter__', 'toLocaleString'];
const protoName = fc.constantFrom(...PROTOTYPE_NAMES);
const cursorOf = (v: unknown) => Buffer.from(JSON.stringify(v) ?? 'undefined').toString('base64url');
const routes = [
  ...Object.entries(openApiDocument.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path }))),
  // The console and the docs' assets (not in the API's document): path segments, forms, origins, cookies.
  ...['/console/assets/{id}', '/docs/assets/{id}', '/console/readings', '/console/fragments/readings', '/console/meters', '/console/meters/{id}', '/console/batches/{id}', '/console', '/console/failed', '/docs'].map((path) => ({ method: 'GET', path })),
  { method: 'POST', path: '/console/login' },
];

// The routes that store things are drawn most often.
const writes = routes.filter((r) => r.method === 'POST' && (r.path === '/readings' || r.path === '/mint-batch'));
const routeArb = fc.oneof({ arbitrary: fc.constantFrom(...writes), weight: 3 }, { arbitrary: fc.constantFrom(...routes), weight: 2 });
const idLike = fc.oneof(
  fc.uuid(),
  fc.string(),
  fc.constantFrom('', '%00', '..', 'null', '0b7f3c1a-4d0e-4f8e-8a40-111111111111', 'console.js', 'swagger-ui.css', '%ED%A0%80', 'm1'),
  protoName,
  fc.integer({ min: 201, max: 5000 }).map((n) => 'x'.repeat(n)),
  fc.constant(null).map(() => known.batchId),
);
const nearReading = fc.record(
  {
    reading_id: fc.oneof(fc.uuid(), fc.string(), fc.integer(), fc.constant(null)),
    meter_id: fc.oneof(fc.string({ maxLength: 30 }), fc.integer(), fc.constant('m-fuzz'), controlText, unstorableText, protoName),
    user_id: fc.oneof(fc.string({ maxLength: 300 }), fc.constant('u'), controlText, unstorableText),
    client_reading_id: fc.oneof(controlText, unstorableText, fc.integer({ min: 190, max: 5000 }).map((n) => 'c'.repeat(n))),
    wallet_address: fc.oneof(fc.constantFrom(...wallets), fc.string(), fc.constant('11111111111111111111111111111111'), unstorableText),
    kwh_amount: fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constantFrom('1', '0.5', '1000', '1000.000000001', '-0', '1e3', '0.0000000001'), longNumeral),
    register_kwh: fc.oneof(longNumeral, fc.constantFrom('1', '0')),
    reading_timestamp: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string(), fc.constant('2026-01-01T00:00:00Z'), badDate),
  },
  { requiredKeys: [] },
);
// A well-formed reading of a registered meter; then the same with at most one field replaced: reaches
// the registry, storage, conflicts and duplicates.
const validReading = fc.record({
  meter_id: fc.constantFrom('m1', 'm2', 'm3'),
  kwh_amount: fc.constantFrom('1', '2.5', '0.000000001', '999'),
  reading_timestamp: fc.integer({ min: 0, max: 20_000_000 }).map((i) => new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString()),
});
const mutated = fc.tuple(
  validReading,
  fc.tuple(
    fc.constantFrom('meter_id', 'user_id', 'wallet_address', 'kwh_amount', 'register_kwh', 'reading_timestamp', 'reading_id', 'signature'),
    fc.oneof(fc.anything(), fc.constantFrom('r1', 'u0', wallets[0]!, '5', '0001-01-01T00:00:00Z'), controlText, unstorableText, longNumeral, badDate),
  ),
).map(([r, m]) => ({ ...r, [m[0]]: m[1] }));
type Body = { text: string; wellFormed: boolean };
const tagged = (wellFormed: boolean) => (v: unknown): Body => ({ text: typeof v === 'string' ? v : JSON.stringify(v), wellFormed });
const body: fc.Arbitrary<Body> = fc.oneof(
  validReading.map(tagged(true)),
  fc.array(validReading, { minLength: 1, maxLength: 20 }).map((rs) => tagged(true)({ readings: rs })),
  mutated.map(tagged(false)),
  fc.array(fc.oneof(validReading, mutated), { maxLength: 25 }).map((rs) => tagged(false)({ readings: rs })),
  fc.jsonValue().map(tagged(false)),
  nearReading.map(tagged(false)),
  fc.array(nearReading, { maxLength: 25 }).map((rs) => tagged(false)({ readings: rs })),
  fc.record({ reading_ids: fc.oneof(fc.array(idLike, { maxLength: 5 }), fc.string()), prefer_async: fc.oneof(fc.boolean(), fc.string()) }, { requiredKeys: [] }).map(tagged(false)),
  fc.string().map(tagged(false)),
  fc.constant('').map(tagged(false)),
  // Prototype names as keys (settings, meters, filters), and the operator bodies' text and date fields.
  fc.dictionary(fc.oneof(protoName, fc.constantFrom('batch_interval_ms', 'reason', 'meter_id', 'from', 'to', 'error', 'all')), fc.oneof(fc.integer(), fc.boolean(), unstorableText, badDate, longNumeral)).map(tagged(false)),
  fc.record({ reason: fc.oneof(unstorableText, controlText, fc.string()), from: badDate, to: badDate, error: unstorableText, meter_id: unstorableText }, { requiredKeys: [] }).map(tagged(false)),
  fc.array(fc.record({ meter_id: fc.oneof(unstorableText, protoName, fc.constant('m1')), gateway_id: fc.constantFrom('gw', '__proto__'), active_from: badDate, max_kw: longNumeral }, { requiredKeys: [] }), { maxLength: 3 }).map(tagged(false)),
  // GridTokenX readings with unstorable telemetry, bad times and long serials.
  fc.record({ meter_serial: fc.oneof(fc.constantFrom('m1', 'm2'), unstorableText, protoName), kwh: fc.oneof(fc.double(), fc.constant(1.5)), timestamp: fc.oneof(badDate, fc.constant('2026-01-01T00:00:00Z')), weather_condition: unstorableText, zone_id: unstorableText, constructor: fc.anything() }, { requiredKeys: [] }).map((r) => tagged(false)({ readings: [r] })),
  fc.constantFrom('token=op', 'token=', 'token=%00', 'token=%ED%A0%80', `token=${'x'.repeat(600)}`, '_csrf=x&token=op').map(tagged(false)),
);
const headers = fc.record(
  {
    authorization: fc.oneof(
      { arbitrary: fc.constantFrom('Bearer gw', 'Bearer op'), weight: 8 },
      { arbitrary: fc.constantFrom('Bearer nope', 'Basic Z3c=', 'Bearer ', ''), weight: 1 },
      { arbitrary: fc.string(), weight: 1 },
      // No Authorization header at all (query tokens and tickets then decide).
      { arbitrary: fc.constant(NO_HEADER), weight: 1 },
    ),
    'last-event-id': fc.oneof(fc.string(), fc.constantFrom('0', '1', '-1', '1e9', '999999999999999999999')),
    'content-type': fc.constantFrom('application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded'),
    'idempotency-key': fc.string({ maxLength: 250 }),
    origin: fc.oneof(fc.constantFrom('garbage', 'http://', 'null', 'http://localhost', 'https://localhost', 'http://localhost:1', 'http://evil.test', '://', 'http://[::1', 'javascript:x'), fc.string()),
    referer: fc.oneof(fc.constantFrom('garbage', 'http://', 'http://localhost/console', 'https://localhost/console', '//x'), fc.string()),
    host: fc.constantFrom('localhost', 'evil.test', '[::1]', 'localhost:99999', 'a b', '', ':80'),
    'x-forwarded-for': fc.oneof(fc.constantFrom('203.0.113.1', '203.0.113.1, 10.0.0.1', 'garbage', ', ,', '::1', '999.1.1.1'), fc.string()),
    'x-forwarded-proto': fc.oneof(fc.constantFrom('https', 'http', 'https, http', 'gopher', ''), fc.string()),
    cookie: fc.oneof(
      fc.constant(null).map(() => known.cookie),
      fc.constantFrom('ets_session=', 'ets_session=x', `ets_session=${'x'.repeat(300)}`, 'ets_session="quoted"', 'ets_session=%E0%A4%A', 'a=b; ets_session=x; ets_session=y', '__proto__=1', 'constructor=x'),
      fc.string(),
    ),
    'x-csrf-token': fc.string({ maxLength: 60 }),
  },
  { requiredKeys: ['authorization'] },
);
const query = fc.dictionary(
  fc.oneof(fc.constantFrom('status', 'wallet', 'cursor', 'limit', 'access_token', 'ticket', 'from', 'to', 'meter', 'gateway', 'q', 'expired'), protoName),
  fc.oneof(
    fc.string(),
    fc.constantFrom('pending', 'op', 'gw', '5', '-1', wallets[0]!),
    controlText,
    fc.constant(null).map(() => known.ticket),
    badDate,
    fc.integer({ min: 201, max: 5000 }).map((n) => 'w'.repeat(n)),
    // Cursors of the right shape with instants out of range or that do not exist, and of other shapes.
    fc.tuple(fc.oneof(badDate, fc.constant('2026-01-01T00:00:00.000Z')), fc.oneof(fc.uuid(), fc.string())).map(cursorOf),
    fc.anything().map(cursorOf),
  ),
);

const safeHeader = (v: string) => v !== NO_HEADER && !/[\r\n\0]/.test(v) && /^[\x20-\x7e]*$/.test(v);

const statuses = new Map<number, number>();
const wellFormed = { posted: 0, accepted: 0 };
afterAll(() =>
  process.stdout.write(`fuzz statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}; well-formed readings accepted ${wellFormed.accepted} of ${wellFormed.posted}\n`),
);

/** The invariant: never a 500, and a 5xx only with Retry-After (a passing condition the caller may retry). */
const serverError = (res: Response) => res.status === 500 || (res.status >= 500 && !res.headers.get('retry-after'));

it(`${CASES} random requests: no 500, no 5xx without Retry-After, and a POST /readings stores all of its rows or none`, async () => {
  const rows = async () => (await svc.database.db.select({ n: count() }).from(readings))[0]!.n;
  await fc.assert(
    fc.asyncProperty(routeArb, idLike, body, headers, query, async (route, id, b, h, q) => {
      const path = route.path.replace(/\{\w+\}/g, encodeURIComponent(id));
      const qs = new URLSearchParams(q).toString();
      const cleanHeaders = Object.fromEntries(Object.entries(h).filter(([, v]) => safeHeader(v)));
      const before = route.method === 'POST' && route.path === '/readings' ? await rows() : 0;
      const res = await svc.app.request(`http://localhost${path}${qs ? `?${qs}` : ''}`, {
        method: route.method,
        headers: cleanHeaders,
        ...(route.method === 'GET' ? {} : { body: b.text }),
      });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (serverError(res)) throw new Error(`${route.method} ${path} → ${res.status}: ${text}\n${errors.slice(-3).join('')}`);
      // A query token is never a credential for the event stream (the only way in without a header is a ticket).
      if (route.path === '/batches/{id}/events' && !('authorization' in cleanHeaders) && q.access_token !== undefined && q.ticket === undefined && res.status < 400) {
        throw new Error(`GET ${path}?${qs} without Authorization answered ${res.status}: ?access_token= was taken as a credential`);
      }
      if (route.method === 'POST' && route.path === '/readings') {
        const after = await rows();
        const accepted = res.status === 202 ? (JSON.parse(text) as { accepted: number }).accepted : 0;
        expect(after - before).toBe(accepted);
        if (b.wellFormed && cleanHeaders.authorization === 'Bearer gw') {
          wellFormed.posted++;
          if (res.status === 202) wellFormed.accepted++;
        }
      }
    }),
    { numRuns: CASES },
  );
  expect(wellFormed.posted).toBeGreaterThan(0);
  expect(wellFormed.accepted / wellFormed.posted).toBeGreaterThanOrEqual(0.3);
}, 600_000);

it(`${Math.max(20, CASES / 20)} Idempotency-Key races: concurrent POST /mint-batch with one key start one batch, never a 5xx without Retry-After`, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 200 }).filter(safeHeader)),
      fc.array(fc.constantFrom('{}', '{"prefer_async":true}', '', '{"prefer_async":"x"}'), { minLength: 2, maxLength: 6 }),
      async (key, bodies) => {
        const answers = await Promise.all(
          bodies.map(async (body) => {
            const res = await svc.app.request('/mint-batch', { method: 'POST', headers: { authorization: 'Bearer op', 'idempotency-key': `race-${key}` }, body });
            const text = await res.text();
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            if (serverError(res)) throw new Error(`POST /mint-batch → ${res.status}: ${text}`);
            return { status: res.status, body: res.status < 300 ? (JSON.parse(text) as { batch_id: string }) : null };
          }),
        );
        // Every request that got a batch got the same one (same key; another body with it is 422).
        expect(new Set(answers.filter((a) => a.body).map((a) => a.body!.batch_id)).size).toBeLessThanOrEqual(1);
      },
    ),
    { numRuns: Math.max(20, CASES / 20) },
  );
}, 600_000);
