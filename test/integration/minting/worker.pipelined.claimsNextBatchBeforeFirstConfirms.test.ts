// The pipelined worker (WORKER_PIPELINE_DEPTH 2) claims its next batch as soon as the last one's transactions
// all have room in flight, not when it is done: with the chain's slots paused (nothing lands), two batches are running at
// once, each with its transaction sent, and no third is opened. Once slots move, every reading is minted once.
import { Keypair } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount } from '@solana/spl-token';
import { eq, inArray } from 'drizzle-orm';
import { makeRpcClient } from '../../../src/chain/rpcClient.js';
import { loadIdl } from '../../../src/chain/energyToken.js';
import { explainTransactionError } from '../../../src/chain/programErrors.js';
import { batches, mintTransactions, readings } from '../../../src/db/schema.js';
import { makeBatchEvents } from '../../../src/minting/events.js';
import { rescue } from '../../../src/minting/rescue.js';
import { makeBatchRunner } from '../../../src/minting/runBatch.js';
import { startWorker } from '../../../src/minting/worker.js';
import { DATABASES, seedReadings, waitCompleted, waitFor, withChainAndDatabase, type TestDatabase } from '../../support/db.js';
import { ataOf } from '../../support/energyToken.js';
import { testEngine, testLog } from '../../support/engine.js';
import type { TestChain } from '../../support/localnet.js';

// Two readings per batch, of two recipients: one transaction per batch.
const defaults = { batchIntervalMs: 50, maxBatchSize: 2, maxAttempts: 5, backoffMs: 0 };

describe.each(DATABASES)('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  withChainAndDatabase(kind, open, { slotMs: 20 }, (c, d) => {
    chain = c;
    t = d;
  });

  it('claims a second batch while the first batch\'s transaction waits to land, and no third', async () => {
    if (!t || !chain.localnet) return;
    const db = t.database.db;
    const users = Array.from({ length: 6 }, () => Keypair.generate().publicKey);
    const ids = users.map((_, i) => `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`);
    await seedReadings(
      db,
      users.map((u, i) => ({ id: ids[i]!, meterId: 'm', userId: `u${i}`, walletAddress: u.toBase58(), kwhAmount: '1', tokensToMint: BigInt(100 + i), readingTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) })),
    );
    const { engine } = testEngine(chain);
    const events = makeBatchEvents(t.database);
    const runner = makeBatchRunner({ db, engine, log: testLog, defaults, leaseMs: 60_000, events });
    const rpc = makeRpcClient({ url: chain.url, timeoutMs: 2_000 });
    const policy = { maxAttempts: 5, backoffMs: 0 };
    chain.localnet.hooks.pauseSlots();
    const worker = startWorker({
      db,
      runner,
      rescue: () => rescue({ db, rpc, explain: explainTransactionError(loadIdl()), log: testLog, policy, events }),
      log: testLog,
      defaults,
      pipelineDepth: 2,
    });
    try {
      const running = async () => db.select().from(batches).where(eq(batches.state, 'running'));
      const sent = async () => db.select().from(mintTransactions).where(inArray(mintTransactions.status, ['sent']));
      // Both batches' transactions were sent while nothing can land: the second was claimed before the first confirmed.
      await waitFor(async () => (await sent()).length === 2, 30_000, 'two transactions sent with slots paused');
      expect((await running()).map((b) => b.totalReadings)).toEqual([2, 2]);
      expect(worker.state().openBatches).toBe(2);
      // The pipeline is full: the last two readings wait, unclaimed.
      const pending = await db.select({ id: readings.id }).from(readings).where(eq(readings.status, 'pending'));
      expect(pending).toHaveLength(2);
      expect(engine.inFlight.inFlight()).toBe(2);
    } finally {
      chain.localnet.hooks.resumeSlots();
    }
    try {
      await waitCompleted(db, ids, 60_000);
    } finally {
      await worker.stop();
    }
    for (const [i, u] of users.entries()) expect((await getAccount(chain.connection, ataOf(u), 'confirmed', TOKEN_2022_PROGRAM_ID)).amount).toBe(BigInt(100 + i));
    expect(await db.select().from(mintTransactions).where(eq(mintTransactions.status, 'confirmed'))).toHaveLength(3);
    expect(engine.inFlight.inFlight()).toBe(0);
  });
});
