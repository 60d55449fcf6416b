// The rent of mint_generation's records is bounded per UTC day (MAX_NEW_MINT_RECORDS_PER_DAY): windows past the
// day's budget are not planned or signed; their readings wait until the next UTC midnight, no attempt lost.
import { Keypair } from '@solana/web3.js';
import { inArray } from 'drizzle-orm';
import { mintTransactions, readings as readingsTable } from '../../../src/db/schema.js';
import { makeBatchEvents } from '../../../src/minting/events.js';
import { makeBatchRunner } from '../../../src/minting/runBatch.js';
import { mintRecordsReservedToday, reserveMintRecords } from '../../../src/minting/repo.js';
import { DATABASES, withChainAndDatabase, type TestDatabase } from '../../support/db.js';
import { testEngine, testLog } from '../../support/engine.js';
import type { TestChain } from '../../support/localnet.js';
import { registerMeters, registryApp, type Request } from '../../support/meters.js';

const defaults = { batchIntervalMs: 50, maxBatchSize: 100, maxAttempts: 5, backoffMs: 0 };
const G = { authorization: 'Bearer gw-key', 'content-type': 'application/json' };

describe.each(DATABASES)('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  let request: Request;
  withChainAndDatabase(kind, open, { slotMs: 20 }, async (c, d) => {
    chain = c;
    t = d;
    ({ request } = await registryApp(d.database, { refuseSettledWindows: true }));
    await registerMeters(request, 'op', [{ meter_id: 'budget-1', wallet_address: Keypair.generate().publicKey.toBase58(), active_from: '2026-10-01T00:00:00Z' }]);
  });

  it('three windows and room for two records today: two minted, the third waits for the next UTC midnight', async () => {
    if (!t) return;
    const db = t.database.db;
    const base = Date.UTC(2026, 9, 11);
    const res = await request('/readings', {
      method: 'POST',
      headers: G,
      body: JSON.stringify({ readings: [15, 30, 45].map((m) => ({ meter_id: 'budget-1', reading_timestamp: new Date(base + m * 60_000).toISOString(), kwh_amount: '1' })) }),
    });
    const ids: string[] = ((await res.json()) as any).readings.map((r: any) => r.reading_id);
    const { engine } = testEngine(chain, { reserveMintRecords: (n) => reserveMintRecords(db, n, 2) });
    const summary = await (await makeBatchRunner({ db, engine, log: testLog, defaults, leaseMs: 30_000, events: makeBatchEvents(t.database), windows: { graceMs: 0 } }).start('poll', null)).done;
    expect(summary).toMatchObject({ total_readings: 3, successful_mints: 2, failed_mints: 0, deferred: 1 });
    const rows = await db.select().from(readingsTable).where(inArray(readingsTable.id, ids));
    const waiting = rows.filter((r) => r.status === 'pending');
    expect(waiting).toHaveLength(1);
    expect(waiting[0]!).toMatchObject({ attempts: 0, lastError: expect.stringMatching(/MAX_NEW_MINT_RECORDS_PER_DAY/) });
    expect(waiting[0]!.nextAttemptAt.getTime()).toBe(Math.ceil((Date.now() + 1) / 86_400_000) * 86_400_000);
    expect(await mintRecordsReservedToday(db)).toBe(2);
    expect((await db.select().from(mintTransactions)).flatMap((tx) => tx.readingIds).sort()).toEqual(rows.filter((r) => r.status === 'completed').map((r) => r.id).sort());
  });
});
