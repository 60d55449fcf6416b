// optimizeBatch: readings → packed transactions. One mint instruction per recipient (user and wallet
// together) summing its readings, split where the sum would pass the per-instruction token cap; a
// single reading above the cap (a register meter's delta after days offline) becomes several mint
// instructions of the same planned mint, always in one transaction, so it lands whole or not at all; then as many recipients per transaction as fit the wire size, the account
// locks and the compute budget. Pure and deterministic: the same input gives the same plan.
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
  /** Compute units budgeted per mint_tokens_direct, and per ATA created (worst case, for packing). */
  cuPerMint: number;
  cuPerAtaCreate: number;
}

/** Limits of the Solana runtime, and compute figures measured on the local chain (README). */
export const RUNTIME_LIMITS = {
  maxTxBytes: 1232,
  maxAccountLocks: 64,
  maxComputeUnits: 1_400_000,
  cuPerMint: 7_500, // measured 6,862
  cuPerAtaCreate: 32_000, // measured ~16,000 + up to ~15,000 for the bump search
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
}

export interface PlannedTransaction {
  mints: PlannedMint[];
  bytes: number;
  accountLocks: number;
  computeUnits: number;
}

// Wire sizes of a legacy transaction with one signature (the authority pays and signs).
const SIGNATURES = 1 + 64;
const HEADER = 3;
const BLOCKHASH = 32;
const IX_CU_LIMIT = 1 + 1 + 1 + 5;
const IX_CU_PRICE = 1 + 1 + 1 + 9;
const IX_MINT = 1 + 1 + 5 + 1 + 16; // 5 accounts, discriminator + u64
const IX_CREATE_ATA = 1 + 1 + 6 + 1 + 1; // 6 accounts, [1]
/** authority, token_info, mint, Token-2022, the program, ComputeBudget */
const SHARED_KEYS = ['authority', 'token_info', 'mint', 'token_2022', 'program', 'compute_budget'];
const BUDGET_CU = 300; // the two compute-budget instructions

const compactLen = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : 3);

export function measure(mints: PlannedMint[]): Omit<PlannedTransaction, 'mints'> {
  const keys = new Set(SHARED_KEYS);
  let ixBytes = IX_CU_LIMIT + IX_CU_PRICE;
  let nIx = 2;
  let cu = BUDGET_CU;
  for (const m of mints) {
    keys.add(`ata:${m.walletAddress}`);
    ixBytes += IX_MINT * m.parts.length;
    nIx += m.parts.length;
    cu += RUNTIME_LIMITS.cuPerMint * m.parts.length;
    if (m.createAta) {
      keys.add(`wallet:${m.walletAddress}`).add('system').add('ata_program');
      ixBytes += IX_CREATE_ATA;
      nIx++;
      cu += RUNTIME_LIMITS.cuPerAtaCreate;
    }
  }
  const bytes = SIGNATURES + HEADER + compactLen(keys.size) + 32 * keys.size + BLOCKHASH + compactLen(nIx) + ixBytes;
  return { bytes, accountLocks: keys.size, computeUnits: cu };
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

function fits(mints: PlannedMint[], limits: PackLimits): boolean {
  const m = measure(mints);
  const recipients = new Set(mints.map((x) => `${x.userId}\u0000${x.walletAddress}`)).size;
  return m.bytes <= limits.maxTxBytes && m.accountLocks <= limits.maxAccountLocks && m.computeUnits <= limits.maxComputeUnits && recipients <= limits.usersPerTx;
}

export function optimizeBatch(batch: MintBatchData[], limits: PackLimits, ataKnown: (wallet: string) => boolean = () => false): PlannedTransaction[] {
  const plan: PlannedTransaction[] = [];
  let current: PlannedMint[] = [];
  const close = () => {
    if (current.length) plan.push({ mints: current, ...measure(current) });
    current = [];
  };
  for (const mint of groupByRecipient(batch, limits.maxTokensPerInstruction, ataKnown)) {
    if (!fits([...current, mint], limits)) close();
    if (!fits([mint], limits)) throw new InvalidBatchData(`a single mint for wallet ${mint.walletAddress} does not fit one transaction`);
    current.push(mint);
  }
  close();
  return plan;
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
}

/**
 * The real cost of a plan: 5,000 lamports per signature, the priority fee (µlamports per CU × the CU limit
 * each transaction requests) and the rent of every token account it creates.
 */
export function estimateBatchFee(
  plan: PlannedTransaction[],
  f: { priorityMicroLamports: bigint; rentPerTokenAccount: bigint; cuLimit?: (tx: PlannedTransaction) => number },
): FeeEstimate {
  const signatures = plan.length;
  const baseFeeLamports = BigInt(signatures) * 5000n;
  let priorityFeeLamports = 0n;
  let created = 0;
  for (const tx of plan) {
    const limit = BigInt(f.cuLimit ? f.cuLimit(tx) : tx.computeUnits);
    priorityFeeLamports += (f.priorityMicroLamports * limit + 999_999n) / 1_000_000n;
    created += tx.mints.filter((m) => m.createAta).length;
  }
  const rentLamports = BigInt(created) * f.rentPerTokenAccount;
  return {
    transactions: plan.length,
    signatures,
    baseFeeLamports,
    priorityFeeLamports,
    rentLamports,
    totalLamports: baseFeeLamports + priorityFeeLamports + rentLamports,
    tokenAccountsCreated: created,
  };
}
