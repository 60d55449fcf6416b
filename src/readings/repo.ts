// Readings in Postgres: the all-or-nothing acceptance behind POST /readings, and the reads behind GET.
import { and, asc, eq, gt, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { textArray } from '../db/arrays.js';
import { mintWindows, queueWatermark, readings, type ReadingStatus } from '../db/schema.js';
import { Conflict, Refused } from '../errors.js';
import { at } from '../meters/registry.js';
import { WINDOW_MS, windowStartOf } from '../minting/windows.js';
import { lockMeters } from '../meters/repo.js';
import { type AcceptPolicy, checkAgainstRegistry, decide, type Neighbour, type NewRow } from './accept.js';
import type { ParsedReading } from './parseReadings.js';

export type ReadingRow = typeof readings.$inferSelect;

export interface InsertOutcome {
  accepted: number;
  duplicates: number;
  readings: { reading_id: string; client_reading_id: string | null; status: ReadingStatus; queue_position: number | null }[];
}

const rowsOf = <T>(result: unknown): T[] => (Array.isArray(result) ? result : (result as { rows: T[] }).rows);

/**
 * A pending reading's queue position: 1 + the readings accepted before it that no claim in queue order had
 * taken, as of `claimedSeq` (queue_watermark), counted from sequence numbers at O(1), never by reading the
 * queue. An estimate: readings waiting on a retry's back-off are not counted (the claims passed them),
 * readings minted by id and sequence gaps (a refused request's) may be, readings accepted at the same
 * moment may be claimed in another order, and a reading the claims have passed (a retry) is at 1. Null
 * for a reading not waiting in the queue.
 */
export function queuePosition(status: ReadingStatus, queueSeq: number | null, claimedSeq: number): number | null {
  if (status !== 'pending' || queueSeq === null) return null;
  return Math.max(1, queueSeq - claimedSeq);
}

/** The greatest queue_seq claimed in queue order: one primary-key read of a one-row table. */
export async function claimedSeq(db: Db): Promise<number> {
  const [row] = await db.select({ claimedSeq: queueWatermark.claimedSeq }).from(queueWatermark).where(eq(queueWatermark.id, 1));
  return row?.claimedSeq ?? 0;
}

/**
 * For every (meter, instant): the meter's accepted reading at that instant and the nearest before and
 * after it, in one statement (three index probes per reading on the energy identity's index). The pairs go
 * as two array parameters (db/arrays.ts), whatever their number.
 */
async function neighboursOf(tx: Db, wanted: { meterId: string; at: Date }[]): Promise<(Neighbour & { queueSeq: number | null })[]> {
  if (wanted.length === 0) return [];
  const cols = sql`r.id, r.meter_id, r.reading_timestamp, r.kwh_amount, r.register_kwh, r.status, r.client_reading_id, r.telemetry ->> 'kwh' as net_kwh, r.queue_seq`;
  const probe = (cond: ReturnType<typeof sql>, order: ReturnType<typeof sql>) =>
    sql`(select ${cols} from readings r where r.meter_id = q.meter_id and r.duplicate_of is null and ${cond} ${order})`;
  const result = await tx.execute(sql`
    select distinct on (n.id) n.id, n.meter_id, (extract(epoch from n.reading_timestamp) * 1000)::float8 as at_ms,
      n.kwh_amount::text as kwh_amount, n.register_kwh::text as register_kwh, n.status, n.client_reading_id, n.net_kwh, n.queue_seq::float8 as queue_seq
    from unnest(${textArray(wanted.map((w) => w.meterId))}, ${textArray(wanted.map((w) => w.at.toISOString()))}::timestamptz[]) as q(meter_id, ts)
    cross join lateral (
      ${probe(sql`r.reading_timestamp < q.ts`, sql`order by r.reading_timestamp desc limit 1`)}
      union all ${probe(sql`r.reading_timestamp = q.ts`, sql``)}
      union all ${probe(sql`r.reading_timestamp > q.ts`, sql`order by r.reading_timestamp asc limit 1`)}
    ) n`);
  return rowsOf<Record<string, string | number | null>>(result).map((r) => ({
    id: String(r.id),
    meterId: String(r.meter_id),
    at: Number(r.at_ms),
    kwhAmount: String(r.kwh_amount),
    registerKwh: r.register_kwh === null ? null : String(r.register_kwh),
    status: r.status as ReadingStatus,
    clientReadingId: r.client_reading_id === null ? null : String(r.client_reading_id),
    netKwh: r.net_kwh === null || r.net_kwh === undefined ? null : String(r.net_kwh),
    queueSeq: r.queue_seq === null || r.queue_seq === undefined ? null : Number(r.queue_seq),
  }));
}

/**
 * The accepted rows in one INSERT ... SELECT FROM unnest(...): one array parameter per column, in the given
 * order, so queue_seq follows it (ordered by the ordinality: the planner draws a volatile nextval after the
 * sort). A `recorded` reading never joins the queue: no queue_seq. Returns the rows inserted (an id held by
 * another stored row is skipped, not raised).
 */
async function insertReadings(tx: Db, rows: NewRow[]): Promise<{ id: string; queueSeq: number | null }[]> {
  const col = (f: (r: NewRow) => string | null) => textArray(rows.map(f));
  const result = await tx.execute(sql`
    insert into readings (id, meter_id, user_id, wallet_address, kwh_amount, tokens_to_mint, reading_timestamp, gateway_id, client_reading_id, register_kwh, status, telemetry, queue_seq, window_start)
    select u.id::uuid, u.meter_id, u.user_id, u.wallet_address, u.kwh_amount::numeric, u.tokens_to_mint::numeric, u.reading_timestamp::timestamptz, u.gateway_id,
      u.client_reading_id, u.register_kwh::numeric, u.status, u.telemetry::jsonb, case when u.status = 'recorded' then null else nextval('readings_queue_seq') end, u.window_start::timestamptz
    from unnest(${col((r) => r.id)}, ${col((r) => r.meterId)}, ${col((r) => r.userId)}, ${col((r) => r.walletAddress)}, ${col((r) => r.kwhAmount)},
      ${col((r) => r.tokensToMint.toString())}, ${col((r) => r.readingTimestamp.toISOString())}, ${col((r) => r.gatewayId)}, ${col((r) => r.clientReadingId)}, ${col((r) => r.registerKwh)},
      ${col((r) => r.status)}, ${col((r) => (r.telemetry ? JSON.stringify(r.telemetry) : null))}, ${col((r) => new Date(windowStartOf(r.readingTimestamp.getTime())).toISOString())})
      with ordinality as u(id, meter_id, user_id, wallet_address, kwh_amount, tokens_to_mint, reading_timestamp, gateway_id, client_reading_id, register_kwh, status, telemetry, window_start, ord)
    order by u.ord
    on conflict do nothing
    returning id, queue_seq::float8 as queue_seq`);
  return rowsOf<{ id: string; queue_seq: number | string | null }>(result).map((r) => ({ id: String(r.id), queueSeq: r.queue_seq === null ? null : Number(r.queue_seq) }));
}

/**
 * mint_generation: a new reading whose window is frozen (its transaction signed, its sum fixed) or minted is
 * refused, 422 WINDOW_SETTLED: taken, it could never be minted (the window's record admits one mint).
 *
 * Why this is safe against a window being frozen at the same moment: it runs under the meters' FOR UPDATE locks,
 * and freezing a window (minting/repo.ts recordSigned) takes its meter's row FOR SHARE, so the two never overlap.
 * If the freeze commits first, this read sees its mint_windows row and refuses; if this reading commits first,
 * the freeze finds a reading of the window that its transaction does not carry and refuses to record it, so that
 * transaction is never sent and the window is minted later with every reading it holds.
 */
async function refuseSettledWindows(tx: Db, parsed: ParsedReading[], rows: NewRow[]): Promise<void> {
  if (rows.length === 0) return;
  const windows = rows.map((r) => ({ meterId: r.meterId, start: new Date(windowStartOf(r.readingTimestamp.getTime())) }));
  const settled = await tx
    .select({ meterId: mintWindows.meterId, start: mintWindows.windowStart, status: mintWindows.status })
    .from(mintWindows)
    .where(sql`(${mintWindows.meterId}, ${mintWindows.windowStart}) in (select * from unnest(${textArray(windows.map((w) => w.meterId))}, ${textArray(windows.map((w) => w.start.toISOString()))}::timestamptz[]))`);
  if (settled.length === 0) return;
  const first = settled[0]!;
  const i = parsed.findIndex((p) => p.meterId === first.meterId && windowStartOf(p.readingTimestamp.getTime()) === first.start.getTime());
  const field = i >= 0 ? at(parsed[i]!.path, 'reading_timestamp') : 'reading_timestamp';
  const end = new Date(first.start.getTime() + WINDOW_MS).toISOString();
  throw new Refused(
    'WINDOW_SETTLED',
    `${field}: meter ${first.meterId}'s window ${first.start.toISOString()}–${end} is settled (${first.status === 'minted' ? 'minted' : 'its transaction is signed'}) with the readings it had: a reading for it can no longer be minted`,
    field,
  );
}

/**
 * Accept a gateway's readings, all or none. Under the meters' row locks (taken in meter_id order, see
 * lockMeters): the registry checks, the readings around each one, the decision (accept.ts), one
 * multi-row INSERT and one UPDATE of the registers that moved, and one read of the queue watermark. The
 * number of statements does not grow with the number of readings, and none reads more of `readings` than
 * index probes around the request's own (meter, time) pairs: the backlog costs nothing here.
 */
export async function acceptReadings(db: Db, gatewayId: string, parsed: ParsedReading[], policy: AcceptPolicy): Promise<InsertOutcome> {
  return db.transaction(async (t) => {
    const tx = t as unknown as Db;
    const meters = new Map((await lockMeters(tx, [...new Set(parsed.map((r) => r.meterId))])).map((m) => [m.meterId, m]));
    checkAgainstRegistry(parsed, gatewayId, meters, policy);
    const neighbours = await neighboursOf(tx, parsed.map((r) => ({ meterId: r.meterId, at: r.readingTimestamp })));
    const decision = decide(parsed, gatewayId, meters, neighbours, policy);
    if (policy.refuseSettledWindows) await refuseSettledWindows(tx, parsed, decision.rows);
    // Each result's queue_seq: a duplicate's from the stored reading it repeats, a new one's from its INSERT.
    const seqs = new Map(neighbours.map((n) => [n.id, n.queueSeq]));
    if (decision.rows.length) {
      // In the request's order (decide works per meter), so queue_seq, and the positions, follow it.
      const place = new Map(decision.results.map((r, i) => [r.readingId, i] as const).reverse());
      const rows = [...decision.rows].sort((a, b) => place.get(a.id)! - place.get(b.id)!);
      const inserted = await insertReadings(tx, rows);
      // Under the meter locks nobody else can have stored these; a clash is an id held by an older row.
      if (inserted.length !== decision.rows.length) throw new Conflict('a reading id of this request is held by another stored reading', 'reading_id');
      for (const r of inserted) seqs.set(r.id, r.queueSeq);
    }
    if (decision.registers.length) {
      await tx.execute(sql`
        update meters set last_register_kwh = v.kwh::numeric, last_register_at = v.at::timestamptz, updated_at = now()
        from unnest(${textArray(decision.registers.map((g) => g.meterId))}, ${textArray(decision.registers.map((g) => g.kwh))}, ${textArray(decision.registers.map((g) => g.at.toISOString()))}) as v(meter_id, kwh, at)
        where meters.meter_id = v.meter_id`);
    }
    const claimed = decision.results.some((r) => r.status === 'pending') ? await claimedSeq(tx) : 0;
    return {
      accepted: decision.rows.length,
      duplicates: decision.results.filter((r) => r.duplicate).length,
      readings: decision.results.map((r) => ({
        reading_id: r.readingId,
        client_reading_id: r.clientReadingId,
        status: r.status,
        queue_position: queuePosition(r.status, seqs.get(r.readingId) ?? null, claimed),
      })),
    };
  });
}

/** One reading; with a gateway, only one that gateway posted. */
export async function getReading(db: Db, id: string, gatewayId?: string): Promise<ReadingRow | null> {
  const [row] = await db.select().from(readings).where(and(eq(readings.id, id), gatewayId !== undefined ? eq(readings.gatewayId, gatewayId) : undefined));
  return row ?? null;
}

/** One reading with its live queue position (GET /queue/item/:id): one statement, two primary-key reads. */
export async function getQueueItem(db: Db, id: string, gatewayId?: string): Promise<{ row: ReadingRow; queuePosition: number | null } | null> {
  const [found] = await db
    .select({ row: readings, claimedSeq: sql<string>`(select ${queueWatermark.claimedSeq} from ${queueWatermark} where ${queueWatermark.id} = 1)` })
    .from(readings)
    .where(and(eq(readings.id, id), gatewayId !== undefined ? eq(readings.gatewayId, gatewayId) : undefined));
  return found ? { row: found.row, queuePosition: queuePosition(found.row.status, found.row.queueSeq, Number(found.claimedSeq ?? 0)) } : null;
}

export interface ListFilter {
  status?: ReadingStatus;
  wallet?: string;
  /** A gateway sees only the readings it posted. */
  gatewayId?: string;
  /** Keyset cursor: the last row's (created_at, id). */
  after?: { createdAt: Date; id: string };
  limit: number;
}

export async function listReadings(db: Db, f: ListFilter): Promise<ReadingRow[]> {
  const conds = [
    f.status ? eq(readings.status, f.status) : undefined,
    f.wallet ? eq(readings.walletAddress, f.wallet) : undefined,
    f.gatewayId !== undefined ? eq(readings.gatewayId, f.gatewayId) : undefined,
    f.after ? or(gt(readings.createdAt, f.after.createdAt), and(eq(readings.createdAt, f.after.createdAt), gt(readings.id, f.after.id))) : undefined,
  ].filter(Boolean);
  return db
    .select()
    .from(readings)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(asc(readings.createdAt), asc(readings.id))
    .limit(f.limit);
}
