// The whole service with MINT_INSTRUCTION=mint_generation, on the embedded chain (energy_token 0.1.1), against
// Postgres and PGlite: readings a gateway posts across windows of two meters are summed per (meter, window) and
// each window is minted once, as one mint_generation instruction whose record on chain holds the window's sum; a
// replay of a window whose record exists mints nothing; a reading for a settled window is refused; the fee estimate
// and the metrics count the records' rent.
import { Writable } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, Keypair, PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount, getAssociatedTokenAddressSync } from '@solana/spl-token';
import { eq, inArray } from 'drizzle-orm';
import { loadConfig } from '../../../src/config.js';
import { makeLog } from '../../../src/log.js';
import { startService, type RunningService } from '../../../src/service.js';
import { loadIdl } from '../../../src/chain/energyToken.js';
import { makeRpcClient } from '../../../src/chain/rpcClient.js';
import { readGenerationRecords } from '../../../src/chain/mintTransaction.js';
import { mintTransactions, mintWindows, readings as readingsTable } from '../../../src/db/schema.js';
import { generationMeterIdOf, WINDOW_MS } from '../../../src/minting/windows.js';
import { DATABASES, postgresAvailable, waitFor, type TestDatabase } from '../../support/db.js';
import { registerMeters } from '../../support/meters.js';

const log = makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const G = { authorization: 'Bearer gw', 'content-type': 'application/json' };
const O = { authorization: 'Bearer op', 'content-type': 'application/json' };
const GENERATION = loadIdl().instructions.find((i) => i.name === 'mint_generation')!;

describe.each(DATABASES)('mint_generation end to end on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let svc: RunningService;
  let connection: Connection;
  let mint: PublicKey;
  let programId: PublicKey;
  const owners = [Keypair.generate().publicKey, Keypair.generate().publicKey];
  const meterIds = [`gen-a-${kind}`, `gen-b-${kind}`];
  const api = (path: string, init: RequestInit = {}) => fetch(`${svc.apiUrl}${path}`, init);
  const post = async (path: string, body: unknown, headers = O) => api(path, { method: 'POST', headers, body: JSON.stringify(body) });
  const balance = async (u: number) =>
    getAccount(connection, getAssociatedTokenAddressSync(mint, owners[u]!, false, TOKEN_2022_PROGRAM_ID), 'confirmed', TOKEN_2022_PROGRAM_ID).then((a) => a.amount, () => 0n);
  // Closed long ago: windows of 2026-10-02, 00:00 to 00:45.
  const base = Date.UTC(2026, 9, 2);
  const reading = (m: number, minutes: number, kwh: string) => ({ meter_id: meterIds[m]!, reading_timestamp: new Date(base + minutes * 60_000).toISOString(), kwh_amount: kwh });
  /** Every mint_generation instruction of these transactions: its meter bytes, window and amount. */
  const generationInstructions = async (signatures: string[]) => {
    const out: { meter: string; startMs: number; amount: bigint; signature: string }[] = [];
    for (const signature of signatures) {
      const tx = await connection.getTransaction(signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
      expect(tx?.meta?.err).toBeNull();
      const keys = tx!.transaction.message.staticAccountKeys;
      for (const ix of tx!.transaction.message.compiledInstructions) {
        const data = Buffer.from(ix.data);
        if (!keys[ix.programIdIndex]!.equals(programId) || !data.subarray(0, 8).equals(Buffer.from(GENERATION.discriminator))) continue;
        out.push({ meter: data.subarray(8, 24).toString('hex'), startMs: Number(data.readBigInt64LE(24)), amount: data.readBigUInt64LE(32), signature });
      }
    }
    return out;
  };

  beforeAll(async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    const env: Record<string, string> = {
      PORT: '0',
      LOCALNET_SLOT_MS: '50',
      GATEWAY_API_KEYS: 'gw:gw',
      OPERATOR_TOKEN: 'op',
      SYNC_WINDOW_MS: '20000',
      MINT_INSTRUCTION: 'mint_generation',
      LOCALNET_LEDGER_DIR: join(mkdtempSync(join(tmpdir(), 'gen-ledger-')), 'ledger'),
    };
    if (kind === 'postgres') {
      t = await open();
      env.DATABASE_URL = t.url!;
      await t.database.close();
    } else {
      env.PGLITE_DIR = join(mkdtempSync(join(tmpdir(), 'gen-')), 'pglite');
    }
    svc = await startService(loadConfig({ ...env, WORKER: 'off' }), log);
    connection = new Connection(svc.rpcUrl, { commitment: 'confirmed', wsEndpoint: svc.wsUrl });
    const details = (await (await api('/health/details', { headers: { authorization: 'Bearer op' } })).json()) as any;
    mint = new PublicKey(details.mint.address);
    programId = new PublicKey(details.program.id);
    await registerMeters(api, 'op', [0, 1].map((m) => ({ meter_id: meterIds[m]!, user_id: `gen-owner-${m}`, wallet_address: owners[m]!.toBase58(), active_from: '2026-10-01T00:00:00Z' })));
  }, 120_000);
  afterAll(async () => {
    await svc?.stop();
    if (t) await t.drop().catch(() => undefined);
  });
  const ready = () => svc !== undefined;

  it('readings across windows of two meters: each window minted once, as one instruction whose record holds the sum of its readings', async () => {
    if (!ready()) return;
    const meter0 = (await (await api(`/meters/${meterIds[0]}`, { headers: O })).json()) as any;
    expect(meter0.generation_meter_id).toBe(generationMeterIdOf(meterIds[0]!));
    // Meter a: 00:05 and 00:15 in window 00:00, 00:20 and 00:30 in 00:15; meter b: 00:15 in 00:00, 00:45 in 00:30.
    const body = { readings: [reading(0, 5, '1.5'), reading(0, 15, '2'), reading(0, 20, '0.25'), reading(0, 30, '3'), reading(1, 15, '4'), reading(1, 45, '0.5')] };
    const accepted = (await (await post('/readings', body, G)).json()) as any;
    expect(accepted.accepted).toBe(6);
    const ids: string[] = accepted.readings.map((r: any) => r.reading_id);

    const estimate = (await (await post('/estimate-fee', { reading_ids: ids })).json()) as any;
    expect(estimate).toMatchObject({ mint_records_created: 4, token_accounts_created: 2 });
    expect(BigInt(estimate.rent_lamports)).toBe(4n * 1_183_200n + 2n * 2_074_080n);

    const res = await post('/mint-batch', {});
    expect(res.status).toBe(200);
    const answer = (await res.json()) as any;
    expect(answer).toMatchObject({ total_readings: 6, successful_mints: 6, failed_mints: 0, state: 'completed' });

    const rows = await svc.database.db.select().from(readingsTable).where(inArray(readingsTable.id, ids));
    expect(rows.every((r) => r.status === 'completed')).toBe(true);
    const signatures = [...new Set(rows.map((r) => r.txSignature!))];
    const instructions = await generationInstructions(signatures);
    const m0 = generationMeterIdOf(meterIds[0]!);
    const m1 = generationMeterIdOf(meterIds[1]!);
    const expected = [
      { meter: m0, startMs: base, amount: 3_500_000_000n },
      { meter: m0, startMs: base + WINDOW_MS, amount: 3_250_000_000n },
      { meter: m1, startMs: base, amount: 4_000_000_000n },
      { meter: m1, startMs: base + 2 * WINDOW_MS, amount: 500_000_000n },
    ];
    const byWindow = (a: { meter: string; startMs: number }, b: { meter: string; startMs: number }) => a.meter.localeCompare(b.meter) || a.startMs - b.startMs;
    // One instruction per window, none twice.
    expect(instructions.map(({ meter, startMs, amount }) => ({ meter, startMs, amount })).sort(byWindow)).toEqual([...expected].sort(byWindow));
    const records = await readGenerationRecords(makeRpcClient({ url: svc.rpcUrl, timeoutMs: 5_000 }), programId, expected.map((w) => ({ meterId: w.meter, startMs: w.startMs })));
    expect(records).toEqual(expected.map((w) => ({ minted: true, amount: w.amount })));
    expect([await balance(0), await balance(1)]).toEqual([6_750_000_000n, 4_500_000_000n]);
    const windows = await svc.database.db.select().from(mintWindows);
    expect(windows.filter((w) => meterIds.includes(w.meterId)).map((w) => w.status)).toEqual(['minted', 'minted', 'minted', 'minted']);

    // The console's overview shows today's record rent (read by the health checks every 2 s).
    const login = await api('/console/login', { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=op' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    let card = '';
    await waitFor(
      async () => /Mint-record rent today<\/h2><div class="big">[1-9]\d* lamports/.test((card = await (await api('/console/fragments/overview', { headers: { cookie } })).text())),
      10_000,
      "the overview to show today's record rent",
    );
    const shown = card.match(/Mint-record rent today<\/h2><div class="big">(\d+) lamports<\/div><div>(\d+) window records of 10000/);
    expect(shown).not.toBeNull();
    expect(BigInt(shown![1]!)).toBe(BigInt(shown![2]!) * 1_183_200n);
    expect(Number(shown![2])).toBeGreaterThanOrEqual(4);

    const metrics = await (await api('/metrics', { headers: { authorization: 'Bearer op' } })).text();
    expect(metrics).toMatch(/energy_mint_record_rent_lamports_today (\d+)/);
    expect(Number(metrics.match(/energy_mint_record_rent_lamports_today (\d+)/)![1])).toBeGreaterThanOrEqual(4 * 1_183_200);
  });

  it('a reading for a settled window is refused (422 WINDOW_SETTLED) and stores nothing; one for an open window is taken', async () => {
    if (!ready()) return;
    const late = await post('/readings', { readings: [reading(0, 10, '0.5')] }, G);
    expect(late.status).toBe(422);
    const error = ((await late.json()) as any).error;
    expect(error).toMatchObject({ code: 'WINDOW_SETTLED', field: 'readings[0].reading_timestamp' });
    expect(error.message).toMatch(/2026-10-02T00:00:00.000Z–2026-10-02T00:15:00.000Z is settled/);
    const stored = await svc.database.db.select().from(readingsTable).where(eq(readingsTable.readingTimestamp, new Date(base + 10 * 60_000)));
    expect(stored).toEqual([]);
    // A window nothing was signed for yet takes readings as before.
    expect((await post('/readings', { readings: [reading(0, 50, '1')] }, G)).status).toBe(202);
  });

  it('a replay of a window whose record exists mints nothing: its readings are settled by the record', async () => {
    if (!ready()) return;
    // The database forgets that meter b's window 00:00 was minted (as a restore from a backup would).
    const db = svc.database.db;
    const [w] = await db.select().from(mintWindows).where(eq(mintWindows.meterId, meterIds[1]!));
    const ids = w!.readingIds;
    await db.update(readingsTable).set({ status: 'pending', txSignature: null, batchId: null }).where(inArray(readingsTable.id, ids));
    await db.delete(mintWindows).where(eq(mintWindows.meterId, meterIds[1]!));
    const txsBefore = (await db.select().from(mintTransactions)).length;
    const before = await balance(1);

    const batch = (await (await post('/mint-batch', { reading_ids: ids })).json()) as any;
    expect(batch).toMatchObject({ total_readings: ids.length, successful_mints: ids.length, failed_mints: 0 });
    expect(await balance(1)).toBe(before);
    expect((await db.select().from(mintTransactions)).length).toBe(txsBefore); // nothing signed
    const rows = await db.select().from(readingsTable).where(inArray(readingsTable.id, ids));
    expect(rows.map((r) => [r.status, r.txSignature])).toEqual(ids.map(() => ['completed', null]));
    // And the window is settled again: a reading for it is refused.
    expect((await post('/readings', { readings: [reading(1, 3, '0.1')] }, G)).status).toBe(422);
  });
});
