// mint_generation claims whole windows: a window is never split between two claims (each claim's freeze would
// find the other's readings and both would wait, then meet again), and a claim holds at most the batch size in
// readings, counted by reading, not by window (a window larger than that still goes, alone).
import { randomUUID } from 'node:crypto';
import { claimWindows } from '../../../src/minting/repo.js';
import { DATABASES, withDatabase, type TestDatabase } from '../../support/db.js';
import { registerMeters, registryApp, type Request } from '../../support/meters.js';

const G = { authorization: 'Bearer gw-key', 'content-type': 'application/json' };

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let request: Request;
  withDatabase(kind, open, async (d) => {
    t = d;
    ({ request } = await registryApp(d.database, { refuseSettledWindows: true }));
  });

  let meterNo = 0;
  const base = Date.UTC(2026, 9, 6);
  /** A fresh meter with `counts[w]` readings in window w of the base day (one a minute); their ids by window. */
  async function meterWith(counts: number[]): Promise<string[][]> {
    const meter = `cw-${kind}-${++meterNo}`;
    await registerMeters(request, 'op', [{ meter_id: meter, interval_minutes: 1, active_from: '2026-10-01T00:00:00Z' }]);
    const out: string[][] = [];
    for (const [w, n] of counts.entries()) {
      const body = { readings: Array.from({ length: n }, (_, i) => ({ meter_id: meter, reading_timestamp: new Date(base + w * 900_000 + (i + 1) * 60_000).toISOString(), kwh_amount: '0.01' })) };
      const res = await request('/readings', { method: 'POST', headers: G, body: JSON.stringify(body) });
      expect(res.status).toBe(202);
      out.push(((await res.json()) as any).readings.map((r: any) => r.reading_id));
    }
    return out;
  }
  const claim = (limit: number, ids?: string[]) => claimWindows(t!.database.db, { token: randomUUID(), limit, leaseMs: 60_000, batchId: randomUUID(), graceMs: 0, ids });

  it('counts readings, not windows: windows go while their readings fit in the limit, a larger one alone', async () => {
    if (!t) return;
    const [w0, w1, w2, big] = await meterWith([4, 4, 4, 7]);
    const all = [...w0!, ...w1!, ...w2!, ...big!];
    const first = await claim(9, all);
    expect(first.rows.map((r) => r.id).sort()).toEqual([...w0!, ...w1!].sort());
    const second = await claim(9, all);
    expect(second.rows.map((r) => r.id).sort()).toEqual(w2!.sort());
    const third = await claim(5, all);
    expect(third.rows.map((r) => r.id).sort()).toEqual(big!.sort());
  });

  it('a reading accepted while its window is claimed is not claimed apart: it waits for the window', async () => {
    if (!t) return;
    const [w0] = await meterWith([2]);
    const first = await claim(100, w0);
    expect(first.rows).toHaveLength(2);
    const meter = first.rows[0]!.meterId;
    const late = await request('/readings', { method: 'POST', headers: G, body: JSON.stringify({ meter_id: meter, reading_timestamp: new Date(base + 10 * 60_000).toISOString(), kwh_amount: '0.01' }) });
    expect(late.status).toBe(202);
    const lateId = ((await late.json()) as any).readings[0].reading_id as string;
    expect((await claim(100, [lateId])).rows).toEqual([]);
  });

  it('concurrent claims never split a window', async () => {
    if (!t || kind !== 'postgres') return; // PGlite has one connection: nothing runs concurrently there
    const windows = await meterWith(Array.from({ length: 12 }, () => 5));
    const all = windows.flat();
    const claims = await Promise.all(Array.from({ length: 6 }, () => claim(12, all)));
    const tokenOf = new Map<string, string>();
    claims.forEach((c, i) => c.rows.forEach((r) => tokenOf.set(r.id, String(i))));
    for (const w of windows) {
      const holders = new Set(w.map((id) => tokenOf.get(id) ?? 'none'));
      expect(holders.size).toBe(1);
    }
  });
});
