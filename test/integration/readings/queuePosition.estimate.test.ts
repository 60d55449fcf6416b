// queue_position, the O(1) estimate (README *Queue position*): queue_seq − the watermark the claims raise.
// It follows acceptance within a request and across requests, drops by what a claim in queue order takes,
// is null for readings not waiting (recorded, claimed), and GET /queue/item/:id gives the same figure live.
// The migration numbers a queue it finds in acceptance order. On Postgres and PGlite.
import { randomUUID } from 'node:crypto';
import { eq, inArray } from 'drizzle-orm';
import { queueWatermark, readings } from '../../../src/db/schema.js';
import { claimReadings } from '../../../src/minting/repo.js';
import { DATABASES, olderDatabase, postgresAvailable } from '../../support/db.js';
import { client, registerMeters, registryApp, type Request, useRegistry } from '../../support/meters.js';

const T0 = Date.UTC(2026, 10, 1);
let hour = 0;
const reading = (meter_id = 'm-a') => ({ meter_id, kwh_amount: '1.5', reading_timestamp: new Date(T0 + ++hour * 3_600_000).toISOString() });

describe.each(DATABASES)('on %s', (kind, open) => {
  const fx = useRegistry(kind, open, async (f) => {
    await registerMeters(f.request, 'op', [
      { meter_id: 'm-a' },
      { meter_id: 'm-b' },
      { meter_id: 'reg', kind: 'register', register_baseline: { kwh: '100', at: new Date(T0).toISOString() } },
    ]);
  });
  const request: Request = (path, init) => fx.request(path, init);
  const api = () => client(request);
  const post = async (body: unknown) => {
    const res = await api().post('gw-key')('/readings', body);
    expect(res.status).toBe(202);
    return ((await res.json()) as { readings: { reading_id: string; status: string; queue_position: number | null }[] }).readings;
  };
  const item = async (id: string) => ((await (await api().get('gw-key')(`/queue/item/${id}`)).json()) as { status: string; queue_position: number | null }).queue_position;
  const db = () => fx.t!.database.db;
  const watermark = async () => (await db().select().from(queueWatermark))[0]!.claimedSeq;
  const seqOf = async (ids: string[]) => new Map((await db().select({ id: readings.id, seq: readings.queueSeq }).from(readings).where(inArray(readings.id, ids))).map((r) => [r.id, r.seq!]));
  const claimAll = () => claimReadings(db(), { token: randomUUID(), limit: 100_000, leaseMs: 60_000, batchId: randomUUID() });
  const ready = fx.ready;

  it('positions increase in request order within a request (across meters) and across requests; GET /queue/item/:id agrees', async () => {
    if (!ready()) return;
    const first = await post({ readings: [reading('m-b'), reading('m-a'), reading('m-b')] });
    const p = first.map((r) => r.queue_position!);
    // Nothing claimed yet and nothing refused: the first reading of the database is 1, and so on.
    expect(p).toEqual([1, 2, 3]);
    const second = await post({ readings: [reading('m-a'), reading('m-a')] });
    expect(second.map((r) => r.queue_position)).toEqual([4, 5]);
    for (const r of [...first, ...second]) expect(await item(r.reading_id)).toBe(r.queue_position);
  });

  it('a resent pending reading is answered with its own position, the one GET gives', async () => {
    if (!ready()) return;
    const r = reading();
    const [first] = await post(r);
    const [again] = await post(r);
    expect(again!.reading_id).toBe(first!.reading_id);
    expect(again!.queue_position).toBe(first!.queue_position);
    expect(await item(first!.reading_id)).toBe(first!.queue_position);
  });

  it('a claim in queue order lowers every pending position to queue_seq − the greatest queue_seq it took; claimed readings have none', async () => {
    if (!ready()) return;
    const posted = await post({ readings: [reading(), reading(), reading(), reading()] });
    const before = await watermark();
    const claim = await claimReadings(db(), { token: randomUUID(), limit: 3, leaseMs: 60_000, batchId: randomUUID() });
    const after = await watermark();
    expect(after).toBe(Math.max(before, ...claim.rows.map((r) => r.queueSeq!)));
    expect(after).toBeGreaterThan(before);
    const seqs = await seqOf(posted.map((r) => r.reading_id));
    const claimed = new Set(claim.rows.map((r) => r.id));
    for (const r of posted) {
      const now = await item(r.reading_id);
      if (claimed.has(r.reading_id)) expect(now).toBeNull();
      else {
        expect(now).toBe(Math.max(1, seqs.get(r.reading_id)! - after));
        expect(now!).toBeLessThan(r.queue_position!);
      }
    }
    // Once the claims have taken everything, the next reading is first.
    await claimAll();
    const [next] = await post(reading());
    expect(next!.queue_position).toBe(1);
  });

  it('a claim of given ids leaves the watermark: the readings around it keep their positions', async () => {
    if (!ready()) return;
    await claimAll();
    const posted = await post({ readings: [reading(), reading(), reading()] });
    const before = await watermark();
    const claim = await claimReadings(db(), { token: randomUUID(), limit: 10, leaseMs: 60_000, batchId: randomUUID(), ids: [posted[2]!.reading_id] });
    expect(claim.rows.map((r) => r.id)).toEqual([posted[2]!.reading_id]);
    expect(await watermark()).toBe(before);
    expect([await item(posted[0]!.reading_id), await item(posted[1]!.reading_id), await item(posted[2]!.reading_id)]).toEqual([posted[0]!.queue_position, posted[1]!.queue_position, null]);
  });

  it('a recorded reading has no position and takes no place in the queue', async () => {
    if (!ready()) return;
    await claimAll();
    const [a] = await post(reading());
    const [zero] = await post({ meter_id: 'reg', register_kwh: '100', reading_timestamp: new Date(T0 + ++hour * 3_600_000).toISOString() });
    expect(zero).toMatchObject({ status: 'recorded', queue_position: null });
    expect(await item(zero!.reading_id)).toBeNull();
    expect((await db().select({ seq: readings.queueSeq }).from(readings).where(eq(readings.id, zero!.reading_id)))[0]!.seq).toBeNull();
    const [b] = await post(reading());
    expect(b!.queue_position).toBe(a!.queue_position! + 1);
  });
});

describe.each(['postgres', 'pglite'] as const)('the migration, on %s', (kind) => {
  const row = (id: string, status: string, created: string) =>
    `insert into readings (id, meter_id, user_id, wallet_address, kwh_amount, tokens_to_mint, reading_timestamp, status, created_at)
     values ('${id}', 'old-m', 'u', 'w', ${status === 'recorded' ? 0 : 1}, ${status === 'recorded' ? 0 : 1000000000}, '${created}', '${status}', '${created}')`;

  it('numbers the readings it finds in acceptance order, recorded ones aside; the oldest pending is first; new readings come after', async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    const older = await olderDatabase(kind, (tag) => tag < '0009', [
      row('00000000-0000-4000-8000-00000000000a', 'completed', '2026-10-01T01:00:00Z'),
      row('00000000-0000-4000-8000-00000000000b', 'recorded', '2026-10-01T02:00:00Z'),
      row('00000000-0000-4000-8000-00000000000c', 'pending', '2026-10-01T04:00:00Z'),
      row('00000000-0000-4000-8000-00000000000d', 'pending', '2026-10-01T03:00:00Z'),
    ]);
    const database = await older.open();
    try {
      const rows = await database.db.select({ id: readings.id, seq: readings.queueSeq }).from(readings);
      expect(Object.fromEntries(rows.map((r) => [r.id.slice(-1), r.seq]))).toEqual({ a: 1, b: null, d: 2, c: 3 });
      expect((await database.db.select().from(queueWatermark))[0]!.claimedSeq).toBe(1);
      const { request } = await registryApp(database);
      await registerMeters(request, 'op', [{ meter_id: 'm-new' }]);
      const item = async (id: string) => ((await (await client(request).get('op')(`/queue/item/${id}`)).json()) as { queue_position: number | null }).queue_position;
      expect([await item('00000000-0000-4000-8000-00000000000d'), await item('00000000-0000-4000-8000-00000000000c')]).toEqual([1, 2]);
      const posted = (await (await client(request).post('gw-key')('/readings', reading('m-new'))).json()) as { readings: { queue_position: number }[] };
      expect(posted.readings[0]!.queue_position).toBe(3);
    } finally {
      await database.close();
      await older.drop();
    }
  });
});
