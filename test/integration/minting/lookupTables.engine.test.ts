// The engine with the service's lookup tables, through the batch runner on the local chain and Postgres:
// recipients seen for the first time go as legacy transactions; once minted to LOOKUP_TABLE_MIN_MINTS times
// they are added to a table after their batch; the next batch is planned as fewer v0 transactions, each
// recorded before its send and landed once, every balance exactly the sum of its readings.
import { randomUUID } from 'node:crypto';
import { Keypair, PublicKey, VersionedTransaction } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount } from '@solana/spl-token';
import { and, arrayOverlaps, eq, inArray } from 'drizzle-orm';
import { makeLookupTables } from '../../../src/chain/lookupTables.js';
import { makeRpcClient } from '../../../src/chain/rpcClient.js';
import { makeLookupTableStore, mintCounts } from '../../../src/db/lookupTables.js';
import { mintTransactions, readings } from '../../../src/db/schema.js';
import { makeBatchEvents } from '../../../src/minting/events.js';
import { makeBatchRunner } from '../../../src/minting/runBatch.js';
import { DATABASES, seedReadings, withChainAndDatabase, type TestDatabase } from '../../support/db.js';
import { ataOf, authority, MINT, TOKEN_INFO } from '../../support/energyToken.js';
import { testEngine, testLog } from '../../support/engine.js';
import type { TestChain } from '../../support/localnet.js';

const RECIPIENTS = 40;
const TOKENS = 1_000_000_003n;

describe.each(DATABASES.filter(([kind]) => kind === 'postgres'))('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  withChainAndDatabase(kind, open, { slotMs: 50 }, (c, d) => {
    chain = c;
    t = d;
  });

  it('adds recipients minted to twice to a table, then mints to them in fewer v0 transactions, each reading once', async () => {
    if (!t) return;
    const db = t.database.db;
    const tables = makeLookupTables({
      rpc: makeRpcClient({ url: chain.url, timeoutMs: 2_000 }),
      authority: authority(),
      log: testLog,
      store: makeLookupTableStore(t.database),
      send: { pollMs: 25, rebroadcastMs: 500, followTimeoutMs: 30_000 },
      shared: { tokenInfo: TOKEN_INFO, mint: MINT },
    });
    const { engine } = testEngine(chain, { lookupTables: { tables, minMints: 2, mintCounts: (w) => mintCounts(db, w) } });
    const runner = makeBatchRunner({
      db,
      engine,
      log: testLog,
      defaults: { batchIntervalMs: 50, maxBatchSize: 100, maxAttempts: 5, backoffMs: 0 },
      leaseMs: 30_000,
      events: makeBatchEvents(t.database),
    });
    const wallets = Array.from({ length: RECIPIENTS }, () => Keypair.generate().publicKey.toBase58());

    /** One reading per wallet, minted in one batch: the batch's transactions, as recorded before their sends. */
    async function round(n: number) {
      const rows = wallets.map((walletAddress, i) => ({
        id: randomUUID(),
        meterId: `alt-${i}`,
        userId: `u${i}`,
        walletAddress,
        kwhAmount: '1',
        tokensToMint: TOKENS,
        readingTimestamp: new Date(Date.UTC(2026, 0, 1, n)),
      }));
      await seedReadings(db, rows);
      const summary = await (await runner.start('poll', null)).done;
      // Table upkeep runs beside minting: wait for what this batch handed it before the next plans.
      await engine.tablesSettled();
      expect(summary.total_readings).toBe(RECIPIENTS);
      const done = await db.select().from(readings).where(and(inArray(readings.id, rows.map((r) => r.id)), eq(readings.status, 'completed')));
      expect(done).toHaveLength(RECIPIENTS);
      // Every transaction was recorded (the runner's onSigned) before its send; here they are, all confirmed.
      const txs = await db.select().from(mintTransactions).where(arrayOverlaps(mintTransactions.readingIds, rows.map((r) => r.id)));
      expect(txs.map((tx) => tx.status)).toEqual(txs.map(() => 'confirmed'));
      expect(new Set(done.map((r) => r.txSignature))).toEqual(new Set(txs.map((tx) => tx.signature)));
      return txs.map((tx) => VersionedTransaction.deserialize(tx.raw).version);
    }

    // First mint: token accounts are created (7 recipients a transaction on energy_token 0.1.1), no recipient
    // qualifies yet, nothing goes into a table.
    expect(await round(1)).toEqual(['legacy', 'legacy', 'legacy', 'legacy', 'legacy', 'legacy']);
    expect(tables.tables()).toHaveLength(0);
    // Second mint: still legacy (nothing in a table while planning); after it, all 40 qualify.
    expect(await round(2)).toEqual(['legacy', 'legacy', 'legacy', 'legacy']); // 13 a transaction
    expect(tables.lookupsFor(wallets).ata.size).toBe(RECIPIENTS);
    // Third mint: 40 recipients in two v0 transactions (31 + 9) instead of four legacy ones.
    expect(await round(3)).toEqual([0, 0]);

    for (const w of wallets) {
      const account = await getAccount(chain.connection, ataOf(new PublicKey(w)), 'confirmed', TOKEN_2022_PROGRAM_ID);
      expect(account.amount).toBe(3n * TOKENS);
    }
  });
});
