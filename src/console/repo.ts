// The operator console's storage: sessions (shared by every API process), and the read-only views its pages
// show. Nothing here writes on the minting path.
import { and, asc, desc, eq, gt, gte, ilike, isNull, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { batches, consoleSessions, meters, mintTransactions, readings, readingVoids, type ReadingStatus } from '../db/schema.js';
import type { ReadingRow } from '../readings/repo.js';

export async function createSession(db: Db, s: { sessionHash: string; operator: string; csrfToken: string; hours: number }): Promise<Date> {
  const [row] = await db
    .insert(consoleSessions)
    .values({ sessionHash: s.sessionHash, operator: s.operator, csrfToken: s.csrfToken, expiresAt: sql`now() + make_interval(secs => ${Math.round(s.hours * 3600)})` })
    .returning({ expiresAt: consoleSessions.expiresAt });
  return row!.expiresAt;
}

/** A live session (not expired, not revoked), by the hash of its cookie. */
export async function liveSession(db: Db, sessionHash: string): Promise<{ operator: string; csrfToken: string } | null> {
  const [row] = await db
    .select({ operator: consoleSessions.operator, csrfToken: consoleSessions.csrfToken })
    .from(consoleSessions)
    .where(and(eq(consoleSessions.sessionHash, sessionHash), isNull(consoleSessions.revokedAt), gt(consoleSessions.expiresAt, sql`now()`)));
  return row ?? null;
}

export async function revokeSession(db: Db, sessionHash: string): Promise<void> {
  await db.update(consoleSessions).set({ revokedAt: sql`now()` }).where(eq(consoleSessions.sessionHash, sessionHash));
}

/** Sessions that ended more than a day ago go (the worker's purge cycle). */
export async function purgeSessions(db: Db): Promise<void> {
  await db.delete(consoleSessions).where(lt(consoleSessions.expiresAt, sql`now() - interval '1 day'`));
}

// ---- pages ----------------------------------------------------------------------------------------

/** Readings minted per minute over the last hour (by updated_at of completed readings). */
export async function mintedPerMinute(db: Db): Promise<{ minute: Date; count: number }[]> {
  const rows = await db
    .select({ minute: sql<string>`date_trunc('minute', ${readings.updatedAt})`.as('minute'), count: sql<number>`count(*)::int` })
    .from(readings)
    .where(and(eq(readings.status, 'completed'), gte(readings.updatedAt, sql`now() - interval '1 hour'`)))
    .groupBy(sql`1`)
    .orderBy(sql`1`);
  return rows.map((r) => ({ minute: new Date(r.minute), count: Number(r.count) }));
}

export async function transactionsInFlight(db: Db): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(mintTransactions).where(or(eq(mintTransactions.status, 'signed'), eq(mintTransactions.status, 'sent')));
  return Number(row?.n ?? 0);
}

export interface ReadingSearch {
  meterId?: string;
  wallet?: string;
  status?: ReadingStatus;
  gatewayId?: string;
  /** reading_timestamp in [from, to). */
  from?: Date;
  to?: Date;
  /** Keyset: newest first, by (created_at, id). */
  before?: { createdAt: Date; id: string };
  limit: number;
}

/** One page of readings, newest first (keyset on (created_at, id), so page 1,000 costs what page 1 does). */
export async function searchReadings(db: Db, f: ReadingSearch): Promise<ReadingRow[]> {
  return db
    .select()
    .from(readings)
    .where(
      and(
        f.meterId ? eq(readings.meterId, f.meterId) : undefined,
        f.wallet ? eq(readings.walletAddress, f.wallet) : undefined,
        f.status ? eq(readings.status, f.status) : undefined,
        f.gatewayId ? eq(readings.gatewayId, f.gatewayId) : undefined,
        f.from ? gte(readings.readingTimestamp, f.from) : undefined,
        f.to ? lt(readings.readingTimestamp, f.to) : undefined,
        f.before ? or(lt(readings.createdAt, f.before.createdAt), and(eq(readings.createdAt, f.before.createdAt), lt(readings.id, f.before.id))) : undefined,
      ),
    )
    .orderBy(desc(readings.createdAt), desc(readings.id))
    .limit(f.limit);
}

/** A reading's history from what is stored: every transaction that carried it, its batches, its void. */
export async function readingHistory(db: Db, id: string) {
  const txs = await db
    .select({ signature: mintTransactions.signature, status: mintTransactions.status, error: mintTransactions.error, batchId: mintTransactions.batchId, createdAt: mintTransactions.createdAt, updatedAt: mintTransactions.updatedAt })
    .from(mintTransactions)
    .where(sql`${mintTransactions.readingIds} @> array[${id}]::uuid[]`)
    .orderBy(asc(mintTransactions.createdAt));
  const [reading] = await db.select({ batchId: readings.batchId }).from(readings).where(eq(readings.id, id));
  const batchIds = [...new Set([...txs.map((t) => t.batchId), reading?.batchId].filter((b): b is string => !!b))];
  const batchRows = batchIds.length ? await db.select().from(batches).where(sql`${batches.id} in (${sql.join(batchIds.map((b) => sql`${b}::uuid`), sql`, `)})`) : [];
  const [voided] = await db.select().from(readingVoids).where(eq(readingVoids.readingId, id));
  return { transactions: txs, batches: batchRows, void: voided ?? null };
}

/** Failed readings grouped by their error, most first. */
export async function failedByError(db: Db): Promise<{ error: string | null; count: number; newest: Date }[]> {
  const rows = await db
    .select({ error: readings.lastError, count: sql<number>`count(*)::int`, newest: sql<string>`max(${readings.updatedAt})` })
    .from(readings)
    .where(eq(readings.status, 'failed'))
    .groupBy(readings.lastError)
    .orderBy(sql`2 desc`)
    .limit(100);
  return rows.map((r) => ({ error: r.error, count: Number(r.count), newest: new Date(r.newest) }));
}

export async function batchTransactions(db: Db, batchId: string) {
  return db
    .select({ signature: mintTransactions.signature, status: mintTransactions.status, error: mintTransactions.error, readings: sql<number>`cardinality(${mintTransactions.readingIds})` })
    .from(mintTransactions)
    .where(eq(mintTransactions.batchId, batchId))
    .orderBy(asc(mintTransactions.createdAt));
}

/** Meters whose id, owner or wallet contains `q` (any case), by id, keyset after `after`. */
export async function searchMeters(db: Db, f: { q?: string; after?: string; limit: number }) {
  const like = f.q ? `%${f.q.replace(/[\\%_]/g, (m) => `\\${m}`)}%` : undefined;
  return db
    .select()
    .from(meters)
    .where(
      and(
        like ? or(ilike(meters.meterId, like), ilike(meters.userId, like), ilike(meters.walletAddress, like)) : undefined,
        f.after !== undefined ? gt(meters.meterId, f.after) : undefined,
      ),
    )
    .orderBy(asc(meters.meterId))
    .limit(f.limit);
}

/** Counts of the statuses the queue view leaves out (recorded, voided). */
export async function otherStatusCounts(db: Db): Promise<Record<string, number>> {
  const rows = await db
    .select({ status: readings.status, n: sql<number>`count(*)::int` })
    .from(readings)
    .where(sql`${readings.status} in ('recorded', 'voided')`)
    .groupBy(readings.status);
  return Object.fromEntries([['recorded', 0], ['voided', 0], ...rows.map((r) => [r.status, Number(r.n)])]);
}
