// Agave's cost model and block cost tracker (agave v3.0: cost-model/src/cost_model.rs, cost_tracker.rs,
// block_cost_limits.rs with SIMD-0256's 60M block limit, compute-budget-instruction's default limits).
// A leader reserves a transaction's estimated cost before executing it and, once executed, corrects the
// reservation to what it really used (CostTracker::update_execution_cost); replay checks the same totals.
import type { DecodedTransaction } from './chain.js';

export const SIGNATURE_COST = 720;
export const WRITE_LOCK_UNITS = 300;
const SECP256K1_VERIFY_COST = 30 * 223;
const ED25519_VERIFY_STRICT_COST = 30 * 80;
const SECP256R1_VERIFY_COST = 30 * 160;
/** Instruction data bytes per compute unit (140 bytes/µs ÷ 30 CU/µs). */
const INSTRUCTION_DATA_BYTES_COST = 4;
export const MAX_BLOCK_UNITS = 60_000_000;
export const MAX_WRITABLE_ACCOUNT_UNITS = 12_000_000;
const MAX_BLOCK_ACCOUNTS_DATA_SIZE_DELTA = 100_000_000;
const MAX_PERMITTED_DATA_LENGTH = 10 * 1024 * 1024;
const MAX_ALLOCATIONS_PER_TRANSACTION = 2 * MAX_PERMITTED_DATA_LENGTH;

const DEFAULT_INSTRUCTION_COMPUTE_UNIT_LIMIT = 200_000;
const MAX_BUILTIN_ALLOCATION_COMPUTE_UNIT_LIMIT = 3_000;
export const MAX_COMPUTE_UNIT_LIMIT = 1_400_000;
const MAX_LOADED_ACCOUNTS_DATA_SIZE_BYTES = 64 * 1024 * 1024;
const ACCOUNT_DATA_COST_PAGE_SIZE = 32 * 1024;
const DEFAULT_HEAP_COST = 8;
/** Bytes every loaded account counts for beyond its data (TRANSACTION_ACCOUNT_BASE_SIZE). */
export const TRANSACTION_ACCOUNT_BASE_SIZE = 64;

export const COMPUTE_BUDGET_PROGRAM = 'ComputeBudget111111111111111111111111111111';
const SYSTEM_PROGRAM = '11111111111111111111111111111111';
const SECP256K1_PROGRAM = 'KeccakSecp256k11111111111111111111111111111';
const ED25519_PROGRAM = 'Ed25519SigVerify111111111111111111111111111';
const SECP256R1_PROGRAM = 'Secp256r1SigVerify1111111111111111111111111';
/** Builtins that get the 3,000 CU default (builtins-default-costs: none of them is migrating any more). */
const BUILTINS = new Set([
  'Vote111111111111111111111111111111111111111',
  SYSTEM_PROGRAM,
  COMPUTE_BUDGET_PROGRAM,
  'BPFLoaderUpgradeab1e11111111111111111111111',
  'BPFLoader1111111111111111111111111111111111',
  'BPFLoader2111111111111111111111111111111111',
  'LoaderV411111111111111111111111111111111111',
  SECP256K1_PROGRAM,
  ED25519_PROGRAM,
]);
/** Accounts a transaction may name writable but never write-locks (sysvars, builtins): demoted. */
const RESERVED = new Set([
  ...BUILTINS,
  SECP256R1_PROGRAM,
  'NativeLoader1111111111111111111111111111111',
  'Sysvar1111111111111111111111111111111111111',
  'SysvarC1ock11111111111111111111111111111111',
  'SysvarEpochSchedu1e111111111111111111111111',
  'SysvarFees111111111111111111111111111111111',
  'Sysvar1nstructions1111111111111111111111111',
  'SysvarRecentB1ockHashes11111111111111111111',
  'SysvarRent111111111111111111111111111111111',
  'SysvarRewards111111111111111111111111111111',
  'SysvarS1otHashes111111111111111111111111111',
  'SysvarS1otHistory11111111111111111111111111',
  'SysvarStakeHistory1111111111111111111111111',
  'SysvarEpochRewards1111111111111111111111111',
  'SysvarLastRestartS1ot1111111111111111111111',
  'Stake11111111111111111111111111111111111111',
  'Config1111111111111111111111111111111111111',
  'AddressLookupTab1e1111111111111111111111111',
  'ZkE1Gama1Proof11111111111111111111111111111',
]);

export interface ComputeBudgetLimits {
  computeUnitLimit: number;
  /** µlamports per CU */
  computeUnitPrice: bigint;
  loadedAccountsBytes: number;
}

export interface TransactionCost {
  /** Accounts write-locked (demoted ones left out), charged per account. */
  writableAccounts: string[];
  signatureCost: number;
  writeLockCost: number;
  dataBytesCost: number;
  programsExecutionCost: number;
  loadedAccountsDataSizeCost: number;
  allocatedAccountsDataSize: number;
}

export const costSum = (c: TransactionCost) =>
  c.signatureCost + c.writeLockCost + c.dataBytesCost + c.programsExecutionCost + c.loadedAccountsDataSizeCost;

interface Ix {
  programId: string;
  data: Uint8Array;
}

function instructionsOf(d: DecodedTransaction): Ix[] {
  return d.tx.message.compiledInstructions.map((ix) => ({ programId: d.accountKeys[ix.programIdIndex]!, data: ix.data }));
}

const u32 = (b: Uint8Array, at: number) => (b.length >= at + 4 ? Buffer.from(b).readUInt32LE(at) : null);

/** The compute-budget instructions, sanitized as the runtime does; null where the runtime would refuse them. */
export function computeBudgetLimits(instructions: Ix[]): ComputeBudgetLimits | null {
  let limit: number | null = null;
  let price: bigint | null = null;
  let heap: number | null = null;
  let loaded: number | null = null;
  let builtin = 0;
  let other = 0;
  for (const ix of instructions) {
    if (BUILTINS.has(ix.programId)) builtin++;
    else other++;
    if (ix.programId !== COMPUTE_BUDGET_PROGRAM) continue;
    const [tag] = ix.data;
    const value = u32(ix.data, 1);
    // A repeated kind is DuplicateInstruction, bad data InvalidInstructionData: the transaction fails.
    // (Borsh's try_from_slice_unchecked reads the fields and ignores bytes after them.)
    if (tag === 1 && value !== null && heap === null) heap = value;
    else if (tag === 2 && value !== null && limit === null) limit = value;
    else if (tag === 3 && ix.data.length >= 9 && price === null) price = Buffer.from(ix.data).readBigUInt64LE(1);
    else if (tag === 4 && value !== null && loaded === null) loaded = value;
    else return null;
  }
  if (heap !== null && (heap < 32 * 1024 || heap > 256 * 1024 || heap % 1024 !== 0)) return null;
  if (loaded === 0) return null;
  const defaultLimit = builtin * MAX_BUILTIN_ALLOCATION_COMPUTE_UNIT_LIMIT + other * DEFAULT_INSTRUCTION_COMPUTE_UNIT_LIMIT;
  return {
    computeUnitLimit: Math.min(limit ?? defaultLimit, MAX_COMPUTE_UNIT_LIMIT),
    computeUnitPrice: price ?? 0n,
    loadedAccountsBytes: Math.min(loaded ?? MAX_LOADED_ACCOUNTS_DATA_SIZE_BYTES, MAX_LOADED_ACCOUNTS_DATA_SIZE_BYTES),
  };
}

/** FeeStructure::calculate_memory_usage_cost: 8 CU per 32 KiB page, rounded up. */
export const loadedAccountsDataSizeCost = (bytes: number) => Math.ceil(bytes / ACCOUNT_DATA_COST_PAGE_SIZE) * DEFAULT_HEAP_COST;

function signatureCost(d: DecodedTransaction, instructions: Ix[]): number {
  let cost = d.tx.message.header.numRequiredSignatures * SIGNATURE_COST;
  for (const ix of instructions) {
    const n = ix.data[0] ?? 0; // a precompile instruction starts with its number of signatures
    if (ix.programId === SECP256K1_PROGRAM) cost += n * SECP256K1_VERIFY_COST;
    else if (ix.programId === ED25519_PROGRAM) cost += n * ED25519_VERIFY_STRICT_COST;
    else if (ix.programId === SECP256R1_PROGRAM) cost += n * SECP256R1_VERIFY_COST;
  }
  return cost;
}

/** Bytes a system instruction allocates (CreateAccount, CreateAccountWithSeed, Allocate, AllocateWithSeed); null when it cannot succeed. */
function systemAllocation(data: Uint8Array): number | null {
  const b = Buffer.from(data);
  if (b.length < 4) return null;
  const tag = b.readUInt32LE(0);
  const seeded = (at: number) => {
    // base (32), seed: u64 length + bytes, then the fields that follow
    if (b.length < at + 32 + 8) return null;
    return at + 32 + 8 + Number(b.readBigUInt64LE(at + 32));
  };
  let space: bigint | null = null;
  try {
    if (tag === 0) space = b.readBigUInt64LE(4 + 8);
    else if (tag === 8) space = b.readBigUInt64LE(4);
    else if (tag === 3) {
      const after = seeded(4);
      space = after === null ? null : b.readBigUInt64LE(after + 8);
    } else if (tag === 9) {
      const after = seeded(4);
      space = after === null ? null : b.readBigUInt64LE(after);
    } else return 0;
  } catch {
    return null;
  }
  if (space === null || space > BigInt(MAX_PERMITTED_DATA_LENGTH)) return null;
  return Number(space);
}

function allocatedAccountsDataSize(instructions: Ix[]): number {
  let total = 0;
  for (const ix of instructions) {
    if (ix.programId !== SYSTEM_PROGRAM) continue;
    const n = systemAllocation(ix.data);
    if (n === null) return 0; // statically bound to fail: it allocates nothing
    total += n;
  }
  return Math.min(total, MAX_ALLOCATIONS_PER_TRANSACTION);
}

/**
 * Which keys the runtime really write-locks (message.is_writable): a key named writable is demoted when
 * it is reserved (sysvars, builtins) or called as a program while the upgradeable loader is not named.
 */
export function writeLocked(d: Pick<DecodedTransaction, 'tx' | 'accountKeys' | 'writable'>): boolean[] {
  const called = new Set(d.tx.message.compiledInstructions.map((ix) => d.accountKeys[ix.programIdIndex]));
  const loaderNamed = d.accountKeys.includes('BPFLoaderUpgradeab1e11111111111111111111111');
  return d.accountKeys.map((k, i) => d.writable[i]! && !RESERVED.has(k) && !(called.has(k) && !loaderNamed));
}

/** CostModel::calculate_cost: what a transaction is charged before it runs. */
export function estimateCost(d: DecodedTransaction): TransactionCost {
  const instructions = instructionsOf(d);
  const limits = computeBudgetLimits(instructions);
  const dataBytes = instructions.reduce((n, ix) => n + ix.data.length, 0);
  const lockable = writeLocked(d);
  return {
    writableAccounts: d.accountKeys.filter((_, i) => lockable[i]),
    signatureCost: signatureCost(d, instructions),
    writeLockCost: WRITE_LOCK_UNITS * d.writable.filter(Boolean).length,
    dataBytesCost: Math.floor(dataBytes / INSTRUCTION_DATA_BYTES_COST),
    programsExecutionCost: limits ? limits.computeUnitLimit : 0,
    loadedAccountsDataSizeCost: limits ? loadedAccountsDataSizeCost(limits.loadedAccountsBytes) : 0,
    allocatedAccountsDataSize: allocatedAccountsDataSize(instructions),
  };
}

export function budgetOf(d: DecodedTransaction): ComputeBudgetLimits | null {
  return computeBudgetLimits(instructionsOf(d));
}

export interface BlockLimits {
  blockCuLimit: number;
  accountCuLimit: number;
}

export const DEFAULT_LIMITS: BlockLimits = { blockCuLimit: MAX_BLOCK_UNITS, accountCuLimit: MAX_WRITABLE_ACCOUNT_UNITS };

/** CostTracker: one block's running totals. */
export class CostTracker {
  blockCost = 0;
  private allocated = 0;
  readonly byAccount = new Map<string, number>();

  constructor(readonly limits: BlockLimits) {}

  /** Reserve a transaction's estimated cost; false (and nothing reserved) when it would not fit. */
  tryAdd(cost: TransactionCost): boolean {
    const sum = costSum(cost);
    if (this.blockCost + sum > this.limits.blockCuLimit) return false;
    if (sum > this.limits.accountCuLimit) return false;
    if (this.allocated + cost.allocatedAccountsDataSize > MAX_BLOCK_ACCOUNTS_DATA_SIZE_DELTA) return false;
    for (const k of cost.writableAccounts) if ((this.byAccount.get(k) ?? 0) + sum > this.limits.accountCuLimit) return false;
    this.allocated += cost.allocatedAccountsDataSize;
    this.adjust(cost, sum);
    return true;
  }

  /** A reserved transaction that was not committed gives its reservation back. */
  remove(cost: TransactionCost): void {
    this.allocated -= cost.allocatedAccountsDataSize;
    this.adjust(cost, -costSum(cost));
  }

  /** Correct a reservation to the units really executed and the account data really loaded. */
  updateExecutionCost(estimated: TransactionCost, executedUnits: number, loadedCost: number): void {
    this.adjust(estimated, executedUnits + loadedCost - (estimated.programsExecutionCost + estimated.loadedAccountsDataSizeCost));
  }

  private adjust(cost: TransactionCost, delta: number): void {
    for (const k of cost.writableAccounts) this.byAccount.set(k, Math.max(0, (this.byAccount.get(k) ?? 0) + delta));
    this.blockCost = Math.max(0, this.blockCost + delta);
  }

  /** The write-locked account that used the most of its budget in this block. */
  costliestAccount(): { account: string; cost: number } | null {
    let best: { account: string; cost: number } | null = null;
    for (const [account, cost] of this.byAccount) if (!best || cost > best.cost) best = { account, cost };
    return best;
  }
}
