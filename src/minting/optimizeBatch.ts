// optimizeBatch: readings → packed transactions. One mint instruction per recipient (user and wallet
// together) summing its readings, split where the sum would pass the per-instruction token cap; a
// single reading above the cap (a register meter's delta after days offline) becomes several mint
// instructions of the same planned mint, always in one transaction, so it lands whole or not at all; then as many recipients per transaction as fit the wire size, the account
// locks, the compute budget and the instruction trace. Pure and deterministic: the same input gives the same plan.
import type { Lookups } from '../chain/lookupTables.js';
import { CO_SIGNED, type GenerationWindow, type MintShape } from '../chain/mintTransaction.js';
import { InvalidBatchData } from '../errors.js';
import type { MintBatchData } from './types.js';

export interface PackLimits {
  /** BLOCKCHAIN_MAX_TOKENS_PER_TRANSACTION: base units one mint instruction may carry. */
  maxTokensPerInstruction: bigint;
  /** BLOCKCHAIN_USERS_PER_TX: distinct recipients per transaction (1 = the seed's shape). */
  usersPerTx: number;
  maxTxBytes: number;
  maxAccountLocks: number;
  maxComputeUnits: number;
  /** Instructions one transaction may run, its programs' calls (CPIs) included. */
  maxInstructionTrace: number;
  /** Compute units budgeted per mint_tokens_direct, and per ATA created (worst case, for packing). */
  cuPerMint: number;
  cuPerAtaCreate: number;
  /** What one mint transaction names and who signs it (the chain's `shape`, from the IDL); default: CO_SIGNED. */
  shape?: MintShape;
}

/** Limits of the Solana runtime, and compute figures measured on the local chain (README). */
export const RUNTIME_LIMITS = {
  maxTxBytes: 1232,
  maxAccountLocks: 64,
  maxComputeUnits: 1_400_000,
  // Agave's MAX_INSTRUCTION_TRACE_LENGTH: it, not the wire size, bounds a v0 transaction with every account
  // looked up (31 mints: 2 budget instructions + 2 per mint), measured on the local chain.
  maxInstructionTrace: 64,
  cuPerMint: 9_000, // measured 6,862 on energy_token 0.1.0, 8,414 on 0.1.1 (one more step of its token_info bump search)
  cuPerAtaCreate: 32_000, // measured ~16,000 + up to ~15,000 for the bump search
  // mint_generation: measured 12,918 with its record created at bump 255 (7,928 replayed); each lower bump adds
  // 1,500, so this covers bumps down to 253 (seven windows in eight); the engine simulates to set the real limit.
  cuPerGeneration: 16_000,
} as const;

export interface PlannedMint {
  userId: string;
  walletAddress: string;
  amount: bigint;
  /** The mint instructions' amounts (their sum is `amount`): one, or several for one reading above the cap. */
  parts: bigint[];
  readingIds: string[];
  /** CreateIdempotent goes before this mint: the recipient's token account is not known to exist. */
  createAta: boolean;
  /** mint_generation: the (meter, window) this mint settles, in one instruction of `amount`. */
  window?: GenerationWindow;
}

export interface PlannedTransaction {
  mints: PlannedMint[];
  bytes: number;
  accountLocks: number;
  computeUnits: number;
  /** Instructions run, CPIs included (the runtime's instruction trace). */
  instructionTrace: number;
  /**
   * v0 with these lookup tables (addresses; absent or empty: legacy). Build it with exactly these tables, in
   * the order the chain's table list has them: an account held by two tables is looked up in the first, as
   * measure() counted it.
   */
  lookupTables?: string[];
}

// Wire sizes of a legacy transaction: its signatures (64 bytes each, the shape says how many), header, keys.
const signaturesBytes = (shape: MintShape) => 1 + 64 * shape.signers;
const HEADER = 3;
const BLOCKHASH = 32;
const IX_CU_LIMIT = 1 + 1 + 1 + 5;
const IX_CU_PRICE = 1 + 1 + 1 + 9;
/** One mint instruction: program index, account count and indexes, data length, discriminator + u64. */
const ixMintBytes = (shape: MintShape) => 1 + 1 + shape.accountsPerMint + 1 + 16;
const IX_CREATE_ATA = 1 + 1 + 6 + 1 + 1; // 6 accounts, [1]
/** authority, token_info, mint, Token-2022, the program, ComputeBudget */
const SHARED_KEYS = ['authority', 'token_info', 'mint', 'token_2022', 'program', 'compute_budget'];
const BUDGET_CU = 300; // the two compute-budget instructions
// Instruction trace entries, measured on the local chain: mint_tokens_direct and its CPI to Token-2022's
// mint_to; a token account's CreateIdempotent and its four CPIs (data size, create_account, immutable owner,
// initialize). An account address that already holds lamports takes two more CPIs (transfer, allocate and
// assign instead of create_account): such a transaction fails whole and the engine blames that mint alone.
const TRACE_BUDGET = 2;
const TRACE_MINT = 2;
const TRACE_CREATE_ATA = 5;
// mint_generation, measured: 3 when it creates its record (itself, CreateAccount, MintTo), 1 on a replay, 5 when
// the record's address already held lamports (Transfer, Allocate, Assign instead of CreateAccount). Packed at 5:
// bytes bind long before the trace does (8 windows a legacy transaction), so the worst case costs nothing.
const TRACE_GENERATION = 5;
/** One mint_generation: program index, 11 account indexes and their count, data length, 8 + 16 + 8 + 8 bytes of data. */
const IX_GENERATION = 1 + 1 + 11 + 1 + 40;
/** Shared by the windows of a transaction besides SHARED_KEYS: the co-signer, the ATA program, the system program. */
const GENERATION_SHARED = ['ata_program', 'system'];
// A v0 message adds its version byte and, per lookup table, the table's address and its writable and
// read-only index lists (a compact length each, then one byte per index).
const V0_PREFIX = 1;
const TABLE_LOOKUP = 32;

const compactLen = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : 3);

/**
 * The table that holds an account of measure()'s key set, and whether the transaction writes it. Signers and
 * invoked programs (authority, the program, ComputeBudget, the ATA program) are never looked up.
 */
function lookedUp(key: string, lookups: Lookups, shape: MintShape): { table: string; writable: boolean } | null {
  const [kind, wallet = ''] = key.split(':');
  const table =
    kind === 'token_info' ? lookups.shared.tokenInfo
    : kind === 'mint' ? lookups.shared.mint
    : kind === 'token_2022' ? lookups.shared.token2022
    : kind === 'system' ? lookups.shared.system
    : kind === 'ata' ? lookups.ata.get(wallet)
    : kind === 'wallet' ? lookups.wallet.get(wallet)
    : undefined;
  return table === undefined ? null : { table, writable: (kind === 'token_info' && shape.tokenInfoWritable) || kind === 'mint' || kind === 'ata' };
}

/**
 * Wire bytes, account locks and compute units of one transaction of these mints: legacy, or v0 with the
 * given tables when that is smaller (every account a table holds is then looked up: one index byte instead
 * of 32, plus 34 bytes or more per table used).
 */
export function measure(mints: PlannedMint[], lookups?: Lookups, shape: MintShape = CO_SIGNED): Omit<PlannedTransaction, 'mints'> {
  const generation = mints.some((m) => m.window);
  // mint_generation names no registry_authority; the REC validator co-signs it as mint_tokens_direct's co-signer does.
  const keys = new Set(generation ? [...SHARED_KEYS, ...shape.extraShared.filter((k) => k === 'rec_validator'), ...GENERATION_SHARED] : [...SHARED_KEYS, ...shape.extraShared]);
  const IX_MINT = ixMintBytes(shape);
  let ixBytes = IX_CU_LIMIT + IX_CU_PRICE;
  let nIx = 2;
  let cu = BUDGET_CU;
  let trace = TRACE_BUDGET;
  for (const m of mints) {
    if (m.window) {
      // Each window brings its record, its token account and that account's owner (destination_owner).
      keys.add(`ata:${m.walletAddress}`).add(`wallet:${m.walletAddress}`).add(`record:${m.window.meterId}:${m.window.startMs}`);
      ixBytes += IX_GENERATION;
      nIx++;
      cu += RUNTIME_LIMITS.cuPerGeneration;
      trace += TRACE_GENERATION;
      if (m.createAta) {
        ixBytes += IX_CREATE_ATA;
        nIx++;
        cu += RUNTIME_LIMITS.cuPerAtaCreate;
        trace += TRACE_CREATE_ATA;
      }
      continue;
    }
    keys.add(`ata:${m.walletAddress}`);
    ixBytes += IX_MINT * m.parts.length;
    nIx += m.parts.length;
    cu += RUNTIME_LIMITS.cuPerMint * m.parts.length;
    trace += TRACE_MINT * m.parts.length;
    if (m.createAta) {
      keys.add(`wallet:${m.walletAddress}`).add('system').add('ata_program');
      ixBytes += IX_CREATE_ATA;
      nIx++;
      cu += RUNTIME_LIMITS.cuPerAtaCreate;
      trace += TRACE_CREATE_ATA;
    }
  }
  const body = (staticKeys: number) => signaturesBytes(shape) + HEADER + compactLen(staticKeys) + 32 * staticKeys + BLOCKHASH + compactLen(nIx) + ixBytes;
  const legacy = { bytes: body(keys.size), accountLocks: keys.size, computeUnits: cu, instructionTrace: trace };
  if (!lookups) return legacy;

  const tables = new Map<string, { writable: number; readonly: number }>();
  let staticKeys = 0;
  for (const key of keys) {
    const at = lookedUp(key, lookups, shape);
    if (!at) {
      staticKeys++;
      continue;
    }
    const t = tables.get(at.table) ?? { writable: 0, readonly: 0 };
    if (at.writable) t.writable++;
    else t.readonly++;
    tables.set(at.table, t);
  }
  let bytes = V0_PREFIX + body(staticKeys) + compactLen(tables.size);
  for (const t of tables.values()) bytes += TABLE_LOOKUP + compactLen(t.writable) + t.writable + compactLen(t.readonly) + t.readonly;
  return bytes < legacy.bytes ? { ...legacy, bytes, lookupTables: [...tables.keys()].sort() } : legacy;
}

const recipientKey = (r: MintBatchData) => `${r.userId}\u0000${r.walletAddress}`;

/** An amount as instructions of at most `cap` base units each. */
export function splitUnderCap(amount: bigint, cap: bigint): bigint[] {
  const parts: bigint[] = [];
  for (let left = amount; left > 0n; left -= cap) parts.push(left < cap ? left : cap);
  return parts;
}

/** Split each recipient's readings into mint instructions under the cap; readings keep their order. */
export function groupByRecipient(batch: MintBatchData[], maxTokensPerInstruction: bigint, ataKnown: (wallet: string) => boolean): PlannedMint[] {
  const groups = new Map<string, MintBatchData[]>();
  for (const r of batch) {
    if (r.tokensToMint <= 0n) throw new InvalidBatchData('tokens_to_mint must be positive', r.readingId);
    const list = groups.get(recipientKey(r)) ?? [];
    list.push(r);
    groups.set(recipientKey(r), list);
  }
  const mints: PlannedMint[] = [];
  for (const key of [...groups.keys()].sort()) {
    const readings = groups.get(key)!;
    const { userId, walletAddress } = readings[0]!;
    let current: PlannedMint | null = null;
    let first = true;
    for (const r of readings) {
      if (!current || current.amount + r.tokensToMint > maxTokensPerInstruction) {
        current = { userId, walletAddress, amount: 0n, parts: [], readingIds: [], createAta: first && !ataKnown(walletAddress) };
        first = false;
        mints.push(current);
      }
      current.amount += r.tokensToMint;
      current.readingIds.push(r.readingId);
      // A reading above the cap fills its planned mint alone: the next reading starts another.
      current.parts = splitUnderCap(current.amount, maxTokensPerInstruction);
    }
  }
  return mints;
}

/**
 * mint_generation: one planned mint per (meter, window), summing its readings into one instruction (never split:
 * the record admits one mint, of one amount). Minted to the wallet of the window's last reading in the order given
 * (the runner gives them in time order). A token account not known to exist is created before each window (the
 * packer keeps only the first creation per wallet in a transaction).
 */
export function groupByWindow(batch: MintBatchData[], ataKnown: (wallet: string) => boolean): PlannedMint[] {
  const groups = new Map<string, MintBatchData[]>();
  for (const r of batch) {
    if (!r.window) throw new InvalidBatchData('a reading without its window cannot be minted with mint_generation', r.readingId);
    if (r.tokensToMint <= 0n) throw new InvalidBatchData('tokens_to_mint must be positive', r.readingId);
    const key = `${r.window.meterId}:${String(r.window.startMs).padStart(16, '0')}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.keys()].sort().map((key) => {
    const readings = groups.get(key)!;
    const last = readings[readings.length - 1]!;
    const amount = readings.reduce((sum, r) => sum + r.tokensToMint, 0n);
    if (amount > U64_MAX) throw new InvalidBatchData(`the window's sum ${amount} is more than one instruction carries (u64)`, last.readingId);
    return { userId: last.userId, walletAddress: last.walletAddress, amount, parts: [amount], readingIds: readings.map((r) => r.readingId), createAta: !ataKnown(last.walletAddress), window: last.window };
  });
}

const U64_MAX = 2n ** 64n - 1n;

function fits(mints: PlannedMint[], limits: PackLimits, lookups?: Lookups): boolean {
  const m = measure(mints, lookups, limits.shape);
  const recipients = new Set(mints.map((x) => `${x.userId}\u0000${x.walletAddress}`)).size;
  return (
    m.bytes <= limits.maxTxBytes &&
    m.accountLocks <= limits.maxAccountLocks &&
    m.computeUnits <= limits.maxComputeUnits &&
    m.instructionTrace <= limits.maxInstructionTrace &&
    recipients <= limits.usersPerTx
  );
}

/** Greedy: each planned mint joins the current transaction while it fits, else starts the next one. */
function pack(mints: PlannedMint[], limits: PackLimits, lookups?: Lookups): PlannedTransaction[] {
  const plan: PlannedTransaction[] = [];
  let current: PlannedMint[] = [];
  const close = () => {
    if (current.length) plan.push({ mints: current, ...measure(current, lookups, limits.shape) });
    current = [];
  };
  for (const planned of mints) {
    // A window's token account is created once per transaction, before the first window to it.
    const creates = (ms: PlannedMint[]) => ms.some((m) => m.createAta && m.walletAddress === planned.walletAddress);
    let mint = planned.window && planned.createAta && creates(current) ? { ...planned, createAta: false } : planned;
    if (!fits([...current, mint], limits, lookups)) {
      close();
      mint = planned;
    }
    if (!fits([mint], limits, lookups)) throw new InvalidBatchData(`a single mint for wallet ${mint.walletAddress} does not fit one transaction`);
    current.push(mint);
  }
  close();
  return plan;
}

/**
 * The batch's transactions. With `lookups` (the service's tables, chain/lookupTables.ts) a v0 plan is made
 * too, recipients whose token accounts share a table planned together (each further table in one
 * transaction costs 34 bytes more), and it is taken only when it needs fewer transactions than the legacy
 * plan: fewer signatures, fewer lamports.
 */
export function optimizeBatch(batch: MintBatchData[], limits: PackLimits, ataKnown: (wallet: string) => boolean = () => false, lookups?: Lookups): PlannedTransaction[] {
  // mint_generation: legacy transactions only (a window's record is a new account each time: no table holds it).
  if (batch.some((r) => r.window)) return pack(groupByWindow(batch, ataKnown), limits);
  const mints = groupByRecipient(batch, limits.maxTokensPerInstruction, ataKnown);
  const legacy = pack(mints, limits);
  if (!lookups) return legacy;
  // A stable sort: a recipient's planned mints keep their order; recipients in no table go last.
  const tableOf = (m: PlannedMint) => lookups.ata.get(m.walletAddress) ?? '\uffff';
  const byTable = [...mints].sort((a, b) => (tableOf(a) < tableOf(b) ? -1 : tableOf(a) > tableOf(b) ? 1 : 0));
  const v0 = pack(byTable, limits, lookups);
  return v0.length < legacy.length ? v0 : legacy;
}

/**
 * The most base units one reading can carry and still fit one transaction (with its token account's
 * creation): larger register deltas are refused at acceptance, since a reading is minted in one transaction.
 */
export function maxTokensPerReadingInOneTx(limits: PackLimits): bigint {
  const one = (n: number): PlannedMint[] => [{ userId: '', walletAddress: '', amount: 0n, parts: Array<bigint>(n).fill(1n), readingIds: [], createAta: true }];
  let n = 1;
  while (fits(one(n + 1), limits)) n++;
  return BigInt(n) * limits.maxTokensPerInstruction;
}

export interface FeeEstimate {
  transactions: number;
  signatures: number;
  baseFeeLamports: bigint;
  priorityFeeLamports: bigint;
  rentLamports: bigint;
  totalLamports: bigint;
  tokenAccountsCreated: number;
  /** mint_generation: window records the plan would create (each 1,183,200 lamports of rent, counted in rentLamports). */
  mintRecordsCreated: number;
}

/** Lamports one transaction costs in fees: 5,000 per signature, and the priority fee on its compute-unit limit. */
export function transactionFee(signatures: number, priceMicroLamports: bigint, cuLimit: number): bigint {
  return BigInt(signatures) * 5_000n + (priceMicroLamports * BigInt(cuLimit) + 999_999n) / 1_000_000n;
}

/**
 * The real cost of a plan: 5,000 lamports per signature (every signer of each transaction: the authority, and
 * the REC validator where it co-signs), the priority fee (µlamports per CU × the CU limit each transaction
 * requests) and the rent of every token account it creates.
 */
export function estimateBatchFee(
  plan: PlannedTransaction[],
  f: { priorityMicroLamports: bigint; rentPerTokenAccount: bigint; signersPerTransaction: number; cuLimit?: (tx: PlannedTransaction) => number; rentPerMintRecord?: bigint },
): FeeEstimate {
  const signatures = plan.length * f.signersPerTransaction;
  const baseFeeLamports = transactionFee(signatures, 0n, 0);
  let priorityFeeLamports = 0n;
  let created = 0;
  let records = 0;
  for (const tx of plan) {
    priorityFeeLamports += transactionFee(0, f.priorityMicroLamports, f.cuLimit ? f.cuLimit(tx) : tx.computeUnits);
    created += tx.mints.filter((m) => m.createAta).length;
    records += tx.mints.filter((m) => m.window).length;
  }
  const rentLamports = BigInt(created) * f.rentPerTokenAccount + BigInt(records) * (f.rentPerMintRecord ?? 0n);
  return {
    transactions: plan.length,
    signatures,
    baseFeeLamports,
    priorityFeeLamports,
    rentLamports,
    totalLamports: baseFeeLamports + priorityFeeLamports + rentLamports,
    tokenAccountsCreated: created,
    mintRecordsCreated: records,
  };
}
