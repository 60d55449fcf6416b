// The lookup tables the service created, and their unsettled transactions (chain/lookupTables.ts' store).
import { and, asc, countDistinct, eq, inArray, sql } from 'drizzle-orm';
import type { LookupTableStore, StoredLookupTable } from '../chain/lookupTables.js';
import type { Database, Db } from './client.js';
import { lookupTables, readings } from './schema.js';

/**
 * How many transactions minted to each of these wallets (completed readings, by distinct signature): what
 * LOOKUP_TABLE_MIN_MINTS is compared with. A read on readings_wallet, once per batch.
 */
export async function mintCounts(db: Db, wallets: string[]): Promise<Map<string, number>> {
  if (wallets.length === 0) return new Map();
  const rows = await db
    .select({ wallet: readings.walletAddress, n: countDistinct(readings.txSignature) })
    .from(readings)
    .where(and(inArray(readings.walletAddress, wallets), eq(readings.status, 'completed')))
    .groupBy(readings.walletAddress);
  return new Map(rows.map((r) => [r.wallet, Number(r.n)]));
}

export function makeLookupTableStore(database: Pick<Database, 'db' | 'kind'>): LookupTableStore {
  const { db } = database;
  // Calls in this process wait for each other here first, so one process holds at most one connection for the lock.
  let tail: Promise<unknown> = Promise.resolve();
  const inProcess = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };

  return {
    async list(): Promise<StoredLookupTable[]> {
      const rows = await db.select().from(lookupTables).orderBy(asc(lookupTables.createdAt), asc(lookupTables.address));
      return rows.map((r) => ({
        address: r.address,
        pending:
          r.pendingSignature && r.pendingRaw && r.pendingLastValidBlockHeight !== null
            ? { signature: r.pendingSignature, wire: r.pendingRaw, lastValidBlockHeight: r.pendingLastValidBlockHeight }
            : null,
      }));
    },
    async add(address, pending) {
      await db.insert(lookupTables).values({
        address,
        pendingSignature: pending.signature,
        pendingRaw: pending.wire,
        pendingLastValidBlockHeight: pending.lastValidBlockHeight,
        // clock_timestamp(), not now(): tables created in one transaction still list in creation order.
        createdAt: sql`clock_timestamp()`,
      });
    },
    async setPending(address, pending) {
      await db
        .update(lookupTables)
        .set({
          pendingSignature: pending?.signature ?? null,
          pendingRaw: pending?.wire ?? null,
          pendingLastValidBlockHeight: pending?.lastValidBlockHeight ?? null,
          updatedAt: sql`now()`,
        })
        .where(eq(lookupTables.address, address));
    },
    async remove(address) {
      await db.delete(lookupTables).where(eq(lookupTables.address, address));
    },
    lock<T>(fn: () => Promise<T>): Promise<T> {
      // A PGlite database belongs to one process, which makes one store: the in-process queue is the whole lock.
      if (database.kind === 'pglite') return inProcess(fn);
      // Why this is safe across processes: pg_advisory_xact_lock blocks until no other transaction holds the
      // same key and is released when this transaction ends (commit, rollback, or its connection dropping).
      // The transaction only holds the lock: fn's writes go through other connections and commit at once, so
      // a transaction is recorded before its send whatever happens to this one. Should the connection drop
      // mid-way, another process may extend at the same time: at worst an address is added twice, which
      // costs 32 bytes of rent but never a wrong mint (fn re-reads each table from the chain).
      return inProcess(() =>
        db.transaction(async (tx) => {
          await tx.execute(sql`select pg_advisory_xact_lock(hashtext('lookup_tables'))`);
          return fn();
        }),
      );
    },
  };
}
