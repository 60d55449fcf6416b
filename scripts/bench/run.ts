// `npm run bench [-- --quick] [--readings N --users N --slot-ms N]`: the same workload minted by several
// strategies in turn, each on a fresh local chain with the same slot time:
//   1 per_reading    one transaction per reading, sequential, ATA looked up and created in its own transaction
//   2 per_user       the seed's design: group per user, check-then-create ATA, one mint per user, p-limit 5
//   3 engine         the service's engine with its defaults (lookup tables on, LOOKUP_TABLE_MIN_MINTS 2: these
//                    recipients are new, so none qualifies and every transaction is legacy)
//   3b engine_known  the engine once every recipient's token account exists (minted to before), legacy only
//   3c engine_v0     the same recipients, minted to often: all in the service's lookup table, v0 transactions
//   4 send_ceiling   the engine's planned transactions prebuilt and signed, then only sent and confirmed
//   5 chain_ceiling  the same transactions executed by LiteSVM in-process, no RPC
// Then the program's versions (the engine on each), and the mint instructions on energy_token 0.1.1: one
// workload of meters' readings in closed 15-minute windows, minted with mint_tokens_direct and with
// mint_generation (one instruction and one GenerationMintRecord per (meter, window)), fee and rent apart.
// Fees and compute units are read back from getTransaction for every transaction each strategy sent.
// Then the scale section (skip it with --no-scale): POST /readings at 0 and 300,000 pending against the raw
// multi-row INSERT (ingest.ts), and sustained minting of 20,000 readings from 5,000 meters through the API,
// the engine against today's fixed 8 in flight, with the chain's per-account bound (scale.ts).
// Writes bench-results/latest.json and bench-results/latest.svg (and ingest-scale.json, scale.json, scale.svg).
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import BN from 'bn.js';
import { Program } from '@coral-xyz/anchor';
import { ComputeBudgetProgram, Connection, type Keypair, PublicKey, Transaction, type TransactionInstruction } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, createAssociatedTokenAccountInstruction, createAssociatedTokenAccountIdempotentInstruction, getAssociatedTokenAddressSync } from '@solana/spl-token';
import { Keypair as Kp } from '@solana/web3.js';
import pLimit from 'p-limit';
import { startLocalnet, type Localnet } from '../../anchor-localnet/server.js';
import { localnetAuthority, localnetRecValidator, localnetRegistryAuthority, mintAddress, tokenInfoAddress } from '../../anchor-localnet/fixtures.js';
import { loadIdl, programInterface } from '../../src/chain/energyToken.js';
import { generationRecordAddress, makeMintChain, RENT_GENERATION_RECORD } from '../../src/chain/mintTransaction.js';
import { generationMeterIdOf, WINDOW_MS } from '../../src/minting/windows.js';
import { makeMintEngine } from '../../src/minting/engine.js';
import { makeLookupTables } from '../../src/chain/lookupTables.js';
import { openDatabase } from '../../src/db/client.js';
import { makeLookupTableStore } from '../../src/db/lookupTables.js';
import { makeInFlightLimiter } from '../../src/minting/inFlight.js';
import { makeRpcClient } from '../../src/chain/rpcClient.js';
import { makeLog } from '../../src/log.js';
import { optimizeBatch, RUNTIME_LIMITS } from '../../src/minting/optimizeBatch.js';
import { readFileSync } from 'node:fs';
import { address, getTransactionDecoder } from '@solana/kit';
import { LiteSVM } from 'litesvm';
import { readFixtures } from '../../anchor-localnet/fixtures.js';
import { accountsDir, idlPath, PROGRAM_VERSIONS, programSoPath, type ProgramVersion, versionOfIdl } from '../../anchor-localnet/paths.js';
import type { MintBatchData } from '../../src/minting/types.js';
import { hardware, progress, table } from './support.js';
import { ingestion, ingestionAtScale, printIngestionScale } from './ingest.js';
import { DEFAULT_CASES, mintingAtScale, printMintingScale, writeMintingScale } from './scale.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    readings: { type: 'string' },
    users: { type: 'string' },
    'slot-ms': { type: 'string', default: '400' },
    out: { type: 'string', default: 'bench-results/latest.json' },
    /** Skip the scale section (ingestion under a backlog, sustained minting through the API). */
    'no-scale': { type: 'boolean', default: false },
    'scale-meters': { type: 'string' },
    'scale-readings': { type: 'string' },
    pending: { type: 'string' },
  },
});
const READINGS = Number(values.readings ?? (values.quick ? 100 : 1000));
const USERS = Number(values.users ?? (values.quick ? 20 : 200));
const SLOT_MS = Number(values['slot-ms']);

/**
 * One version of the energy_token program as the strategies use it: its IDL, addresses, and (0.1.1) the REC
 * validator that co-signs every mint and the registry authority every mint names.
 */
function programContext(version: ProgramVersion) {
  const idl = loadIdl(idlPath(version));
  const programId = new PublicKey(idl.address);
  const coSigned = programInterface(idl).coSigned;
  return {
    version,
    idl,
    programId,
    mint: mintAddress(programId),
    tokenInfo: tokenInfoAddress(programId),
    coSigned,
    recValidator: coSigned ? localnetRecValidator() : null,
    registryAuthority: coSigned ? localnetRegistryAuthority().publicKey : null,
    /** Who signs a mint transaction besides the authority (the fee payer). */
    coSigners: coSigned ? [localnetRecValidator()] : [],
  };
}
type ProgramContext = ReturnType<typeof programContext>;

/** The strategies run on the version the service speaks by default (its IDL); the engine also on the other. */
const main = programContext(versionOfIdl(loadIdl() as { metadata?: { version?: unknown } }));
const { idl, programId, mint, tokenInfo } = main;
const programVersion = main.version;
const authority = localnetAuthority();
const users = Array.from({ length: USERS }, () => Kp.generate().publicKey);
const ataOf = (w: PublicKey, m = mint) => getAssociatedTokenAddressSync(m, w, false, TOKEN_2022_PROGRAM_ID);
const workload: MintBatchData[] = Array.from({ length: READINGS }, (_, i) => ({
  readingId: `r${i}`,
  userId: `u${(i * 7) % USERS}`,
  walletAddress: users[(i * 7) % USERS]!.toBase58(),
  kwhAmount: '1',
  tokensToMint: BigInt(1 + ((i * 7919) % 5_000_000_000)),
  meterId: null,
}));

interface Run {
  signatures: string[];
  /** Readings minted, when not the main workload's READINGS. */
  readings?: number;
  /** ms from the start to the confirmation of each reading */
  latencies: number[];
  seconds: number;
}

async function fresh(p: ProgramContext = main): Promise<{ net: Localnet; connection: Connection; program: Program; p: ProgramContext }> {
  const net = await startLocalnet({ slotMs: SLOT_MS, programVersion: p.version });
  const connection = new Connection(net.url, { commitment: 'confirmed', wsEndpoint: net.wsUrl });
  // Half the users already have a token account.
  for (let i = 0; i < USERS / 2; i += 10) {
    await sendConfirm(connection, users.slice(i, Math.min(i + 10, USERS / 2)).map((u) => createAssociatedTokenAccountIdempotentInstruction(authority.publicKey, ataOf(u, p.mint), u, p.mint, TOKEN_2022_PROGRAM_ID)), authority);
  }
  return { net, connection, program: new Program(p.idl, { connection } as never), p };
}

async function sendConfirm(connection: Connection, ixs: TransactionInstruction[], signer: Keypair, coSigners: Keypair[] = []): Promise<string> {
  const { blockhash, lastValidBlockHeight } = await connection.getLatestBlockhash('confirmed');
  const tx = new Transaction({ feePayer: signer.publicKey, blockhash, lastValidBlockHeight }).add(...ixs);
  tx.sign(signer, ...coSigners);
  const signature = await connection.sendRawTransaction(tx.serialize());
  const res = await connection.confirmTransaction({ signature, blockhash, lastValidBlockHeight }, 'confirmed');
  if (res.value.err) throw new Error(`transaction failed: ${JSON.stringify(res.value.err)}`);
  return signature;
}

const mintIx = (program: Program, wallet: PublicKey, amount: bigint) => {
  const accounts = { tokenInfo, mint, userTokenAccount: ataOf(wallet), authority: authority.publicKey, tokenProgram: TOKEN_2022_PROGRAM_ID };
  return program.methods
    .mintTokensDirect!(new BN(amount.toString()))
    .accountsStrict(main.coSigned ? { ...accounts, registryAuthority: main.registryAuthority!, recValidator: main.recValidator!.publicKey } : accounts)
    .instruction();
};

/** Check-then-create in its own transaction, as the GridTokenX gateway and the seed do. */
async function ensureAta(connection: Connection, wallet: PublicKey, signatures: string[]): Promise<void> {
  if (await connection.getAccountInfo(ataOf(wallet), 'confirmed')) return;
  signatures.push(await sendConfirm(connection, [createAssociatedTokenAccountInstruction(authority.publicKey, ataOf(wallet), wallet, mint, TOKEN_2022_PROGRAM_ID)], authority));
}

async function perReading(connection: Connection, program: Program): Promise<Run> {
  const signatures: string[] = [];
  const latencies: number[] = [];
  const start = performance.now();
  for (const [i, r] of workload.entries()) {
    const wallet = new PublicKey(r.walletAddress);
    await ensureAta(connection, wallet, signatures);
    signatures.push(await sendConfirm(connection, [await mintIx(program, wallet, r.tokensToMint)], authority, main.coSigners));
    latencies.push(performance.now() - start);
    progress('per_reading', i + 1, READINGS);
  }
  return { signatures, latencies, seconds: (performance.now() - start) / 1000 };
}

async function perUser(connection: Connection, program: Program): Promise<Run> {
  const signatures: string[] = [];
  const latencies: number[] = [];
  const groups = new Map<string, MintBatchData[]>();
  for (const r of workload) groups.set(r.userId, [...(groups.get(r.userId) ?? []), r]);
  const limit = pLimit(5);
  let done = 0;
  const start = performance.now();
  await Promise.all(
    [...groups.values()].map((rs) =>
      limit(async () => {
        const wallet = new PublicKey(rs[0]!.walletAddress);
        await ensureAta(connection, wallet, signatures);
        const total = rs.reduce((s, r) => s + r.tokensToMint, 0n);
        signatures.push(await sendConfirm(connection, [await mintIx(program, wallet, total)], authority, main.coSigners));
        for (const _ of rs) latencies.push(performance.now() - start);
        progress('per_user', (done += rs.length), READINGS);
      }),
    ),
  );
  return { signatures, latencies, seconds: (performance.now() - start) / 1000 };
}

/**
 * `tables`: 'default' as the service starts (LOOKUP_TABLE_MIN_MINTS 2, mint counts kept here for the one
 * batch), 'off' (legacy only), or 'all' (every recipient minted to and put in the table before the clock
 * starts: the table's rent and the setup's fees are not counted, see the README); 'off' and 'all' mint to every
 * recipient once before the clock starts, so their token accounts exist. 'none': legacy only, recipients as they
 * are (the service with MINT_INSTRUCTION=mint_generation, which keeps no tables).
 */
async function engine(net: Localnet, tables: 'default' | 'off' | 'all' | 'none' = 'default', p: ProgramContext = main, load: MintBatchData[] = workload, label = 'engine'): Promise<Run> {
  const signatures: string[] = [];
  const latencies: number[] = [];
  // A fixed in-flight limit of 8, as the engine had before its adaptive limiter: the figures stay comparable.
  const inFlight = makeInFlightLimiter({ initial: 8, ceiling: 8 });
  const rpc = makeRpcClient({ url: net.url, timeoutMs: 10_000 });
  const send = { pollMs: 100, rebroadcastMs: 2_000, followTimeoutMs: 120_000 };
  const database = await openDatabase({ pgliteDir: 'memory://' });
  const lookups = makeLookupTables({ rpc, authority, log: makeLog('silent'), store: makeLookupTableStore(database), send, shared: { tokenInfo: p.tokenInfo, mint: p.mint } });
  // The transactions that minted to each wallet, as the service counts them (db/lookupTables' mintCounts).
  const counts = new Map<string, Set<string>>();
  const make = (recorded: string[]) =>
    makeMintEngine({
      chain: makeMintChain({
        rpc,
        authority,
        recValidator: p.recValidator,
        registryAuthority: p.registryAuthority,
        programId: p.programId,
        mint: p.mint,
        idl: p.idl,
        log: makeLog('silent'),
        onRateLimited: inFlight.rateLimited,
      }),
      log: makeLog('silent'),
      limits: { ...RUNTIME_LIMITS, maxTokensPerInstruction: 10n ** 12n, usersPerTx: 64 },
      maxBatchSize: () => load.length,
      inFlight,
      maxPriorityMicroLamports: 100_000n,
      send,
      onSigned: async (r) => void recorded.push(r.signature),
      lookupTables: tables === 'off' || tables === 'none' ? undefined : { tables: lookups, minMints: 2, mintCounts: async (ws) => new Map(ws.map((w) => [w, counts.get(w)?.size ?? 0])) },
    });
  if (tables === 'off' || tables === 'all') {
    // Every recipient minted to once (its token account made), and for 'all' put in the table: not counted.
    const setup = make([]);
    for await (const r of setup.mintStream(users.map((u, i) => ({ readingId: `setup${i}`, userId: `u${i}`, walletAddress: u.toBase58(), kwhAmount: '1', tokensToMint: 1n, meterId: null })))) {
      if (!r.success) throw new Error(`setup failed: ${r.error}`);
    }
    if (tables === 'all') await lookups.addRecipients(users.map((u) => u.toBase58()));
  }
  const engine = make(signatures);
  const walletOf = new Map(load.map((r) => [r.readingId, r.walletAddress]));
  const start = performance.now();
  let done = 0;
  for await (const r of engine.mintStream(load)) {
    if (!r.success) throw new Error(`engine failed reading ${r.readingId}: ${r.error}`);
    const wallet = walletOf.get(r.readingId)!;
    counts.set(wallet, (counts.get(wallet) ?? new Set()).add(r.txSignature!));
    latencies.push(performance.now() - start);
    progress(label, ++done, load.length);
  }
  await database.close();
  return { signatures, latencies, seconds: (performance.now() - start) / 1000, readings: load.length };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

/** `records`: the workload's GenerationMintRecord addresses, whose rent is told apart from the token accounts'. */
async function measure(name: string, run: (f: Awaited<ReturnType<typeof fresh>>) => Promise<Run>, p: ProgramContext = main, records: Set<string> = new Set()) {
  const f = await fresh(p);
  try {
    const r = await run(f);
    const n = r.readings ?? READINGS;
    let fee = 0;
    let cu = 0;
    let rent = 0;
    let recordRent = 0;
    let recordsCreated = 0;
    let signatures = 0;
    for (const sig of r.signatures) {
      const tx = await f.connection.getTransaction(sig, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
      fee += tx?.meta?.fee ?? 0;
      cu += tx?.meta?.computeUnitsConsumed ?? 0;
      signatures += tx?.transaction.signatures.length ?? 0;
      // What the fee payer spent besides the fee: the rent of the accounts the transaction created (token
      // accounts; with mint_generation also its windows' records).
      if (tx?.meta) {
        rent += tx.meta.preBalances[0]! - tx.meta.postBalances[0]! - tx.meta.fee;
        tx.transaction.message.staticAccountKeys.forEach((key, i) => {
          if (!records.has(key.toBase58()) || tx.meta!.preBalances[i] !== 0) return;
          recordRent += tx.meta!.postBalances[i]!;
          recordsCreated++;
        });
      }
    }
    return {
      name,
      transactions: r.signatures.length,
      readings_per_s: n / r.seconds,
      tx_per_reading: r.signatures.length / n,
      signatures_per_reading: signatures / n,
      fee_lamports_per_reading: fee / n,
      rent_lamports_per_reading: rent / n,
      rent_token_accounts_lamports_per_reading: (rent - recordRent) / n,
      rent_records_lamports_per_reading: recordRent / n,
      records_created: recordsCreated,
      readings: n,
      rent_records_lamports: recordRent,
      cu_per_reading: cu / n,
      p50_ms: pct(r.latencies, 50),
      p95_ms: pct(r.latencies, 95),
      seconds: r.seconds,
    };
  } finally {
    await f.net.stop();
  }
}

/** The engine's plan for the workload, built and signed up front: what strategies 4 and 5 send. */
async function prebuilt(program: Program, blockhash: string): Promise<Buffer[]> {
  const withAta = new Set(users.slice(0, USERS / 2).map((u) => u.toBase58()));
  const plan = optimizeBatch(workload, { ...RUNTIME_LIMITS, maxTokensPerInstruction: 10n ** 12n, usersPerTx: 64 }, (w) => withAta.has(w));
  const out: Buffer[] = [];
  for (const tx of plan) {
    const ixs: TransactionInstruction[] = [ComputeBudgetProgram.setComputeUnitLimit({ units: tx.computeUnits }), ComputeBudgetProgram.setComputeUnitPrice({ microLamports: 0 })];
    for (const m of tx.mints) {
      const wallet = new PublicKey(m.walletAddress);
      if (m.createAta) ixs.push(createAssociatedTokenAccountIdempotentInstruction(authority.publicKey, ataOf(wallet), wallet, mint, TOKEN_2022_PROGRAM_ID));
      ixs.push(await mintIx(program, wallet, m.amount));
    }
    const t = new Transaction({ feePayer: authority.publicKey, recentBlockhash: blockhash }).add(...ixs);
    t.sign(authority, ...main.coSigners);
    out.push(t.serialize({ verifySignatures: false }));
  }
  return out;
}

/** How many readings each prebuilt transaction carries, for per-reading latencies. */
const readingsPerTx = () => {
  const withAta = new Set(users.slice(0, USERS / 2).map((u) => u.toBase58()));
  return optimizeBatch(workload, { ...RUNTIME_LIMITS, maxTokensPerInstruction: 10n ** 12n, usersPerTx: 64 }, (w) => withAta.has(w)).map((t) => t.mints.reduce((n, m) => n + m.readingIds.length, 0));
};

async function sendCeiling(net: Localnet, program: Program): Promise<Run> {
  const rpc = makeRpcClient({ url: net.url, timeoutMs: 10_000 });
  const { value } = await rpc.call<{ value: { blockhash: string } }>('getLatestBlockhash', [{ commitment: 'confirmed' }]);
  const wires = await prebuilt(program, value.blockhash);
  const counts = readingsPerTx();
  const latencies: number[] = [];
  const limit = pLimit(8);
  const start = performance.now();
  const signatures = await Promise.all(
    wires.map((w, i) =>
      limit(async () => {
        const signature = await rpc.call<string>('sendTransaction', [w.toString('base64'), { encoding: 'base64', skipPreflight: true, maxRetries: 0 }]);
        for (;;) {
          const st = (await rpc.call<{ value: ({ confirmationStatus: string; err: unknown } | null)[] }>('getSignatureStatuses', [[signature]])).value[0];
          if (st?.err) throw new Error(`send_ceiling transaction failed: ${JSON.stringify(st.err)}`);
          if (st && st.confirmationStatus !== 'processed') break;
          await new Promise((r) => setTimeout(r, 20));
        }
        for (let k = 0; k < counts[i]!; k++) latencies.push(performance.now() - start);
        progress('send_ceiling', latencies.length, READINGS);
        return signature;
      }),
    ),
  );
  return { signatures, latencies, seconds: (performance.now() - start) / 1000 };
}

/** Strategy 5: the same prebuilt bytes through LiteSVM in-process (no RPC, no confirmation wait). */
async function chainCeiling(program: Program) {
  const svm = new LiteSVM().withBlockhashCheck(false);
  svm.addProgram(address(programId.toBase58()), readFileSync(programSoPath(programVersion)));
  for (const f of readFixtures(accountsDir(programVersion))) {
    svm.setAccount({ address: address(f.pubkey), lamports: BigInt(f.account.lamports), data: Buffer.from(f.account.data[0], 'base64'), programAddress: address(f.account.owner), executable: false, space: BigInt(f.account.space) } as never);
  }
  const decoder = getTransactionDecoder();
  const blockhash = svm.latestBlockhash();
  for (let i = 0; i < USERS / 2; i += 10) {
    const t = new Transaction({ feePayer: authority.publicKey, recentBlockhash: blockhash }).add(
      ...users.slice(i, Math.min(i + 10, USERS / 2)).map((u) => createAssociatedTokenAccountIdempotentInstruction(authority.publicKey, ataOf(u), u, mint, TOKEN_2022_PROGRAM_ID)),
    );
    t.sign(authority);
    svm.sendTransaction(decoder.decode(t.serialize()) as never);
  }
  const wires = await prebuilt(program, blockhash);
  let cu = 0;
  const start = performance.now();
  for (const w of wires) {
    const r = svm.sendTransaction(decoder.decode(w) as never);
    if ('err' in r) throw new Error(`chain_ceiling transaction failed: ${String(r.err())}`);
    cu += Number(r.computeUnitsConsumed());
  }
  const seconds = (performance.now() - start) / 1000;
  progress('chain_ceiling', READINGS, READINGS);
  return {
    name: 'chain_ceiling',
    transactions: wires.length,
    readings_per_s: READINGS / seconds,
    tx_per_reading: wires.length / READINGS,
    signatures_per_reading: (wires.length * (1 + main.coSigners.length)) / READINGS,
    fee_lamports_per_reading: (wires.length * 5000 * (1 + main.coSigners.length)) / READINGS,
    rent_lamports_per_reading: 0,
    cu_per_reading: cu / READINGS,
    p50_ms: null as number | null,
    p95_ms: null as number | null,
    seconds,
  };
}

const results = [
  await measure('per_reading', (f) => perReading(f.connection, f.program)),
  await measure('per_user', (f) => perUser(f.connection, f.program)),
  await measure('engine', (f) => engine(f.net)),
  await measure('engine_known', (f) => engine(f.net, 'off')),
  await measure('engine_v0', (f) => engine(f.net, 'all')),
  await measure('send_ceiling', (f) => sendCeiling(f.net, f.program)),
];
const ceiling = await chainCeiling(new Program(idl, { connection: {} } as never));
const all = [...results.map((r) => ({ ...r, p50_ms: r.p50_ms as number | null, p95_ms: r.p95_ms as number | null })), ceiling];
const by = Object.fromEntries(all.map((r) => [r.name, r])) as Record<string, (typeof all)[0]>;
const en = by.engine!;
const ratio = (other: string) => en.readings_per_s / by[other]!.readings_per_s;
const ratios = { vs_per_reading: ratio('per_reading'), vs_per_user: ratio('per_user'), vs_send_ceiling: ratio('send_ceiling'), vs_chain_ceiling: ratio('chain_ceiling') };

process.stdout.write(`\nhardware: ${hardware()}\nworkload: ${READINGS} readings from ${USERS} users, half without a token account; slot ${SLOT_MS} ms for every strategy; confirmed commitment\n\n`);
process.stdout.write(
  `${table(
    ['strategy', 'readings/s', 'tx/reading', 'fee lamports/reading', 'CU/reading', 'p50 ms', 'p95 ms', 'seconds'],
    all.map((r) => [r.name, r.readings_per_s.toFixed(1), r.tx_per_reading.toFixed(3), r.fee_lamports_per_reading.toFixed(0), r.cu_per_reading.toFixed(0), r.p50_ms?.toFixed(0) ?? '-', r.p95_ms?.toFixed(0) ?? '-', r.seconds.toFixed(2)]),
  )}\n\n`,
);
process.stdout.write(`${table(['ratio (engine readings/s ÷ other)', 'value'], Object.entries(ratios).map(([k, v]) => [k, v.toFixed(3)]))}\n`);

// The program's versions: the same workload through the engine (its defaults) on each, each on a fresh chain.
// 0.1.1 co-signs every mint (a second signature: 5,000 lamports more per transaction) and names two more
// accounts, so a transaction holds fewer recipients.
const versions = [];
for (const version of PROGRAM_VERSIONS) {
  const p = version === main.version ? main : programContext(version);
  versions.push({ version, ...(await measure(`engine ${version}`, (f) => engine(f.net, 'default', p), p)) });
}
process.stdout.write(
  `\n${table(
    ['energy_token (engine, same workload)', 'readings/s', 'transactions', 'signatures/reading', 'fee lamports/reading', 'rent lamports/reading', 'CU/reading'],
    versions.map((v) => [v.version, v.readings_per_s.toFixed(1), String(v.transactions), v.signatures_per_reading.toFixed(3), v.fee_lamports_per_reading.toFixed(0), v.rent_lamports_per_reading.toFixed(0), v.cu_per_reading.toFixed(0)]),
  )}\n`,
);

// The mint instructions on energy_token 0.1.1, each on a fresh chain, through the engine as the service builds it
// in each mode: mint_tokens_direct with its lookup tables (LOOKUP_TABLE_MIN_MINTS 2), mint_generation without
// (its transactions are legacy). One workload for both: USERS / 4 meters (odd meters' wallets without a token account),
// each with 4 readings in each of READINGS / USERS closed windows; with mint_generation each reading carries its
// (meter, window), as the runner gives them after claiming whole windows.
const PER_WINDOW = 4;
const meterCount = Math.max(1, Math.floor(USERS / 4));
const windowsPerMeter = Math.max(1, Math.floor(READINGS / (meterCount * PER_WINDOW)));
const windowBase = Date.UTC(2026, 0, 1);
const meterLoad: MintBatchData[] = [];
for (let m = 0; m < meterCount; m++) {
  // Even meters' wallets have a token account (fresh() made them), odd meters' not.
  const wallet = users[(m % 2) * Math.floor(USERS / 2) + Math.floor(m / 2)]!.toBase58();
  for (let w = 0; w < windowsPerMeter; w++) {
    for (let k = 0; k < PER_WINDOW; k++) {
      const i = meterLoad.length;
      meterLoad.push({
        readingId: `g${i}`,
        userId: `meter-owner-${m}`,
        walletAddress: wallet,
        kwhAmount: '1',
        tokensToMint: BigInt(1 + ((i * 7919) % 5_000_000_000)),
        meterId: `bench-meter-${m}`,
        window: { meterId: generationMeterIdOf(`bench-meter-${m}`), startMs: windowBase + w * WINDOW_MS },
      });
    }
  }
}
const windowsOfLoad = [...new Map(meterLoad.map((r) => [`${r.window!.meterId}:${r.window!.startMs}`, r.window!])).values()];
const v011 = main.version === '0.1.1' ? main : programContext('0.1.1');
const recordAddresses = new Set(windowsOfLoad.map((w) => generationRecordAddress(v011.programId, w).toBase58()));
const instructions = [
  { instruction: 'mint_tokens_direct', ...(await measure('mint_tokens_direct', (f) => engine(f.net, 'default', v011, meterLoad.map(({ window: _, ...r }) => r), 'mint_tokens_direct'), v011)) },
  { instruction: 'mint_generation', ...(await measure('mint_generation', (f) => engine(f.net, 'none', v011, meterLoad, 'mint_generation'), v011, recordAddresses)) },
];
const generationRun = instructions[1]!;
if (generationRun.records_created !== windowsOfLoad.length || generationRun.rent_records_lamports !== windowsOfLoad.length * Number(RENT_GENERATION_RECORD)) {
  throw new Error(`mint_generation created ${generationRun.records_created} records (${generationRun.rent_records_lamports} lamports) for ${windowsOfLoad.length} windows`);
}
process.stdout.write(
  `\nworkload: ${meterLoad.length} readings of ${meterCount} meters (${Math.floor(meterCount / 2)} of their wallets without a token account), ${PER_WINDOW} per meter in each of ${windowsPerMeter} closed windows (${windowsOfLoad.length} windows); energy_token 0.1.1, slot ${SLOT_MS} ms\n${table(
    ['instruction', 'readings/s', 'transactions', 'CU/reading', 'fee lamports/reading', 'rent lamports/reading: token accounts', 'records', 'records created'],
    instructions.map((v) => [
      v.instruction,
      v.readings_per_s.toFixed(1),
      String(v.transactions),
      v.cu_per_reading.toFixed(0),
      v.fee_lamports_per_reading.toFixed(0),
      v.rent_token_accounts_lamports_per_reading.toFixed(0),
      v.rent_records_lamports_per_reading.toFixed(0),
      String(v.records_created),
    ]),
  )}\n`,
);

const ingest = await ingestion({ requests: values.quick ? 50 : 300, clients: 8, serverUrl: process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test' });
process.stdout.write(
  `\n${table(
    ['ingestion (100 readings per request, 8 clients)', 'readings/s', 'p50 ms', 'p99 ms'],
    [
      ['POST /readings into Postgres', ingest.api_readings_per_s.toFixed(0), ingest.api_p50_ms.toFixed(1), ingest.api_p99_ms.toFixed(1)],
      ['raw multi-row INSERT, same rows', ingest.raw_insert_readings_per_s.toFixed(0), '-', '-'],
      ['ratio', ingest.ratio.toFixed(3), '', ''],
    ],
  )}\n`,
);

mkdirSync('bench-results', { recursive: true });
const strategies = Object.fromEntries(
  all.map((r) => [r.name, { readings_per_s: r.readings_per_s, tx_per_reading: r.tx_per_reading, signatures_per_reading: r.signatures_per_reading, fee_lamports_per_reading: r.fee_lamports_per_reading, cu_per_reading: r.cu_per_reading, ...(r.p50_ms !== null ? { p50_ms: r.p50_ms, p95_ms: r.p95_ms } : {}) }]),
);
const programVersions = Object.fromEntries(
  versions.map((v) => [v.version, { readings_per_s: v.readings_per_s, transactions: v.transactions, signatures_per_reading: v.signatures_per_reading, fee_lamports_per_reading: v.fee_lamports_per_reading, rent_lamports_per_reading: v.rent_lamports_per_reading, cu_per_reading: v.cu_per_reading }]),
);
const mintInstructions = {
  program_version: v011.version,
  workload: { readings: meterLoad.length, meters: meterCount, windows_per_meter: windowsPerMeter, readings_per_window: PER_WINDOW, windows: windowsOfLoad.length, without_token_account: Math.floor(meterCount / 2) },
  ...Object.fromEntries(
    instructions.map((v) => [
      v.instruction,
      {
        readings_per_s: v.readings_per_s,
        transactions: v.transactions,
        cu_per_reading: v.cu_per_reading,
        fee_lamports_per_reading: v.fee_lamports_per_reading,
        rent_token_accounts_lamports_per_reading: v.rent_token_accounts_lamports_per_reading,
        rent_records_lamports_per_reading: v.rent_records_lamports_per_reading,
        records_created: v.records_created,
      },
    ]),
  ),
};
writeFileSync(
  values.out!,
  JSON.stringify({ hardware: hardware(), slot_ms: SLOT_MS, program_version: main.version, workload: { readings: READINGS, users: USERS, without_token_account: USERS / 2 }, strategies, ratios, program_versions: programVersions, mint_instructions: mintInstructions, ingestion: ingest }, null, 2),
);
// A bar chart of readings/s on a log scale, beside the JSON.
const maxLog = Math.log10(Math.max(...all.map((r) => r.readings_per_s)) * 1.5);
const bars = all
  .map((r, i) => {
    const w = Math.max(2, (Math.log10(Math.max(1, r.readings_per_s)) / maxLog) * 520);
    return `<text x="10" y="${40 + i * 36}" font-size="13">${r.name}</text><rect x="130" y="${26 + i * 36}" width="${w.toFixed(1)}" height="20" fill="#3b7dd8"/><text x="${(136 + w).toFixed(1)}" y="${40 + i * 36}" font-size="12">${r.readings_per_s.toFixed(1)}/s</text>`;
  })
  .join('');
writeFileSync(values.out!.replace(/\.json$/, '.svg'), `<svg xmlns="http://www.w3.org/2000/svg" width="760" height="${50 + all.length * 36}" font-family="sans-serif"><text x="10" y="16" font-size="14">readings/s, log scale (${READINGS} readings, ${USERS} users, slot ${SLOT_MS} ms)</text>${bars}</svg>\n`);

if (!values['no-scale']) {
  // The scale section: --quick shrinks it to a smoke run of the same code.
  const serverUrl = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const atScale = await ingestionAtScale({
    serverUrl,
    pending: (values.pending ?? (values.quick ? '0,20000' : '0,300000')).split(',').map(Number),
    requests: values.quick ? 50 : 300,
    clients: 8,
    readingsPerRequest: 100,
  });
  process.stdout.write(`\n== scale: ingestion under a backlog ==\n${printIngestionScale(atScale)}`);
  writeFileSync('bench-results/ingest-scale.json', JSON.stringify(atScale, null, 2));
  const minting = await mintingAtScale({
    serverUrl,
    meters: Number(values['scale-meters'] ?? (values.quick ? 200 : 5000)),
    readings: Number(values['scale-readings'] ?? (values.quick ? 800 : 20000)),
    slotMs: SLOT_MS,
    cases: DEFAULT_CASES,
  });
  process.stdout.write(`\n== scale: sustained minting through the API ==\n${printMintingScale(minting)}`);
  writeMintingScale(minting);
  // The spawned children are gone; end now rather than wait on keep-alive sockets.
  process.exit(0);
}
