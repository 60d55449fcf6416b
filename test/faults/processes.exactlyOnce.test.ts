// Separate processes on one Postgres database and one chain: two workers never mint a reading twice; a
// worker killed with SIGKILL between signing and confirming loses nothing and mints nothing twice after a
// restart; and an SSE client of an API process receives the results a separate worker produces.
import { spawn } from 'node:child_process';
import { Keypair } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID } from '@solana/spl-token';
import { arrayOverlaps, eq } from 'drizzle-orm';
import { batches, mintTransactions, readings } from '../../src/db/schema.js';
import { REPO_ROOT } from '../../anchor-localnet/paths.js';
import { freshPostgres, postgresAvailable, seedReadings, type TestDatabase, waitCompleted, waitFor } from '../support/db.js';
import { startTestChain, type TestChain } from '../support/localnet.js';
import { ataOf, MINT, TOKEN_INFO } from '../support/energyToken.js';
import { PublicKey } from '@solana/web3.js';
import { reconcileWith } from '../support/ledger.js';
import { recValidator, registryAuthority } from '../support/engine.js';
import { registerMeters } from '../support/meters.js';
import { expectEachMintedOnce, serviceProcesses, stopProcess as stop } from '../support/processes.js';

const N = Number(process.env.FAULTS_READINGS ?? 2000);
let chain: TestChain;
let t: TestDatabase | null = null;
const processes = serviceProcesses(() => ({ databaseUrl: t!.url!, chain }));
const start = processes.start;

beforeAll(async () => {
  if (!(await postgresAvailable())) return;
  chain = await startTestChain({ slotMs: 50 });
  t = await freshPostgres();
}, 60_000);
afterAll(async () => {
  processes.killAll();
  await t?.drop();
  await chain?.stop();
});

async function seed(n: number, users: Keypair['publicKey'][], tag: string) {
  const rows = Array.from({ length: n }, (_, i) => ({
    id: `${tag}-0000-4000-8000-${String(i).padStart(12, '0')}`,
    meterId: `meter-${tag}`,
    userId: `u${i % users.length}`,
    walletAddress: users[i % users.length]!.toBase58(),
    kwhAmount: '1',
    tokensToMint: BigInt(1 + ((i * 7919) % 1_000_000)),
    readingTimestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000),
  }));
  await seedReadings(t!.database.db, rows);
  return rows;
}

/** The three figures: minted twice, lost, and on-chain balances against the sums of readings. */
async function verify(rows: Awaited<ReturnType<typeof seed>>) {
  await expectEachMintedOnce(t!.database.db, chain, rows);
  // And the reconciliation agrees: every transaction on chain is in the ledger and the other way round.
  const r = await reconcileWith(t!.database.db, chain.url);
  expect(r.differences).toEqual([]);
  expect(r.supplyMoved).toBe(r.completedTotal);
}



it(`two worker processes on one database mint ${N} readings, each exactly once`, async () => {
  if (!t) return;
  const users = Array.from({ length: 200 }, () => Keypair.generate().publicKey);
  const rows = await seed(N, users, 'aaaaaaaa');
  const [a, b] = await Promise.all([start('worker'), start('worker')]);
  await waitCompleted(t!.database.db, rows.map((r) => r.id), 240_000);
  await Promise.all([stop(a.child, 'SIGTERM'), stop(b.child, 'SIGTERM')]);
  await verify(rows);
}, 300_000);

it('a worker killed with SIGKILL between signing and confirming: after a restart nothing is lost or minted twice', async () => {
  if (!t || !chain.localnet) return;
  const users = Array.from({ length: 30 }, () => Keypair.generate().publicKey);
  const rows = await seed(150, users, 'bbbbbbbb');
  chain.localnet.hooks.pauseSlots(); // signed and sent, transactions wait for a block that does not come
  const first = await start('worker');
  const deadline = Date.now() + 30_000;
  while ((await t.database.db.select().from(mintTransactions).where(arrayOverlaps(mintTransactions.readingIds, rows.map((r) => r.id)))).length === 0) {
    if (Date.now() > deadline) throw new Error('the worker signed nothing');
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop(first.child, 'SIGKILL').finally(() => chain.localnet!.hooks.resumeSlots());
  const second = await start('worker');
  await waitCompleted(t!.database.db, rows.map((r) => r.id), 120_000);
  await stop(second.child, 'SIGTERM');
  await verify(rows);
}, 200_000);

/** The batch that carries a reading, once one has claimed it (asked of the API, as a client would). */
async function batchOf(apiUrl: string, readingId: string): Promise<string> {
  let batchId: string | null = null;
  await waitFor(async () => {
    const r = (await (await fetch(`${apiUrl}/readings/${readingId}`, { headers: { authorization: 'Bearer op' } })).json()) as { batch_id?: string | null };
    batchId = r.batch_id ?? null;
    return batchId !== null;
  }, 60_000, `a batch to claim reading ${readingId}`);
  return batchId!;
}

const eventsOf = (text: string, name: string) => [...text.matchAll(new RegExp(`event: ${name}\ndata: (.*)\n`, 'g'))].map((m) => JSON.parse(m[1]!));

it('an SSE client of an API process receives all 1,000 results and the summary of a batch a separate worker runs', async () => {
  if (!t || !chain.localnet) return;
  const api = await start('api', { WORKER: 'off' });
  // 200 registered meters, five readings each, a minute apart (well within what a meter can produce).
  const meters = await registerMeters((path, init) => fetch(`${api.apiUrl}${path}`, init), 'op', Array.from({ length: 200 }, (_, i) => ({ meter_id: `sse-${i}` })));
  chain.localnet.hooks.pauseSlots();
  const posted = await fetch(`${api.apiUrl}/readings`, {
    method: 'POST',
    headers: { authorization: 'Bearer gw', 'content-type': 'application/json' },
    body: JSON.stringify({
      readings: Array.from({ length: 1_000 }, (_, i) => ({ meter_id: meters[i % 200]!.meter_id, kwh_amount: '1', reading_timestamp: new Date(Date.UTC(2026, 1, 1, 0, Math.floor(i / 200))).toISOString() })),
    }),
  });
  const ids = ((await posted.json()) as any).readings.map((r: any) => r.reading_id) as string[];
  let worker: Awaited<ReturnType<typeof start>>;
  let batchId: string;
  let events: Promise<string>;
  try {
    worker = await start('worker', { BLOCKCHAIN_MAX_BATCH_SIZE: '1000' });
    batchId = await batchOf(api.apiUrl!, ids[0]!);
    // Events are stored: the stream replays what it missed, so when it connects does not matter.
    events = fetch(`${api.apiUrl}/batches/${batchId}/events`, { headers: { authorization: 'Bearer op' } }).then((r) => r.text());
  } finally {
    chain.localnet.hooks.resumeSlots();
  }
  const text = await events;
  const results = eventsOf(text, 'result');
  expect(results.map((r) => r.reading_id).sort()).toEqual([...ids].sort());
  expect(results.every((r) => r.success && r.tx_signature)).toBe(true);
  expect(eventsOf(text, 'summary')).toEqual([expect.objectContaining({ batch_id: batchId, state: 'completed', successful_mints: 1_000, failed_mints: 0 })]);
  await Promise.all([stop(worker.child, 'SIGTERM'), stop(api.child, 'SIGTERM')]);
}, 180_000);

it('the batch of a worker killed mid-batch is closed by the rescuer as interrupted, and its event stream ends', async () => {
  if (!t || !chain.localnet) return;
  const api = await start('api', { WORKER: 'off' });
  const users = Array.from({ length: 20 }, () => Keypair.generate().publicKey);
  const rows = await seed(60, users, 'dddddddd');
  chain.localnet.hooks.pauseSlots(); // nothing confirms: the batch is still running when its worker dies
  let batchId: string;
  let events: Promise<string>;
  try {
    const first = await start('worker');
    batchId = await batchOf(api.apiUrl!, rows[0]!.id);
    await waitFor(async () => (await t!.database.db.select().from(mintTransactions).where(eq(mintTransactions.batchId, batchId))).length > 0, 60_000, 'a signed transaction');
    events = fetch(`${api.apiUrl}/batches/${batchId}/events`, { headers: { authorization: 'Bearer op' } }).then((r) => r.text());
    await stop(first.child, 'SIGKILL');
  } finally {
    chain.localnet.hooks.resumeSlots(); // whatever happened: the tests after this one need a running chain
  }
  // Another worker's rescuer settles the dead batch's readings by signature once their lease ran out, then closes it.
  const second = await start('worker');
  const text = await events;
  const [summary] = eventsOf(text, 'summary');
  expect(summary).toMatchObject({ batch_id: batchId, state: 'interrupted' });
  const claimed = await t.database.db.select().from(readings).where(eq(readings.batchId, batchId));
  expect(eventsOf(text, 'result').map((r) => r.reading_id).sort()).toEqual(expect.arrayContaining(claimed.map((r) => r.id).sort()));
  expect((await t.database.db.select().from(batches).where(eq(batches.id, batchId)))[0]!.state).toBe('interrupted');
  await waitCompleted(t.database.db, rows.map((r) => r.id), 120_000);
  await Promise.all([stop(second.child, 'SIGTERM'), stop(api.child, 'SIGTERM')]);
  await verify(rows);
}, 200_000);

const KILL_POINTS = Number(process.env.KILL_POINTS ?? 5);

it(`a worker SIGKILLed at ${KILL_POINTS} random points of one run and restarted each time: nothing lost or minted twice`, async () => {
  if (!t) return;
  const users = Array.from({ length: 60 }, () => Keypair.generate().publicKey);
  const rows = await seed(Number(process.env.KILL_READINGS ?? 300), users, 'cccccccc');
  let state = Number(process.env.FAULTS_SEED ?? 7);
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let k = 0; k < KILL_POINTS; k++) {
    const w = await start('worker', { BLOCKCHAIN_MAX_BATCH_SIZE: '40' });
    // Anywhere in claim → sign → record → send → confirm: the worker cycles every 100 ms.
    await new Promise((r) => setTimeout(r, 50 + random() * 1_500));
    await stop(w.child, 'SIGKILL');
  }
  const last = await start('worker');
  await waitCompleted(t!.database.db, rows.map((r) => r.id), 180_000);
  await stop(last.child, 'SIGTERM');
  await verify(rows);
}, 400_000);

// Last: it mints one token outside the service on purpose.
it('npm run reconcile prints no differences, and exits 1 when the chain disagrees', async () => {
  if (!t || !chain.localnet) return;
  const run = () =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/reconcile.ts'], {
        cwd: REPO_ROOT,
        // As the README documents it: the database and the chain, no credentials.
        env: { PATH: process.env.PATH, DATABASE_URL: t!.url!, SOLANA_RPC_URL: chain.url },
      });
      let out = '';
      child.stdout.on('data', (d) => (out += String(d)));
      child.stderr.on('data', (d) => (out += String(d)));
      child.on('exit', (code) => resolve({ code, out }));
    });
  const ok = await run();
  expect(ok.out).toMatch(/ 0 differences; supply moved (\d+), completed readings \1\n/);
  expect(ok.code).toBe(0);
  // Mint one token outside the service: the chain holds a mint the ledger does not, and the supply moved more.
  const [row] = await t.database.db.select().from(readings).where(eq(readings.status, 'completed')).limit(1);
  const auth = (await import('../support/energyToken.js')).authority();
  const program = (await import('../support/energyToken.js')).anchorProgram(chain.connection, auth);
  const BN = (await import('bn.js')).default;
  await program.methods.mintTokensDirect!(new BN(1))
    .accountsStrict({ tokenInfo: TOKEN_INFO, mint: MINT, userTokenAccount: ataOf(new PublicKey(row!.walletAddress)), authority: auth.publicKey, registryAuthority: registryAuthority(), recValidator: recValidator().publicKey, tokenProgram: TOKEN_2022_PROGRAM_ID })
    .signers([recValidator()])
    .rpc();
  const bad = await run();
  expect(bad.out).toMatch(/DIFF unrecorded_mint \w+: mint_tokens_direct of 1 base units not in the ledger/);
  expect(bad.out).toMatch(/DIFF supply/);
  expect(bad.code).toBe(1);
}, 120_000);
