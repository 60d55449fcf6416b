// Readings in Postgres: the all-or-nothing insert behind POST /readings, and the reads behind GET.
import { and, asc, eq, gt, inArray, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { readings, type ReadingStatus } from '../db/schema.js';
import { Conflict, ValidationError } from '../errors.js';
import { formatDecimal, parseDecimal } from '../minting/amounts.js';
import { type NewReading, sameContent } from './parseReadings.js';

export type ReadingRow = typeof readings.$inferSelect;

const asNew = (r: ReadingRow): NewReading => ({
  id: r.id,
  meterId: r.meterId,
  userId: r.userId,
  walletAddress: r.walletAddress,
  kwhAmount: formatDecimal(parseDecimal(r.kwhAmount)),
  tokensToMint: BigInt(r.tokensToMint),
  readingTimestamp: r.readingTimestamp,
});

export interface InsertOutcome {
  accepted: number;
  duplicates: number;
  readings: { reading_id: string; status: ReadingStatus; queue_position: number | null }[];
}

/**
 * Store every reading of a request, or none. A reading already stored with the same content is a
 * duplicate and changes nothing; the same id with other content is a 409 for the whole request.
 */
export async function insertReadings(db: Db, incoming: NewReading[]): Promise<InsertOutcome> {
  const byId = new Map<string, NewReading>();
  incoming.forEach((r, i) => {
    const prior = byId.get(r.id);
    if (prior && !sameContent(prior, r)) throw new ValidationError(`readings[${i}].reading_id repeats an earlier reading of this request with other content`, `readings[${i}].reading_id`);
    byId.set(r.id, r);
  });
  const unique = [...byId.values()];

  return db.transaction(async (tx) => {
    const compare = async (ids: string[]) => {
      const stored = ids.length ? await tx.select().from(readings).where(inArray(readings.id, ids)) : [];
      for (const row of stored) {
        if (!sameContent(asNew(row), byId.get(row.id)!)) throw new Conflict(`reading ${row.id} was already accepted with other content`, 'reading_id');
      }
      return new Set(stored.map((r) => r.id));
    };
    const existing = await compare(unique.map((r) => r.id));
    const fresh = unique.filter((r) => !existing.has(r.id));
    const inserted = fresh.length
      ? await tx
          .insert(readings)
          .values(fresh.map((r) => ({ ...r, tokensToMint: r.tokensToMint.toString() })))
          .onConflictDoNothing()
          .returning({ id: readings.id })
      : [];
    // A concurrent request may have stored some of them first: those must match too.
    const raced = fresh.filter((r) => !inserted.some((i) => i.id === r.id)).map((r) => r.id);
    await compare(raced);

    const ids = unique.map((r) => r.id);
    const states = await tx.select({ id: readings.id, status: readings.status }).from(readings).where(inArray(readings.id, ids));
    const positions = await queuePositions(tx as unknown as Db, ids);
    const statusOf = new Map(states.map((s) => [s.id, s.status]));
    const duplicates = incoming.length - inserted.length;
    return {
      accepted: inserted.length,
      duplicates,
      readings: incoming.map((r) => ({ reading_id: r.id, status: statusOf.get(r.id)!, queue_position: positions.get(r.id) ?? null })),
    };
  });
}

/** 1-based place in the claim order (the worker claims by next attempt, then age, then id). */
export async function queuePositions(db: Db, ids: string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await db.execute<{ id: string; position: number }>(sql`
    select id, position from (
      select id, row_number() over (order by next_attempt_at, created_at, id)::int as position
      from readings where status = 'pending'
    ) q where id in (${sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)})`);
  const list = Array.isArray(rows) ? rows : (rows as { rows: { id: string; position: number }[] }).rows;
  return new Map(list.map((r) => [r.id, Number(r.position)]));
}

export async function getReading(db: Db, id: string): Promise<ReadingRow | null> {
  const [row] = await db.select().from(readings).where(eq(readings.id, id));
  return row ?? null;
}

export interface ListFilter {
  status?: ReadingStatus;
  wallet?: string;
  /** Keyset cursor: the last row's (created_at, id). */
  after?: { createdAt: Date; id: string };
  limit: number;
}

export async function listReadings(db: Db, f: ListFilter): Promise<ReadingRow[]> {
  const conds = [
    f.status ? eq(readings.status, f.status) : undefined,
    f.wallet ? eq(readings.walletAddress, f.wallet) : undefined,
    f.after ? or(gt(readings.createdAt, f.after.createdAt), and(eq(readings.createdAt, f.after.createdAt), gt(readings.id, f.after.id))) : undefined,
  ].filter(Boolean);
  return db
    .select()
    .from(readings)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(asc(readings.createdAt), asc(readings.id))
    .limit(f.limit);
}
