// The queue's state changes. Every change after a claim names the claim token, so a worker whose lease
// was taken back can no longer change what it no longer holds.
import { and, asc, desc, eq, gt, gte, inArray, lt, lte, notInArray, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { textArray } from '../db/arrays.js';
import { ClaimLost, DuplicateTransaction, WindowChanged, WindowUnmintable } from '../errors.js';
import { BATCH_STATES, batchEvents, batches, type BatchState, feeBudget, idempotencyKeys, meters, mintRecordBudget, mintTransactions, mintWindows, QUEUE_STATUSES, queueStats as queueStatsView, queueWatermark, readings, readingVoids, streamTickets, systemSettings, tokenAccountBudget } from '../db/schema.js';
import type { ReadingRow } from '../readings/repo.js';
import type { MintBatchData, ReadingWait } from './types.js';

export interface Claim {
  token: string;
  rows: ReadingRow[];
}

/** A raw statement's rows: postgres.js answers an array, PGlite an object with `rows`. */
const rowsOf = <T>(result: unknown): T[] => (Array.isArray(result) ? result : (result as { rows: T[] }).rows);

/** Readings a claim may take now: pending, and past their back-off. */
const claimable = and(eq(readings.status, 'pending'), lte(readings.nextAttemptAt, sql`now()`));

/**
 * Claim up to `limit` pending readings (or just the given ids, if pending) for one batch, in one statement
 * that returns the claimed rows.
 *
 * Why this is safe with many workers: `picked` takes row locks with FOR UPDATE SKIP LOCKED, so two
 * claimers never lock the same row; the UPDATE, in the same statement, moves each locked row to
 * 'processing' with a fresh claim token and lease. A row another claimer holds is skipped, and once that
 * claimer commits the row is no longer 'pending'. Nothing is read and then written apart.
 *
 * A claim in queue order (no ids) also raises queue_watermark to the greatest queue_seq it took, which is
 * what POST /readings' queue positions count from. Safe with concurrent claimers: the update only ever
 * raises the value (greatest(), and only where it is larger), and a claimer that finds the row locked by
 * another waits for that claim's commit, then re-evaluates both against the committed value (READ
 * COMMITTED re-checks an updated row), so the watermark never goes back. The row lock is held only until
 * this statement's own commit (it runs on its own, outside any transaction), and a claim that would not
 * raise it takes no lock. A claim of given ids leaves it alone: picking readings out of order says nothing
 * about where the head of the queue is.
 */
export async function claimReadings(db: Db, opts: { token: string; limit: number; leaseMs: number; batchId: string; ids?: string[] }): Promise<Claim> {
  const { token } = opts;
  const picked = db.$with('picked').as(
    db
      .select({ id: readings.id, queueSeq: readings.queueSeq })
      .from(readings)
      .where(and(claimable, opts.ids ? inArray(readings.id, opts.ids) : undefined))
      .orderBy(asc(readings.nextAttemptAt), asc(readings.createdAt), asc(readings.id))
      .limit(opts.limit)
      .for('update', { skipLocked: true }),
  );
  const raised = db.$with('raised', { claimedSeq: queueWatermark.claimedSeq }).as(sql`
    update ${queueWatermark} set claimed_seq = greatest(${queueWatermark.claimedSeq}, p.seq)
    from (select max(queue_seq) as seq from ${picked}) p
    where ${queueWatermark.id} = 1 and p.seq > ${queueWatermark.claimedSeq}
    returning ${queueWatermark.claimedSeq}`);
  const rows = await db
    .with(...(opts.ids ? [picked] : [picked, raised]))
    .update(readings)
    .set({
      status: 'processing',
      claimToken: token,
      batchId: opts.batchId,
      leaseExpiresAt: sql`now() + ${opts.leaseMs} * interval '1 millisecond'`,
      attempts: sql`${readings.attempts} + 1`,
      updatedAt: sql`now()`,
    })
    .where(inArray(readings.id, db.select({ id: picked.id }).from(picked)))
    .returning();
  return { token, rows };
}

/**
 * mint_generation: claim whole windows whose end plus `graceMs` has passed (or the windows of the given ids): every
 * pending reading of each, and windows in due order only while their readings together stay within `limit` (a
 * window larger than `limit` alone still goes, alone: a window is never split, the engine's batch cap is above any).
 *
 * Why no window is split between claimers: the claim is one transaction that first takes, for each candidate
 * window, an advisory transaction lock on its (meter, start) with pg_try_advisory_xact_lock, skipping the windows
 * another claimer holds. Every claim of a window takes that lock, so claims of one window run one after the other;
 * the statement that then picks and moves the readings runs after the lock was granted, so under READ COMMITTED
 * its snapshot sees every earlier claim of the window committed, and it leaves alone a window with a reading still
 * processing (its claim is in flight: the window's late reading waits for it instead of going apart). A lock
 * key shared by two windows (a hash collision) only makes one of them wait for the next claim. The rows are
 * still moved by one UPDATE that re-checks `pending` under its row locks (another writer, e.g. a void, may
 * have changed one). The locks end with the transaction, which holds nothing else.
 */
export async function claimWindows(db: Db, opts: { token: string; limit: number; leaseMs: number; batchId: string; graceMs: number; ids?: string[] }): Promise<Claim> {
  const closed = sql`r.window_start + interval '15 minutes' + ${opts.graceMs} * interval '1 millisecond' <= now()`;
  const byIds = opts.ids ? sql`and r.id = any(${textArray(opts.ids)}::uuid[])` : sql``;
  const limit = Math.max(1, opts.limit);
  return db.transaction(async (tx) => {
    // Candidate windows in due order, as many as their pending readings fit in `limit` (the first one always),
    // each locked if no other claimer holds it.
    const candidates = rowsOf<{ meter_id: string; start_ms: string }>(await tx.execute(sql`
      with due as (
        select r.meter_id, r.window_start, min(r.next_attempt_at) as next_at, min(r.created_at) as created
        from readings r
        where r.status = 'pending' and r.next_attempt_at <= now() and ${closed} ${byIds}
        group by r.meter_id, r.window_start
      ), sized as (
        select d.*, (select count(*) from readings p where p.meter_id = d.meter_id and p.window_start = d.window_start and p.status = 'pending') as n
        from due d
      ), running as (
        select meter_id, window_start, next_at, created,
          sum(n) over (order by next_at, created, meter_id, window_start rows unbounded preceding) as total,
          row_number() over (order by next_at, created, meter_id, window_start) as rank
        from sized
      )
      select c.meter_id, c.start_ms from (
        select meter_id, (extract(epoch from window_start) * 1000)::bigint::text as start_ms, rank from running
        where total <= ${limit} or rank = 1
        offset 0
      ) c
      where pg_try_advisory_xact_lock(hashtext(c.meter_id), (c.start_ms::bigint / 900000)::int)
      order by c.rank`));
    // (offset 0 keeps the lock call out of the subquery: only the candidates are locked, never a window passed over.)
    const held = candidates.map((c) => ({ meterId: c.meter_id, startMs: Number(c.start_ms) }));
    if (held.length === 0) return { token: opts.token, rows: [] };
    const meterList = textArray(held.map((h) => h.meterId));
    const startList = textArray(held.map((h) => new Date(h.startMs).toISOString()));
    // The windows held, as they stand now: those with nothing processing, in the same order, within `limit` again
    // (a window may have gained a reading since the candidates were read).
    const picked = sql`
      with held as (
        select m as meter_id, s::timestamptz as window_start, o as ord from unnest(${meterList}::text[], ${startList}::text[]) with ordinality as h(m, s, o)
      ), sized as (
        select h.meter_id, h.window_start, h.ord, (select count(*) from readings p where p.meter_id = h.meter_id and p.window_start = h.window_start and p.status = 'pending') as n
        from held h
        where not exists (select 1 from readings q where q.meter_id = h.meter_id and q.window_start = h.window_start and q.status = 'processing')
      ), running as (
        select meter_id, window_start, n, sum(n) over (order by ord rows unbounded preceding) as total, row_number() over (order by ord) as rank from sized where n > 0
      )
      select r.id from readings r join running w on w.meter_id = r.meter_id and w.window_start = r.window_start
      where r.status = 'pending' and (w.total <= ${limit} or w.rank = 1)`;
    // The ids first, then the update by them: as one UPDATE ... WHERE id IN (that query), Postgres planned it
    // without the statistics of a young table as a loop that ran for seconds while holding the windows' locks.
    const ids = rowsOf<{ id: string }>(await tx.execute(picked)).map((r) => r.id);
    if (ids.length === 0) return { token: opts.token, rows: [] };
    const rows = await tx
      .update(readings)
      .set({
        status: 'processing',
        claimToken: opts.token,
        batchId: opts.batchId,
        leaseExpiresAt: sql`now() + ${opts.leaseMs} * interval '1 millisecond'`,
        attempts: sql`${readings.attempts} + 1`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(readings.status, 'pending'), inArray(readings.id, ids)))
      .returning();
    return { token: opts.token, rows: rows as ReadingRow[] };
  });
}

/**
 * Readings as the engine takes them. With `windows` (mint_generation) each carries its window (its meter's 16
 * bytes and the window's start) and they come in time order, since a window goes to its last reading's wallet:
 * the plan the runner mints and the one the fee estimate prices are the same.
 */
export async function mintBatchDataOf(db: Db, rows: ReadingRow[], windows: boolean): Promise<MintBatchData[]> {
  const generation = windows ? await generationMeterIds(db, [...new Set(rows.map((r) => r.meterId))]) : null;
  const ordered = generation ? [...rows].sort((a, b) => a.readingTimestamp.getTime() - b.readingTimestamp.getTime()) : rows;
  return ordered.map((r) => ({
    readingId: r.id,
    userId: r.userId,
    walletAddress: r.walletAddress,
    kwhAmount: r.kwhAmount,
    tokensToMint: BigInt(r.tokensToMint),
    meterId: r.meterId,
    ...(generation?.has(r.meterId) && r.windowStart ? { window: { meterId: generation.get(r.meterId)!, startMs: r.windowStart.getTime() } } : {}),
  }));
}

/** The meters' 16 bytes for mint_generation (hex), by meter_id. */
export async function generationMeterIds(db: Db, meterIds: string[]): Promise<Map<string, string>> {
  if (meterIds.length === 0) return new Map();
  const rows = await db.select({ meterId: meters.meterId, id: meters.generationMeterId }).from(meters).where(inArray(meters.meterId, meterIds));
  return new Map(rows.flatMap((r) => (r.id ? [[r.meterId, r.id] as const] : [])));
}

/**
 * Give back a claim of which nothing was signed (the claim's own answer was lost, or the batch could not
 * start): readings it holds without a signature return to pending, the attempt not counted. Idempotent.
 */
export async function releaseClaim(db: Db, token: string): Promise<number> {
  const rows = await db
    .update(readings)
    .set({ status: 'pending', claimToken: null, leaseExpiresAt: null, attempts: sql`greatest(${readings.attempts} - 1, 0)`, updatedAt: sql`now()` })
    .where(and(eq(readings.claimToken, token), eq(readings.status, 'processing'), sql`${readings.txSignature} is null`))
    .returning({ id: readings.id });
  return rows.length;
}

/** Whether a claim would find anything: an idle worker then makes no batch (no empty rows, no log lines). */
export async function anythingClaimable(db: Db, windowGraceMs?: number): Promise<boolean> {
  // mint_generation: only readings of windows that have closed (plus the grace) are claimable.
  // (and not of a window with a reading processing: claimWindows leaves those to their claim in flight).
  const closed =
    windowGraceMs === undefined
      ? undefined
      : sql`${readings.windowStart} + interval '15 minutes' + ${windowGraceMs} * interval '1 millisecond' <= now()
          and not exists (select 1 from readings q where q.meter_id = ${readings.meterId} and q.window_start = ${readings.windowStart} and q.status = 'processing')`;
  const rows = await db.select({ id: readings.id }).from(readings).where(and(claimable, closed)).limit(1);
  return rows.length > 0;
}

/**
 * Record a signed transaction before its first send; refuses (throws) if the claim was lost.
 * Idempotent, so that it may be retried after a commit whose answer was lost: the ledger row is inserted
 * once (same signature, same bytes), and the readings already carrying it still count as held.
 */
export async function recordSigned(
  db: Db,
  token: string,
  batchId: string,
  t: { signature: string; wire: Uint8Array; lastValidBlockHeight: number; readingIds: string[]; windowBytes?: Record<string, string> },
  opts: { windows?: boolean } = {},
): Promise<void> {
  await db.transaction(async (tx) => {
    if (opts.windows) await freezeWindows(tx as unknown as Db, t.signature, t.readingIds, t.windowBytes);
    const updated = await tx
      .update(readings)
      .set({ txSignature: t.signature, updatedAt: sql`now()` })
      .where(and(inArray(readings.id, t.readingIds), eq(readings.claimToken, token), eq(readings.status, 'processing')))
      .returning({ id: readings.id });
    if (updated.length !== t.readingIds.length) throw new ClaimLost(t.readingIds.length - updated.length);
    const inserted = await tx
      .insert(mintTransactions)
      .values({
        signature: t.signature,
        raw: t.wire,
        lastValidBlockHeight: t.lastValidBlockHeight,
        status: 'signed',
        readingIds: t.readingIds,
        batchId,
        claimToken: token,
      })
      .onConflictDoNothing()
      .returning({ signature: mintTransactions.signature });
    if (inserted.length) return;
    // Already recorded: this write again (its first commit's answer was lost), or the same bytes signed for
    // other readings (another process, an earlier batch): then one landing would count for both, so it is
    // refused and the whole write rolled back. The unique signature makes the second wait for the first.
    const [held] = await tx.select({ readingIds: mintTransactions.readingIds }).from(mintTransactions).where(eq(mintTransactions.signature, t.signature));
    const same = held && held.readingIds.length === t.readingIds.length && held.readingIds.every((id) => t.readingIds.includes(id));
    if (!same) throw new DuplicateTransaction(t.signature);
  });
}

/**
 * mint_generation: freeze the windows these readings make up, as the transaction signed for them carries them: their
 * readings and sum are fixed from here on (a reading for them that comes later is refused, readings/repo.ts). Refuses
 * (WindowChanged, so the transaction is never sent) when a window holds a reading the transaction does not carry,
 * or was frozen before with other readings.
 *
 * Why this is safe against a reading accepted at the same moment: the windows' meter rows are locked FOR SHARE
 * first (in meter_id order, as acceptance locks them FOR UPDATE), so an acceptance of a reading for one of these
 * meters either committed before (its reading is seen here, and refused as missing from the transaction) or waits
 * until this commits (and then sees the frozen window and refuses the reading). Two freezes of one meter's other
 * windows share the lock; one window is frozen once (its primary key), a second freeze checks it carries the same.
 */
async function freezeWindows(tx: Db, signature: string, readingIds: string[], bytes?: Record<string, string>): Promise<void> {
  const mine = await tx
    .select({ meterId: readings.meterId, windowStart: readings.windowStart })
    .from(readings)
    .where(inArray(readings.id, readingIds))
    .groupBy(readings.meterId, readings.windowStart);
  const meterIds = [...new Set(mine.map((w) => w.meterId))].sort();
  await tx.select({ id: meters.meterId }).from(meters).where(inArray(meters.meterId, meterIds)).orderBy(asc(meters.meterId)).for('share');
  const ids = textArray(readingIds);
  const inWindows = sql`(${readings.meterId}, ${readings.windowStart}) in (select r.meter_id, r.window_start from readings r where r.id = any(${ids}::uuid[]))`;
  // Pending or processing ones first: a window that only waits for them is deferred, not failed.
  const others = await tx
    .select({ id: readings.id, meterId: readings.meterId, windowStart: readings.windowStart, status: readings.status })
    .from(readings)
    .where(and(inWindows, sql`${readings.duplicateOf} is null`, sql`${readings.status} not in ('voided', 'recorded')`, sql`not (${readings.id} = any(${ids}::uuid[]))`))
    .orderBy(sql`${readings.status} in ('pending', 'processing') desc`)
    .limit(1);
  if (others.length) {
    const o = others[0]!;
    const where = `meter ${o.meterId}'s window ${o.windowStart!.toISOString()} holds reading ${o.id}, which this transaction does not carry`;
    // A reading still in the queue joins the window's next claim; one that ended otherwise (completed by
    // mint_tokens_direct before the switch, failed for good) never will, so waiting for it would be for ever.
    if (o.status === 'pending' || o.status === 'processing') throw new WindowChanged(where);
    throw new WindowUnmintable(`${where} and is ${o.status}`);
  }
  // Summed here, not with array_agg: the postgres.js client runs without type lookup and would hand arrays back as text.
  const carried = await tx
    .select({ id: readings.id, meterId: readings.meterId, windowStart: readings.windowStart, tokens: readings.tokensToMint, wallet: readings.walletAddress, at: readings.readingTimestamp, generationMeterId: meters.generationMeterId })
    .from(readings)
    .innerJoin(meters, eq(meters.meterId, readings.meterId))
    .where(inArray(readings.id, readingIds))
    .orderBy(asc(readings.readingTimestamp));
  const byWindow = new Map<string, { meterId: string; windowStart: Date; generationMeterId: string; amount: bigint; ids: string[]; wallet: string }>();
  for (const r of carried) {
    const key = `${r.meterId}\u0000${r.windowStart!.getTime()}`;
    const w = byWindow.get(key) ?? { meterId: r.meterId, windowStart: r.windowStart!, generationMeterId: r.generationMeterId!, amount: 0n, ids: [], wallet: r.wallet };
    w.amount += BigInt(r.tokens);
    w.ids.push(r.id);
    w.wallet = r.wallet; // the window's last reading's wallet, as the planner mints it
    byWindow.set(key, w);
  }
  const windows = [...byWindow.values()].map((w) => ({ ...w, amount: w.amount.toString(), ids: w.ids.sort() }));
  // The meter's 16 bytes as the signed transaction carries them, against the bytes read here under the meter's lock:
  // an operator's change (PUT /meters) since the runner read them would freeze the window under bytes the
  // transaction does not mint to. Refused; the next claim reads the new bytes.
  for (const w of windows) {
    const carriedBytes = bytes && w.ids.map((id) => bytes[id]).find((b) => b !== undefined);
    if (bytes && carriedBytes !== w.generationMeterId) {
      throw new WindowChanged(`meter ${w.meterId}'s bytes are ${w.generationMeterId ?? 'none'} now, not the transaction's ${carriedBytes ?? 'none'}`);
    }
  }
  for (const w of windows) {
    const [stored] = await tx
      .insert(mintWindows)
      .values({ meterId: w.meterId, windowStart: w.windowStart!, generationMeterId: w.generationMeterId!, walletAddress: w.wallet, amount: w.amount, readingIds: w.ids, txSignature: signature })
      .onConflictDoUpdate({ target: [mintWindows.meterId, mintWindows.windowStart], set: { txSignature: signature } })
      .returning();
    const same = stored!.amount === w.amount && stored!.readingIds.length === w.ids.length && w.ids.every((id) => stored!.readingIds.includes(id));
    if (same && stored!.status === 'frozen' && stored!.generationMeterId === w.generationMeterId) continue;
    const before = `meter ${w.meterId}'s window ${w.windowStart!.toISOString()} was frozen before with ${stored!.amount} base units of ${stored!.readingIds.length} reading(s) (${stored!.status}, meter bytes ${stored!.generationMeterId})`;
    if (stored!.status !== 'frozen' || stored!.generationMeterId !== w.generationMeterId) throw new WindowUnmintable(before);
    // Frozen with readings this transaction lacks: deferred only while every one of them is still in the queue
    // (they join the next claim); one that left it (voided, failed for good) makes the frozen sum unreachable.
    const missing = stored!.readingIds.filter((id) => !w.ids.includes(id));
    const gone = missing.length
      ? await tx.select({ id: readings.id, status: readings.status }).from(readings).where(and(inArray(readings.id, missing), sql`${readings.status} not in ('pending', 'processing')`)).limit(1)
      : [{ id: '', status: 'none' }];
    if (gone.length) throw new WindowUnmintable(missing.length ? `${before}; reading ${gone[0]!.id} of it is ${gone[0]!.status}` : before);
    throw new WindowChanged(before);
  }
}

/**
 * mint_generation: readings whose window the chain's record proves minted, with their frozen sum, without a
 * signature of theirs (found minted before anything was signed for them): completed, and their windows minted.
 * Under the claim's token (null: the rescuer).
 */
export async function completeByRecord(db: Db, token: string | null, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return db.transaction(async (tx) => {
    // The meters' rows FOR SHARE first, in meter_id order, as freezeWindows takes them: an acceptance of a reading
    // for one of these windows (which locks its meter FOR UPDATE and refuses a settled window) either committed
    // before, or waits for this commit and then sees the window minted and refuses the reading as settled,
    // instead of storing one the window's record will never carry.
    const meterIds = await tx.selectDistinct({ meterId: readings.meterId }).from(readings).where(inArray(readings.id, ids));
    const sorted = meterIds.map((m) => m.meterId).sort();
    if (sorted.length) await tx.select({ id: meters.meterId }).from(meters).where(inArray(meters.meterId, sorted)).orderBy(asc(meters.meterId)).for('share');
    const done = await tx
      .update(readings)
      .set({ status: 'completed', lastError: null, claimToken: null, leaseExpiresAt: null, updatedAt: sql`now()` })
      .where(and(inArray(readings.id, ids), eq(readings.status, 'processing'), token ? eq(readings.claimToken, token) : undefined))
      .returning({ id: readings.id, meterId: readings.meterId, windowStart: readings.windowStart, tokens: readings.tokensToMint, wallet: readings.walletAddress });
    const windows = new Map<string, { meterId: string; windowStart: Date; amount: bigint; ids: string[]; wallet: string }>();
    for (const r of done) {
      const key = `${r.meterId}\u0000${r.windowStart!.getTime()}`;
      const w = windows.get(key) ?? { meterId: r.meterId, windowStart: r.windowStart!, amount: 0n, ids: [], wallet: r.wallet };
      w.amount += BigInt(r.tokens);
      w.ids.push(r.id);
      windows.set(key, w);
    }
    const gen = await generationMeterIds(tx as unknown as Db, [...new Set(done.map((r) => r.meterId))]);
    for (const w of windows.values()) {
      await tx
        .insert(mintWindows)
        .values({ meterId: w.meterId, windowStart: w.windowStart, generationMeterId: gen.get(w.meterId)!, walletAddress: w.wallet, amount: w.amount.toString(), readingIds: w.ids, status: 'minted', mintedAt: sql`now()` })
        .onConflictDoUpdate({ target: [mintWindows.meterId, mintWindows.windowStart], set: { status: 'minted', mintedAt: sql`now()` } });
    }
    return done.length;
  });
}

/** mint_generation: the windows a recorded transaction carries, as frozen (the 16 bytes, the start, the frozen sum). */
export async function windowsOfTransaction(db: Db, signature: string): Promise<{ meterId: string; startMs: number; amount: bigint }[]> {
  const rows = await db.select().from(mintWindows).where(eq(mintWindows.txSignature, signature));
  return rows.map((r) => ({ meterId: r.generationMeterId, startMs: r.windowStart.getTime(), amount: BigInt(r.amount) }));
}

/**
 * A landed transaction: its ledger row and every reading it carries change in one database transaction,
 * so a crash can never leave part of a landed transaction processing. `token` null: the rescuer.
 */
export async function completeTransaction(db: Db, token: string | null, signature: string): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.update(mintTransactions).set({ status: 'confirmed', error: null, updatedAt: sql`now()` }).where(eq(mintTransactions.signature, signature));
    // mint_generation: the windows it carried are minted (a no-op without windows).
    await tx.update(mintWindows).set({ status: 'minted', mintedAt: sql`now()` }).where(and(eq(mintWindows.txSignature, signature), eq(mintWindows.status, 'frozen')));
    const done = await tx
      .update(readings)
      .set({ status: 'completed', lastError: null, claimToken: null, leaseExpiresAt: null, updatedAt: sql`now()` })
      .where(and(eq(readings.txSignature, signature), eq(readings.status, 'processing'), token ? eq(readings.claimToken, token) : undefined))
      .returning({ id: readings.id });
    return done.length;
  });
}

export interface RetryPolicy {
  maxAttempts: number;
  backoffMs: number;
}

/** Known not minted: back to pending after a back-off, or failed for good after the retry limit. */
export async function releaseFailed(db: Db, token: string | null, ids: string[], error: string, policy: RetryPolicy, signature?: string): Promise<void> {
  if (ids.length === 0) return;
  const owner = token ? eq(readings.claimToken, token) : signature ? eq(readings.txSignature, signature) : undefined;
  await db
    .update(readings)
    .set({
      status: sql`case when ${readings.attempts} >= ${policy.maxAttempts} then 'failed' else 'pending' end`,
      lastError: error,
      txSignature: null,
      claimToken: null,
      leaseExpiresAt: null,
      // Exponential back-off, capped at five minutes.
      nextAttemptAt: sql`now() + least(${policy.backoffMs} * power(2, least(greatest(${readings.attempts} - 1, 0), 30)), 300000) * interval '1 millisecond'`,
      updatedAt: sql`now()`,
    })
    .where(and(inArray(readings.id, ids), owner, eq(readings.status, 'processing')));
}

/** Cancelled before signing: back to pending at once, the attempt not counted. */
export async function releaseUnsent(db: Db, token: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(readings)
    .set({ status: 'pending', claimToken: null, leaseExpiresAt: null, attempts: sql`greatest(${readings.attempts} - 1, 0)`, updatedAt: sql`now()` })
    .where(and(inArray(readings.id, ids), eq(readings.claimToken, token), eq(readings.status, 'processing')));
}

/** A recorded transaction moves on once: a late 'sent' never overwrites how it ended. */
export async function markTransaction(db: Db, signature: string, status: 'sent' | 'expired' | 'failed', error?: string): Promise<void> {
  await db
    .update(mintTransactions)
    .set({ status, error: error ?? null, updatedAt: sql`now()` })
    .where(and(eq(mintTransactions.signature, signature), inArray(mintTransactions.status, ['signed', 'sent'])));
}

export type MintTransactionRow = typeof mintTransactions.$inferSelect;

/**
 * The rescuer's work: the transactions carried by readings whose claimer's lease ran out. Driven by the
 * readings, not by the ledger's status, so a claimer that died after recording how a transaction ended
 * but before changing all of its readings leaves nothing behind.
 */
export async function abandonedTransactions(db: Db): Promise<MintTransactionRow[]> {
  return db
    .select()
    .from(mintTransactions)
    .where(
      inArray(
        mintTransactions.signature,
        db
          .selectDistinct({ signature: sql<string>`${readings.txSignature}` })
          .from(readings)
          .where(and(eq(readings.status, 'processing'), sql`${readings.txSignature} is not null`, lt(readings.leaseExpiresAt, sql`now()`))),
      ),
    );
}

/** Leases that ran out with nothing signed for them: take the readings back. */
export async function takeBackExpiredLeases(db: Db): Promise<number> {
  const rows = await db
    .update(readings)
    .set({ status: 'pending', claimToken: null, leaseExpiresAt: null, updatedAt: sql`now()` })
    .where(and(eq(readings.status, 'processing'), lt(readings.leaseExpiresAt, sql`now()`), sql`${readings.txSignature} is null`))
    .returning({ id: readings.id });
  return rows.length;
}

/** Renew a running batch's lease, and its readings', while its transactions are followed. */
export async function extendLease(db: Db, token: string, batchId: string, leaseMs: number): Promise<void> {
  const until = sql`now() + ${leaseMs} * interval '1 millisecond'`;
  await db.update(readings).set({ leaseExpiresAt: until }).where(and(eq(readings.claimToken, token), eq(readings.status, 'processing')));
  await db.update(batches).set({ leaseExpiresAt: until }).where(and(eq(batches.id, batchId), inArray(batches.state, ['pending', 'running'])));
}

// ---- batches ------------------------------------------------------------------------------------

export type BatchRow = typeof batches.$inferSelect;

/** Idempotent (the id is the caller's), so a retry after a lost answer does not fail. */
export async function createBatch(db: Db, id: string, source: 'poll' | 'operator', requestedBy: string | null, leaseMs: number): Promise<void> {
  await db
    .insert(batches)
    .values({ id, source, requestedBy, state: 'pending', leaseExpiresAt: sql`now() + ${leaseMs} * interval '1 millisecond'` })
    .onConflictDoNothing();
}

/**
 * How a batch that ran to its end ended, from its counts: `completed` when nothing failed (readings deferred to
 * the next day's rent budget wait in the queue: not failures), `failed` when nothing was minted, otherwise
 * `completed_with_failures`. Any other state (`cancelled`, ...) is kept as it is.
 */
export function batchOutcome<S extends string>(state: S, successful: number, failed: number): S | 'completed_with_failures' | 'failed' {
  if (state !== 'completed' || failed === 0) return state;
  return successful === 0 ? 'failed' : 'completed_with_failures';
}

/** A batch summary (an event's data, an answer) with its state saying how the batch ended (batchOutcome). */
export function withOutcome<T>(summary: T): T {
  const s = summary as { state?: unknown; successful_mints?: unknown; failed_mints?: unknown } | null;
  if (!s || s.state !== 'completed' || typeof s.successful_mints !== 'number' || typeof s.failed_mints !== 'number') return summary;
  return { ...s, state: batchOutcome('completed', s.successful_mints, s.failed_mints) } as T;
}

/**
 * Changes an open batch only: one the rescuer already closed stays closed. A batch written `completed` with
 * its counts is stored as how it ended (batchOutcome), whichever runner wrote it.
 */
export async function updateBatch(db: Db, id: string, f: Partial<Pick<BatchRow, 'state' | 'totalReadings' | 'successfulMints' | 'failedMints'>> & { finished?: boolean }): Promise<void> {
  const { finished, ...rest } = f;
  if (rest.state !== undefined && rest.successfulMints !== undefined && rest.failedMints !== undefined) rest.state = batchOutcome(rest.state, rest.successfulMints, rest.failedMints);
  await db
    .update(batches)
    .set({ ...rest, ...(finished ? { finishedAt: sql`now()` } : {}) })
    .where(and(eq(batches.id, id), inArray(batches.state, ['pending', 'running'])));
}

export async function getBatch(db: Db, id: string): Promise<BatchRow | null> {
  const [row] = await db.select().from(batches).where(eq(batches.id, id));
  return row ?? null;
}

export async function batchReadings(db: Db, id: string): Promise<ReadingRow[]> {
  return db.select().from(readings).where(eq(readings.batchId, id));
}

// ---- batch events -------------------------------------------------------------------------------

export type BatchEventRow = Pick<typeof batchEvents.$inferSelect, 'seq' | 'event' | 'data'>;

/** Append events under the seqs the writer assigned. Idempotent: a retried insert of the same seqs is a no-op. */
export async function appendBatchEvents(db: Db, batchId: string, events: BatchEventRow[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insert(batchEvents)
    .values(events.map((e) => ({ batchId, ...e })))
    .onConflictDoNothing();
}

/** The newest stored event of a batch (a stream whose client already has the summary ends at once). */
export async function lastBatchEvent(db: Db, batchId: string): Promise<BatchEventRow | null> {
  const [row] = await db
    .select({ seq: batchEvents.seq, event: batchEvents.event, data: batchEvents.data })
    .from(batchEvents)
    .where(eq(batchEvents.batchId, batchId))
    .orderBy(desc(batchEvents.seq))
    .limit(1);
  return row ?? null;
}

export async function readBatchEvents(db: Db, batchId: string, afterSeq: number, limit: number): Promise<BatchEventRow[]> {
  return db
    .select({ seq: batchEvents.seq, event: batchEvents.event, data: batchEvents.data })
    .from(batchEvents)
    .where(and(eq(batchEvents.batchId, batchId), gt(batchEvents.seq, afterSeq)))
    .orderBy(asc(batchEvents.seq))
    .limit(limit);
}

/**
 * Close one batch whose process died (lease run out) once none of its readings is in flight any more:
 * state `interrupted`, a result for every reading that has none yet (its state now), then the summary.
 * Safe with several rescuers: the state change is the claim (one UPDATE ... WHERE state is open), and the
 * events go in the same database transaction, so a batch is closed once, with one summary.
 */
export async function closeInterruptedBatches(db: Db, resultOf: (r: ReadingRow) => { reading_id: string; success: boolean; error: string | null; tx_signature: string | null }): Promise<string[]> {
  const candidates = await db
    .select({ id: batches.id })
    .from(batches)
    .where(
      and(
        inArray(batches.state, ['pending', 'running']),
        lt(batches.leaseExpiresAt, sql`now()`),
        sql`not exists (select 1 from ${readings} where ${readings.batchId} = ${batches.id} and ${readings.status} = 'processing')`,
      ),
    );
  const closed: string[] = [];
  for (const { id } of candidates) {
    const done = await db.transaction(async (tx) => {
      const [row] = await tx
        .update(batches)
        .set({ state: 'interrupted', finishedAt: sql`now()` })
        .where(and(eq(batches.id, id), inArray(batches.state, ['pending', 'running']), lt(batches.leaseExpiresAt, sql`now()`)))
        .returning();
      if (!row) return false;
      const events = await tx.select({ seq: batchEvents.seq, event: batchEvents.event, data: batchEvents.data }).from(batchEvents).where(eq(batchEvents.batchId, id));
      const summary0 = events.find((e) => e.event === 'summary')?.data as { state: BatchState } | undefined;
      // A summary stored before outcomes were kept says `completed` for any batch run to its end.
      const stored = summary0 && withOutcome(summary0);
      if (stored) {
        // Its process ended it but could not record the end: the summary it stored says how.
        await tx.update(batches).set({ state: stored.state }).where(eq(batches.id, id));
        return true;
      }
      const reported = new Map(events.filter((e) => e.event === 'result').map((e) => [(e.data as { reading_id: string }).reading_id, e.data as { success: boolean }]));
      const missing = (await tx.select().from(readings).where(eq(readings.batchId, id))).filter((r) => !reported.has(r.id)).map(resultOf);
      const all = [...reported.values(), ...missing];
      const ok = all.filter((r) => r.success).length;
      let seq = events.reduce((m, e) => Math.max(m, e.seq), 0);
      const summary = { batch_id: id, state: 'interrupted', total_readings: row.totalReadings, successful_mints: ok, failed_mints: all.length - ok };
      await tx.update(batches).set({ successfulMints: ok, failedMints: all.length - ok }).where(eq(batches.id, id));
      await tx.insert(batchEvents).values([
        ...missing.map((data) => ({ batchId: id, seq: ++seq, event: 'result' as const, data })),
        { batchId: id, seq: ++seq, event: 'summary' as const, data: summary },
      ]);
      return true;
    });
    if (done) closed.push(id);
  }
  return closed;
}

// ---- settings -----------------------------------------------------------------------------------

export interface Settings {
  batchIntervalMs: number;
  maxBatchSize: number;
  maxAttempts: number;
  backoffMs: number;
}

/** Read on every cycle: an operator changes the queue's behaviour by updating system_settings. */
export async function readSettings(db: Db, defaults: Settings): Promise<Settings> {
  const rows = await db.select().from(systemSettings).where(or(...Object.keys(defaults).map((k) => eq(systemSettings.key, k))));
  const out: Settings = { ...defaults };
  for (const r of rows) if (typeof r.value === 'number' && r.key in out) out[r.key as keyof Settings] = r.value;
  return out;
}

export interface QueueStats {
  counts: Record<(typeof QUEUE_STATUSES)[number], number>;
  oldestPending: Date | null;
  walletsPending: number;
}

export async function queueStats(db: Db): Promise<QueueStats> {
  const rows = await db.select().from(queueStatsView);
  const pending = rows.find((r) => r.status === 'pending');
  return {
    counts: Object.fromEntries(QUEUE_STATUSES.map((st) => [st, Number(rows.find((r) => r.status === st)?.count ?? 0)])) as QueueStats['counts'],
    oldestPending: pending?.oldest ? new Date(pending.oldest) : null,
    walletsPending: Number(pending?.wallets ?? 0),
  };
}

// ---- idempotency, retry, queue status -----------------------------------------------------------

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;

const olderThanHours = (hours: number) => sql`${idempotencyKeys.createdAt} < now() - ${hours} * interval '1 hour'`;

/**
 * Reserve an operator's Idempotency-Key for the batch `batchId` is about to start; or find who holds it.
 *
 * Why this is safe with concurrent requests (in any number of processes): the primary key (operator, key)
 * admits one row. Of concurrent INSERTs, one inserts; the others' ON CONFLICT DO NOTHING waits for it to
 * commit and returns nothing, and they then read the winner's row, with its batch id. The reservation is
 * committed before the batch starts, so a second request never starts a second batch. An expired key is
 * purged first (on access), so after its TTL the key may be used anew.
 */
export async function reserveIdempotencyKey(
  db: Db,
  k: { operator: string; key: string; requestHash: string; batchId: string; ttlHours: number },
): Promise<{ reserved: boolean; row: IdempotencyRow }> {
  const mine = and(eq(idempotencyKeys.operator, k.operator), eq(idempotencyKeys.key, k.key));
  for (let attempt = 0; ; attempt++) {
    await db.delete(idempotencyKeys).where(and(mine, olderThanHours(k.ttlHours)));
    const [inserted] = await db
      .insert(idempotencyKeys)
      .values({ operator: k.operator, key: k.key, requestHash: k.requestHash, batchId: k.batchId })
      .onConflictDoNothing()
      .returning();
    if (inserted) return { reserved: true, row: inserted };
    const [held] = await db.select().from(idempotencyKeys).where(mine);
    // Gone between the two statements (purged or released): try again.
    if (held || attempt >= 2) {
      if (!held) throw new Error('the idempotency key could be neither reserved nor read');
      return { reserved: false, row: held };
    }
  }
}

/** The first answer given for a reserved key; later requests with the key get it back. */
export async function saveIdempotentAnswer(db: Db, operator: string, key: string, status: number, body: unknown): Promise<void> {
  await db
    .update(idempotencyKeys)
    .set({ responseStatus: status, responseBody: body })
    .where(and(eq(idempotencyKeys.operator, operator), eq(idempotencyKeys.key, key), sql`${idempotencyKeys.responseStatus} is null`));
}

/** A reservation whose batch could not start: the key is free again (a retry may start the batch). */
export async function releaseIdempotencyKey(db: Db, operator: string, key: string, batchId: string): Promise<void> {
  await db
    .delete(idempotencyKeys)
    .where(and(eq(idempotencyKeys.operator, operator), eq(idempotencyKeys.key, key), eq(idempotencyKeys.batchId, batchId), sql`${idempotencyKeys.responseStatus} is null`));
}

/** Keys older than the TTL (the worker's cycle runs this; a request for an expired key purges it too). */
export async function purgeIdempotencyKeys(db: Db, ttlHours: number): Promise<number> {
  return (await db.delete(idempotencyKeys).where(olderThanHours(ttlHours)).returning({ key: idempotencyKeys.key })).length;
}

// ---- stream tickets -----------------------------------------------------------------------------

export async function saveStreamTicket(db: Db, t: { ticketHash: string; batchId: string; operator: string; ttlSeconds: number }): Promise<Date> {
  const [row] = await db
    .insert(streamTickets)
    .values({ ticketHash: t.ticketHash, batchId: t.batchId, operator: t.operator, expiresAt: sql`now() + ${t.ttlSeconds} * interval '1 second'` })
    .returning({ expiresAt: streamTickets.expiresAt });
  return row!.expiresAt;
}

/** The operator a ticket was issued to, if it is for this batch and not expired. */
export async function streamTicketOperator(db: Db, ticketHash: string, batchId: string): Promise<string | null> {
  const [row] = await db
    .select({ operator: streamTickets.operator })
    .from(streamTickets)
    .where(and(eq(streamTickets.ticketHash, ticketHash), eq(streamTickets.batchId, batchId), sql`${streamTickets.expiresAt} > now()`));
  return row?.operator ?? null;
}

export async function purgeStreamTickets(db: Db): Promise<number> {
  return (await db.delete(streamTickets).where(sql`${streamTickets.expiresAt} <= now()`).returning({ h: streamTickets.ticketHash })).length;
}

/** An operator's retry: a failed reading back to pending, its attempts reset. */
export async function retryFailed(db: Db, id: string): Promise<ReadingRow | null> {
  const [row] = await db
    .update(readings)
    .set({ status: 'pending', attempts: 0, lastError: null, nextAttemptAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(readings.id, id), eq(readings.status, 'failed')))
    .returning();
  return row ?? null;
}

/** Batches by state (every state listed, 0 when none): the metrics' energy_batches. */
export async function batchStateCounts(db: Db): Promise<Record<BatchState, number>> {
  const rows = await db.select({ state: batches.state, n: sql<number>`count(*)::int` }).from(batches).groupBy(batches.state);
  const out = Object.fromEntries(BATCH_STATES.map((s) => [s, 0])) as Record<BatchState, number>;
  for (const r of rows) out[r.state] = Number(r.n);
  return out;
}

export async function recentBatches(db: Db, limit: number): Promise<BatchRow[]> {
  return db.select().from(batches).orderBy(sql`${batches.createdAt} desc`).limit(limit);
}

export async function pendingForWallet(db: Db, wallet: string) {
  return db.select().from(readings).where(and(eq(readings.walletAddress, wallet), inArray(readings.status, ['pending', 'processing'])));
}

// ---- reconciliation -----------------------------------------------------------------------------

/** What the ledger says was minted: completed readings' tokens per (transaction, wallet). */
export async function recordedMints(db: Db): Promise<{ signature: string | null; wallet: string; tokens: bigint }[]> {
  const rows = await db
    .select({ signature: readings.txSignature, wallet: readings.walletAddress, tokens: sql<string>`sum(${readings.tokensToMint})::text` })
    .from(readings)
    .where(eq(readings.status, 'completed'))
    .groupBy(readings.txSignature, readings.walletAddress);
  return rows.map((r) => ({ signature: r.signature, wallet: r.wallet, tokens: BigInt(r.tokens) }));
}

/** Every transaction the ledger records, with its status (a confirmed one must be on chain). */
export async function ledgerStatuses(db: Db): Promise<Map<string, MintTransactionRow['status']>> {
  const rows = await db.select({ signature: mintTransactions.signature, status: mintTransactions.status }).from(mintTransactions);
  return new Map(rows.map((r) => [r.signature, r.status]));
}

// ---- rent budget --------------------------------------------------------------------------------

/** The next UTC midnight, as Postgres computes it (the rent budget's day). */
const nextUtcMidnight = sql`(date_trunc('day', now() at time zone 'utc') + interval '1 day') at time zone 'utc'`;
const utcToday = sql`(now() at time zone 'utc')::date`;

/**
 * Reserve new token accounts for today (UTC) within `maxPerDay`: grants at most what is left and answers
 * the wallets granted (the first ones, in the order given).
 *
 * Why this is safe across workers: one INSERT ... ON CONFLICT DO UPDATE on the day's counter row. A
 * concurrent reservation of the same day waits for the row lock and then re-evaluates its SET against
 * the committed row, so the grants of all workers together never pass the budget. `last_granted` is set
 * from the row as it was before this statement, which is how the statement returns its own grant.
 */
export async function reserveTokenAccounts(db: Db, wallets: string[], maxPerDay: number): Promise<Set<string>> {
  if (wallets.length === 0) return new Set();
  const want = sql`${wallets.length}::int`;
  const max = sql`${maxPerDay}::int`;
  const grant = sql`least(${want}, greatest(${max} - ${tokenAccountBudget.reserved}, 0))`;
  const [row] = await db
    .insert(tokenAccountBudget)
    .values({ day: utcToday, reserved: sql`least(${want}, ${max})`, lastGranted: sql`least(${want}, ${max})` })
    .onConflictDoUpdate({ target: tokenAccountBudget.day, set: { reserved: sql`${tokenAccountBudget.reserved} + ${grant}`, lastGranted: grant } })
    .returning({ granted: tokenAccountBudget.lastGranted });
  return new Set(wallets.slice(0, row!.granted));
}

/**
 * mint_generation: reserve `count` new window records for today (UTC) within `maxPerDay`; answers how many were
 * granted. Why this is safe across workers: the same single upsert on the day's row as reserveTokenAccounts.
 */
export async function reserveMintRecords(db: Db, count: number, maxPerDay: number): Promise<number> {
  if (count === 0) return 0;
  const want = sql`${count}::int`;
  const max = sql`${maxPerDay}::int`;
  const grant = sql`least(${want}, greatest(${max} - ${mintRecordBudget.reserved}, 0))`;
  const [row] = await db
    .insert(mintRecordBudget)
    .values({ day: utcToday, reserved: sql`least(${want}, ${max})`, lastGranted: sql`least(${want}, ${max})` })
    .onConflictDoUpdate({ target: mintRecordBudget.day, set: { reserved: sql`${mintRecordBudget.reserved} + ${grant}`, lastGranted: grant } })
    .returning({ granted: mintRecordBudget.lastGranted });
  return row!.granted;
}

/**
 * Give back `count` window records reserved today for a transaction that was never recorded. One UPDATE of the day's
 * row, which never goes below zero: safe beside reservations (both add to the row under its lock). A reservation
 * made before midnight and given back after it frees today's budget instead: the days' sums stay bounded.
 */
export async function giveBackMintRecords(db: Db, count: number): Promise<void> {
  if (count <= 0) return;
  await db.update(mintRecordBudget).set({ reserved: sql`greatest(${mintRecordBudget.reserved} - ${count}::int, 0)` }).where(eq(mintRecordBudget.day, utcToday));
}

/** New window records reserved today (UTC): their rent is what mint_generation spent today. */
export async function mintRecordsReservedToday(db: Db): Promise<number> {
  const [row] = await db.select({ reserved: mintRecordBudget.reserved }).from(mintRecordBudget).where(eq(mintRecordBudget.day, utcToday));
  return row?.reserved ?? 0;
}

// ---- fee budget ---------------------------------------------------------------------------------

/** The UTC day of `at` (Postgres's now() when absent), as the budgets count days. */
const utcDayOf = (at?: Date) => (at ? sql`(${at.toISOString()}::timestamptz at time zone 'utc')::date` : utcToday);

/**
 * Reserve `lamports` of today's fee budget (UTC) within `maxPerDay`, all or nothing: answers whether it was
 * granted. Called before each transaction is signed, with its whole fee (every signature and the priority fee).
 * `at`: the clock (tests pass their own; the service uses Postgres's).
 *
 * Why this is safe across workers: one INSERT ... ON CONFLICT DO UPDATE on the day's row, as for the rent
 * budget: a concurrent reservation waits for the row lock and re-evaluates its SET against the committed row,
 * so the grants of all workers together never pass the budget.
 */
export async function reserveFee(db: Db, lamports: bigint, maxPerDay: bigint, at?: Date): Promise<boolean> {
  const want = sql`${lamports.toString()}::bigint`;
  const max = sql`${maxPerDay.toString()}::bigint`;
  const fits = sql`${feeBudget.reserved} + ${want} <= ${max}`;
  const [row] = await db
    .insert(feeBudget)
    .values({ day: utcDayOf(at), reserved: sql`case when ${want} <= ${max} then ${want} else 0 end`, lastGranted: sql`${want} <= ${max}` })
    .onConflictDoUpdate({ target: feeBudget.day, set: { reserved: sql`case when ${fits} then ${feeBudget.reserved} + ${want} else ${feeBudget.reserved} end`, lastGranted: fits } })
    .returning({ granted: feeBudget.lastGranted });
  return row!.granted;
}

/** Give back a fee reserved today for a transaction that was never recorded (as giveBackMintRecords). */
export async function giveBackFee(db: Db, lamports: bigint, at?: Date): Promise<void> {
  if (lamports <= 0n) return;
  await db.update(feeBudget).set({ reserved: sql`greatest(${feeBudget.reserved} - ${lamports.toString()}::bigint, 0)` }).where(eq(feeBudget.day, utcDayOf(at)));
}

/** Lamports of fees left for today (UTC). */
export async function feeLeftToday(db: Db, maxPerDay: bigint, at?: Date): Promise<bigint> {
  const [row] = await db.select({ reserved: feeBudget.reserved }).from(feeBudget).where(eq(feeBudget.day, utcDayOf(at)));
  const left = maxPerDay - (row?.reserved ?? 0n);
  return left > 0n ? left : 0n;
}

/** New token accounts left for today (UTC). */
export async function tokenAccountsLeftToday(db: Db, maxPerDay: number): Promise<number> {
  const [row] = await db.select({ reserved: tokenAccountBudget.reserved }).from(tokenAccountBudget).where(eq(tokenAccountBudget.day, utcToday));
  return Math.max(0, maxPerDay - (row?.reserved ?? 0));
}

/**
 * Known not minted through no fault of the readings (a daily budget is spent, the service's REC validator was
 * refused): back to pending until the next UTC midnight or after the back-off, the attempt not counted, the
 * reason in last_error. Under the claim's token, like every change after a claim.
 */
export async function deferReadings(db: Db, token: string, ids: string[], wait: ReadingWait, backoffMs: number): Promise<void> {
  if (ids.length === 0) return;
  const next = wait.until === 'next_utc_day' ? nextUtcMidnight : sql`now() + ${backoffMs} * interval '1 millisecond'`;
  await db
    .update(readings)
    // Its transaction (if one was sent) provably did not mint: no signature of it is in flight any more.
    .set({ status: 'pending', claimToken: null, leaseExpiresAt: null, txSignature: null, attempts: sql`greatest(${readings.attempts} - 1, 0)`, nextAttemptAt: next, lastError: wait.reason, updatedAt: sql`now()` })
    .where(and(inArray(readings.id, ids), eq(readings.claimToken, token), eq(readings.status, 'processing')));
}

/**
 * A wallet's claimed readings that sum to less than the minimum worth a mint instruction (MIN_MINT_TOKENS): back
 * to pending to be summed with the wallet's later readings, the attempt not counted. They wait with the wallet's
 * readings already waiting (until the earliest of their due times, or `deadline`: the longest wait of the oldest
 * here); once all of them together reach the minimum, they are all due now, so one claim takes them together.
 * Answers whether they were released (enough now) or wait.
 *
 * Why this is safe beside other workers: it only moves due times of pending readings and gives back this claim's
 * own rows (under its token); two workers doing so for one wallet at once can at worst leave the wallet's readings
 * waiting until the earlier deadline, never mint one twice or lose one.
 */
export async function waitForSum(db: Db, token: string, wallet: string, ids: string[], groupTokens: bigint, minTokens: bigint, deadline: Date, reason: string): Promise<'released' | 'waiting'> {
  return db.transaction(async (tx) => {
    // The wallet's readings held to be summed: pending, due later, no attempt spent (a reading backing off after
    // a failure has one), and not this group (a retried write whose first run committed must not count it twice).
    const waiting = and(
      eq(readings.walletAddress, wallet),
      eq(readings.status, 'pending'),
      gt(readings.nextAttemptAt, sql`now()`),
      eq(readings.attempts, 0),
      notInArray(readings.id, ids),
    );
    const [pool] = await tx
      .select({ total: sql<string>`coalesce(sum(${readings.tokensToMint}), 0)::text`, dueMs: sql<string | null>`(extract(epoch from min(${readings.nextAttemptAt})) * 1000)::bigint::text` })
      .from(readings)
      .where(waiting);
    const enough = BigInt(pool!.total) + groupTokens >= minTokens;
    const poolDue = pool!.dueMs ? new Date(Number(pool!.dueMs)) : null;
    const due = enough ? sql`now()` : poolDue && poolDue < deadline ? poolDue : deadline;
    if (enough) await tx.update(readings).set({ nextAttemptAt: sql`now()`, updatedAt: sql`now()` }).where(waiting);
    await tx
      .update(readings)
      .set({ status: 'pending', claimToken: null, leaseExpiresAt: null, attempts: sql`greatest(${readings.attempts} - 1, 0)`, nextAttemptAt: due, lastError: enough ? null : reason, updatedAt: sql`now()` })
      .where(and(inArray(readings.id, ids), eq(readings.claimToken, token), eq(readings.status, 'processing')));
    return enough ? 'released' : 'waiting';
  });
}

// ---- operator control: void, retry by filter, pause, settings -------------------------------------

/** What voidReading found: the voided row, or why not (none: no such reading; the status it has otherwise). */
export type VoidOutcome = { voided: ReadingRow } | { missing: true } | { status: string } | { frozenWindow: { meterId: string; windowStart: Date } };

/**
 * Void a pending or failed reading: status `voided` (never claimed again), claim and back-off cleared, who
 * and why in reading_voids. The row keeps its (meter, time), so the identity stays taken.
 *
 * Why this is safe beside claimers: the SELECT ... FOR UPDATE locks the row first, so a claimer's
 * FOR UPDATE SKIP LOCKED passes it by; if a claimer locked it first, we wait, then read `processing` and
 * refuse. The status read and the update happen under the same lock.
 */
export async function voidReading(db: Db, id: string, actor: string, reason: string): Promise<VoidOutcome> {
  return db.transaction(async (tx) => {
    const [row] = await tx.select({ status: readings.status, meterId: readings.meterId, windowStart: readings.windowStart }).from(readings).where(eq(readings.id, id)).for('update');
    if (!row) return { missing: true as const };
    if (row.status !== 'pending' && row.status !== 'failed') return { status: row.status };
    // mint_generation: a window frozen and not yet minted keeps its readings: its frozen sum may already be on its
    // way to the chain under an earlier signature, and without this reading it could never be matched again.
    // A window is frozen only while its readings are processing (held by a claim, which this row's lock excludes),
    // so the window row read here cannot become frozen with this reading before this commits.
    if (row.windowStart) {
      const [w] = await tx
        .select({ status: mintWindows.status })
        .from(mintWindows)
        .where(and(eq(mintWindows.meterId, row.meterId), eq(mintWindows.windowStart, row.windowStart), eq(mintWindows.status, 'frozen')));
      if (w) return { frozenWindow: { meterId: row.meterId, windowStart: row.windowStart } };
    }
    const [voided] = await tx
      .update(readings)
      .set({ status: 'voided', claimToken: null, leaseExpiresAt: null, updatedAt: sql`now()` })
      .where(eq(readings.id, id))
      .returning();
    await tx.insert(readingVoids).values({ readingId: id, actor, reason, previousStatus: row.status });
    return { voided: voided! };
  });
}

export async function voidOf(db: Db, id: string) {
  const [row] = await db.select().from(readingVoids).where(eq(readingVoids.readingId, id));
  return row ?? null;
}

/** Which failed readings a redrive takes (all given fields must match). */
export interface RetryFilter {
  /** The exact last_error. */
  error?: string;
  meterId?: string;
  gatewayId?: string;
  wallet?: string;
  /** Failed at or after / before (updated_at). */
  from?: Date;
  to?: Date;
}

/**
 * Put every failed reading matching the filter back in the queue (attempts from zero); returns how many moved.
 * One UPDATE: only `failed` rows change, and a failed row is never held by a claimer, so nothing races it.
 */
export async function retryMatching(db: Db, f: RetryFilter): Promise<number> {
  const moved = await db
    .update(readings)
    .set({ status: 'pending', attempts: 0, lastError: null, nextAttemptAt: sql`now()`, updatedAt: sql`now()` })
    .where(
      and(
        eq(readings.status, 'failed'),
        f.error !== undefined ? eq(readings.lastError, f.error) : undefined,
        f.meterId !== undefined ? eq(readings.meterId, f.meterId) : undefined,
        f.gatewayId !== undefined ? eq(readings.gatewayId, f.gatewayId) : undefined,
        f.wallet !== undefined ? eq(readings.walletAddress, f.wallet) : undefined,
        f.from ? gte(readings.updatedAt, f.from) : undefined,
        f.to ? lt(readings.updatedAt, f.to) : undefined,
      ),
    )
    .returning({ id: readings.id });
  return moved.length;
}

const PAUSE_KEY = 'minting_paused';

export interface MintingPause {
  reason: string;
  by: string;
  at: string;
}

/** The operator's pause, as every worker process reads it each cycle (null: minting runs). */
export async function mintingPause(db: Db): Promise<MintingPause | null> {
  const [row] = await db.select().from(systemSettings).where(eq(systemSettings.key, PAUSE_KEY));
  const v = row?.value as MintingPause | null | undefined;
  return v && typeof v === 'object' && typeof v.reason === 'string' ? v : null;
}

/** Pause (a value) or resume (null); an upsert of one row, the last writer wins. */
export async function setMintingPause(db: Db, pause: MintingPause | null): Promise<void> {
  if (pause === null) {
    await db.delete(systemSettings).where(eq(systemSettings.key, PAUSE_KEY));
    return;
  }
  await db
    .insert(systemSettings)
    .values({ key: PAUSE_KEY, value: pause })
    .onConflictDoUpdate({ target: systemSettings.key, set: { value: pause, updatedAt: sql`now()` } });
}

/** Store some of the worker's settings (each read again on its next cycle). */
export async function writeSettings(db: Db, values: Partial<Settings>): Promise<void> {
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    await db.insert(systemSettings).values({ key, value }).onConflictDoUpdate({ target: systemSettings.key, set: { value, updatedAt: sql`now()` } });
  }
}
