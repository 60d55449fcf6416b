// The queue's state changes. Every change after a claim names the claim token, so a worker whose lease
// was taken back can no longer change what it no longer holds.
import { randomUUID } from 'node:crypto';
import { and, eq, inArray, lt, lte, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { batches, idempotencyKeys, mintTransactions, queueStats as queueStatsView, READING_STATUSES, readings, type ReadingStatus, systemSettings } from '../db/schema.js';
import type { ReadingRow } from '../readings/repo.js';

export interface Claim {
  token: string;
  rows: ReadingRow[];
}

/** Readings a claim may take now: pending, and past their back-off. */
const claimable = and(eq(readings.status, 'pending'), lte(readings.nextAttemptAt, sql`now()`));

/**
 * Claim up to `limit` pending readings (or just the given ids, if pending) for one batch.
 *
 * Why this is safe with many workers: the inner SELECT takes row locks with FOR UPDATE SKIP LOCKED,
 * so two claimers never lock the same row; the outer UPDATE, in the same statement, moves each locked
 * row to 'processing' with a fresh claim token and lease. A row another claimer holds is skipped, and
 * once that claimer commits the row is no longer 'pending'. Nothing is read and then written apart.
 */
export async function claimReadings(db: Db, opts: { limit: number; leaseMs: number; batchId: string; ids?: string[] }): Promise<Claim> {
  const token = randomUUID();
  const only = opts.ids ? sql`and id in (${sql.join(opts.ids.map((id) => sql`${id}::uuid`), sql`, `)})` : sql``;
  const result = await db.execute(sql`
    update readings set
      status = 'processing', claim_token = ${token}, batch_id = ${opts.batchId},
      lease_expires_at = now() + ${opts.leaseMs} * interval '1 millisecond',
      attempts = attempts + 1, updated_at = now()
    where id in (
      select id from readings
      where ${claimable} ${only}
      order by next_attempt_at, created_at, id
      limit ${opts.limit}
      for update skip locked
    )
    returning id`);
  const ids = (Array.isArray(result) ? result : (result as { rows: { id: string }[] }).rows).map((r) => (r as { id: string }).id);
  const rows = ids.length ? await db.select().from(readings).where(and(inArray(readings.id, ids), eq(readings.claimToken, token))) : [];
  return { token, rows };
}

/** Whether a claim would find anything: an idle worker then makes no batch (no empty rows, no log lines). */
export async function anythingClaimable(db: Db): Promise<boolean> {
  const rows = await db.select({ id: readings.id }).from(readings).where(claimable).limit(1);
  return rows.length > 0;
}

/** Record a signed transaction before its first send; refuses (throws) if the claim was lost. */
export async function recordSigned(db: Db, token: string, batchId: string, t: { signature: string; wire: Uint8Array; lastValidBlockHeight: number; readingIds: string[] }): Promise<void> {
  await db.transaction(async (tx) => {
    const updated = await tx
      .update(readings)
      .set({ txSignature: t.signature, updatedAt: sql`now()` })
      .where(and(inArray(readings.id, t.readingIds), eq(readings.claimToken, token), eq(readings.status, 'processing')))
      .returning({ id: readings.id });
    if (updated.length !== t.readingIds.length) throw new Error(`claim lost for ${t.readingIds.length - updated.length} reading(s); not sending`);
    await tx.insert(mintTransactions).values({
      signature: t.signature,
      raw: t.wire,
      lastValidBlockHeight: t.lastValidBlockHeight,
      status: 'signed',
      readingIds: t.readingIds,
      batchId,
      claimToken: token,
    });
  });
}

/**
 * A landed transaction: its ledger row and every reading it carries change in one database transaction,
 * so a crash can never leave part of a landed transaction processing. `token` null: the rescuer.
 */
export async function completeTransaction(db: Db, token: string | null, signature: string): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.update(mintTransactions).set({ status: 'confirmed', error: null, updatedAt: sql`now()` }).where(eq(mintTransactions.signature, signature));
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

/** Renew a running batch's lease while its transactions are followed. */
export async function extendLease(db: Db, token: string, leaseMs: number): Promise<void> {
  await db
    .update(readings)
    .set({ leaseExpiresAt: sql`now() + ${leaseMs} * interval '1 millisecond'` })
    .where(and(eq(readings.claimToken, token), eq(readings.status, 'processing')));
}

// ---- batches ------------------------------------------------------------------------------------

export type BatchRow = typeof batches.$inferSelect;

export async function createBatch(db: Db, source: 'poll' | 'operator', requestedBy: string | null): Promise<string> {
  const id = randomUUID();
  await db.insert(batches).values({ id, source, requestedBy, state: 'pending' });
  return id;
}

export async function updateBatch(db: Db, id: string, f: Partial<Pick<BatchRow, 'state' | 'totalReadings' | 'successfulMints' | 'failedMints'>> & { finished?: boolean }): Promise<void> {
  const { finished, ...rest } = f;
  await db.update(batches).set({ ...rest, ...(finished ? { finishedAt: sql`now()` } : {}) }).where(eq(batches.id, id));
}

export async function getBatch(db: Db, id: string): Promise<BatchRow | null> {
  const [row] = await db.select().from(batches).where(eq(batches.id, id));
  return row ?? null;
}

export async function batchReadings(db: Db, id: string): Promise<ReadingRow[]> {
  return db.select().from(readings).where(eq(readings.batchId, id));
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
  counts: Record<ReadingStatus, number>;
  oldestPending: Date | null;
  walletsPending: number;
}

export async function queueStats(db: Db): Promise<QueueStats> {
  const rows = await db.select().from(queueStatsView);
  const pending = rows.find((r) => r.status === 'pending');
  return {
    counts: Object.fromEntries(READING_STATUSES.map((st) => [st, Number(rows.find((r) => r.status === st)?.count ?? 0)])) as Record<ReadingStatus, number>,
    oldestPending: pending?.oldest ? new Date(pending.oldest) : null,
    walletsPending: Number(pending?.wallets ?? 0),
  };
}

// ---- idempotency, retry, queue status -----------------------------------------------------------

export async function findIdempotent(db: Db, key: string) {
  const [row] = await db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key));
  return row ?? null;
}

/** Store the first answer for a key; returns the stored row if another request stored one first. */
export async function saveIdempotent(db: Db, key: string, requestHash: string, status: number, body: unknown) {
  await db.insert(idempotencyKeys).values({ key, requestHash, responseStatus: status, responseBody: body }).onConflictDoNothing();
  return findIdempotent(db, key);
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

export async function recentBatches(db: Db, limit: number): Promise<BatchRow[]> {
  return db.select().from(batches).orderBy(sql`${batches.createdAt} desc`).limit(limit);
}

export async function pendingForWallet(db: Db, wallet: string) {
  return db.select().from(readings).where(and(eq(readings.walletAddress, wallet), inArray(readings.status, ['pending', 'processing'])));
}

/** Sum of completed readings' tokens per wallet (the database's side of a reconciliation). */
export async function completedSumsByWallet(db: Db): Promise<Map<string, bigint>> {
  const rows = await db
    .select({ wallet: readings.walletAddress, total: sql<string>`sum(${readings.tokensToMint})::text` })
    .from(readings)
    .where(eq(readings.status, 'completed'))
    .groupBy(readings.walletAddress);
  return new Map(rows.map((r) => [r.wallet, BigInt(r.total)]));
}
