// Per-gateway rate limits on a real Postgres server and on PGlite: two API apps on one database (two pools on
// Postgres, as two processes have) share one allowance; concurrent requests never spend more than the burst;
// a refusal is 429 RATE_LIMITED with Retry-After and the RateLimit headers; the readings burst is raised to the
// gateway's meter count; operators are not limited.
import { count, sql } from 'drizzle-orm';
import { openDatabase, type Database } from '../../../src/db/client.js';
import { readings } from '../../../src/db/schema.js';
import type { RateLimitSettings } from '../../../src/http/rateLimit.js';
import { DATABASES, postgresAvailable, type TestDatabase } from '../../support/db.js';
import { client, registerMeters, registryApp, type Request } from '../../support/meters.js';

// One unit every 1,000 s: nothing refills during a test, so every count below is exact.
const SLOW = 0.001;
const OFF = 0;

let seq = 0;
const reading = (meter_id = 'm-1') => ({ meter_id, kwh_amount: '1', reading_timestamp: new Date(Date.UTC(2026, 0, 1) + ++seq * 3_600_000).toISOString() });

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let second: Database | null = null;
  beforeAll(async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    t = await open();
    // A second pool on the same database: what a second API process has. PGlite is one process's: shared.
    second = t.url ? await openDatabase({ url: t.url, pgliteDir: '' }) : t.database;
    const { request } = await registryApp(t.database);
    await registerMeters(request, 'op', [...Array.from({ length: 5 }, (_, i) => ({ meter_id: `m-${i + 1}` })), { meter_id: 'n-1', gateway_id: 'gw-2' }]);
  }, 60_000);
  afterAll(async () => {
    if (second && second !== t?.database) await second.close();
    await t?.drop();
  });
  beforeEach(async () => {
    if (t) await t.database.db.execute(sql`delete from rate_limits`);
  });

  const apps = async (limits: RateLimitSettings): Promise<[Request, Request]> => [(await registryApp(t!.database, { limits })).request, (await registryApp(second!, { limits })).request];
  const rows = async () => (await t!.database.db.select({ n: count() }).from(readings))[0]!.n;

  it('two API apps on one database share the readings limit: together they take the burst, no more', async () => {
    if (!t) return;
    const [a, b] = await apps({ readingsPerSecond: SLOW, readingsBurst: 10, requestsPerSecond: OFF, requestsBurst: 1 });
    const before = await rows();
    const post = (r: Request, n: number) => client(r).post('gw-key')('/readings', { readings: Array.from({ length: n }, () => reading()) });
    const first = await post(a, 6);
    expect(first.status).toBe(202);
    expect(first.headers.get('RateLimit-Limit')).toBe('10');
    expect(first.headers.get('RateLimit-Remaining')).toBe('4');
    const refused = await post(b, 6);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('RateLimit-Limit')).toBe('10');
    expect(refused.headers.get('RateLimit-Remaining')).toBe('4');
    expect(Number(refused.headers.get('RateLimit-Reset'))).toBeGreaterThanOrEqual(1);
    expect((await post(b, 4)).status).toBe(202);
    expect((await post(a, 1)).status).toBe(429);
    expect((await rows()) - before).toBe(10);
    // Another gateway has its own allowance.
    expect((await client(b).post('gw-2-key')('/readings', reading('n-1'))).status).toBe(202);
  });

  it('concurrent posts through both apps are granted exactly the burst (one atomic statement per check)', async () => {
    if (!t) return;
    const [a, b] = await apps({ readingsPerSecond: SLOW, readingsBurst: 8, requestsPerSecond: OFF, requestsBurst: 1 });
    const statuses = await Promise.all(Array.from({ length: 24 }, (_, i) => client(i % 2 ? a : b).post('gw-key')('/readings', reading()).then((r) => r.status)));
    expect(statuses.filter((s) => s === 202)).toHaveLength(8);
    expect(statuses.filter((s) => s === 429)).toHaveLength(16);
  });

  it('the readings burst holds one reading per meter the gateway serves, whatever the configured burst', async () => {
    if (!t) return;
    const [a] = await apps({ readingsPerSecond: SLOW, readingsBurst: 2, requestsPerSecond: OFF, requestsBurst: 1 });
    // Five meters post on the same boundary: one request of five readings (or five requests) passes.
    const at = new Date(Date.UTC(2026, 0, 1) + ++seq * 3_600_000).toISOString();
    const res = await client(a).post('gw-key')('/readings', { readings: [1, 2, 3, 4, 5].map((i) => ({ meter_id: `m-${i}`, kwh_amount: '1', reading_timestamp: at })) });
    expect(res.status).toBe(202);
    expect(res.headers.get('RateLimit-Limit')).toBe('5');
    expect((await client(a).post('gw-key')('/readings', reading())).status).toBe(429);
  });

  it('a request of more readings than the burst is 413 (waiting would never let it pass), and stores nothing', async () => {
    if (!t) return;
    const [a] = await apps({ readingsPerSecond: SLOW, readingsBurst: 5, requestsPerSecond: OFF, requestsBurst: 1 });
    const before = await rows();
    const res = await client(a).post('gw-key')('/readings', { readings: Array.from({ length: 6 }, () => reading()) });
    expect(res.status).toBe(413);
    expect(await rows()).toBe(before);
  });

  it('the request limit counts every gateway request across both apps; operators are not limited', async () => {
    if (!t) return;
    const [a, b] = await apps({ readingsPerSecond: OFF, readingsBurst: 1, requestsPerSecond: SLOW, requestsBurst: 3 });
    for (const r of [a, b, a]) expect((await client(r).get('gw-key')('/meters')).status).toBe(200);
    const refused = await client(b).get('gw-key')('/meters');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('Retry-After')).not.toBeNull();
    for (let i = 0; i < 10; i++) expect((await client(i % 2 ? a : b).get('op')('/meters')).status).toBe(200);
  });
});
