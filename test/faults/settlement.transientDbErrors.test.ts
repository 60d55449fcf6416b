// Exactly once when the database falters for a moment: a transient failure (deadlock 40P01, connection
// failure 08006, admin shutdown 57P01), raised by the database itself at each write of the settlement path
// (recording the signed transaction, marking it sent, completing it, releasing failures), is retried by the
// worker that holds the claim. Nothing is minted twice (a failed completion never sends readings back to
// pending), nothing is lost, and the same worker settles everything without waiting out its lease (here a
// lease longer than the test, and no rescuer).
import { Keypair } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID } from '@solana/spl-token';
import { eq, inArray } from 'drizzle-orm';
import { mintTransactions, readings } from '../../src/db/schema.js';
import { makeBatchEvents } from '../../src/minting/events.js';
import { makeBatchRunner } from '../../src/minting/runBatch.js';
import { seedReadings, DATABASES, waitFor, withChainAndDatabase, type TestDatabase } from '../support/db.js';
import { clearFaults, injectFault, installFaultTriggers, WRITE_POINTS, type WritePoint } from '../support/dbFaults.js';
import { ataOf } from '../support/energyToken.js';
import { EXACTLY_ONCE, exactlyOnceVerdict } from '../support/ledger.js';
import { type TestChain } from '../support/localnet.js';
import { testLog, testEngine } from '../support/engine.js';

const CODES = ['40P01', '08006', '57P01'];
const CASES = (Object.keys(WRITE_POINTS) as WritePoint[]).flatMap((point) => CODES.map((code) => [point, code] as const));
const READINGS = Number(process.env.DB_FAULT_READINGS ?? 12);
const defaults = { batchIntervalMs: 50, maxBatchSize: 100, maxAttempts: 5, backoffMs: 60_000 };

describe.each(DATABASES)('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  withChainAndDatabase(kind, open, { slotMs: 20 }, async (c, d) => {
    chain = c;
    t = d;
    await installFaultTriggers(d.database.db);
  });

  let seq = 0;
  it.each(CASES)('a transient failure at "%s" (SQLSTATE %s), twice: 0 minted twice, 0 lost, settled by the same worker', async (point, code) => {
    if (!t || !chain.localnet) return;
    const db = t.database.db;
    const users = Array.from({ length: 4 }, () => Keypair.generate().publicKey);
    // A recipient whose token account is broken (uninitialised): it fails in simulation, alone, and is released.
    const broken = Keypair.generate().publicKey;
    chain.localnet.hooks.setAccount(ataOf(broken).toBase58(), { lamports: 2_074_080n, data: new Uint8Array(165), owner: TOKEN_2022_PROGRAM_ID.toBase58(), executable: false });
    const row = (wallet: string, tokens: bigint) => ({
      id: `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`,
      meterId: 'm',
      userId: wallet,
      walletAddress: wallet,
      kwhAmount: '1',
      tokensToMint: tokens,
      readingTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)),
    });
    const good = Array.from({ length: READINGS }, (_, i) => row(users[i % users.length]!.toBase58(), BigInt(1_000 + i)));
    const bad = row(broken.toBase58(), 7n);
    await seedReadings(db, [...good, bad]);

    const fault = await injectFault(db, point, code, 2);
    const { engine } = testEngine(chain);
    const runner = makeBatchRunner({ db, engine, log: testLog, defaults, leaseMs: 600_000, events: makeBatchEvents(t.database) });
    // `sent` is marked in the background, racing the confirmation: hold the chain still until its retries are made.
    if (point === 'sent') chain.localnet.hooks.pauseSlots();
    const batch = await runner.start('poll', null, [...good, bad].map((r) => r.id));
    if (point === 'sent') {
      await waitFor(async () => (await fault.attempts()) > 2, 30_000, 'the sent mark to be retried');
      chain.localnet.hooks.resumeSlots();
    }
    const summary = await batch.done;
    await clearFaults(db);

    expect(await fault.attempts()).toBeGreaterThan(2); // it fired twice, then a retry went through
    expect(summary.successful_mints).toBe(READINGS);
    const stored = await db.select().from(readings).where(inArray(readings.id, [...good, bad].map((r) => r.id)));
    // Settled by the worker that held the claim: nothing is left processing for a rescuer.
    expect(stored.filter((r) => r.status === 'processing')).toEqual([]);
    expect(stored.find((r) => r.id === bad.id)).toMatchObject({ status: 'pending', txSignature: null });
    expect(await exactlyOnceVerdict(db, chain.url, good.map((r) => r.id))).toEqual(EXACTLY_ONCE);
    // The ledger agrees: each transaction that carried these readings ended (none left signed or sent).
    const signatures = [...new Set(stored.map((r) => r.txSignature).filter((s): s is string => s !== null))];
    const txs = await db.select().from(mintTransactions).where(inArray(mintTransactions.signature, signatures));
    expect(txs.map((x) => x.status)).toEqual(signatures.map(() => 'confirmed'));
    const [first] = await db.select().from(readings).where(eq(readings.id, good[0]!.id));
    expect(first!.attempts).toBe(1); // a database failure cost no reading an attempt
  });
});
