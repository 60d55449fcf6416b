// The engine's knowledge that a wallet has a token account is a hint, not a fact: an owner may burn their
// tokens and close the account at any time. The next reading for that wallet must not fail on the stale hint:
// the engine checks the chain, creates the account again (within the rent budget) and mints, without a restart
// and without costing the reading an attempt. A frozen account is nothing the service can fix: its reading
// fails with the reason in words. Real Postgres server and PGlite, on the local chain.
import { randomUUID } from 'node:crypto';
import { Keypair, type PublicKey, Transaction } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, createBurnInstruction, createCloseAccountInstruction, getAccount } from '@solana/spl-token';
import { inArray } from 'drizzle-orm';
import { readings, tokenAccountBudget } from '../../../src/db/schema.js';
import { boundedSet } from '../../../src/minting/engine.js';
import { makeBatchEvents } from '../../../src/minting/events.js';
import { reserveTokenAccounts } from '../../../src/minting/repo.js';
import { makeBatchRunner } from '../../../src/minting/runBatch.js';
import { DATABASES, seedReadings, withChainAndDatabase, type TestDatabase } from '../../support/db.js';
import { ataOf, authority, MINT } from '../../support/energyToken.js';
import { hooksOrSkip, type TestChain } from '../../support/localnet.js';
import { testEngine, testLog } from '../../support/engine.js';

const defaults = { batchIntervalMs: 50, maxBatchSize: 50, maxAttempts: 5, backoffMs: 0 };

describe.each(DATABASES)('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  withChainAndDatabase(kind, open, { slotMs: 20 }, (c, d) => {
    chain = c;
    t = d;
  });
  const balance = (owner: PublicKey) => getAccount(chain.connection, ataOf(owner), 'confirmed', TOKEN_2022_PROGRAM_ID).then((a) => a.amount, () => null);
  const seed = async (owner: PublicKey, tokens: bigint) => {
    const id = randomUUID();
    await seedReadings(t!.database.db, [{ id, meterId: `closed-${kind}-${id}`, userId: 'u', walletAddress: owner.toBase58(), kwhAmount: '1', tokensToMint: tokens, readingTimestamp: new Date() }]);
    return id;
  };
  const row = async (id: string) => (await t!.database.db.select().from(readings).where(inArray(readings.id, [id])))[0]!;

  /** The owner burns what it holds and closes its token account (the rent goes back to the owner). */
  async function closeAsOwner(owner: Keypair): Promise<void> {
    const ata = ataOf(owner.publicKey);
    const held = (await getAccount(chain.connection, ata, 'confirmed', TOKEN_2022_PROGRAM_ID)).amount;
    const { blockhash, lastValidBlockHeight } = await chain.connection.getLatestBlockhash('confirmed');
    const tx = new Transaction({ feePayer: authority().publicKey, blockhash, lastValidBlockHeight }).add(
      createBurnInstruction(ata, MINT, owner.publicKey, held, [], TOKEN_2022_PROGRAM_ID),
      createCloseAccountInstruction(ata, owner.publicKey, owner.publicKey, [], TOKEN_2022_PROGRAM_ID),
    );
    tx.sign(authority(), owner);
    const signature = await chain.connection.sendRawTransaction(tx.serialize());
    const res = await chain.connection.confirmTransaction({ signature, blockhash, lastValidBlockHeight }, 'confirmed');
    expect(res.value.err).toBeNull();
    expect(await balance(owner.publicKey)).toBeNull();
  }

  it('a token account closed by its owner is created again and the next reading minted to it, no restart, no attempt lost', async () => {
    if (!t) return;
    const db = t.database.db;
    const owner = Keypair.generate();
    const { engine } = testEngine(chain, { reserveTokenAccounts: (wallets) => reserveTokenAccounts(db, wallets, 1_000) });
    const runner = makeBatchRunner({ db, engine, log: testLog, defaults, leaseMs: 10_000, events: makeBatchEvents(t.database) });

    // Twice, so the engine knows the account and has sized a mint to it: the next one goes unsimulated.
    for (const tokens of [5n, 6n]) {
      const id = await seed(owner.publicKey, tokens);
      await (await runner.start('poll', null)).done;
      expect((await row(id)).status).toBe('completed');
    }
    expect(await balance(owner.publicKey)).toBe(11n);
    await closeAsOwner(owner);
    const [budgetBefore] = await db.select().from(tokenAccountBudget);

    const next = await seed(owner.publicKey, 7n);
    const summary = await (await runner.start('poll', null)).done;
    expect(summary).toMatchObject({ total_readings: 1, successful_mints: 1, failed_mints: 0 });
    expect(await row(next)).toMatchObject({ status: 'completed', attempts: 1, lastError: null });
    expect(await balance(owner.publicKey)).toBe(7n);
    // The account made again was counted against the rent budget like any new one.
    const [budgetAfter] = await db.select().from(tokenAccountBudget);
    expect(budgetAfter!.reserved).toBe(budgetBefore!.reserved + 1);

    // And again, without a token account known or not: the engine goes on minting to it.
    const last = await seed(owner.publicKey, 1n);
    await (await runner.start('poll', null)).done;
    expect((await row(last)).status).toBe('completed');
    expect(await balance(owner.publicKey)).toBe(8n);
  });

  it('a frozen token account: the reading fails, saying so in words', async () => {
    if (!t) return;
    const local = hooksOrSkip(chain, 'a frozen token account');
    if (!local) return;
    const db = t.database.db;
    const owner = Keypair.generate();
    const { engine } = testEngine(chain);
    const runner = makeBatchRunner({ db, engine, log: testLog, defaults: { ...defaults, maxAttempts: 1 }, leaseMs: 10_000, events: makeBatchEvents(t.database) });
    const first = await seed(owner.publicKey, 5n);
    await (await runner.start('poll', null)).done;
    expect((await row(first)).status).toBe('completed');
    // Frozen, as its mint's freeze authority would leave it (the state byte of spl-token's layout).
    const acc = (await chain.connection.getAccountInfo(ataOf(owner.publicKey), 'confirmed'))!;
    const data = Buffer.from(acc.data);
    data[108] = 2;
    local.hooks.setAccount(ataOf(owner.publicKey).toBase58(), { lamports: BigInt(acc.lamports), data, owner: TOKEN_2022_PROGRAM_ID.toBase58(), executable: false });

    const frozen = await seed(owner.publicKey, 5n);
    await (await runner.start('poll', null)).done;
    const r = await row(frozen);
    expect(r.status).toBe('failed');
    expect(r.lastError).toMatch(/^the owner's token account \S+ is frozen: nothing can be minted to it/);
  });
});

it('the engine\'s memory of token accounts is bounded: past its size the oldest is forgotten (and read again when needed)', () => {
  const known = boundedSet(3);
  for (const w of ['a', 'b', 'c', 'd']) known.add(w);
  expect(known.size).toBe(3);
  expect(['a', 'b', 'c', 'd'].map((w) => known.has(w))).toEqual([false, true, true, true]);
  known.add('b'); // used again: now the newest
  known.add('e');
  expect(['b', 'c', 'd', 'e'].map((w) => known.has(w))).toEqual([true, false, true, true]);
});
