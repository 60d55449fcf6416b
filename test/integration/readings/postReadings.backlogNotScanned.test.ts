// Ingestion whose cost does not grow with the backlog (issue 15): with 20,000 readings pending, every
// statement of POST /readings, of the GridTokenX batch route and of GET /queue/item/:id reads only index
// probes around the request's own readings, and a request makes the same number of statements for 10
// readings as for 100. Each statement the app issued (recorded by drizzle's logger) is run again under
// EXPLAIN ANALYZE in a transaction rolled back, and the rows its plan read from `readings` are counted: a
// statement that ranks, counts or scans the pending rows reads thousands and fails this. On Postgres (the
// production database, whose planner is the one that matters).
import { Keypair } from '@solana/web3.js';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Database } from '../../../src/db/client.js';
import * as schema from '../../../src/db/schema.js';
import { freshPostgres, seedBacklog, type TestDatabase, withDatabase } from '../../support/db.js';
import { client, type Request, registerMeters, registryApp } from '../../support/meters.js';

const BACKLOG = 20_000;
const METERS = 100;
const T0 = Date.UTC(2026, 10, 1);

interface Statement {
  query: string;
  params: unknown[];
}
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/** Rows a plan read from `readings` (its table and its indexes): returned, filtered out, or rechecked away. */
function readingsRowsRead(node: PlanNode): number {
  const onReadings = node['Relation Name'] === 'readings' || (node['Relation Name'] === undefined && node['Index Name']?.startsWith('readings') === true);
  const own = onReadings ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) * node['Actual Loops'] : 0;
  return own + (node.Plans ?? []).reduce((n, p) => n + readingsRowsRead(p), 0);
}

describe('with 20,000 readings pending (Postgres)', () => {
  let t: TestDatabase | null = null;
  let pool: postgres.Sql;
  let request: Request;
  let recording: Statement[] | null = null;
  let hour = 0;

  withDatabase('postgres', freshPostgres, async (opened) => {
    t = opened;
    // The app runs on a drizzle of its own over the same database, whose logger records what it issues.
    pool = postgres(opened.url!, { max: 4, onnotice: () => {}, fetch_types: false });
    const db = drizzle(pool, { schema, logger: { logQuery: (query, params) => recording?.push({ query, params }) } }) as unknown as Database['db'];
    ({ request } = await registryApp({ ...opened.database, db }, { limits: { readingsPerSecond: 1e6, readingsBurst: 1e7, requestsPerSecond: 1e6, requestsBurst: 1e6 } }));
    const wallet = Keypair.generate().publicKey.toBase58();
    await registerMeters(request, 'op', Array.from({ length: METERS }, (_, i) => ({ meter_id: `m-${i}`, wallet_address: wallet })));
    await seedBacklog(opened.database.db, BACKLOG, { gatewayId: 'gw', from: new Date(Date.UTC(2025, 0, 1)) });
  });
  afterAll(() => pool?.end({ timeout: 1 }));

  /** The statements one call issues. */
  const statementsOf = async (call: () => Promise<Response>, status: number): Promise<Statement[]> => {
    recording = [];
    const res = await call();
    const got = recording;
    recording = null;
    expect(res.status).toBe(status);
    return got;
  };
  const native = (n: number) => {
    hour++;
    return { readings: Array.from({ length: n }, (_, i) => ({ meter_id: `m-${i % METERS}`, kwh_amount: '1.5', reading_timestamp: new Date(T0 + hour * 3_600_000 + Math.floor(i / METERS) * 900_000).toISOString() })) };
  };
  const gridTokenX = (n: number) => {
    hour++;
    return { readings: Array.from({ length: n }, (_, i) => ({ meter_serial: `m-${i % METERS}`, kwh: 1.5, timestamp: new Date(T0 + hour * 3_600_000 + Math.floor(i / METERS) * 900_000).toISOString() })) };
  };

  /** The rows of `readings` each statement's plan reads, run again under EXPLAIN ANALYZE and rolled back. */
  const rowsRead = async (statements: Statement[]): Promise<{ query: string; rows: number }[]> => {
    const out: { query: string; rows: number }[] = [];
    const conn = await pool.reserve();
    try {
      for (const s of statements) {
        await conn.unsafe('begin');
        try {
          const [row] = await conn.unsafe(`explain (analyze, format json) ${s.query}`, s.params as postgres.ParameterOrJSON<never>[]);
          const plan = (row!['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan;
          out.push({ query: s.query.replace(/\s+/g, ' ').slice(0, 120), rows: readingsRowsRead(plan) });
        } finally {
          await conn.unsafe('rollback');
        }
      }
    } finally {
      conn.release();
    }
    return out;
  };

  it('POST /readings of 100 readings: no statement reads more of readings than probes around its own 100', async () => {
    if (!t) return;
    const statements = await statementsOf(() => client(request).post('gw-key')('/readings', native(100)), 202);
    const read = await rowsRead(statements);
    // The count sees the neighbour probes (so it would see a scan too): each reading's predecessor and instant.
    expect(read.some((s) => s.rows >= 100)).toBe(true);
    // They read at most 3 rows per reading; the backlog is 200 times the request.
    expect(read.filter((s) => s.rows > 3 * 100)).toEqual([]);
    expect(read.reduce((n, s) => n + s.rows, 0)).toBeLessThanOrEqual(4 * 100);
  });

  it('the GridTokenX batch route and GET /queue/item/:id read no more than that either', async () => {
    if (!t) return;
    const gtx = await rowsRead(await statementsOf(() => client(request).post('gw-key')('/api/v1/meters/batch/readings', gridTokenX(100)), 200));
    expect(gtx.filter((s) => s.rows > 3 * 100)).toEqual([]);
    const posted = (await (await client(request).post('gw-key')('/readings', native(1))).json()) as { readings: { reading_id: string; queue_position: number }[] };
    const item = await rowsRead(await statementsOf(() => client(request).get('gw-key')(`/queue/item/${posted.readings[0]!.reading_id}`), 200));
    expect(item.filter((s) => s.rows > 1)).toEqual([]);
    // Behind the whole backlog all the same.
    expect(posted.readings[0]!.queue_position).toBeGreaterThan(BACKLOG);
  });

  it('a request makes as many statements, with as many parameters, for 100 readings as for 10', async () => {
    if (!t) return;
    const ten = await statementsOf(() => client(request).post('gw-key')('/readings', native(10)), 202);
    const hundred = await statementsOf(() => client(request).post('gw-key')('/readings', native(100)), 202);
    expect(hundred.length).toBe(ten.length);
    // Credentials, the two rate limits, the meter locks, the neighbours, the INSERT, the watermark.
    expect(hundred.length).toBeLessThanOrEqual(7);
    // Each list goes as one array parameter (db/arrays.ts): building one parameter per reading and column
    // (1,400 for the INSERT alone) was the largest cost of a request after GC.
    expect(hundred.map((s) => s.params.length)).toEqual(ten.map((s) => s.params.length));
  });
});
