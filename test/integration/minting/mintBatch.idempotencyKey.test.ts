// POST /mint-batch's Idempotency-Key on a real Postgres server and on PGlite: the key is reserved before the
// batch starts, so a request with the key while the first is still running gets the same batch_id, and
// concurrent requests start one batch; the key is the operator's; another body with it is 422; after its TTL
// it is purged (by the worker's purge and on access) and may start a new batch; batches record requested_by.
import { count, eq, sql } from 'drizzle-orm';
import { batches, idempotencyKeys } from '../../../src/db/schema.js';
import { purgeIdempotencyKeys, reserveIdempotencyKey } from '../../../src/minting/repo.js';
import { DATABASES, type TestDatabase, waitFor, withDatabase } from '../../support/db.js';
import { mintApp } from '../../support/mintApp.js';

const mint = (key: string, body: object = {}, token = 'op') => ({
  method: 'POST',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
  body: JSON.stringify(body),
});

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  withDatabase(kind, open, (d) => {
    t = d;
  });
  const batchCount = async () => (await t!.database.db.select({ n: count() }).from(batches))[0]!.n;

  it('a second request with the key while the first is still running gets the same batch_id, never a second batch', async () => {
    if (!t) return;
    const m = mintApp(t.database);
    const before = await batchCount();
    m.hold();
    const first = m.request('/mint-batch', mint('k-running'));
    await waitFor(() => m.starts() === 1, 10_000, 'the first batch to be starting');
    const second = await m.request('/mint-batch', mint('k-running'));
    expect(second.status).toBe(202);
    const { batch_id } = (await second.json()) as { batch_id: string };
    m.release();
    const firstRes = await first;
    expect(firstRes.status).toBe(200);
    const firstBody = (await firstRes.json()) as { batch_id: string };
    expect(firstBody.batch_id).toBe(batch_id);
    // Once answered, the key gives that answer back.
    const third = await m.request('/mint-batch', mint('k-running'));
    expect(third.status).toBe(200);
    expect(await third.json()).toEqual(firstBody);
    expect(m.starts()).toBe(1);
    expect((await batchCount()) - before).toBe(1);
    const [row] = await t.database.db.select().from(batches).where(eq(batches.id, batch_id));
    expect(row!.requestedBy).toBe('operator');
  });

  it('20 concurrent requests with one key start one batch and all name it', async () => {
    if (!t) return;
    const m = mintApp(t.database);
    const before = await batchCount();
    const answers = await Promise.all(Array.from({ length: 20 }, () => m.request('/mint-batch', mint('k-race')).then(async (r) => ({ status: r.status, body: (await r.json()) as { batch_id: string } }))));
    expect(answers.every((a) => a.status === 200 || a.status === 202)).toBe(true);
    expect(new Set(answers.map((a) => a.body.batch_id)).size).toBe(1);
    expect(m.starts()).toBe(1);
    expect((await batchCount()) - before).toBe(1);
  });

  it('the same key with another body is 422 IDEMPOTENCY_KEY_REUSED and starts nothing', async () => {
    if (!t) return;
    const m = mintApp(t.database);
    expect((await m.request('/mint-batch', mint('k-body', { prefer_async: false }))).status).toBe(200);
    const res = await m.request('/mint-batch', mint('k-body', { prefer_async: true }));
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    expect(m.starts()).toBe(1);
  });

  it('a key is scoped to its operator: another operator may hold the same key for another batch', async () => {
    if (!t) return;
    const a = await reserveIdempotencyKey(t.database.db, { operator: 'alice', key: 'shared', requestHash: 'h', batchId: crypto.randomUUID(), ttlHours: 24 });
    const b = await reserveIdempotencyKey(t.database.db, { operator: 'bob', key: 'shared', requestHash: 'h', batchId: crypto.randomUUID(), ttlHours: 24 });
    const again = await reserveIdempotencyKey(t.database.db, { operator: 'alice', key: 'shared', requestHash: 'h', batchId: crypto.randomUUID(), ttlHours: 24 });
    expect(a.reserved && b.reserved).toBe(true);
    expect(a.row.batchId).not.toBe(b.row.batchId);
    expect(again).toMatchObject({ reserved: false, row: { batchId: a.row.batchId } });
  });

  it('through the API: two named operators with the same key get two batches, each recording who asked', async () => {
    if (!t) return;
    const m = mintApp(t.database);
    const asOperator = (await (await m.request('/mint-batch', mint('k-named'))).json()) as { batch_id: string };
    const asAlice = (await (await m.request('/mint-batch', mint('k-named', {}, 'alice-op'))).json()) as { batch_id: string };
    const aliceAgain = (await (await m.request('/mint-batch', mint('k-named', {}, 'alice-op'))).json()) as { batch_id: string };
    expect(asAlice.batch_id).not.toBe(asOperator.batch_id);
    expect(aliceAgain.batch_id).toBe(asAlice.batch_id);
    const who = async (id: string) => (await t!.database.db.select({ by: batches.requestedBy }).from(batches).where(eq(batches.id, id)))[0]!.by;
    expect([await who(asOperator.batch_id), await who(asAlice.batch_id)]).toEqual(['operator', 'alice']);
  });

  it('past its TTL a key is purged: by the worker cycle purge, and on access (a new request starts a new batch)', async () => {
    if (!t) return;
    const m = mintApp(t.database, { idempotencyTtlHours: 1 });
    const db = t.database.db;
    const age = (key: string) => db.update(idempotencyKeys).set({ createdAt: sql`now() - interval '2 hours'` }).where(eq(idempotencyKeys.key, key));
    // The worker cycle's purge.
    expect((await m.request('/mint-batch', mint('k-old'))).status).toBe(200);
    expect(await purgeIdempotencyKeys(db, 1)).toBe(0);
    await age('k-old');
    expect(await purgeIdempotencyKeys(db, 1)).toBe(1);
    expect(await db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, 'k-old'))).toHaveLength(0);
    // On access: an expired key no longer names its old batch.
    const first = (await (await m.request('/mint-batch', mint('k-access'))).json()) as { batch_id: string };
    await age('k-access');
    const later = (await (await m.request('/mint-batch', mint('k-access', { prefer_async: true }))).json()) as { batch_id: string };
    expect(later.batch_id).not.toBe(first.batch_id);
    expect(m.starts()).toBe(3);
  });
});
