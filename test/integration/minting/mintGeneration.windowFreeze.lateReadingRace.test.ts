// mint_generation freezes a window when its transaction is recorded as signed. A reading for the window is never
// lost silently: accepted before the freeze, the freeze refuses the transaction that does not carry it (nothing is
// sent; the window is minted later with every reading); posted after the freeze, it is refused (422 WINDOW_SETTLED).
// And when both happen at once, exactly one of the two wins, never both and never neither.
import { randomBytes, randomUUID } from 'node:crypto';
import bs58 from 'bs58';
import { eq } from 'drizzle-orm';
import { mintTransactions, mintWindows, readings } from '../../../src/db/schema.js';
import { AppError } from '../../../src/errors.js';
import { claimWindows, recordSigned, releaseClaim } from '../../../src/minting/repo.js';
import { DATABASES, type TestDatabase } from '../../support/db.js';
import { registerMeters, registryApp, type Request } from '../../support/meters.js';

const G = { authorization: 'Bearer gw-key', 'content-type': 'application/json' };

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let request: Request;
  beforeAll(async () => {
    t = await open().catch(() => null);
    if (!t) return;
    ({ request } = await registryApp(t.database, { refuseSettledWindows: true }));
    await registerMeters(request, 'op', [{ meter_id: 'w1', active_from: '2026-10-01T00:00:00Z' }]);
  });
  afterAll(async () => t?.drop());

  const base = Date.UTC(2026, 9, 5);
  let minute = 0;
  /** A reading of meter w1 in window `w` (0: 00:00–00:15 of the base day, ...), at the next free minute in it. */
  const post = (w: number, kwh = '0.5') =>
    request('/readings', { method: 'POST', headers: G, body: JSON.stringify({ meter_id: 'w1', reading_timestamp: new Date(base + w * 900_000 + (++minute % 14 + 1) * 60_000).toISOString(), kwh_amount: kwh }) });
  const idOf = async (res: Response) => ((await res.json()) as any).readings[0].reading_id as string;
  const claim = (ids: string[]) => claimWindows(t!.database.db, { token: randomUUID(), limit: 10, leaseMs: 60_000, batchId: randomUUID(), graceMs: 0, ids });
  const record = (token: string, ids: string[]) =>
    recordSigned(t!.database.db, token, randomUUID(), { signature: bs58.encode(randomBytes(64)), wire: new Uint8Array([1]), lastValidBlockHeight: 1, readingIds: ids }, { windows: true });
  const windowRow = async (w: number) => (await t!.database.db.select().from(mintWindows).where(eq(mintWindows.windowStart, new Date(base + w * 900_000))))[0];

  it('a reading accepted after the claim and before the freeze: the freeze refuses, nothing is recorded; the next claim takes the whole window', async () => {
    if (!t) return;
    const first = await idOf(await post(0, '1'));
    const c = await claim([first]);
    expect(c.rows.map((r) => r.id)).toEqual([first]);
    const second = await post(0, '2');
    expect(second.status).toBe(202);
    const secondId = await idOf(second);
    await expect(record(c.token, [first])).rejects.toMatchObject({ code: 'WINDOW_CHANGED' });
    expect(await windowRow(0)).toBeUndefined();
    const [r] = await t.database.db.select().from(readings).where(eq(readings.id, first));
    expect(r!.txSignature).toBeNull(); // the whole record rolled back: the transaction is never sent
    expect(await t.database.db.select().from(mintTransactions)).toEqual([]);

    await releaseClaim(t.database.db, c.token);
    const again = await claim([first]);
    expect(again.rows.map((x) => x.id).sort()).toEqual([first, secondId].sort());
    await record(again.token, [first, secondId]);
    expect(await windowRow(0)).toMatchObject({ status: 'frozen', amount: '3000000000' });
  });

  it('a reading posted after the freeze is refused with WINDOW_SETTLED and not stored', async () => {
    if (!t) return;
    const res = await post(0, '0.1');
    expect(res.status).toBe(422);
    expect(((await res.json()) as any).error).toMatchObject({ code: 'WINDOW_SETTLED', field: 'reading_timestamp' });
    expect((await windowRow(0))!.readingIds).toHaveLength(2);
  });

  it('a reading posted while its window is being frozen: exactly one of them wins, every time', async () => {
    if (!t) return;
    for (let w = 1; w <= 12; w++) {
      const a = await idOf(await post(w, '1'));
      const c = await claim([a]);
      const [late, frozen] = await Promise.all([
        post(w, '0.25'),
        record(c.token, [a]).then(
          () => true,
          (e: unknown) => {
            if (!(e instanceof AppError) || e.code !== 'WINDOW_CHANGED') throw e;
            return false;
          },
        ),
      ]);
      // Accepted and frozen without it would lose it; refused and not frozen would refuse it for nothing.
      expect([late.status, frozen]).toEqual(frozen ? [422, true] : [202, false]);
      const row = await windowRow(w);
      if (frozen) expect(row).toMatchObject({ amount: '1000000000', readingIds: [a] });
      else expect(row).toBeUndefined();
    }
  });
});
