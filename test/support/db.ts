// Databases for tests: a fresh database on the real Postgres server (TEST_DATABASE_URL, default the
// local server's `test`), and a fresh in-memory PGlite. Without a server the Postgres tests say what they
// need, and fail under CI.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { and, arrayOverlaps, eq, inArray, sql as q } from 'drizzle-orm';
import { openDatabase, type Database, type Db } from '../../src/db/client.js';
import { batches, mintTransactions, readings } from '../../src/db/schema.js';
import type { NewRow } from '../../src/readings/accept.js';
import { startTestChain, type TestChain } from './localnet.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  database: Database;
  url: string | null;
  drop(): Promise<void>;
}

export async function postgresAvailable(): Promise<boolean> {
  const sql = postgres(TEST_DATABASE_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    const msg = `needs a PostgreSQL server at TEST_DATABASE_URL (${TEST_DATABASE_URL}); none answered`;
    if (process.env.CI) throw new Error(msg);
    process.stdout.write(`skipped: ${msg}\n`);
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** A brand-new database on the server, dropped afterwards. */
export async function freshPostgres(): Promise<TestDatabase> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), pgliteDir: '' });
  return {
    database,
    url: url.toString(),
    drop: async () => {
      await database.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 1 });
    },
  };
}

export async function freshPglite(): Promise<TestDatabase> {
  const database = await openDatabase({ pgliteDir: 'memory://' });
  return { database, url: null, drop: () => database.close() };
}

/**
 * A database of `kind` as an older release left it: only the migrations `keep` accepts (by tag) applied,
 * then `statements` run on it. `open()` opens it as the service does, applying the rest of the migrations.
 */
export async function olderDatabase(
  kind: 'postgres' | 'pglite',
  keep: (tag: string) => boolean,
  statements: string[],
): Promise<{ open(): Promise<Database>; drop(): Promise<void> }> {
  const migrations = mkdtempSync(join(tmpdir(), 'mig-'));
  cpSync(fileURLToPath(new URL('../../src/db/migrations', import.meta.url)), migrations, { recursive: true });
  const journal = JSON.parse(readFileSync(join(migrations, 'meta/_journal.json'), 'utf8'));
  journal.entries = journal.entries.filter((e: { tag: string }) => keep(e.tag));
  writeFileSync(join(migrations, 'meta/_journal.json'), JSON.stringify(journal));
  if (kind === 'postgres') {
    const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    const name = `t_mig_${randomBytes(6).toString('hex')}`;
    await admin.unsafe(`create database ${name}`);
    const url = Object.assign(new URL(TEST_DATABASE_URL), { pathname: `/${name}` }).toString();
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const { migrate } = await import('drizzle-orm/postgres-js/migrator');
    await migrate(drizzle(sql), { migrationsFolder: migrations });
    for (const s of statements) await sql.unsafe(s);
    await sql.end();
    return {
      open: () => openDatabase({ url, pgliteDir: '' }),
      drop: async () => {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.end();
      },
    };
  }
  const pgliteDir = join(mkdtempSync(join(tmpdir(), 'mig-pg-')), 'db');
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  const client = new PGlite(pgliteDir);
  await migrate(drizzle(client), { migrationsFolder: migrations });
  for (const s of statements) await client.query(s);
  await client.close();
  return { open: () => openDatabase({ pgliteDir }), drop: async () => {} };
}

export const DATABASES = [
  ['postgres', freshPostgres],
  ['pglite', freshPglite],
] as const;

/** Wait until every reading is completed; on time-out say where the rest are, so a red run explains itself. */
export async function waitCompleted(db: Db, ids: string[], timeoutMs: number, context: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await db.select({ n: q<number>`count(*)::int` }).from(readings).where(and(eq(readings.status, 'completed'), inArray(readings.id, ids)));
    if (row!.n === ids.length) return;
    if (Date.now() > deadline) {
      const rest = await db.select().from(readings).where(and(q`status <> 'completed'`, inArray(readings.id, ids))).limit(20);
      const txs = await db.select().from(mintTransactions).where(arrayOverlaps(mintTransactions.readingIds, rest.map((r) => r.id)));
      const show = (o: object) => JSON.stringify(o, (k, v) => (k === 'raw' ? '(bytes)' : typeof v === 'bigint' ? String(v) : v));
      throw new Error(
        `only ${row!.n} of ${ids.length} readings completed in time ${context()}; the rest:\n${rest.map(show).join('\n')}\ntheir transactions:\n${txs.map(show).join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Wait until `condition` holds, polling; on time-out say what was awaited. For conditions, never for time. */
/** How many of these readings are completed now. */
/**
 * In a describe over DATABASES: a fresh database of that kind, made before the tests and dropped after; `use`
 * hands it to the file's variables. Nothing is made when the Postgres server is not there outside CI
 * (postgresAvailable says what it needs): the tests then return early.
 */
export function withDatabase(kind: string, open: () => Promise<TestDatabase>, use: (t: TestDatabase) => void | Promise<void>): void {
  let t: TestDatabase | null = null;
  beforeAll(async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    t = await open();
    await use(t);
  }, 60_000);
  afterAll(() => t?.drop());
}

/**
 * In a describe over DATABASES: a local chain and a fresh database of that kind, made before the tests and
 * dropped after; `use` hands both to the file's variables. The database is null when the Postgres server is not
 * there outside CI (postgresAvailable says what it needs): the tests then return early.
 */
export function withChainAndDatabase(
  kind: string,
  open: () => Promise<TestDatabase>,
  chainOpts: { slotMs: number },
  use: (chain: TestChain, t: TestDatabase) => void | Promise<void>,
): void {
  let chain: TestChain | undefined;
  let t: TestDatabase | null = null;
  beforeAll(async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    chain = await startTestChain(chainOpts);
    t = await open();
    await use(chain, t);
  });
  afterAll(async () => {
    await t?.drop();
    await chain?.stop();
  });
}

export async function completedCount(db: Db, ids: string[]): Promise<number> {
  const [row] = await db
    .select({ n: q<number>`count(*)::int` })
    .from(readings)
    .where(and(inArray(readings.id, ids), eq(readings.status, 'completed')));
  return row!.n;
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Drive time for a claim: its readings' leases end now, as if the claimer had died LEASE_MS ago. Tests use it
 * instead of sleeping past a short lease (a sleep races the timer on a loaded machine).
 */
export async function expireLeases(db: Db, ids: string[]): Promise<void> {
  await db.update(readings).set({ leaseExpiresAt: q`now() - interval '1 millisecond'` }).where(and(inArray(readings.id, ids), eq(readings.status, 'processing')));
}

/** Drive time for a batch: its lease ends now, as if its process had died (see expireLeases). */
export async function expireBatchLease(db: Db, batchId: string): Promise<void> {
  await db.update(batches).set({ leaseExpiresAt: q`now() - interval '1 millisecond'` }).where(eq(batches.id, batchId));
}

/**
 * Readings stored straight into the queue, for tests of minting (not of acceptance): as if accepted
 * from meters registered elsewhere. The acceptance path is tested through POST /readings.
 */
export type SeedRow = Pick<NewRow, 'meterId' | 'userId' | 'walletAddress' | 'kwhAmount' | 'tokensToMint' | 'readingTimestamp'> & { id: string };

export async function seedReadings(db: Db, rows: SeedRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await db.insert(readings).values(rows.slice(i, i + 500).map((r) => ({ ...r, tokensToMint: r.tokensToMint.toString() })));
  }
}

/**
 * A backlog of `count` pending readings in one INSERT ... SELECT generate_series (300,000 in seconds), spread
 * over the registered meters of `gatewayId` in meter_id order, one minute apart per meter from `from`
 * (pick it before any reading the caller posts, so the backlog is every meter's history), 0.001 kWh each.
 * Then VACUUM ANALYZE, so the planner and the visibility map know the backlog as after autovacuum (the
 * test server runs without it), and no first reader pays for its hint bits. Used by the ingestion tests
 * and scripts/bench/ingest.ts.
 */
export async function seedBacklog(db: Db, count: number, opts: { gatewayId: string; from: Date }): Promise<void> {
  // The meter count is a scalar subquery (evaluated once), so `m.i = g % k` is a hash join on m.i.
  await db.execute(q`
    with m as (
      select meter_id, user_id, wallet_address, gateway_id, row_number() over (order by meter_id) - 1 as i
      from meters where gateway_id = ${opts.gatewayId} and disabled_at is null
    )
    insert into readings (id, meter_id, user_id, wallet_address, kwh_amount, tokens_to_mint, reading_timestamp, gateway_id)
    select gen_random_uuid(), m.meter_id, m.user_id, m.wallet_address, 0.001, 1000000,
      ${opts.from.toISOString()}::timestamptz + (g / (select count(*) from m)) * interval '1 minute', m.gateway_id
    from generate_series(0, ${count}::int - 1) g
    join m on m.i = g % (select count(*) from m)`);
  await db.execute(q`vacuum analyze readings`);
}

/** What the database's sessions are doing (for a stalled test's message): state, wait, and the start of the query. */
export async function databaseActivity(db: Db): Promise<string> {
  const rows = await db.execute(
    q`select pid, state, wait_event_type, wait_event, round(extract(epoch from now() - state_change)) as seconds, left(query, 80) as query from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
  );
  return JSON.stringify(Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows);
}
