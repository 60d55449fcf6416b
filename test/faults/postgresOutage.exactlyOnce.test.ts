// The service behind a Postgres TCP proxy that cuts every connection (and refuses new ones) and, later,
// black-holes them (a partition that heals) while batches are in flight. Every reading ends minted exactly
// once: 0 minted twice, 0 lost, on-chain balances equal to the sums, the ledger reconciles with the chain, and
// the service recovers without a restart: a reading posted after the outages is minted too. The lease is
// longer than the test, so recovery cannot come from a rescuer waiting it out: the worker holding the claims
// settles them itself. Seconds to resume are printed (a figure for the README), never asserted.
// `npm test` runs FAULTS_READINGS=300; `npm run test:faults` runs 2,000.
import { Writable } from 'node:stream';
import { and, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import { readings } from '../../src/db/schema.js';
import { makeLog } from '../../src/log.js';
import { completedCount, databaseActivity, seedReadings, freshPostgres, postgresAvailable, TEST_DATABASE_URL, waitCompleted, waitFor, type TestDatabase } from '../support/db.js';
import { EXACTLY_ONCE, exactlyOnceVerdict } from '../support/ledger.js';
import { queueRows, startFaultService } from '../support/faultService.js';
import { startTestChain, type TestChain } from '../support/localnet.js';
import { startTcpFaultProxy, type TcpFaultProxy } from '../support/tcpFaultProxy.js';

const N = Number(process.env.FAULTS_READINGS ?? 300);
const log = makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() }));
/** For the README's figures: hold each outage this much longer once the service has felt it (e.g. 15000). */
const HOLD_MS = Number(process.env.OUTAGE_HOLD_MS ?? 0);
let chain: TestChain;
let t: TestDatabase | null = null;
let proxy: TcpFaultProxy;

beforeAll(async () => {
  if (!(await postgresAvailable())) return;
  chain = await startTestChain({ slotMs: 50 });
  t = await freshPostgres();
  const server = new URL(TEST_DATABASE_URL);
  proxy = await startTcpFaultProxy({ host: server.hostname, port: Number(server.port || 5432) });
}, 60_000);
afterAll(async () => {
  await proxy?.stop();
  await t?.drop();
  await chain?.stop();
});

it(`${N} readings through a database cut and a black hole mid-batch: 0 minted twice, 0 lost, recovered without a restart`, async () => {
  if (!t) return;
  const db = t.database.db; // the test's own connection, beside the proxy
  const svc = await startFaultService(
    { DATABASE_URL: proxy.urlFor(t.url!), SOLANA_RPC_URL: chain.url, SOLANA_WS_URL: chain.wsUrl, BLOCKCHAIN_MAX_BATCH_SIZE: '100', LEASE_MS: '600000', HEALTH_CHECK_INTERVAL_MS: '200' },
    log,
  );
  const figures: string[] = [];
  try {
    const rows = queueRows(N, Math.max(10, Math.floor(N / 5)));
    await seedReadings(db, rows);
    const ids = rows.map((r) => r.id);
    const completed = () => completedCount(db, ids);
    const signedInFlight = async () =>
      (await db.select({ n: sql<number>`count(*)::int` }).from(readings).where(and(inArray(readings.id, ids), eq(readings.status, 'processing'), isNotNull(readings.txSignature))))[0]!.n;

    /** Hold a fault while a batch has signed transactions in flight, until the service has felt it; then measure the resumption. */
    const outage = async (name: string, fault: () => void, felt: () => boolean | Promise<boolean>) => {
      await waitFor(async () => (await signedInFlight()) > 0 || (await completed()) === N, 120_000, 'a batch in flight');
      const before = await completed();
      fault();
      await waitFor(felt, 60_000, `the service to feel the ${name}`);
      if (HOLD_MS) await new Promise((r) => setTimeout(r, HOLD_MS)); // the outage's length, not a race
      const during = await completed();
      proxy.restore();
      const restoredAt = Date.now();
      await waitFor(async () => (await completed()) > during || during === N, 120_000, `minting to resume after the ${name}`);
      figures.push(`${name}: ${before} done before, next confirmation recorded ${Date.now() - restoredAt} ms after the proxy was restored`);
    };
    // A cut: every connection reset and new ones refused, until the service has tried to reconnect a few times.
    await outage('cut', () => proxy.cut(), () => proxy.counts.refused >= 6);
    // A black hole: bytes held both ways, for as long as it takes the health check to notice (it times out).
    // (/health answers from the last background check, so it answers during the black hole too: 503, the
    // database being what every role needs.)
    await outage('black hole', () => proxy.blackhole(), async () => {
      const res = await fetch(`${svc.apiUrl}/health`);
      return res.status === 503 && ((await res.json()) as { status: string }).status === 'unavailable';
    });

    await waitCompleted(db, ids, 240_000, () => `(proxy ${JSON.stringify(proxy.counts)}, ${proxy.open()} open; figures ${figures.join('; ')})`);
    // Recovered without a restart: a reading posted through the API now is minted too.
    const late = { ...rows[0]!, id: crypto.randomUUID(), tokensToMint: 5n, readingTimestamp: new Date(Date.UTC(2026, 1, 1)) };
    await seedReadings(db, [late]);
    await waitCompleted(db, [late.id], 60_000);
    expect(await exactlyOnceVerdict(db, chain.url, [...ids, late.id])).toEqual(EXACTLY_ONCE);
    process.stdout.write(`postgres outage figures (${N} readings): ${figures.join('; ')}; proxy ${JSON.stringify(proxy.counts)}\n`);
  } finally {
    proxy.restore();
    // A stop that hangs says what the database's sessions were doing, rather than running into jest's timeout.
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(async () => reject(new Error(`the service did not stop within 60 s; sessions: ${await databaseActivity(db)}; proxy ${proxy.open()} open`)), 60_000);
    });
    await Promise.race([svc.stop(), stalled]).finally(() => clearTimeout(timer));
  }
}, 600_000);
