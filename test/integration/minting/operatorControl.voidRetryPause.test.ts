// Operator control on Postgres and PGlite: POST /readings/:id/void (status voided, never claimed, its
// (meter, time) stays taken, who and why recorded), POST /readings/retry with a filter (answers how many
// moved), and POST /minting/pause / resume read by two worker processes' loops (they stop claiming, the
// rescuer still runs, and they claim again after resume).
import { eq } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { readings } from '../../../src/db/schema.js';
import { claimReadings, mintingPause, voidOf } from '../../../src/minting/repo.js';
import type { BatchRunner } from '../../../src/minting/runBatch.js';
import { startWorker } from '../../../src/minting/worker.js';
import { DATABASES, type TestDatabase, waitFor, withDatabase } from '../../support/db.js';
import { consoleApp, DEFAULTS, seedStatus } from '../../support/console.js';
import { client, registerMeters, silentLog, type Request } from '../../support/meters.js';

describe.each(DATABASES)('operator control on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let request: Request;
  withDatabase(kind, open, async (d) => {
    t = d;
    request = (await consoleApp(d.database)).request;
  });
  const op = () => client(request).post('op');
  const statusOf = async (id: string) => (await t!.database.db.select({ s: readings.status }).from(readings).where(eq(readings.id, id)))[0]!.s;

  it('voids a pending reading: never claimed, recorded with who and why, and its (meter, time) stays taken', async () => {
    if (!t) return;
    await registerMeters(request, 'op', [{ meter_id: `void-${kind}` }]);
    const reading = { meter_id: `void-${kind}`, reading_timestamp: '2026-11-01T00:15:00Z', kwh_amount: '1.5' };
    const posted = await client(request).post('gw-key')('/readings', { readings: [reading] });
    expect(posted.status).toBe(202);
    const id = ((await posted.json()) as { readings: { reading_id: string }[] }).readings[0]!.reading_id;

    const res = await client(request).post('alice-op')(`/readings/${id}/void`, { reason: 'meter was on the test bench' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ reading_id: id, status: 'voided', voided_by: 'alice' });
    expect(await voidOf(t.database.db, id)).toMatchObject({ actor: 'alice', reason: 'meter was on the test bench', previousStatus: 'pending' });
    const claim = await claimReadings(t.database.db, { token: randomUUID(), limit: 1000, leaseMs: 60_000, batchId: randomUUID(), ids: [id] });
    expect(claim.rows).toHaveLength(0);
    expect(await statusOf(id)).toBe('voided');
    // The same energy again is a duplicate of the voided reading, not a new one.
    const again = await client(request).post('gw-key')('/readings', { readings: [reading] });
    expect(await again.json()).toMatchObject({ accepted: 0, duplicates: 1 });
  });

  it('voids a failed reading, and refuses a completed one, a second void and a void without a reason', async () => {
    if (!t) return;
    const [failed] = await seedStatus(t.database, 1, 'failed', { error: 'boom' });
    const [done] = await seedStatus(t.database, 1, 'completed');
    expect((await op()(`/readings/${failed}/void`, { reason: 'wrong meter' })).status).toBe(200);
    const twice = await op()(`/readings/${failed}/void`, { reason: 'again' });
    expect(twice.status).toBe(409);
    expect(((await twice.json()) as { error: { code: string } }).error.code).toBe('NOT_VOIDABLE');
    expect((await op()(`/readings/${done}/void`, { reason: 'no' })).status).toBe(409);
    const noReason = await op()(`/readings/${failed}/void`, {});
    expect(noReason.status).toBe(400);
    expect(((await noReason.json()) as { error: { field: string } }).error.field).toBe('reason');
    expect((await op()(`/readings/${randomUUID()}/void`, { reason: 'x' })).status).toBe(404);
    expect((await client(request).post('gw-key')(`/readings/${done}/void`, { reason: 'x' })).status).toBe(403);
  });

  it('retries the failed readings a filter matches and answers how many moved', async () => {
    if (!t) return;
    const error = `rpc gone ${kind}`;
    const a = await seedStatus(t.database, 3, 'failed', { error });
    const b = await seedStatus(t.database, 2, 'failed', { error: `other ${kind}`, gatewayId: 'gw-2' });
    const res = await op()('/readings/retry', { error });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ moved: 3 });
    for (const id of a) expect(await statusOf(id)).toBe('pending');
    for (const id of b) expect(await statusOf(id)).toBe('failed');
    expect(await (await op()('/readings/retry', { error })).json()).toEqual({ moved: 0 });
    expect(await (await op()('/readings/retry', { gateway_id: 'gw-2', error: `other ${kind}` })).json()).toEqual({ moved: 2 });
    const empty = await op()('/readings/retry', {});
    expect(empty.status).toBe(400);
    expect((await op()('/readings/retry', { from: 'yesterday' })).status).toBe(400);
  });

  it('a pause stored through the API stops both workers claiming (the rescuer still runs); resume lets them claim again', async () => {
    if (!t) return;
    await seedStatus(t.database, 1, 'pending');
    const paused = await op()('/minting/pause', { reason: 'RPC provider maintenance' });
    expect(await paused.json()).toMatchObject({ paused: true, reason: 'RPC provider maintenance', paused_by: 'operator' });
    expect(await mintingPause(t.database.db)).toMatchObject({ reason: 'RPC provider maintenance' });
    const starts = [0, 0];
    const rescues = [0, 0];
    const workers = [0, 1].map((i) => {
      const runner = {
        start: async () => {
          starts[i]!++;
          return { batchId: randomUUID(), done: Promise.resolve({ total_readings: 0 }) };
        },
        drain: async () => {},
      } as unknown as BatchRunner;
      return startWorker({
        db: t!.database.db,
        runner,
        log: silentLog,
        defaults: DEFAULTS,
        rescue: async () => {
          rescues[i]!++;
          return { confirmed: 0, failed: 0, expired: 0, leasesTakenBack: 0, batchesClosed: 0 } as never;
        },
        paused: async () => {
          const p = await mintingPause(t!.database.db);
          return p ? `paused by ${p.by}: ${p.reason}` : null;
        },
      });
    });
    try {
      await waitFor(() => rescues.every((n) => n >= 3), 10_000, 'both workers to run three cycles while paused');
      expect(starts).toEqual([0, 0]);
      expect(workers.map((w) => w.state().paused)).toEqual(['paused by operator: RPC provider maintenance', 'paused by operator: RPC provider maintenance']);
      const resumed = await op()('/minting/resume');
      expect(await resumed.json()).toMatchObject({ paused: false });
      await waitFor(() => starts.every((n) => n > 0), 10_000, 'both workers to claim after resume');
      expect(workers.map((w) => w.state().paused)).toEqual([null, null]);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
  });

  it('reads and changes the worker settings, refusing an unknown or out-of-range one', async () => {
    if (!t) return;
    const put = client(request).put('op');
    expect(await (await put('/settings', { max_batch_size: 77 })).json()).toMatchObject({ max_batch_size: 77, batch_interval_ms: DEFAULTS.batchIntervalMs });
    expect(await (await client(request).get('op')('/settings')).json()).toMatchObject({ max_batch_size: 77 });
    expect((await put('/settings', { max_batch_size: 0 })).status).toBe(400);
    expect((await put('/settings', { nope: 1 })).status).toBe(400);
  });
});
