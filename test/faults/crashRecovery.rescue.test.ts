// A claimer that dies between signing and confirming leaves its transactions recorded; the rescuer
// settles them by signature: landed → completed, provably expired → back to pending (then minted once).
// Balances on chain end equal to the sums of the readings; nothing is minted twice or lost.
import { Keypair } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount } from '@solana/spl-token';
import { and, eq } from 'drizzle-orm';
import { makeRpcClient } from '../../src/chain/rpcClient.js';
import { loadIdl } from '../../src/chain/energyToken.js';
import { explainTransactionError } from '../../src/chain/programErrors.js';
import { batches, readings as readingsTable, mintTransactions } from '../../src/db/schema.js';
import { insertReadings } from '../../src/readings/repo.js';
import { makeBatchRunner } from '../../src/minting/runBatch.js';
import { makeBatchEvents } from '../../src/minting/events.js';
import { rescue } from '../../src/minting/rescue.js';
import { startWorker } from '../../src/minting/worker.js';
import { claimReadings, completeTransaction, markTransaction, recordSigned } from '../../src/minting/repo.js';
import { DATABASES, postgresAvailable, type TestDatabase } from '../support/db.js';
import { startTestChain, type TestChain } from '../support/localnet.js';
import { ataOf } from '../support/energyToken.js';
import { testLog, testMinter } from '../support/minter.js';

const defaults = { batchIntervalMs: 50, maxBatchSize: 100, maxAttempts: 5, backoffMs: 0 };
const policy = { maxAttempts: 5, backoffMs: 0 };

describe.each(DATABASES)('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  beforeAll(async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    chain = await startTestChain({ slotMs: 20 });
    t = await open();
  });
  afterAll(async () => {
    await t?.drop();
    await chain?.stop();
  });

  const users = Array.from({ length: 6 }, () => Keypair.generate().publicKey);
  let seq = 0;
  const add = async (u: number, tokens: bigint) => {
    const id = `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
    await insertReadings(t!.database.db, [
      { id, meterId: 'm', userId: `u${u}`, walletAddress: users[u]!.toBase58(), kwhAmount: '1', tokensToMint: tokens, readingTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)) },
    ]);
    return id;
  };
  const statusOf = async (id: string) => (await t!.database.db.select().from(readingsTable).where(eq(readingsTable.id, id)))[0]!;
  const balanceOf = async (u: number) => getAccount(chain.connection, ataOf(users[u]!), 'confirmed', TOKEN_2022_PROGRAM_ID).then((a) => a.amount, () => 0n);
  const rescueNow = () => rescue({ db: t!.database.db, rpc: makeRpcClient({ url: chain.url, timeoutMs: 2000 }), explain: explainTransactionError(loadIdl()), log: testLog, policy });

  it('a transaction that landed while its claimer died is completed by signature, once', async () => {
    if (!t || !chain.localnet) return;
    const id = await add(0, 1_000n);
    // The claimer signs, records, sends (the answer never comes) and gives up: outcome unknown.
    const { minter } = testMinter(chain, { send: { pollMs: 10, rebroadcastMs: 60_000, followTimeoutMs: 1 } });
    chain.localnet.hooks.pauseSlots();
    chain.localnet.hooks.holdNextSends(1);
    const runner = makeBatchRunner({ db: t.database.db, minter, log: testLog, defaults, leaseMs: 1_000, events: makeBatchEvents(t.database) });
    const summary = await (await runner.start('poll', null)).done;
    chain.localnet.hooks.resumeSlots();
    chain.localnet.hooks.clearSendFaults();
    expect(summary.results[0]?.error).toMatch(/outcome unknown/);
    expect((await statusOf(id)).status).toBe('processing');

    // While its lease holds, the rescuer leaves it alone.
    expect((await rescueNow()).confirmed).toBe(0);
    await new Promise((r) => setTimeout(r, 1_100));
    const report = await rescueNow();
    expect(report.confirmed).toBe(1);
    const row = await statusOf(id);
    expect(row.status).toBe('completed');
    expect(await balanceOf(0)).toBe(1_000n);
    // A second pass changes nothing.
    expect((await rescueNow()).confirmed).toBe(0);
  });

  it('a transaction that never landed is released only after its blockhash expired, then minted once', async () => {
    if (!t || !chain.localnet) return;
    const id = await add(1, 2_000n);
    const { minter } = testMinter(chain, { send: { pollMs: 10, rebroadcastMs: 60_000, followTimeoutMs: 1 } });
    chain.localnet.hooks.dropNextSends(1_000_000);
    const runner = makeBatchRunner({ db: t.database.db, minter, log: testLog, defaults, leaseMs: 1_000, events: makeBatchEvents(t.database) });
    await (await runner.start('poll', null)).done;
    const [tx] = await t.database.db.select().from(mintTransactions).where(eq(mintTransactions.signature, (await statusOf(id)).txSignature!));
    await new Promise((r) => setTimeout(r, 1_100));
    // Not yet expired: the rescuer rebroadcasts (dropped again) and waits.
    expect((await rescueNow()).pending).toBeGreaterThanOrEqual(1);
    expect((await statusOf(id)).status).toBe('processing');
    // Wait until the finalized height passes lastValidBlockHeight.
    while (chain.localnet.chain.blockHeightAt('finalized') <= tx!.lastValidBlockHeight) await new Promise((r) => setTimeout(r, 100));
    chain.localnet.hooks.clearSendFaults();
    expect((await rescueNow()).expired).toBe(1);
    expect((await statusOf(id)).status).toBe('pending');

    // The polling worker then mints it for real, once.
    const { minter: healthy } = testMinter(chain);
    const worker = startWorker({ db: t.database.db, runner: makeBatchRunner({ db: t.database.db, minter: healthy, log: testLog, defaults, leaseMs: 10_000, events: makeBatchEvents(t.database) }), rescue: rescueNow, log: testLog, defaults });
    try {
      for (let i = 0; i < 100 && (await statusOf(id)).status !== 'completed'; i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300)); // a few idle cycles
    } finally {
      await worker.stop();
    }
    expect((await statusOf(id)).status).toBe('completed');
    expect(await balanceOf(1)).toBe(2_000n);
    // Idle cycles make no batches: every batch the worker made carried readings.
    expect(await t.database.db.select().from(batches).where(and(eq(batches.source, 'poll'), eq(batches.totalReadings, 0)))).toEqual([]);
  });

  // A claimer that dies after it learned how a transaction ended, before its readings were changed.
  const claimAndMint = async (ids: string[], over: Parameters<typeof testMinter>[1]) => {
    const claim = await claimReadings(t!.database.db, { limit: ids.length, leaseMs: 500, batchId: '33333333-3333-4333-8333-333333333333', ids });
    const { minter } = testMinter(chain, over);
    const marks: Promise<void>[] = [];
    const batch = claim.rows.map((r) => ({ readingId: r.id, userId: r.userId, walletAddress: r.walletAddress, kwhAmount: r.kwhAmount, tokensToMint: BigInt(r.tokensToMint), meterId: r.meterId }));
    const results = await minter.mintEnergyTokensBatch(batch, {
      onSigned: (rec) => recordSigned(t!.database.db, claim.token, claim.rows[0]!.batchId!, rec),
      onTransaction: (sig, status, error) => void marks.push(markTransaction(t!.database.db, sig, status, error)),
    });
    await Promise.all(marks);
    return { claim, results };
  };

  it('a transaction recorded as expired whose readings its claimer never released: the rescuer releases them', async () => {
    if (!t || !chain.localnet) return;
    const ids = [await add(2, 5n), await add(2, 6n)];
    chain.localnet.hooks.dropNextSends(1_000_000);
    const { results } = await claimAndMint(ids, { maxExpiries: 0, send: { pollMs: 20, rebroadcastMs: 60_000, followTimeoutMs: 60_000 } });
    chain.localnet.hooks.clearSendFaults();
    expect(results.map((r) => r.error)).toEqual([expect.stringMatching(/expired 1 times/), expect.stringMatching(/expired 1 times/)]);
    // The process dies here: both readings stay processing, carrying the expired signature.
    for (const id of ids) expect((await statusOf(id)).status).toBe('processing');
    await new Promise((r) => setTimeout(r, 600));
    const report = await rescueNow();
    expect(report.expired).toBe(1);
    for (const id of ids) expect((await statusOf(id))).toMatchObject({ status: 'pending', txSignature: null });
  });

  it('a landed transaction completes all of its readings in one change', async () => {
    if (!t || !chain.localnet) return;
    const ids = [await add(3, 7n), await add(3, 8n), await add(3, 9n)];
    const { claim, results } = await claimAndMint(ids, {});
    const signatures = new Set(results.map((r) => r.txSignature));
    expect(signatures.size).toBe(1);
    expect(await completeTransaction(t.database.db, claim.token, results[0]!.txSignature!)).toBe(3);
    for (const id of ids) expect((await statusOf(id)).status).toBe('completed');
    const [tx] = await t.database.db.select().from(mintTransactions).where(eq(mintTransactions.signature, results[0]!.txSignature!));
    expect(tx!.status).toBe('confirmed');
    expect(await balanceOf(3)).toBe(24n);
  });

  it('two claimers never claim the same reading, and a lease that ran out is taken back', async () => {
    if (!t) return;
    const ids = await Promise.all([add(4, 1n), add(4, 2n), add(5, 3n), add(5, 4n)]);
    const [a, b] = await Promise.all([
      claimReadings(t.database.db, { limit: 3, leaseMs: 1_000, batchId: '11111111-1111-4111-8111-111111111111', ids }),
      claimReadings(t.database.db, { limit: 3, leaseMs: 1_000, batchId: '22222222-2222-4222-8222-222222222222', ids }),
    ]);
    const claimed = [...a.rows, ...b.rows].map((r) => r.id);
    expect(new Set(claimed).size).toBe(claimed.length);
    expect(claimed.sort()).toEqual([...ids].sort());
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await rescueNow()).leasesTakenBack).toBe(4);
    for (const id of ids) expect((await statusOf(id)).status).toBe('pending');
  });
});
