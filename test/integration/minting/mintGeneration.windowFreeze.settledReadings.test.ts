// mint_generation's freeze tells a window that waits for a reading still in the queue (WINDOW_CHANGED: deferred, it
// joins the next claim) from one that can never be frozen as it stands (WINDOW_UNMINTABLE: its readings fail,
// saying why): a reading of it settled another way, one of a frozen window gone, the meter's bytes changed. A
// reading of a frozen, unminted window cannot be voided; completing a window by its record waits for an acceptance.
import { randomBytes, randomUUID } from 'node:crypto';
import bs58 from 'bs58';
import postgres from 'postgres';
import { eq, inArray } from 'drizzle-orm';
import { meters, mintWindows, readings } from '../../../src/db/schema.js';
import { claimWindows, completeByRecord, recordSigned, voidReading } from '../../../src/minting/repo.js';
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
  const base = Date.UTC(2026, 9, 7);
  /** A fresh meter with `n` readings in its first window of the base day; its id and the readings' ids. */
  async function windowOf(n: number): Promise<{ meter: string; ids: string[] }> {
    const meter = `fz-${kind}-${++meterNo}`;
    await registerMeters(request, 'op', [{ meter_id: meter, interval_minutes: 1, active_from: '2026-10-01T00:00:00Z' }]);
    const body = { readings: Array.from({ length: n }, (_, i) => ({ meter_id: meter, reading_timestamp: new Date(base + (i + 1) * 60_000).toISOString(), kwh_amount: '1' })) };
    const res = await request('/readings', { method: 'POST', headers: G, body: JSON.stringify(body) });
    expect(res.status).toBe(202);
    return { meter, ids: ((await res.json()) as any).readings.map((r: any) => r.reading_id) };
  }
  const db = () => t!.database.db;
  const claim = async (ids: string[]) => claimWindows(db(), { token: randomUUID(), limit: 100, leaseMs: 60_000, batchId: randomUUID(), graceMs: 0, ids });
  const record = (token: string, ids: string[], windowBytes?: Record<string, string>) =>
    recordSigned(db(), token, randomUUID(), { signature: bs58.encode(randomBytes(64)), wire: new Uint8Array([1]), lastValidBlockHeight: 1, readingIds: ids, windowBytes }, { windows: true });
  /** The freeze's refusal: its code, and its message (which says why). */
  const refusal = async (p: Promise<unknown>) => {
    const e = (await p.then(() => null, (err: unknown) => err)) as { code?: string; message?: string } | null;
    return { code: e?.code, message: e?.message ?? '' };
  };
  const setStatus = (ids: string[], status: 'completed' | 'failed' | 'voided' | 'pending') =>
    db().update(readings).set({ status, claimToken: null, txSignature: null, leaseExpiresAt: null }).where(inArray(readings.id, ids));

  it('a reading of the window completed by mint_tokens_direct before the switch: the freeze fails the window, in words', async () => {
    if (!t) return;
    const { ids: [a, b] } = await windowOf(2);
    await setStatus([a!], 'completed');
    const c = await claim([b!]);
    expect(c.rows.map((r) => r.id)).toEqual([b]);
    expect(await refusal(record(c.token, [b!]))).toEqual({ code: 'WINDOW_UNMINTABLE', message: expect.stringMatching(new RegExp(`${a}.*is completed`)) });
  });

  it('the window\'s readings failed before any freeze, then a late one: the freeze fails it rather than waiting', async () => {
    if (!t) return;
    const { ids } = await windowOf(3);
    await setStatus(ids.slice(0, 2), 'failed');
    const c = await claim([ids[2]!]);
    expect(await refusal(record(c.token, [ids[2]!]))).toEqual({ code: 'WINDOW_UNMINTABLE', message: expect.stringMatching(/is failed/) });
  });

  it('a reading still in the queue: the freeze defers (WINDOW_CHANGED), it joins the next claim', async () => {
    if (!t) return;
    const { ids: [a, b] } = await windowOf(2);
    const c = await claim([a!, b!]);
    await expect(record(c.token, [a!])).rejects.toMatchObject({ code: 'WINDOW_CHANGED' });
  });

  it('a frozen window whose transaction expired: its readings cannot be voided; one gone anyway makes it unmintable', async () => {
    if (!t) return;
    const { ids: [a, b] } = await windowOf(2);
    const c = await claim([a!, b!]);
    await record(c.token, [a!, b!]);
    await setStatus([a!, b!], 'pending'); // its transaction provably expired: both back in the queue
    expect(await voidReading(db(), b!, 'op', 'bad reading')).toMatchObject({ frozenWindow: { windowStart: new Date(base) } });
    const [row] = await db().select().from(readings).where(eq(readings.id, b!));
    expect(row!.status).toBe('pending');
    // Voided before this release refused it: the frozen sum is unreachable, so the window fails rather than loops.
    await setStatus([b!], 'voided');
    const again = await claim([a!]);
    expect(await refusal(record(again.token, [a!]))).toEqual({ code: 'WINDOW_UNMINTABLE', message: expect.stringMatching(/is voided/) });
  });

  it('the meter\'s bytes changed since the transaction read them: the freeze refuses it', async () => {
    if (!t) return;
    const { meter, ids: [a] } = await windowOf(1);
    const [m] = await db().select({ bytes: meters.generationMeterId }).from(meters).where(eq(meters.meterId, meter));
    const c = await claim([a!]);
    await db().update(meters).set({ generationMeterId: randomBytes(16).toString('hex') }).where(eq(meters.meterId, meter));
    expect(await refusal(record(c.token, [a!], { [a!]: m!.bytes! }))).toEqual({ code: 'WINDOW_CHANGED', message: expect.stringContaining(m!.bytes!) });
    expect(await db().select().from(mintWindows).where(eq(mintWindows.meterId, meter))).toEqual([]);
  });

  it('completing windows by their record waits for an acceptance holding the meter', async () => {
    if (!t || !t.url) return; // needs a second connection (Postgres)
    const { meter, ids: [a] } = await windowOf(1);
    const c = await claim([a!]);
    const other = postgres(t.url, { max: 1, onnotice: () => {} });
    try {
      let done = false;
      let completing: Promise<number> | null = null;
      await other.begin(async (sql) => {
        await sql`select meter_id from meters where meter_id = ${meter} for update`;
        completing = completeByRecord(db(), c.token, [a!]).then((n) => ((done = true), n));
        await new Promise((r) => setTimeout(r, 500));
        expect(done).toBe(false); // held back by the acceptance's lock until it commits
      });
      expect(await completing!).toBe(1);
      expect((await db().select().from(mintWindows).where(eq(mintWindows.meterId, meter)))[0]).toMatchObject({ status: 'minted' });
    } finally {
      await other.end({ timeout: 1 });
    }
  });
});
