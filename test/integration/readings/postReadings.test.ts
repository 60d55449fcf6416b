// POST /readings on a real Postgres server and on PGlite: what is accepted is stored, a resent reading
// changes nothing, a conflicting one stores nothing of its request, and every bad field is a 400 naming it.
import { Writable } from 'node:stream';
import { Keypair } from '@solana/web3.js';
import { count } from 'drizzle-orm';
import { makeApp } from '../../../src/http/app.js';
import { makeAuth } from '../../../src/http/auth.js';
import { makeLog } from '../../../src/log.js';
import { readingRoutes } from '../../../src/readings/routes.js';
import { readings } from '../../../src/db/schema.js';
import { DATABASES, postgresAvailable, type TestDatabase } from '../../support/db.js';

const log = makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const wallet = Keypair.generate().publicKey.toBase58();
const GATEWAY = { authorization: 'Bearer gw-1', 'content-type': 'application/json' };
const OPERATOR = { authorization: 'Bearer op-1', 'content-type': 'application/json' };
let seq = 0;
const reading = (over: Record<string, unknown> = {}): Record<string, any> => ({
  meter_id: `meter-${++seq}`,
  user_id: 'user-1',
  wallet_address: wallet,
  kwh_amount: '1.25',
  reading_timestamp: new Date(Date.UTC(2026, 10, 1, 0, 0, seq)).toISOString(),
  ...over,
});

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let app: ReturnType<typeof makeApp>;
  beforeAll(async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    t = await open();
    app = makeApp({
      log,
      health: async () => ({ status: 'ok', db: 'ok', rpc: 'ok', rpc_url: '', program_id: '', mint: '', fee_payer_lamports: null }),
      routes: [readingRoutes({ db: t.database.db, rate: { tokensPerKwh: '1', decimals: 9, maxKwh: '1000' }, maxReadingsPerRequest: 5, auth: makeAuth({ gatewayKeys: ['gw-1', 'gw-2'], operatorToken: 'op-1' }) })],
    });
  });
  afterAll(() => t?.drop());
  const post = (body: unknown, headers: Record<string, string> = GATEWAY) =>
    app.request('/readings', { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const rows = async () => (await t!.database.db.select({ n: count() }).from(readings))[0]!.n;
  const ready = () => t !== null;

  it('accepts one reading, stores it durably, and reads it back with exact amounts', async () => {
    if (!ready()) return;
    const res = await post(reading({ kwh_amount: '12.345678901' }));
    expect(res.status).toBe(202);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ accepted: 1, duplicates: 0 });
    const id = body.readings[0].reading_id;
    const got = (await (await app.request(`/readings/${id}`, { headers: OPERATOR })).json()) as any;
    expect(got).toMatchObject({ reading_id: id, wallet_address: wallet, kwh_amount: '12.345678901', tokens_to_mint: '12345678901', status: 'pending', attempts: 0, error: null, tx_signature: null });
  });

  it('a resent reading (same id, same content) is a duplicate and changes nothing', async () => {
    if (!ready()) return;
    const r = reading({ reading_id: '3b0c6c0e-8f43-4b2e-9f6a-6a1f1d1e2a11' });
    await post(r);
    const before = (await (await app.request(`/readings/${r.reading_id}`, { headers: GATEWAY })).json()) as any;
    const again = (await (await post({ readings: [r] })).json()) as any;
    expect(again).toMatchObject({ accepted: 0, duplicates: 1 });
    const after = (await (await app.request(`/readings/${r.reading_id}`, { headers: GATEWAY })).json()) as any;
    expect(after).toEqual(before);
  });

  it('derives the id from meter and timestamp, so a resend without an id is the same reading', async () => {
    if (!ready()) return;
    const r = reading();
    const a = (await (await post(r)).json()) as any;
    const b = (await (await post({ ...r, reading_timestamp: r.reading_timestamp.replace('Z', '+00:00') })).json()) as any;
    expect(b.readings[0].reading_id).toBe(a.readings[0].reading_id);
    expect(b.duplicates).toBe(1);
  });

  it('the same id with other content is 409 for the whole request: nothing of it is stored', async () => {
    if (!ready()) return;
    const r = reading({ reading_id: '9d7d0b1e-1c2b-4a55-8f00-000000000001' });
    await post(r);
    const n = await rows();
    const res = await post({ readings: [reading(), { ...r, kwh_amount: '2' }] });
    expect(res.status).toBe(409);
    expect(((await res.json()) as any).error).toMatchObject({ code: 'CONFLICT', field: 'reading_id' });
    expect(await rows()).toBe(n);
  });

  it('queue positions are places in the claim order, after everything already pending', async () => {
    if (!ready()) return;
    const pending = (await (await app.request('/readings?status=pending&limit=500', { headers: OPERATOR })).json()) as any;
    const body = (await (await post({ readings: [reading(), reading(), reading()] })).json()) as any;
    const positions = body.readings.map((r: any) => r.queue_position).sort((a: number, b: number) => a - b);
    const n = pending.readings.length;
    expect(positions).toEqual([n + 1, n + 2, n + 3]);
  });

  it.each([
    ['meter_id', { meter_id: '' }],
    ['user_id', { user_id: 5 }],
    ['wallet_address', { wallet_address: 'not-a-key' }],
    ['kwh_amount', { kwh_amount: '-1' }],
    ['kwh_amount', { kwh_amount: '0' }],
    ['kwh_amount', { kwh_amount: '1000.5' }],
    ['kwh_amount', { kwh_amount: '0.0000000001' }],
    ['kwh_amount', { kwh_amount: 0.12345678901234567 }],
    ['reading_timestamp', { reading_timestamp: 'yesterday' }],
    ['reading_timestamp', { reading_timestamp: new Date(Date.now() + 3_600_000).toISOString() }],
    ['reading_id', { reading_id: 'nope' }],
  ])('a bad %s is a 400 naming it, and nothing of the request is stored', async (field, over) => {
    if (!ready()) return;
    const n = await rows();
    const res = await post({ readings: [reading(), reading(over)] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toMatchObject({ code: 'VALIDATION_ERROR', field: `readings[1].${field}` });
    expect(await rows()).toBe(n);
  });

  it('bad bodies and credentials get 4xx, never 5xx', async () => {
    if (!ready()) return;
    expect((await post('{nope')).status).toBe(400);
    expect((await post({ readings: 'x' })).status).toBe(400);
    expect((await post({ readings: [] })).status).toBe(400);
    expect((await post({ readings: Array.from({ length: 6 }, () => reading()) })).status).toBe(413);
    expect((await post('x'.repeat(3 * 1024 * 1024))).status).toBe(413);
    expect((await post(reading(), { 'content-type': 'application/json' })).status).toBe(401);
    expect((await post(reading(), { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post(reading(), OPERATOR)).status).toBe(403);
    expect((await post(reading(), { authorization: 'Bearer gw-2' })).status).toBe(202);
    expect((await app.request('/readings/not-a-uuid', { headers: GATEWAY })).status).toBe(400);
    expect((await app.request('/readings/0b7f3c1a-4d0e-4f8e-8a40-111111111111', { headers: GATEWAY })).status).toBe(404);
  });

  it('pages through readings with a cursor and filters by status and wallet', async () => {
    if (!ready()) return;
    const total = await rows();
    const seen = new Set<string>();
    let cursor: string | null = null;
    do {
      const q: string = `/readings?limit=2&wallet=${wallet}${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await (await app.request(q, { headers: OPERATOR })).json()) as any;
      for (const r of page.readings) seen.add(r.reading_id);
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen.size).toBe(total);
    const done = (await (await app.request('/readings?status=completed', { headers: OPERATOR })).json()) as any;
    expect(done.readings).toEqual([]);
    expect((await app.request('/readings?status=weird', { headers: OPERATOR })).status).toBe(400);
    expect((await app.request('/readings?cursor=zzz', { headers: OPERATOR })).status).toBe(400);
    expect((await app.request('/readings?limit=0', { headers: OPERATOR })).status).toBe(400);
  });
});
