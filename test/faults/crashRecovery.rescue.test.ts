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
import { makeBatchRunner } from '../../src/minting/runBatch.js';
import { makeBatchEvents } from '../../src/minting/events.js';
import { rescue } from '../../src/minting/rescue.js';
import { startWorker } from '../../src/minting/worker.js';
import { claimReadings, completeTransaction, createBatch, markTransaction, recordSigned, releaseClaim, updateBatch } from '../../src/minting/repo.js';
import { randomBytes, randomUUID } from 'node:crypto';
import bs58 from 'bs58';
import { DATABASES, seedReadings, expireBatchLease, expireLeases, waitCompleted, waitFor, withChainAndDatabase, type TestDatabase } from '../support/db.js';
import { type TestChain } from '../support/localnet.js';
import { ataOf } from '../support/energyToken.js';
import { testLog, testEngine } from '../support/engine.js';

const defaults = { batchIntervalMs: 50, maxBatchSize: 100, maxAttempts: 5, backoffMs: 0 };
const policy = { maxAttempts: 5, backoffMs: 0 };

describe.each(DATABASES)('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  withChainAndDatabase(kind, open, { slotMs: 20 }, (c, d) => {
    chain = c;
    t = d;
  });

  const users = Array.from({ length: 6 }, () => Keypair.generate().publicKey);
  let seq = 0;
  const add = async (u: number, tokens: bigint) => {
    const id = `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
    await seedReadings(t!.database.db, [
      { id, meterId: 'm', userId: `u${u}`, walletAddress: users[u]!.toBase58(), kwhAmount: '1', tokensToMint: tokens, readingTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)) },
    ]);
    return id;
  };
  const statusOf = async (id: string) => (await t!.database.db.select().from(readingsTable).where(eq(readingsTable.id, id)))[0]!;
  const balanceOf = async (u: number) => getAccount(chain.connection, ataOf(users[u]!), 'confirmed', TOKEN_2022_PROGRAM_ID).then((a) => a.amount, () => 0n);
  const rescueNow = () => rescue({ db: t!.database.db, rpc: makeRpcClient({ url: chain.url, timeoutMs: 2000 }), explain: explainTransactionError(loadIdl()), log: testLog, policy, events: makeBatchEvents(t!.database) });

  it('a transaction that landed while its claimer died is completed by signature, once', async () => {
    if (!t || !chain.localnet) return;
    const id = await add(0, 1_000n);
    // The claimer signs, records, sends (the answer never comes) and gives up: outcome unknown.
    const { engine } = testEngine(chain, { send: { pollMs: 10, rebroadcastMs: 60_000, followTimeoutMs: 1 } });
    chain.localnet.hooks.pauseSlots();
    chain.localnet.hooks.holdNextSends(1);
    const runner = makeBatchRunner({ db: t.database.db, engine, log: testLog, defaults, leaseMs: 30_000, events: makeBatchEvents(t.database) });
    const summary = await (await runner.start('poll', null)).done;
    chain.localnet.hooks.resumeSlots();
    chain.localnet.hooks.clearSendFaults();
    expect(summary.results[0]?.error).toMatch(/outcome unknown/);
    expect((await statusOf(id)).status).toBe('processing');

    // While its lease holds, the rescuer leaves it alone.
    expect((await rescueNow()).confirmed).toBe(0);
    // The held send was executed: once the chain confirms it, the claimer "dies" (its lease runs out).
    const signature = (await statusOf(id)).txSignature!;
    await waitFor(async () => (await chain.connection.getSignatureStatus(signature)).value?.confirmationStatus === 'confirmed', 30_000, 'the held send to confirm');
    await expireLeases(t.database.db, [id]);
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
    const { engine } = testEngine(chain, { send: { pollMs: 10, rebroadcastMs: 60_000, followTimeoutMs: 1 } });
    chain.localnet.hooks.dropNextSends(1_000_000);
    const runner = makeBatchRunner({ db: t.database.db, engine, log: testLog, defaults, leaseMs: 30_000, events: makeBatchEvents(t.database) });
    await (await runner.start('poll', null)).done;
    const [tx] = await t.database.db.select().from(mintTransactions).where(eq(mintTransactions.signature, (await statusOf(id)).txSignature!));
    await expireLeases(t.database.db, [id]);
    // Not yet expired: the rescuer rebroadcasts (dropped again) and waits.
    expect((await rescueNow()).pending).toBeGreaterThanOrEqual(1);
    expect((await statusOf(id)).status).toBe('processing');
    // Wait until the finalized height passes lastValidBlockHeight.
    await waitFor(() => chain.localnet!.chain.blockHeightAt('finalized') > tx!.lastValidBlockHeight, 60_000, 'the finalized height to pass lastValidBlockHeight');
    chain.localnet.hooks.clearSendFaults();
    expect((await rescueNow()).expired).toBe(1);
    expect((await statusOf(id)).status).toBe('pending');

    // The polling worker then mints it for real, once.
    const { engine: healthy } = testEngine(chain);
    let rescues = 0;
    const counted = () => (rescues++, rescueNow());
    const worker = startWorker({ db: t.database.db, runner: makeBatchRunner({ db: t.database.db, engine: healthy, log: testLog, defaults, leaseMs: 10_000, events: makeBatchEvents(t.database) }), rescue: counted, log: testLog, defaults });
    try {
      await waitCompleted(t.database.db, [id], 60_000);
      // A few idle cycles, counted by the rescuer's calls (the worker runs it first in every cycle).
      const calls = rescues;
      await waitFor(() => rescues >= calls + 3, 30_000, 'three idle worker cycles');
    } finally {
      await worker.stop();
    }
    expect((await statusOf(id)).status).toBe('completed');
    expect(await balanceOf(1)).toBe(2_000n);
    // Idle cycles make no batches: every batch the worker made carried readings.
    expect(await t.database.db.select().from(batches).where(and(eq(batches.source, 'poll'), eq(batches.totalReadings, 0)))).toEqual([]);
  });

  // A claimer that dies after it learned how a transaction ended, before its readings were changed.
  const claimAndMint = async (ids: string[], over: Parameters<typeof testEngine>[1]) => {
    const claim = await claimReadings(t!.database.db, { token: randomUUID(), limit: ids.length, leaseMs: 30_000, batchId: '33333333-3333-4333-8333-333333333333', ids });
    const { engine } = testEngine(chain, over);
    const marks: Promise<void>[] = [];
    const batch = claim.rows.map((r) => ({ readingId: r.id, userId: r.userId, walletAddress: r.walletAddress, kwhAmount: r.kwhAmount, tokensToMint: BigInt(r.tokensToMint), meterId: r.meterId }));
    const results = await engine.mintEnergyTokensBatch(batch, {
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
    await expireLeases(t.database.db, ids);
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
      claimReadings(t.database.db, { token: randomUUID(), limit: 3, leaseMs: 30_000, batchId: '11111111-1111-4111-8111-111111111111', ids }),
      claimReadings(t.database.db, { token: randomUUID(), limit: 3, leaseMs: 30_000, batchId: '22222222-2222-4222-8222-222222222222', ids }),
    ]);
    const claimed = [...a.rows, ...b.rows].map((r) => r.id);
    expect(new Set(claimed).size).toBe(claimed.length);
    expect(claimed.sort()).toEqual([...ids].sort());
    expect((await rescueNow()).leasesTakenBack).toBe(0);
    await expireLeases(t.database.db, ids);
    expect((await rescueNow()).leasesTakenBack).toBe(4);
    for (const id of ids) expect((await statusOf(id)).status).toBe('pending');
  });

  it('a batch whose process died is closed as interrupted once nothing of it is in flight: a result for each reading, then the summary', async () => {
    if (!t) return;
    const db = t.database.db;
    const ids = [await add(0, 11n), await add(1, 12n)];
    const batchId = randomUUID();
    await createBatch(db, batchId, 'poll', null, 30_000);
    await updateBatch(db, batchId, { state: 'running', totalReadings: 2 });
    await claimReadings(db, { token: randomUUID(), limit: 2, leaseMs: 30_000, batchId, ids });
    // Its process published one result, then died before signing anything.
    const events = makeBatchEvents(t.database);
    await events.writer(batchId, testLog).append([{ event: 'result', data: { reading_id: ids[0], success: false, error: 'not sent: x', tx_signature: null } }]);
    expect((await rescueNow()).batchesClosed).toBe(0); // its lease holds
    await expireLeases(db, ids);
    await expireBatchLease(db, batchId);
    const report = await rescueNow();
    expect(report).toMatchObject({ leasesTakenBack: 2, batchesClosed: 1 });
    const stored = await events.read(batchId, 0, 10);
    expect(stored.map((e) => [e.seq, e.event])).toEqual([
      [1, 'result'],
      [2, 'result'],
      [3, 'summary'],
    ]);
    expect(stored[1]!.data).toMatchObject({ reading_id: ids[1], success: false, error: expect.stringMatching(/its process stopped/) });
    expect(stored[2]!.data).toMatchObject({ batch_id: batchId, state: 'interrupted', total_readings: 2, successful_mints: 0, failed_mints: 2 });
    expect((await db.select().from(batches).where(eq(batches.id, batchId)))[0]!.state).toBe('interrupted');
    expect((await rescueNow()).batchesClosed).toBe(0); // closed once
  });

  it('a transaction its claimer recorded as failed: the rescuer releases its readings with the recorded reason', async () => {
    if (!t) return;
    const db = t.database.db;
    const [id] = [await add(2, 13n)];
    const claim = await claimReadings(db, { token: randomUUID(), limit: 1, leaseMs: 30_000, batchId: randomUUID(), ids: [id!] });
    const signature = bs58.encode(randomBytes(64));
    await recordSigned(db, claim.token, claim.rows[0]!.batchId!, { signature, wire: new Uint8Array([1, 2, 3]), lastValidBlockHeight: 0, readingIds: [id!] });
    await markTransaction(db, signature, 'failed', 'energy_token InvalidAmount (custom error 6000)');
    await expireLeases(db, [id!]);
    expect((await rescueNow()).failed).toBe(1);
    expect(await statusOf(id!)).toMatchObject({ status: 'pending', txSignature: null, lastError: 'energy_token InvalidAmount (custom error 6000)' });
  });

  it('while the chain does not answer, the rescuer changes nothing; once it answers, an unknown signature past its window is expired', async () => {
    if (!t) return;
    const db = t.database.db;
    const [id] = [await add(3, 14n)];
    const claim = await claimReadings(db, { token: randomUUID(), limit: 1, leaseMs: 30_000, batchId: randomUUID(), ids: [id!] });
    const signature = bs58.encode(randomBytes(64));
    await recordSigned(db, claim.token, claim.rows[0]!.batchId!, { signature, wire: new Uint8Array([1, 2, 3]), lastValidBlockHeight: 0, readingIds: [id!] });
    await expireLeases(db, [id!]);
    const offline = rescue({ db, rpc: makeRpcClient({ url: 'http://127.0.0.1:9', timeoutMs: 500 }), explain: explainTransactionError(loadIdl()), log: testLog, policy });
    expect(await offline).toMatchObject({ pending: 1, expired: 0 });
    expect((await statusOf(id!)).status).toBe('processing');
    expect((await rescueNow()).expired).toBe(1);
    expect(await statusOf(id!)).toMatchObject({ status: 'pending', txSignature: null });
  });

  it('a claim whose answer was lost is given back whole: readings with nothing signed return to pending, the attempt not counted', async () => {
    if (!t) return;
    const db = t.database.db;
    const ids = [await add(4, 15n), await add(4, 16n)];
    const token = randomUUID();
    await claimReadings(db, { token, limit: 2, leaseMs: 30_000, batchId: randomUUID(), ids });
    expect(await releaseClaim(db, token)).toBe(2);
    for (const id of ids) expect(await statusOf(id)).toMatchObject({ status: 'pending', attempts: 0, claimToken: null });
    expect(await releaseClaim(db, token)).toBe(0); // idempotent
  });
});
