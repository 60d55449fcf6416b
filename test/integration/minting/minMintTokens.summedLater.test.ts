// MIN_MINT_TOKENS: one mint instruction carrying a few base units costs a whole transaction's fee. A wallet's
// readings summing to less wait (pending, no attempt counted, the reason in last_error) to be summed with its
// later ones: once together they reach the minimum they are all due at once and minted in one instruction; a
// reading that has waited MAX_MINT_WAIT_MINUTES is minted as it is. Real Postgres server and PGlite, local chain.
import { randomUUID } from 'node:crypto';
import { Keypair, type PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount } from '@solana/spl-token';
import { inArray } from 'drizzle-orm';
import { mintTransactions, readings } from '../../../src/db/schema.js';
import { makeBatchEvents } from '../../../src/minting/events.js';
import { makeBatchRunner } from '../../../src/minting/runBatch.js';
import { DATABASES, seedReadings, withChainAndDatabase, type TestDatabase } from '../../support/db.js';
import { ataOf } from '../../support/energyToken.js';
import { type TestChain } from '../../support/localnet.js';
import { testEngine, testLog } from '../../support/engine.js';

const defaults = { batchIntervalMs: 50, maxBatchSize: 50, maxAttempts: 5, backoffMs: 0 };
const MIN = 100n;
const WAIT_MS = 60 * 60_000;

describe.each(DATABASES)('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  withChainAndDatabase(kind, open, { slotMs: 20 }, (c, d) => {
    chain = c;
    t = d;
  });
  const balance = (w: PublicKey) => getAccount(chain.connection, ataOf(w), 'confirmed', TOKEN_2022_PROGRAM_ID).then((a) => a.amount, () => 0n);
  let minute = 0;
  const seed = async (wallet: PublicKey, tokens: bigint) => {
    const id = randomUUID();
    await seedReadings(t!.database.db, [{ id, meterId: `min-${kind}-${wallet.toBase58().slice(0, 8)}`, userId: 'u', walletAddress: wallet.toBase58(), kwhAmount: '1', tokensToMint: tokens, readingTimestamp: new Date(Date.UTC(2026, 0, 1, 0, ++minute)) }]);
    return id;
  };

  it('small readings wait for their wallet\'s later ones, then go as one mint; a reading that waited long enough goes alone', async () => {
    if (!t) return;
    const db = t.database.db;
    let now = Date.now();
    const { engine } = testEngine(chain);
    const runner = makeBatchRunner({ db, engine, log: testLog, defaults, leaseMs: 10_000, events: makeBatchEvents(t.database), minMint: { tokens: MIN, maxWaitMs: WAIT_MS }, now: () => now });
    const run = async () => (await runner.start('poll', null)).done;
    const rowsOf = async (ids: string[]) => db.select().from(readings).where(inArray(readings.id, ids));
    const wallet = Keypair.generate().publicKey;

    const a = await seed(wallet, 30n);
    expect(await run()).toMatchObject({ total_readings: 1, successful_mints: 0, failed_mints: 0, deferred: 1 });
    const [heldA] = await rowsOf([a]);
    expect(heldA).toMatchObject({ status: 'pending', attempts: 0 });
    expect(heldA!.lastError).toMatch(/^waiting to be summed with later readings of its wallet: 30 base units is below MIN_MINT_TOKENS/);
    // It waits at most MAX_MINT_WAIT_MINUTES from when it was accepted.
    expect(heldA!.nextAttemptAt.getTime()).toBe(heldA!.createdAt.getTime() + WAIT_MS);

    const b = await seed(wallet, 40n);
    expect(await run()).toMatchObject({ total_readings: 1, deferred: 1 });
    const [heldB] = await rowsOf([b]);
    // 70 together: still short; B waits with A, until A is due.
    expect(heldB).toMatchObject({ status: 'pending', attempts: 0 });
    expect(heldB!.nextAttemptAt.getTime()).toBe(heldA!.nextAttemptAt.getTime());
    expect(await db.select().from(mintTransactions)).toHaveLength(0); // nothing signed for them yet

    // A reading of the same wallet backing off after a failure (an attempt spent) is not one held for the sum:
    // it keeps its back-off when the held ones are released.
    const backingOff = await seed(wallet, 1_000n);
    const later = new Date(Date.now() + 3_600_000);
    await db.update(readings).set({ attempts: 1, nextAttemptAt: later, lastError: 'failed once' }).where(inArray(readings.id, [backingOff]));
    const c = await seed(wallet, 50n);
    await run(); // 120 with A and B: all due now
    expect((await rowsOf([a, b, c])).every((r) => r.status === 'pending' && r.nextAttemptAt.getTime() <= Date.now() && r.attempts === 0)).toBe(true);
    expect((await rowsOf([backingOff]))[0]!.nextAttemptAt.getTime()).toBe(later.getTime());
    expect(await run()).toMatchObject({ total_readings: 3, successful_mints: 3, deferred: 0 });
    const done = await rowsOf([a, b, c]);
    expect(done.every((r) => r.status === 'completed' && r.attempts === 1)).toBe(true);
    expect(new Set(done.map((r) => r.txSignature)).size).toBe(1); // one transaction
    expect(await db.select().from(mintTransactions)).toHaveLength(1);
    expect(await balance(wallet)).toBe(120n);

    // A lone small reading that has waited MAX_MINT_WAIT_MINUTES is minted as it is.
    const lone = Keypair.generate().publicKey;
    const d = await seed(lone, 10n);
    expect(await run()).toMatchObject({ deferred: 1 });
    now = Date.now() + WAIT_MS + 60_000; // well past its deadline, whenever it was accepted
    await db.update(readings).set({ nextAttemptAt: new Date(0) }).where(inArray(readings.id, [d]));
    expect(await run()).toMatchObject({ total_readings: 1, successful_mints: 1 });
    expect(await balance(lone)).toBe(10n);
  });
});
