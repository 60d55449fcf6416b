// The rent budget (MAX_NEW_TOKEN_ACCOUNTS_PER_DAY): new token accounts are reserved in Postgres before
// anything is signed; past the budget, readings that need one wait until the next UTC midnight with no
// attempt counted and nothing failed, behind the rest of the queue. Two workers reserving at once never
// pass the budget together. Real Postgres server and PGlite, on the local chain.
import { randomUUID } from 'node:crypto';
import { Keypair, PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount } from '@solana/spl-token';
import { eq, inArray } from 'drizzle-orm';
import { mintTransactions, readings, tokenAccountBudget } from '../../../src/db/schema.js';
import { makeBatchEvents } from '../../../src/minting/events.js';
import { anythingClaimable, reserveTokenAccounts, tokenAccountsLeftToday } from '../../../src/minting/repo.js';
import { makeBatchRunner } from '../../../src/minting/runBatch.js';
import { DATABASES, seedReadings, withChainAndDatabase, type TestDatabase } from '../../support/db.js';
import { ataOf } from '../../support/energyToken.js';
import { type TestChain } from '../../support/localnet.js';
import { testLog, testEngine } from '../../support/engine.js';

const BUDGET = 3;
const defaults = { batchIntervalMs: 50, maxBatchSize: 5, maxAttempts: 5, backoffMs: 0 };

describe.each(DATABASES)('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  withChainAndDatabase(kind, open, { slotMs: 20 }, (c, d) => {
    chain = c;
    t = d;
  });
  const accountExists = (wallet: string) => getAccount(chain.connection, ataOf(new PublicKey(wallet)), 'confirmed', TOKEN_2022_PROGRAM_ID).then(() => true, () => false);
  const runner = () => {
    const db = t!.database.db;
    const { engine, signed } = testEngine(chain, { reserveTokenAccounts: (wallets) => reserveTokenAccounts(db, wallets, BUDGET) });
    return { signed, runner: makeBatchRunner({ db, engine, log: testLog, defaults, leaseMs: 10_000, events: makeBatchEvents(t!.database) }) };
  };

  it(`budget ${BUDGET}, ten new wallets, two workers at once: ${BUDGET} accounts made, the rest wait for the next UTC midnight, nothing failed`, async () => {
    if (!t) return;
    const db = t.database.db;
    const wallets = Array.from({ length: 10 }, () => Keypair.generate().publicKey.toBase58());
    const rows = wallets.map((walletAddress, i) => ({ id: randomUUID(), meterId: `budget-${i}`, userId: `u${i}`, walletAddress, kwhAmount: '1', tokensToMint: 1_000_000_000n, readingTimestamp: new Date(Date.UTC(2026, 0, 1)) }));
    await seedReadings(db, rows);
    const [a, b] = [runner(), runner()];
    const summaries = await Promise.all([a.runner.start('poll', null), b.runner.start('poll', null)].map(async (s) => (await s).done));
    expect(summaries.map((s) => s.total_readings).sort()).toEqual([5, 5]); // each worker claimed its half

    const stored = await db.select().from(readings).where(inArray(readings.id, rows.map((r) => r.id)));
    const done = stored.filter((r) => r.status === 'completed');
    const waiting = stored.filter((r) => r.status !== 'completed');
    expect(done).toHaveLength(BUDGET);
    expect(stored.filter((r) => r.status === 'failed')).toEqual([]);
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    for (const r of waiting) {
      expect(r).toMatchObject({ status: 'pending', attempts: 0, txSignature: null, claimToken: null });
      expect(r.nextAttemptAt.getTime()).toBe(midnight.getTime());
      expect(r.lastError).toMatch(/MAX_NEW_TOKEN_ACCOUNTS_PER_DAY/);
    }
    // Nothing was signed for a waiting reading, and exactly the granted wallets got accounts.
    const carried = new Set([...a.signed, ...b.signed].flatMap((s) => s.readingIds));
    expect(waiting.filter((r) => carried.has(r.id))).toEqual([]);
    const made = await Promise.all(wallets.map(accountExists));
    expect(made.filter(Boolean)).toHaveLength(BUDGET);
    expect(done.every((r) => made[wallets.indexOf(r.walletAddress)])).toBe(true);
    expect(await db.select().from(tokenAccountBudget)).toEqual([expect.objectContaining({ reserved: BUDGET })]);
    expect(await tokenAccountsLeftToday(db, BUDGET)).toBe(0);
    // They wait behind the queue: nothing is claimable now.
    expect(await anythingClaimable(db)).toBe(false);
  });

  it('with the budget spent, a wallet that has its account is still minted; a new one still waits', async () => {
    if (!t) return;
    const db = t.database.db;
    const [minted] = await db.select().from(readings).where(eq(readings.status, 'completed')).limit(1);
    const fresh = Keypair.generate().publicKey.toBase58();
    const more = [
      { id: randomUUID(), meterId: 'budget-again', userId: minted!.userId, walletAddress: minted!.walletAddress, kwhAmount: '1', tokensToMint: 7n, readingTimestamp: new Date(Date.UTC(2026, 0, 2)) },
      { id: randomUUID(), meterId: 'budget-new', userId: 'new', walletAddress: fresh, kwhAmount: '1', tokensToMint: 7n, readingTimestamp: new Date(Date.UTC(2026, 0, 2)) },
    ];
    await seedReadings(db, more);
    const { runner: r } = runner();
    await (await r.start('poll', null)).done;
    const after = await db.select().from(readings).where(inArray(readings.id, more.map((m) => m.id)));
    expect(Object.fromEntries(after.map((x) => [x.meterId, x.status]))).toEqual({ 'budget-again': 'completed', 'budget-new': 'pending' });
    expect(await accountExists(fresh)).toBe(false);
    expect(await db.select().from(mintTransactions).where(eq(mintTransactions.status, 'failed'))).toEqual([]);
  });
});
