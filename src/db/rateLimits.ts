// Rate limits shared by every API process on one database: GCRA (the generic cell rate algorithm), one row
// per limit key holding the theoretical arrival time (tat) of the next unit.
import { sql } from 'drizzle-orm';
import type { Db } from './client.js';

export interface RateCheck {
  allowed: boolean;
  /** The burst in force (the configured one, or the gateway's meter count when larger). */
  burst: number;
  /** Units that could still be taken at once after this check. */
  remaining: number;
  /** Seconds until the bucket is full again (allowed) or until this cost would pass (refused). */
  resetSeconds: number;
  /** Refused: seconds until the same cost would pass (null when the cost exceeds the burst: it never will). */
  retryAfterSeconds: number | null;
}

const rowsOf = (r: unknown) => (Array.isArray(r) ? r : (r as { rows: unknown[] }).rows) as Record<string, unknown>[];
const micros = (t: unknown) => {
  const d = t instanceof Date ? t : new Date(String(t));
  return d.getTime() * 1000;
};

/**
 * Take `cost` units of the limit `key` (rate: one unit per `intervalUs` µs; burst: at most `burst` units at
 * once, or the number of enabled meters of `meterGatewayId` when that is larger).
 *
 * Why this is safe across processes: it is one statement. INSERT ... ON CONFLICT DO UPDATE takes the row
 * lock, and a concurrent statement on the same key waits for it and then evaluates its WHERE against the
 * committed tat (READ COMMITTED re-checks the conflicting row), so two processes can never both spend the
 * same units. A refused take writes nothing. Times are the database's clock, the same for every process.
 * The outer SELECT of rate_limits sees the row as it was before this statement (one snapshot), which is
 * what a refusal needs to say when the cost would pass.
 */
export async function takeRate(db: Db, key: string, cost: number, intervalUs: number, burst: number, meterGatewayId: string | null): Promise<RateCheck> {
  const step = sql`${intervalUs}::float8 * interval '1 microsecond'`;
  const meters = meterGatewayId === null ? sql`0` : sql`(select count(*)::int from meters where gateway_id = ${meterGatewayId} and disabled_at is null)`;
  const result = await db.execute(sql`
    with p as (select clock_timestamp() as now, greatest(${burst}::int, ${meters}) as burst),
    up as (
      insert into rate_limits as r (key, tat)
      select ${key}, p.now + ${cost}::int * ${step} from p where ${cost}::int <= p.burst
      on conflict (key) do update set tat = greatest(r.tat, (select now from p)) + ${cost}::int * ${step}
      where greatest(r.tat, (select now from p)) + ${cost}::int * ${step} <= (select now + burst * ${step} from p)
      returning r.tat
    )
    select (select tat from up) as granted, (select tat from rate_limits where key = ${key}) as current, p.now, p.burst from p`);
  const row = rowsOf(result)[0]!;
  const now = micros(row.now);
  const effBurst = Number(row.burst);
  if (row.granted !== null && row.granted !== undefined) {
    const tat = micros(row.granted);
    return {
      allowed: true,
      burst: effBurst,
      remaining: Math.max(0, Math.floor((now + effBurst * intervalUs - tat) / intervalUs)),
      resetSeconds: Math.max(0, Math.ceil((tat - now) / 1e6)),
      retryAfterSeconds: null,
    };
  }
  const current = row.current === null || row.current === undefined ? now : Math.max(now, micros(row.current));
  const passesAt = current + cost * intervalUs - effBurst * intervalUs;
  return {
    allowed: false,
    burst: effBurst,
    remaining: Math.max(0, Math.floor((now + effBurst * intervalUs - current) / intervalUs)),
    resetSeconds: Math.max(1, Math.ceil((current - now) / 1e6)),
    retryAfterSeconds: cost > effBurst ? null : Math.max(1, Math.ceil((passesAt - now) / 1e6)),
  };
}
