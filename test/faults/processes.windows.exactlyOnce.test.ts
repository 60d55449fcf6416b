// MINT_INSTRUCTION=mint_generation across separate processes on one Postgres database: readings of several
// registered meters across several closed 15-minute windows; a worker process SIGKILLed mid-batch (after it
// claimed, after it planned, after its first reading settled) and restarted, again and again; then two workers
// finish the rest. Nothing is minted twice, nothing is lost, and every (meter, window) has its
// GenerationMintRecord on chain, minted, holding exactly the sum of the window's frozen readings.
//
// `npm test` runs KILL_POINTS=5, KILL_READINGS=300 (15 meters × 5 windows × 4 readings); `npm run test:faults`
// runs 20 and 2,000.
import { PublicKey } from '@solana/web3.js';
import { inArray } from 'drizzle-orm';
import { mintWindows, readings } from '../../src/db/schema.js';
import { generationMeterIdOf, WINDOW_MS } from '../../src/minting/windows.js';
import { freshPostgres, postgresAvailable, type TestDatabase, waitCompleted, waitFor } from '../support/db.js';
import { startTestChain, type TestChain } from '../support/localnet.js';
import { MINT, PROGRAM_ID } from '../support/energyToken.js';
import { registerMeters, registryApp, type Request } from '../support/meters.js';
import { expectEachMintedOnce, serviceProcesses, stopProcess } from '../support/processes.js';

const KILL_POINTS = Number(process.env.KILL_POINTS ?? 5);
const READINGS = Number(process.env.KILL_READINGS ?? 300);
/** Each meter: 5 windows of 4 readings (3.75 minutes apart, the last on the window's end, which it includes). */
const WINDOWS_PER_METER = 5;
const PER_WINDOW = 4;
const METERS = Math.ceil(READINGS / (WINDOWS_PER_METER * PER_WINDOW));
/** Closed long ago (the grace, MINT_WINDOW_GRACE_MS, is long past). */
const BASE = Date.UTC(2026, 2, 2);

let chain: TestChain;
let t: TestDatabase | null = null;
let request: Request;
const processes = serviceProcesses(() => ({ databaseUrl: t!.url!, chain }));
// Info level: the kill points are the process's own log lines. Batches of 4 windows (16 readings): each life
// of a worker ends within a batch or two, so the kill points fall while readings are left.
const startWorker = () => processes.start('worker', { MINT_INSTRUCTION: 'mint_generation', BLOCKCHAIN_MAX_BATCH_SIZE: '4', LOG_LEVEL: 'info' });

beforeAll(async () => {
  if (!(await postgresAvailable())) return;
  chain = await startTestChain({ slotMs: 50 });
  t = await freshPostgres();
  ({ request } = await registryApp(t.database));
}, 60_000);
afterAll(async () => {
  processes.killAll();
  await t?.drop();
  await chain?.stop();
});

/** The GenerationMintRecord of a window as the chain holds it, decoded by its layout (42 bytes). */
async function records(windows: { generationMeterId: string; startMs: number }[]) {
  const out: ({ meterId: string; startMs: number; amount: bigint; minted: boolean } | null)[] = [];
  for (let k = 0; k < windows.length; k += 100) {
    const chunk = windows.slice(k, k + 100);
    const addresses = chunk.map((w) => {
      const start = Buffer.alloc(8);
      start.writeBigInt64LE(BigInt(w.startMs));
      return PublicKey.findProgramAddressSync([Buffer.from('gen_mint'), Buffer.from(w.generationMeterId, 'hex'), start], PROGRAM_ID)[0];
    });
    for (const acc of await chain.connection.getMultipleAccountsInfo(addresses, 'confirmed')) {
      if (!acc || !acc.owner.equals(PROGRAM_ID) || acc.data.length !== 42) {
        out.push(null);
        continue;
      }
      const d = acc.data;
      out.push({ meterId: d.subarray(8, 24).toString('hex'), startMs: Number(d.readBigInt64LE(24)), amount: d.readBigUInt64LE(32), minted: d[40] === 1 });
    }
  }
  return out;
}

it(`mint_generation: a worker SIGKILLed mid-batch at ${KILL_POINTS} points and restarted each time, then two finish; ${READINGS} readings of ${METERS} meters: nothing lost or minted twice, every window's record holds its sum`, async () => {
  if (!t) return;
  const db = t.database.db;
  const supplyBefore = BigInt((await chain.connection.getTokenSupply(MINT, 'confirmed')).value.amount);
  const meters = await registerMeters(
    request,
    'op',
    Array.from({ length: METERS }, (_, m) => ({ meter_id: `win-${m}`, interval_minutes: 1 })),
  );
  const body = Array.from({ length: READINGS }, (_, i) => {
    const m = Math.floor(i / (WINDOWS_PER_METER * PER_WINDOW));
    const j = i % (WINDOWS_PER_METER * PER_WINDOW);
    const at = BASE + Math.floor(j / PER_WINDOW) * WINDOW_MS + ((j % PER_WINDOW) + 1) * (WINDOW_MS / PER_WINDOW);
    return { meter_id: meters[m]!.meter_id, reading_timestamp: new Date(at).toISOString(), kwh_amount: ((1 + ((i * 7919) % 999)) / 1000).toFixed(3) };
  });
  const ids: string[] = [];
  for (let k = 0; k < body.length; k += 1000) {
    const res = await request('/readings', { method: 'POST', headers: { authorization: 'Bearer gw-key', 'content-type': 'application/json' }, body: JSON.stringify({ readings: body.slice(k, k + 1000) }) });
    const answer = (await res.json()) as { accepted: number; readings: { reading_id: string }[] };
    expect(answer.accepted).toBe(Math.min(1000, body.length - k));
    ids.push(...answer.readings.map((r) => r.reading_id));
  }
  const rows = await db.select().from(readings).where(inArray(readings.id, ids));
  const windowCount = new Set(rows.map((r) => `${r.meterId}@${r.windowStart!.getTime()}`)).size;
  expect(windowCount).toBe(Math.ceil(READINGS / PER_WINDOW));

  const allDone = async () => (await db.select({ s: readings.status }).from(readings).where(inArray(readings.id, ids))).every((r) => r.s === 'completed');
  // Where the worker dies: claimed (nothing signed), planned (signing, recording, sending), a first reading settled
  // (the batch's other transactions in flight); then up to 300 ms more (50 ms slots: send to confirm and settle).
  const stages = ['"msg":"batch claimed"', '"msg":"batch planned"', '"msg":"reading settled"'];
  let state = Number(process.env.FAULTS_SEED ?? 11);
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let kills = 0;
  for (let k = 0; k < KILL_POINTS; k++) {
    const w = await startWorker();
    let done = false;
    await waitFor(async () => w.output().includes(stages[k % 3]!) || (done = await allDone()), 90_000, `the worker to reach ${stages[k % 3]}`);
    if (done) break;
    await new Promise((r) => setTimeout(r, random() * 300)); // a point within the stage, not a wait for anything
    await stopProcess(w.child, 'SIGKILL');
    kills++;
  }
  // Every kill point fell while readings were left to mint (else the run proved less than it says).
  expect(kills).toBe(KILL_POINTS);
  // Then two at once: they split the windows left, and rescue what the dead ones signed.
  const last = await Promise.all([startWorker(), startWorker()]);
  await waitCompleted(db, ids, 180_000);
  await Promise.all(last.map((w) => stopProcess(w.child, 'SIGTERM')));

  // 0 minted twice, 0 lost, each meter's wallet holds the sum of its readings; and nothing else was minted.
  await expectEachMintedOnce(db, chain, rows.map((r) => ({ id: r.id, walletAddress: r.walletAddress, tokensToMint: BigInt(r.tokensToMint) })));
  const total = rows.reduce((a, r) => a + BigInt(r.tokensToMint), 0n);
  expect(BigInt((await chain.connection.getTokenSupply(MINT, 'confirmed')).value.amount) - supplyBefore).toBe(total);

  // Each (meter, window): frozen once with all of its readings, minted, and its record on chain says so.
  const byWindow = new Map<string, { meterId: string; generationMeterId: string; startMs: number; sum: bigint; ids: string[] }>();
  for (const r of rows) {
    const key = `${r.meterId}@${r.windowStart!.getTime()}`;
    const w = byWindow.get(key) ?? { meterId: r.meterId, generationMeterId: generationMeterIdOf(r.meterId), startMs: r.windowStart!.getTime(), sum: 0n, ids: [] };
    w.sum += BigInt(r.tokensToMint);
    w.ids.push(r.id);
    byWindow.set(key, w);
  }
  const windows = [...byWindow.values()];
  expect(windows).toHaveLength(windowCount);
  const frozen = new Map((await db.select().from(mintWindows)).map((w) => [`${w.meterId}@${w.windowStart.getTime()}`, w]));
  expect(
    windows.map((w) => {
      const f = frozen.get(`${w.meterId}@${w.startMs}`);
      return f && { status: f.status, amount: BigInt(f.amount), ids: [...f.readingIds].sort() };
    }),
  ).toEqual(windows.map((w) => ({ status: 'minted', amount: w.sum, ids: [...w.ids].sort() })));
  expect(await records(windows)).toEqual(windows.map((w) => ({ meterId: w.generationMeterId, startMs: w.startMs, amount: w.sum, minted: true })));
}, 400_000);
