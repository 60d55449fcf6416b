// energy_token 0.1.1 mints only with a registered REC validator's co-signature. When the governance authority
// removes the service's validator, its mints fail with RecValidatorNotFound (6008): that is the service's key
// at fault, not the readings', so they wait (pending, no attempt lost, the reason in last_error) and nothing
// is failed; whether the refusal came from the simulation or from a transaction that landed (a batch of known
// recipients is sized without simulating). Once the validator is registered again the same readings mint,
// exactly once. Real Postgres server and PGlite, on the local chain.
import { randomUUID } from 'node:crypto';
import { Keypair, PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount } from '@solana/spl-token';
import { inArray } from 'drizzle-orm';
import { mintTransactions, readings } from '../../../src/db/schema.js';
import { makeBatchEvents } from '../../../src/minting/events.js';
import { makeBatchRunner } from '../../../src/minting/runBatch.js';
import { DATABASES, seedReadings, withChainAndDatabase, type TestDatabase } from '../../support/db.js';
import { ataOf } from '../../support/energyToken.js';
import { type TestChain } from '../../support/localnet.js';
import { recValidator, testEngine, testLog } from '../../support/engine.js';
import { addRecValidator, registeredValidators, removeRecValidator } from '../../support/recValidators.js';

const BACKOFF_MS = 60_000;

/** `read()` again until `done` holds of its answer (at most 10 s). */
async function until<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}
const defaults = { batchIntervalMs: 50, maxBatchSize: 50, maxAttempts: 5, backoffMs: BACKOFF_MS };

describe.each(DATABASES)('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  withChainAndDatabase(kind, open, { slotMs: 20 }, (c, d) => {
    chain = c;
    t = d;
  });
  const balance = (wallet: string) => getAccount(chain.connection, ataOf(new PublicKey(wallet)), 'confirmed', TOKEN_2022_PROGRAM_ID).then((a) => a.amount, () => 0n);
  const seed = async (wallets: string[], tokens: bigint) => {
    const rows = wallets.map((walletAddress, i) => ({ id: randomUUID(), meterId: `rv-${kind}-${randomUUID()}`, userId: `u${i}`, walletAddress, kwhAmount: '1', tokensToMint: tokens, readingTimestamp: new Date(Date.UTC(2026, 0, 1, 0, i)) }));
    await seedReadings(t!.database.db, rows);
    return rows.map((r) => r.id);
  };
  const rows = (ids: string[]) => t!.database.db.select().from(readings).where(inArray(readings.id, ids));

  it('a validator removed: readings wait with the reason, no attempt lost, nothing failed; registered again: minted once', async () => {
    if (!t) return;
    const db = t.database.db;
    const validator = recValidator().publicKey;
    const wallets = Array.from({ length: 3 }, () => Keypair.generate().publicKey.toBase58());
    let refusals = 0;
    const { engine } = testEngine(chain, { onCoSignerRefused: () => void refusals++ });
    // The transactions recorded (signed and sent), from the ledger the runner keeps.
    const ledger = () => db.select().from(mintTransactions);
    const runner = makeBatchRunner({ db, engine, log: testLog, defaults, leaseMs: 10_000, events: makeBatchEvents(t.database) });

    // Minted twice while registered: the recipients' token accounts now exist, and the second (simulated, no
    // account created) measured a mint, so later transactions to them are sized without simulating.
    for (const tokens of [5n, 5n]) {
      const ids = await seed(wallets, tokens);
      await (await runner.start('poll', null)).done;
      expect((await rows(ids)).map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    }

    await removeRecValidator(chain.connection, validator);
    expect(await registeredValidators(chain.connection)).not.toContain(validator.toBase58());

    // Known recipients: the engine builds without simulating, so the refusal comes from a transaction that landed.
    const second = await seed(wallets, 7n);
    const before = (await ledger()).length;
    const summary = await (await runner.start('poll', null)).done;
    expect(summary).toMatchObject({ total_readings: 3, successful_mints: 0, failed_mints: 0, deferred: 3 });
    // The one unsimulated transaction, refused on chain (its status is written beside the batch: wait for it).
    expect(await ledger()).toHaveLength(before + 1);
    const refused = await until(async () => (await ledger()).filter((tx) => tx.status === 'failed'), (f) => f.length === 1);
    expect(refused[0]!.error).toMatch(/RecValidatorNotFound/);
    const waiting = await rows(second);
    for (const r of waiting) {
      // Its transaction landed and failed: no signature of it stays in flight for a lease's rescue to follow.
      expect(r).toMatchObject({ status: 'pending', attempts: 0, claimToken: null, txSignature: null });
      expect(r.lastError).toMatch(/waiting for a registered REC validator \(REC_VALIDATOR_KEYPAIR_PATH\).*RecValidatorNotFound \(custom error 6008\)/);
      expect(r.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() + BACKOFF_MS / 2);
    }
    expect(refusals).toBe(1);
    expect(await Promise.all(wallets.map(balance))).toEqual([10n, 10n, 10n]);

    // A new recipient is simulated first: refused there, nothing signed.
    const stranger = await seed([Keypair.generate().publicKey.toBase58()], 3n);
    const recorded = (await ledger()).length;
    const alone = await (await runner.start('poll', null)).done;
    expect(alone).toMatchObject({ total_readings: 1, successful_mints: 0, failed_mints: 0, deferred: 1 });
    expect(await ledger()).toHaveLength(recorded);
    expect((await rows(stranger))[0]).toMatchObject({ status: 'pending', attempts: 0 });
    expect(refusals).toBe(2);

    // Registered again: the waiting readings go again (their wait cut short here) and mint exactly once.
    await addRecValidator(chain.connection, validator);
    await db.update(readings).set({ nextAttemptAt: new Date(0) }).where(inArray(readings.id, [...second, ...stranger]));
    const resumed = await (await runner.start('poll', null)).done;
    expect(resumed).toMatchObject({ total_readings: 4, successful_mints: 4, failed_mints: 0, deferred: 0 });
    expect((await rows([...second, ...stranger])).every((r) => r.status === 'completed' && r.attempts === 1)).toBe(true);
    expect(await Promise.all(wallets.map(balance))).toEqual([17n, 17n, 17n]);
  });
});
