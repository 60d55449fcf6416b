// With mint_generation the polling worker mints a window once it has closed (its end plus MINT_WINDOW_GRACE_MS),
// and makes no batch for a reading whose window is still open: it waits, pending, for the window's other readings.
import { Keypair } from '@solana/web3.js';
import { and, eq, inArray } from 'drizzle-orm';
import { batches, readings as readingsTable } from '../../../src/db/schema.js';
import { makeBatchEvents } from '../../../src/minting/events.js';
import { makeBatchRunner } from '../../../src/minting/runBatch.js';
import { startWorker } from '../../../src/minting/worker.js';
import { rescue } from '../../../src/minting/rescue.js';
import { makeRpcClient } from '../../../src/chain/rpcClient.js';
import { explainTransactionError } from '../../../src/chain/programErrors.js';
import { loadIdl } from '../../../src/chain/energyToken.js';
import { DATABASES, waitCompleted, waitFor, withChainAndDatabase, type TestDatabase } from '../../support/db.js';
import { testEngine, testLog } from '../../support/engine.js';
import type { TestChain } from '../../support/localnet.js';
import { registerMeters, registryApp, type Request } from '../../support/meters.js';

const defaults = { batchIntervalMs: 20, maxBatchSize: 100, maxAttempts: 5, backoffMs: 0 };
const G = { authorization: 'Bearer gw-key', 'content-type': 'application/json' };
const GRACE_MS = 120_000;

describe.each(DATABASES)('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  let request: Request;
  withChainAndDatabase(kind, open, { slotMs: 20 }, async (c, d) => {
    chain = c;
    t = d;
    ({ request } = await registryApp(d.database, { refuseSettledWindows: true }));
    await registerMeters(request, 'op', [{ meter_id: 'open-1', wallet_address: Keypair.generate().publicKey.toBase58(), active_from: '2026-10-01T00:00:00Z' }]);
  });

  it('mints the closed window and makes no batch for the open one', async () => {
    if (!t) return;
    const db = t.database.db;
    const post = async (at: Date) => {
      const res = await request('/readings', { method: 'POST', headers: G, body: JSON.stringify({ meter_id: 'open-1', reading_timestamp: at.toISOString(), kwh_amount: '0.5' }) });
      expect(res.status).toBe(202);
      return ((await res.json()) as any).readings[0].reading_id as string;
    };
    const closed = await post(new Date(Date.UTC(2026, 9, 10, 0, 15)));
    const open = await post(new Date(Math.floor(Date.now() / 1000) * 1000)); // its window ends within 15 minutes: open for 17 more at least
    const { engine } = testEngine(chain);
    let rescues = 0;
    const worker = startWorker({
      db,
      runner: makeBatchRunner({ db, engine, log: testLog, defaults, leaseMs: 10_000, events: makeBatchEvents(t.database), windows: { graceMs: GRACE_MS } }),
      rescue: () => (rescues++, rescue({ db, rpc: makeRpcClient({ url: chain.url, timeoutMs: 2000 }), explain: explainTransactionError(loadIdl()), log: testLog, policy: { maxAttempts: 5, backoffMs: 0 } })),
      log: testLog,
      defaults,
      windowGraceMs: GRACE_MS,
    });
    try {
      await waitCompleted(db, [closed], 60_000);
      const calls = rescues;
      await waitFor(() => rescues >= calls + 5, 30_000, 'five idle worker cycles');
    } finally {
      await worker.stop();
    }
    expect((await db.select().from(readingsTable).where(eq(readingsTable.id, open)))[0]).toMatchObject({ status: 'pending', attempts: 0 });
    const made = await db.select().from(batches).where(eq(batches.source, 'poll'));
    expect(made.map((b) => b.totalReadings)).toEqual([1]); // one batch, the closed window's: none for the open one
    expect(await db.select().from(readingsTable).where(and(inArray(readingsTable.id, [closed]), eq(readingsTable.status, 'completed')))).toHaveLength(1);
  });
});
