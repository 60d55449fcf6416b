// The daily fee budget (MAX_FEE_LAMPORTS_PER_DAY): each transaction's whole fee (every signature and the
// priority fee) is reserved in Postgres before it is recorded and sent; past the budget, its readings wait for
// the next UTC day, nothing failed and no attempt counted. Two workers reserving at once never spend more than
// the budget between them, and the readings that waited are minted once the day turns (an injected clock turns
// it, not a wait). Real Postgres server and PGlite, on the local chain.
import { randomUUID } from 'node:crypto';
import { Keypair } from '@solana/web3.js';
import { inArray } from 'drizzle-orm';
import { feeBudget, mintTransactions, readings } from '../../../src/db/schema.js';
import { makeBatchEvents } from '../../../src/minting/events.js';
import { RUNTIME_LIMITS } from '../../../src/minting/optimizeBatch.js';
import { feeLeftToday, reserveFee } from '../../../src/minting/repo.js';
import { makeBatchRunner } from '../../../src/minting/runBatch.js';
import { DATABASES, seedReadings, withChainAndDatabase, type TestDatabase } from '../../support/db.js';
import { type TestChain } from '../../support/localnet.js';
import { testEngine, testLog } from '../../support/engine.js';
import { authority, MINT, TOKEN_INFO } from '../../support/energyToken.js';
import { makeLookupTables } from '../../../src/chain/lookupTables.js';
import { makeRpcClient } from '../../../src/chain/rpcClient.js';
import { makeLookupTableStore } from '../../../src/db/lookupTables.js';

const defaults = { batchIntervalMs: 50, maxBatchSize: 5, maxAttempts: 5, backoffMs: 0 };
const DAY = 86_400_000;

describe.each(DATABASES)('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  withChainAndDatabase(kind, open, { slotMs: 20 }, (c, d) => {
    chain = c;
    t = d;
  });

  it('two workers, ten one-reading transactions, a budget of three a day: never over-spent; the rest minted as the days turn', async () => {
    if (!t) return;
    const db = t.database.db;
    // The clock the budget counts days by: noon of a fixed day, moved a day at a time below.
    let now = Date.UTC(2026, 5, 1, 12);
    const clock = () => new Date(now);
    const runner = () => {
      // One recipient per transaction, so that each reading is a transaction of its own.
      const { engine } = testEngine(chain, {
        limits: { ...RUNTIME_LIMITS, maxTokensPerInstruction: 10n ** 12n, usersPerTx: 1 },
        reserveFee: (lamports) => reserveFee(db, lamports, budget, clock()),
      });
      return makeBatchRunner({ db, engine, log: testLog, defaults, leaseMs: 10_000, events: makeBatchEvents(t!.database) });
    };
    // What one transaction costs here: two signatures (authority and REC validator), no priority fee on the local chain.
    const perTransaction = 10_000n;
    const budget = 3n * perTransaction + perTransaction / 2n;
    const rows = Array.from({ length: 10 }, (_, i) => ({
      id: randomUUID(),
      meterId: `fee-${kind}-${i}`,
      userId: `u${i}`,
      walletAddress: Keypair.generate().publicKey.toBase58(),
      kwhAmount: '1',
      tokensToMint: 1_000n,
      readingTimestamp: new Date(Date.UTC(2026, 0, 1, 0, i)),
    }));
    await seedReadings(db, rows);
    const [a, b] = [runner(), runner()];
    const ids = rows.map((r) => r.id);
    const stored = () => db.select().from(readings).where(inArray(readings.id, ids));

    let days = 0;
    for (;;) {
      await Promise.all([a.start('poll', null), b.start('poll', null)].map(async (s) => (await s).done));
      days++;
      const now_ = await stored();
      expect(now_.filter((r) => r.status === 'failed')).toEqual([]);
      // What the chain charged for every transaction sent so far, against what was reserved day by day.
      const sent = await db.select().from(mintTransactions);
      const fees = await Promise.all(sent.map((tx) => chain.connection.getTransaction(tx.signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 }).then((x) => BigInt(x!.meta!.fee))));
      const charged = fees.reduce((s, f) => s + f, 0n);
      const reserved = (await db.select().from(feeBudget)).reduce((s, d) => s + d.reserved, 0n);
      expect(charged).toBe(reserved);
      for (const d of await db.select().from(feeBudget)) expect(d.reserved).toBeLessThanOrEqual(budget);
      expect(fees.every((f) => f === perTransaction)).toBe(true);
      const waiting = now_.filter((r) => r.status === 'pending');
      for (const r of waiting) {
        expect(r).toMatchObject({ attempts: 0, txSignature: null });
        expect(r.lastError).toMatch(/waiting for the fee budget \(MAX_FEE_LAMPORTS_PER_DAY\) until the next UTC midnight/);
      }
      expect(now_.filter((r) => r.status === 'completed')).toHaveLength(Math.min(10, days * 3));
      if (waiting.length === 0) break;
      expect(await feeLeftToday(db, budget, clock())).toBe(budget - 3n * perTransaction);
      // The day turns: the budget is new, and the waiting readings are due (as at the real midnight).
      now += DAY;
      expect(await feeLeftToday(db, budget, clock())).toBe(budget);
      await db.update(readings).set({ nextAttemptAt: new Date(0) }).where(inArray(readings.id, waiting.map((r) => r.id)));
    }
    expect(days).toBe(4);
  });

  it('the lookup tables\' own transactions are bounded by the same budget: refused, nothing more is signed', async () => {
    if (!t) return;
    const db = t.database.db;
    const at = new Date(Date.UTC(2027, 0, 1, 12)); // a day of its own
    const budget = 7_000n; // one table transaction (5,000 lamports), not two
    const tables = makeLookupTables({
      rpc: makeRpcClient({ url: chain.url, timeoutMs: 2_000 }),
      authority: authority(),
      log: testLog,
      store: makeLookupTableStore(t.database),
      send: { pollMs: 25, rebroadcastMs: 500, followTimeoutMs: 60_000 },
      shared: { tokenInfo: TOKEN_INFO, mint: MINT },
      reserveFee: (lamports) => reserveFee(db, lamports, budget, at),
    });
    // Creating the table fits; extending it with the recipients does not.
    await expect(tables.addRecipients([Keypair.generate().publicKey.toBase58()])).rejects.toThrow(/fee budget for today \(MAX_FEE_LAMPORTS_PER_DAY\) is spent/);
    expect(await feeLeftToday(db, budget, at)).toBe(budget - 5_000n);
    expect(tables.tables()).toHaveLength(1);
  });
});
