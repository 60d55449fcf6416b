// POST /readings on a real Postgres server and on PGlite: readings of registered meters are stored with
// the registry's owner and wallet, a resent reading changes nothing, a conflicting one stores nothing of
// its request, and every bad field is a 400 (malformed) or 422 (refused) naming it.
import { count } from 'drizzle-orm';
import { readings } from '../../../src/db/schema.js';
import { DATABASES } from '../../support/db.js';
import { client, registerMeters, type Request, useRegistry } from '../../support/meters.js';

let seq = 0;
const reading = (over: Record<string, unknown> = {}): Record<string, any> => ({
  meter_id: 'm-a',
  kwh_amount: '1.25',
  reading_timestamp: new Date(Date.UTC(2026, 10, 1, 0, 0, 0) + ++seq * 3_600_000).toISOString(),
  ...over,
});

describe.each(DATABASES)('on %s', (kind, open) => {
  let wallet: string;
  const fx = useRegistry(
    kind,
    open,
    async (f) => {
      const [a] = await registerMeters(f.request, 'op', [{ meter_id: 'm-a' }, { meter_id: 'm-b' }, { meter_id: 'm-other', gateway_id: 'gw-2' }]);
      wallet = a!.wallet_address;
    },
    { maxReadingsPerRequest: 5 },
  );
  const request: Request = (path, init) => fx.request(path, init);
  const api = () => client(request);
  const post = (body: unknown, token = 'gw-key') => api().post(token)('/readings', body);
  const rows = async () => (await fx.t!.database.db.select({ n: count() }).from(readings))[0]!.n;
  const ready = fx.ready;

  it('accepts a reading of a registered meter, stored with its owner and wallet, and reads it back exactly', async () => {
    if (!ready()) return;
    const r = reading({ kwh_amount: '12.345678901', reading_id: 'gateway-side-42' });
    const res = await post(r);
    expect(res.status).toBe(202);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ accepted: 1, duplicates: 0, readings: [{ client_reading_id: 'gateway-side-42', status: 'pending' }] });
    const id = body.readings[0].reading_id;
    const got = (await (await api().get('op')(`/readings/${id}`)).json()) as any;
    expect(got).toMatchObject({
      reading_id: id,
      client_reading_id: 'gateway-side-42',
      meter_id: 'm-a',
      gateway_id: 'gw',
      user_id: 'owner-of-m-a',
      wallet_address: wallet,
      reading_timestamp: r.reading_timestamp,
      kwh_amount: '12.345678901',
      tokens_to_mint: '12345678901',
      status: 'pending',
      attempts: 0,
    });
  });

  it('a resent reading is a duplicate whatever client id it carries; the first one is kept', async () => {
    if (!ready()) return;
    const r = reading({ client_reading_id: 'first' });
    const a = (await (await post(r)).json()) as any;
    const again = (await (await post({ readings: [{ ...r, client_reading_id: 'second' }, { ...r, reading_timestamp: r.reading_timestamp.replace('Z', '+00:00'), client_reading_id: undefined }] })).json()) as any;
    expect(again).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(again.readings.map((x: any) => [x.reading_id, x.client_reading_id])).toEqual([
      [a.readings[0].reading_id, 'first'],
      [a.readings[0].reading_id, 'first'],
    ]);
  });

  it('the same meter and time with other energy is 409 CONFLICTING_READING: nothing of the request is stored', async () => {
    if (!ready()) return;
    const r = reading();
    await post(r);
    const n = await rows();
    const res = await post({ readings: [reading({ meter_id: 'm-b' }), { ...r, kwh_amount: '2' }] });
    expect(res.status).toBe(409);
    expect(((await res.json()) as any).error).toMatchObject({ code: 'CONFLICTING_READING', field: 'readings[1].kwh_amount' });
    expect(await rows()).toBe(n);
  });

  it('queue positions come after everything already pending (nothing claimed yet), in request order', async () => {
    if (!ready()) return;
    const pending = (await (await api().get('op')('/readings?status=pending&limit=500')).json()) as any;
    const body = (await (await post({ readings: [reading(), reading(), reading()] })).json()) as any;
    const n = pending.readings.length;
    expect(body.readings.map((r: any) => r.queue_position)).toEqual([n + 1, n + 2, n + 3]);
  });

  it.each([
    [400, 'VALIDATION_ERROR', 'meter_id', { meter_id: '' }],
    [400, 'VALIDATION_ERROR', 'kwh_amount', { kwh_amount: '-1' }],
    [400, 'VALIDATION_ERROR', 'kwh_amount', { kwh_amount: '0' }],
    [400, 'VALIDATION_ERROR', 'kwh_amount', { kwh_amount: '1000.5' }],
    [400, 'VALIDATION_ERROR', 'kwh_amount', { kwh_amount: '0.0000000001' }],
    [400, 'VALIDATION_ERROR', 'kwh_amount', { kwh_amount: 0.12345678901234567 }],
    [400, 'VALIDATION_ERROR', 'kwh_amount', { kwh_amount: undefined }],
    [400, 'VALIDATION_ERROR', 'register_kwh', { register_kwh: '5' }],
    [400, 'VALIDATION_ERROR', 'reading_timestamp', { reading_timestamp: 'yesterday' }],
    [400, 'VALIDATION_ERROR', 'reading_timestamp', { reading_timestamp: '0001-01-01T00:00:00Z' }],
    [400, 'VALIDATION_ERROR', 'reading_timestamp', { reading_timestamp: '2026-11-01T00:00:00.0001Z' }],
    [400, 'VALIDATION_ERROR', 'reading_id', { reading_id: 5 }],
    [400, 'VALIDATION_ERROR', 'signature', { signature: 'not base58 0OIl' }],
    [422, 'TIMESTAMP_OUT_OF_RANGE', 'reading_timestamp', { reading_timestamp: new Date(Date.now() + 3_600_000).toISOString() }],
    [422, 'TIMESTAMP_OUT_OF_RANGE', 'reading_timestamp', { reading_timestamp: '2019-12-31T23:59:59.999Z' }],
    [422, 'UNKNOWN_METER', 'meter_id', { meter_id: 'nobody-registered-me' }],
    [403, 'METER_NOT_YOURS', 'meter_id', { meter_id: 'm-other' }],
    [422, 'WALLET_MISMATCH', 'wallet_address', { wallet_address: 'So11111111111111111111111111111111111111112' }],
    [422, 'WALLET_MISMATCH', 'user_id', { user_id: 'someone-else' }],
  ])('a bad reading is a %s %s naming readings[1].%s, and nothing of the request is stored', async (status, code, field, over) => {
    if (!ready()) return;
    const n = await rows();
    const res = await post({ readings: [reading(), reading(over)] });
    expect(res.status).toBe(status);
    expect(((await res.json()) as any).error).toMatchObject({ code, field: `readings[1].${field}` });
    expect(await rows()).toBe(n);
  });

  it('a body that agrees with the registry on owner and wallet is accepted', async () => {
    if (!ready()) return;
    const res = await post(reading({ user_id: 'owner-of-m-a', wallet_address: wallet }));
    expect(res.status).toBe(202);
  });

  it('bad bodies and credentials get 4xx, never 5xx', async () => {
    if (!ready()) return;
    expect((await post('{nope')).status).toBe(400);
    expect((await post({ readings: 'x' })).status).toBe(400);
    expect((await post({ readings: [] })).status).toBe(400);
    expect((await post({ readings: Array.from({ length: 6 }, () => reading()) })).status).toBe(413);
    expect((await post('x'.repeat(3 * 1024 * 1024))).status).toBe(413);
    expect((await request('/readings', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(reading()) })).status).toBe(401);
    expect((await post(reading(), 'wrong')).status).toBe(401);
    expect((await post(reading(), 'op')).status).toBe(403);
    expect((await api().get('gw-key')('/readings/not-a-uuid')).status).toBe(400);
    expect((await api().get('gw-key')('/readings/0b7f3c1a-4d0e-4f8e-8a40-111111111111')).status).toBe(404);
  });

  it('pages through readings with a cursor and filters by status and wallet', async () => {
    if (!ready()) return;
    const total = await rows();
    const seen = new Set<string>();
    let cursor: string | null = null;
    do {
      const q: string = `/readings?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await (await api().get('op')(q)).json()) as any;
      for (const r of page.readings) seen.add(r.reading_id);
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen.size).toBe(total);
    const mine = (await (await api().get('op')(`/readings?wallet=${wallet}&limit=500`)).json()) as any;
    expect(mine.readings.length).toBeGreaterThan(0);
    expect(mine.readings.every((r: any) => r.wallet_address === wallet)).toBe(true);
    const done = (await (await api().get('op')('/readings?status=completed')).json()) as any;
    expect(done.readings).toEqual([]);
    expect((await api().get('op')('/readings?status=weird')).status).toBe(400);
    expect((await api().get('op')('/readings?cursor=zzz')).status).toBe(400);
    expect((await api().get('op')('/readings?limit=0')).status).toBe(400);
  });
});
