// mint_generation's second proof of landing. A claimer signs and sends a window's transaction, then its process
// dies before it learns the outcome; the chain executed it, but the RPC the rescuer asks no longer knows the
// signature (a node without that history). The window's record on chain says minted with the window's frozen sum:
// the rescuer settles the readings as landed from it, once, and nothing is minted twice.
import { Keypair } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount } from '@solana/spl-token';
import { eq, inArray } from 'drizzle-orm';
import { makeRpcClient, type RpcClient } from '../../src/chain/rpcClient.js';
import { loadIdl } from '../../src/chain/energyToken.js';
import { readGenerationRecords } from '../../src/chain/mintTransaction.js';
import { explainTransactionError } from '../../src/chain/programErrors.js';
import { mintWindows, readings as readingsTable } from '../../src/db/schema.js';
import { makeBatchRunner } from '../../src/minting/runBatch.js';
import { makeBatchEvents } from '../../src/minting/events.js';
import { rescue } from '../../src/minting/rescue.js';
import { DATABASES, expireLeases, waitFor, withChainAndDatabase, type TestDatabase } from '../support/db.js';
import { type TestChain } from '../support/localnet.js';
import { ataOf, PROGRAM_ID } from '../support/energyToken.js';
import { testLog, testEngine } from '../support/engine.js';
import { registerMeters, registryApp, type Request } from '../support/meters.js';

const defaults = { batchIntervalMs: 50, maxBatchSize: 100, maxAttempts: 5, backoffMs: 0 };
const policy = { maxAttempts: 5, backoffMs: 0 };
const G = { authorization: 'Bearer gw-key', 'content-type': 'application/json' };

describe.each(DATABASES)('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  let request: Request;
  const owner = Keypair.generate().publicKey;
  // Slots of 100 ms: the transaction's blockhash stays valid (150 blocks) well past the rescues below, so that by
  // signature the forgetful RPC can only say "not known yet", never "expired".
  withChainAndDatabase(kind, open, { slotMs: 100 }, async (c, d) => {
    chain = c;
    t = d;
    ({ request } = await registryApp(d.database, { refuseSettledWindows: true }));
    await registerMeters(request, 'op', [{ meter_id: 'crash-1', wallet_address: owner.toBase58(), active_from: '2026-10-01T00:00:00Z' }]);
  });

  /** An RPC that has lost every signature's status (as a node without the history would), the rest as it is. */
  const forgetful = (): RpcClient => {
    const real = makeRpcClient({ url: chain.url, timeoutMs: 2000 });
    return {
      ...real,
      call: <T>(method: string, params?: unknown[]) =>
        method === 'getSignatureStatuses' ? (Promise.resolve({ context: { slot: 0 }, value: (params![0] as string[]).map(() => null) }) as Promise<T>) : real.call<T>(method, params),
    };
  };
  const rescueWith = (records: boolean) => {
    const rpc = forgetful();
    return rescue({
      db: t!.database.db,
      rpc,
      explain: explainTransactionError(loadIdl()),
      log: testLog,
      policy,
      events: makeBatchEvents(t!.database),
      ...(records ? { records: (w: Parameters<typeof readGenerationRecords>[2]) => readGenerationRecords(rpc, PROGRAM_ID, w) } : {}),
    });
  };

  it('a window signed and sent, its claimer gone before the confirmation was recorded: settled as landed from its record', async () => {
    if (!t || !chain.localnet) return;
    const db = t.database.db;
    const base = Date.UTC(2026, 9, 7);
    const posted = await request('/readings', {
      method: 'POST',
      headers: G,
      body: JSON.stringify({
        readings: [
          { meter_id: 'crash-1', reading_timestamp: new Date(base + 5 * 60_000).toISOString(), kwh_amount: '1.25' },
          { meter_id: 'crash-1', reading_timestamp: new Date(base + 15 * 60_000).toISOString(), kwh_amount: '2' },
        ],
      }),
    });
    expect(posted.status).toBe(202);
    const ids: string[] = ((await posted.json()) as any).readings.map((r: any) => r.reading_id);

    // The claimer signs, records (freezing the window), sends (the answer never comes) and gives up: unknown.
    const { engine } = testEngine(chain, { send: { pollMs: 10, rebroadcastMs: 60_000, followTimeoutMs: 1 } });
    chain.localnet.hooks.pauseSlots();
    chain.localnet.hooks.holdNextSends(1);
    const runner = makeBatchRunner({ db, engine, log: testLog, defaults, leaseMs: 30_000, events: makeBatchEvents(t.database), windows: { graceMs: 0 } });
    const summary = await (await runner.start('poll', null)).done;
    chain.localnet.hooks.resumeSlots();
    chain.localnet.hooks.clearSendFaults();
    expect(summary.results.map((r) => r.error)).toEqual([expect.stringMatching(/outcome unknown/), expect.stringMatching(/outcome unknown/)]);
    const [w] = await db.select().from(mintWindows).where(eq(mintWindows.meterId, 'crash-1'));
    expect(w).toMatchObject({ status: 'frozen', amount: '3250000000' });
    const signature = w!.txSignature!;

    // The held send is executed; then the process is gone (its leases run out) and its memory with it.
    await waitFor(async () => (await chain.connection.getSignatureStatus(signature)).value?.confirmationStatus === 'confirmed', 30_000, 'the held send to confirm');
    await expireLeases(db, ids);

    // By signature alone the forgetful RPC proves nothing: the readings stay processing (never back to pending).
    expect(await rescueWith(false)).toMatchObject({ confirmed: 0, pending: 1 });
    expect((await db.select().from(readingsTable).where(inArray(readingsTable.id, ids))).map((r) => r.status)).toEqual(['processing', 'processing']);

    // The record on chain (minted, 3,250,000,000 base units: the frozen sum) proves it landed.
    expect(await rescueWith(true)).toMatchObject({ confirmed: 1, pending: 0 });
    const rows = await db.select().from(readingsTable).where(inArray(readingsTable.id, ids));
    expect(rows.map((r) => [r.status, r.txSignature])).toEqual([
      ['completed', signature],
      ['completed', signature],
    ]);
    expect((await db.select().from(mintWindows).where(eq(mintWindows.meterId, 'crash-1')))[0]!.status).toBe('minted');
    expect((await getAccount(chain.connection, ataOf(owner), 'confirmed', TOKEN_2022_PROGRAM_ID)).amount).toBe(3_250_000_000n);
    // A second pass changes nothing, and the window is settled: a reading for it is refused.
    expect(await rescueWith(true)).toMatchObject({ confirmed: 0, pending: 0 });
    const late = await request('/readings', { method: 'POST', headers: G, body: JSON.stringify({ meter_id: 'crash-1', reading_timestamp: new Date(base + 10 * 60_000).toISOString(), kwh_amount: '1' }) });
    expect(late.status).toBe(422);
  });
});
