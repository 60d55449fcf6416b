// A reading that arrives for a window after the window was claimed and before its transaction is recorded: the
// freeze finds it, the transaction is never sent, the claimed readings wait without losing an attempt, and the next
// batch mints the window whole, as one instruction of the sum of all its readings.
import { Keypair } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount } from '@solana/spl-token';
import { eq, inArray } from 'drizzle-orm';
import { mintTransactions, mintWindows, readings as readingsTable } from '../../../src/db/schema.js';
import type { MintEngine } from '../../../src/minting/engine.js';
import { makeBatchEvents } from '../../../src/minting/events.js';
import { makeBatchRunner } from '../../../src/minting/runBatch.js';
import { DATABASES, withChainAndDatabase, type TestDatabase } from '../../support/db.js';
import { ataOf } from '../../support/energyToken.js';
import { testEngine, testLog } from '../../support/engine.js';
import type { TestChain } from '../../support/localnet.js';
import { registerMeters, registryApp, type Request } from '../../support/meters.js';

const defaults = { batchIntervalMs: 50, maxBatchSize: 100, maxAttempts: 5, backoffMs: 0 };
const G = { authorization: 'Bearer gw-key', 'content-type': 'application/json' };

describe.each(DATABASES)('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  let request: Request;
  const owner = Keypair.generate().publicKey;
  withChainAndDatabase(kind, open, { slotMs: 20 }, async (c, d) => {
    chain = c;
    t = d;
    ({ request } = await registryApp(d.database, { refuseSettledWindows: true }));
    await registerMeters(request, 'op', [{ meter_id: 'freeze-1', wallet_address: owner.toBase58(), active_from: '2026-10-01T00:00:00Z' }]);
  });
  const base = Date.UTC(2026, 9, 9);
  const post = async (minutes: number, kwh: string) => {
    const res = await request('/readings', { method: 'POST', headers: G, body: JSON.stringify({ meter_id: 'freeze-1', reading_timestamp: new Date(base + minutes * 60_000).toISOString(), kwh_amount: kwh }) });
    expect(res.status).toBe(202);
    return ((await res.json()) as any).readings[0].reading_id as string;
  };

  it('the late reading makes the freeze refuse; nothing is sent, no attempt is lost, and the window is then minted whole', async () => {
    if (!t) return;
    const db = t.database.db;
    const first = await post(5, '1');
    let late = '';
    const { engine } = testEngine(chain);
    // The reading arrives exactly between the claim and the freeze: just before the signed transaction is recorded.
    const racing: MintEngine = {
      ...engine,
      mintGroups: (batch, opts = {}) =>
        engine.mintGroups(batch, {
          ...opts,
          onSigned: async (rec) => {
            if (!late) late = await post(10, '2');
            await opts.onSigned!(rec);
          },
        }),
    };
    const runner = makeBatchRunner({ db, engine: racing, log: testLog, defaults, leaseMs: 30_000, events: makeBatchEvents(t.database), windows: { graceMs: 0 } });
    const summary = await (await runner.start('poll', null)).done;
    expect(summary).toMatchObject({ total_readings: 1, successful_mints: 0, failed_mints: 0, deferred: 1 });
    expect(summary.results[0]!.error).toMatch(/WINDOW_CHANGED|does not carry/);
    expect(await db.select().from(mintTransactions)).toEqual([]);
    expect(await db.select().from(mintWindows)).toEqual([]);
    expect((await db.select().from(readingsTable).where(eq(readingsTable.id, first)))[0]).toMatchObject({ status: 'pending', attempts: 0, txSignature: null });

    const again = await (await makeBatchRunner({ db, engine, log: testLog, defaults, leaseMs: 30_000, events: makeBatchEvents(t.database), windows: { graceMs: 0 } }).start('poll', null)).done;
    expect(again).toMatchObject({ total_readings: 2, successful_mints: 2, failed_mints: 0 });
    const rows = await db.select().from(readingsTable).where(inArray(readingsTable.id, [first, late]));
    expect(rows.map((r) => r.status)).toEqual(['completed', 'completed']);
    expect(rows[0]!.txSignature).toBe(rows[1]!.txSignature);
    expect((await db.select().from(mintWindows))[0]).toMatchObject({ status: 'minted', amount: '3000000000' });
    expect((await getAccount(chain.connection, ataOf(owner), 'confirmed', TOKEN_2022_PROGRAM_ID)).amount).toBe(3_000_000_000n);
  });
});
