// Database faults injected inside the database itself: a trigger raises a chosen SQLSTATE at a chosen write
// of the settlement path, a chosen number of times, then lets it through. The failed statement rolls back as a
// real one would; the count lives in a sequence, which a rollback does not undo. Works on Postgres and PGlite.
import { sql } from 'drizzle-orm';
import type { Db } from '../../src/db/client.js';

/** The writes of the settlement path, by the row change each one makes. */
export const WRITE_POINTS = {
  /** recordSigned: the ledger row of a signed transaction, before its first send. */
  record: { table: 'mint_transactions', op: 'INSERT', status: 'signed' },
  /** markTransaction('sent'), after the first send. */
  sent: { table: 'mint_transactions', op: 'UPDATE', status: 'sent' },
  /** completeTransaction: the readings of a landed transaction (after its ledger row, in the same transaction). */
  complete: { table: 'readings', op: 'UPDATE', status: 'completed' },
  /** releaseFailed: readings known not minted, back to pending (or failed for good). */
  release: { table: 'readings', op: 'UPDATE', status: 'pending' },
} as const;
export type WritePoint = keyof typeof WRITE_POINTS;

export async function installFaultTriggers(db: Db): Promise<void> {
  await db.execute(sql`create table if not exists test_faults (id serial primary key, tbl text not null, op text not null, status text not null, sqlstate text not null, times int not null)`);
  await db.execute(sql`
    create or replace function test_fault() returns trigger language plpgsql as $$
    declare f record;
    begin
      for f in select * from test_faults where tbl = TG_TABLE_NAME and op = TG_OP and status = NEW.status loop
        -- Only a change of status counts (a lease renewal of a processing row is not "the" write).
        if TG_OP = 'UPDATE' and OLD.status = NEW.status then continue; end if;
        if nextval(format('test_fault_hits_%s', f.id)::regclass) <= f.times then
          raise exception 'injected fault % at %.%', f.sqlstate, TG_TABLE_NAME, NEW.status using errcode = f.sqlstate;
        end if;
      end loop;
      return NEW;
    end $$`);
  for (const table of ['readings', 'mint_transactions']) {
    await db.execute(sql.raw(`drop trigger if exists test_fault on ${table}`));
    await db.execute(sql.raw(`create trigger test_fault before insert or update on ${table} for each row execute function test_fault()`));
  }
}

export interface InjectedFault {
  /** How many times the write was attempted while the fault was armed (fired or let through). */
  attempts(): Promise<number>;
}

/** Fail the next `times` attempts of `point` with `sqlstate`; later attempts go through. */
export async function injectFault(db: Db, point: WritePoint, sqlstate: string, times: number): Promise<InjectedFault> {
  const p = WRITE_POINTS[point];
  const rows = (await db.execute(
    sql`insert into test_faults (tbl, op, status, sqlstate, times) values (${p.table}, ${p.op}, ${p.status}, ${sqlstate}, ${times}) returning id`,
  )) as unknown as { id: number }[] | { rows: { id: number }[] };
  const id = (Array.isArray(rows) ? rows : rows.rows)[0]!.id;
  await db.execute(sql.raw(`create sequence test_fault_hits_${Number(id)}`));
  return {
    async attempts() {
      const r = (await db.execute(sql.raw(`select case when is_called then last_value else 0 end as n from test_fault_hits_${Number(id)}`))) as unknown as
        | { n: string }[]
        | { rows: { n: string }[] };
      return Number((Array.isArray(r) ? r : r.rows)[0]!.n);
    },
  };
}

export async function clearFaults(db: Db): Promise<void> {
  await db.execute(sql`delete from test_faults`);
}
