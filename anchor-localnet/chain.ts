// The local chain: LiteSVM plus what a validator adds around it: slots that advance with the clock,
// a new blockhash every slot and a 150-block validity window, commitment levels, a ledger of landed
// transactions with their metadata, and recent prioritization fees.
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { address, getTransactionDecoder, type Address } from '@solana/kit';
import { Clock, LiteSVM } from 'litesvm';
import bs58 from 'bs58';
import { ComputeBudgetProgram, PublicKey, VersionedTransaction } from '@solana/web3.js';
import { readFixtures } from './fixtures.js';
import { ACCOUNTS_DIR, PROGRAMS_DIR } from './paths.js';
import { renderTxError, txErrorByName, type RenderedError, type UiTransactionError } from './txErrors.js';

export type Commitment = 'processed' | 'confirmed' | 'finalized';

/** Blocks a blockhash stays valid for (MAX_PROCESSING_AGE). */
export const MAX_PROCESSING_AGE = 150;
/** Slots the status cache answers for without searchTransactionHistory. */
const STATUS_CACHE_SLOTS = 300;
const LAMPORTS_PER_SIGNATURE = 5000n;
const DEFAULT_CU_PER_INSTRUCTION = 200_000;
const MAX_CU = 1_400_000;
const TOKEN_PROGRAMS = new Set(['TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA', 'TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb']);
const ALT_PROGRAM = 'AddressLookupTab1e1111111111111111111111111';

export interface ChainOptions {
  /** Milliseconds per slot (a validator: 400). */
  slotMs?: number;
  /** Slots after which a transaction counts as confirmed / finalized. */
  confirmSlots?: number;
  finalizeSlots?: number;
  programsDir?: string;
  accountsDir?: string;
}

export interface RawAccount {
  lamports: bigint;
  data: Uint8Array;
  owner: string;
  executable: boolean;
}

interface SlotInfo {
  slot: number;
  blockHeight: number;
  blockhash: string;
  time: number;
}

export interface TokenBalance {
  accountIndex: number;
  mint: string;
  owner: string;
  programId: string;
  uiTokenAmount: { amount: string; decimals: number; uiAmount: number | null; uiAmountString: string };
}

export interface LandedTransaction {
  signature: string;
  slot: number;
  blockTime: number;
  wire: Uint8Array;
  version: 'legacy' | 0;
  err: UiTransactionError | null;
  fee: bigint;
  preBalances: bigint[];
  postBalances: bigint[];
  preTokenBalances: TokenBalance[];
  postTokenBalances: TokenBalance[];
  logs: string[];
  computeUnits: bigint;
  innerInstructions: { index: number; instructions: { programIdIndex: number; accounts: number[]; data: string; stackHeight: number }[] }[];
  loadedAddresses: { writable: string[]; readonly: string[] };
  returnData: { programId: string; data: [string, 'base64'] } | null;
}

export interface SimulationResult {
  err: UiTransactionError | null;
  message: string | null;
  logs: string[];
  unitsConsumed: number;
  returnData: { programId: string; data: [string, 'base64'] } | null;
  postAccounts: Map<string, RawAccount>;
  innerInstructions: LandedTransaction['innerInstructions'];
}

/** A transaction as the chain sees it on the wire. */
export interface DecodedTransaction {
  tx: VersionedTransaction;
  wire: Uint8Array;
  signature: string;
  blockhash: string;
  /** Static keys then looked-up writable then looked-up readonly, as the runtime orders them. */
  accountKeys: string[];
  writable: boolean[];
  loadedAddresses: { writable: string[]; readonly: string[] };
}

export class TransactionRejected extends Error {
  constructor(readonly error: RenderedError, readonly logs: string[] = [], readonly unitsConsumed = 0) {
    super(error.message);
  }
}

const toAddress = (a: string | PublicKey): Address => address(typeof a === 'string' ? a : a.toBase58());
const kitDecoder = getTransactionDecoder();

export class LocalChain {
  readonly events = new EventEmitter();
  readonly genesisHash: string;
  readonly slotMs: number;
  readonly confirmSlots: number;
  readonly finalizeSlots: number;
  private svm: LiteSVM;
  private slots: SlotInfo[] = [];
  private blockhashes = new Map<string, SlotInfo>();
  private ledger = new Map<string, LandedTransaction>();
  /** Per slot: the priority fee (µlamports/CU) of each landed transaction and its writable accounts. */
  private fees = new Map<number, { fee: number; writable: string[] }[]>();
  private timer: NodeJS.Timeout | null = null;
  private transactionCount = 0;

  constructor(opts: ChainOptions = {}) {
    this.slotMs = opts.slotMs ?? 400;
    this.confirmSlots = opts.confirmSlots ?? 1;
    this.finalizeSlots = opts.finalizeSlots ?? 32;
    this.events.setMaxListeners(0);
    this.svm = new LiteSVM();
    this.genesisHash = bs58.encode(randomBytes(32));
    this.loadGenesis(opts.programsDir ?? PROGRAMS_DIR, opts.accountsDir ?? ACCOUNTS_DIR);
    // The 150-block window is enforced here, with the validator's error; LiteSVM accepts only its latest.
    this.svm.withBlockhashCheck(false).withSigverify(true);
    this.pushSlot(0, 0, this.genesisHash);
    // Slot 0 is the genesis block, finalized by definition and holding no transactions: work starts in slot 1.
    this.advance();
  }

  private loadGenesis(programsDir: string, accountsDir: string): void {
    if (existsSync(programsDir)) {
      for (const f of readdirSync(programsDir).filter((n) => n.endsWith('.so')).sort()) {
        this.svm.addProgram(toAddress(f.slice(0, -3)), readFileSync(join(programsDir, f)));
      }
    }
    for (const f of readFixtures(accountsDir)) {
      this.setAccount(f.pubkey, {
        lamports: BigInt(f.account.lamports),
        data: Buffer.from(f.account.data[0], 'base64'),
        owner: f.account.owner,
        executable: f.account.executable,
      });
    }
  }

  // ---- time -------------------------------------------------------------------------------------

  get slot(): number {
    return this.slots[this.slots.length - 1]!.slot;
  }
  get blockHeight(): number {
    return this.slots[this.slots.length - 1]!.blockHeight;
  }
  get running(): boolean {
    return this.timer !== null;
  }

  start(): void {
    if (!this.timer) this.timer = setInterval(() => this.advance(), this.slotMs);
  }
  /** Stops slot production (a test hook: blockhashes then never expire and nothing gets confirmed). */
  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Produce `n` slots now. */
  advance(n = 1): void {
    for (let i = 0; i < n; i++) {
      const prev = this.slots[this.slots.length - 1]!;
      const blockhash = bs58.encode(createHash('sha256').update(prev.blockhash).update(String(prev.slot + 1)).digest());
      this.pushSlot(prev.slot + 1, prev.blockHeight + 1, blockhash);
      this.events.emit('slot', this.slot);
    }
  }

  private pushSlot(slot: number, blockHeight: number, blockhash: string): void {
    const info = { slot, blockHeight, blockhash, time: Date.now() };
    this.slots.push(info);
    this.blockhashes.set(blockhash, info);
    while (this.slots.length > STATUS_CACHE_SLOTS + 1) {
      const old = this.slots.shift()!;
      this.blockhashes.delete(old.blockhash);
      this.fees.delete(old.slot);
    }
    const unix = BigInt(Math.floor(info.time / 1000));
    this.svm.setClock(new Clock(BigInt(slot), unix, 0n, 1n, unix));
  }

  /** The slot a commitment level sees. */
  slotAt(commitment: Commitment = 'finalized'): number {
    const lag = commitment === 'processed' ? 0 : commitment === 'confirmed' ? this.confirmSlots : this.finalizeSlots;
    return Math.max(this.slots[0]!.slot, this.slot - lag);
  }
  blockHeightAt(commitment: Commitment = 'finalized'): number {
    return this.slotInfo(this.slotAt(commitment)).blockHeight;
  }
  private slotInfo(slot: number): SlotInfo {
    const first = this.slots[0]!.slot;
    return this.slots[Math.min(Math.max(slot - first, 0), this.slots.length - 1)]!;
  }

  latestBlockhash(commitment: Commitment = 'finalized'): { blockhash: string; lastValidBlockHeight: number; slot: number } {
    const info = this.slotInfo(this.slotAt(commitment));
    return { blockhash: info.blockhash, lastValidBlockHeight: info.blockHeight + MAX_PROCESSING_AGE, slot: info.slot };
  }

  isBlockhashValid(blockhash: string): boolean {
    const info = this.blockhashes.get(blockhash);
    return info !== undefined && this.blockHeight <= info.blockHeight + MAX_PROCESSING_AGE;
  }

  epochInfo(commitment: Commitment = 'finalized') {
    const slot = this.slotAt(commitment);
    return {
      absoluteSlot: slot,
      blockHeight: this.slotInfo(slot).blockHeight,
      epoch: 0,
      slotIndex: slot,
      slotsInEpoch: 432_000,
      transactionCount: this.transactionCount,
    };
  }

  // ---- accounts ---------------------------------------------------------------------------------

  getAccount(pubkey: string): RawAccount | null {
    const acc = this.svm.getAccount(toAddress(pubkey));
    if (!acc.exists) return null;
    return { lamports: BigInt(acc.lamports), data: acc.data as Uint8Array, owner: acc.programAddress, executable: acc.executable };
  }

  getBalance(pubkey: string): bigint {
    return BigInt(this.svm.getBalance(toAddress(pubkey)) ?? 0n);
  }

  /** Set an account's raw state (genesis, and the test hook that plants broken accounts). */
  setAccount(pubkey: string, a: RawAccount): void {
    this.svm.setAccount({
      address: toAddress(pubkey),
      lamports: a.lamports as never,
      data: a.data,
      programAddress: toAddress(a.owner),
      executable: a.executable,
      space: BigInt(a.data.length),
    } as never);
    this.events.emit('account', pubkey);
  }

  minimumBalanceForRentExemption(size: number): bigint {
    return this.svm.minimumBalanceForRentExemption(BigInt(size));
  }

  /** Airdrop through LiteSVM's faucet; the transaction lands like any other. */
  airdrop(pubkey: string, lamports: bigint): string {
    const result = this.svm.airdrop(toAddress(pubkey), lamports as never);
    if (!result || 'err' in result) throw new TransactionRejected(renderTxError(result && 'err' in result ? result.err() : 0));
    const signature = bs58.encode(result.signature());
    this.ledger.set(signature, {
      signature,
      slot: this.slot,
      blockTime: Math.floor(Date.now() / 1000),
      wire: new Uint8Array(0),
      version: 'legacy',
      err: null,
      fee: LAMPORTS_PER_SIGNATURE,
      preBalances: [],
      postBalances: [],
      preTokenBalances: [],
      postTokenBalances: [],
      logs: result.logs(),
      computeUnits: result.computeUnitsConsumed(),
      innerInstructions: [],
      loadedAddresses: { writable: [], readonly: [] },
      returnData: null,
    });
    this.transactionCount++;
    this.events.emit('transaction', signature);
    this.events.emit('account', pubkey);
    return signature;
  }

  // ---- transactions -----------------------------------------------------------------------------

  /** Throws TypeError-like errors for bytes that are not a transaction (the RPC layer maps them). */
  decode(wire: Uint8Array): DecodedTransaction {
    const tx = VersionedTransaction.deserialize(wire);
    const msg = tx.message;
    const header = msg.header;
    const staticKeys = msg.staticAccountKeys.map((k) => k.toBase58());
    const loadedAddresses = { writable: [] as string[], readonly: [] as string[] };
    for (const lookup of msg.addressTableLookups) {
      const table = this.getAccount(lookup.accountKey.toBase58());
      if (!table || table.owner !== ALT_PROGRAM) throw new TransactionRejected(txErrorByName('AddressLookupTableNotFound'));
      const addressAt = (i: number) => {
        const off = 56 + i * 32;
        if (off + 32 > table.data.length) throw new TransactionRejected(txErrorByName('InvalidAddressLookupTableIndex'));
        return bs58.encode(table.data.subarray(off, off + 32));
      };
      loadedAddresses.writable.push(...lookup.writableIndexes.map(addressAt));
      loadedAddresses.readonly.push(...lookup.readonlyIndexes.map(addressAt));
    }
    const nSigned = header.numRequiredSignatures;
    const writable = staticKeys.map((_, i) =>
      i < nSigned ? i < nSigned - header.numReadonlySignedAccounts : i < staticKeys.length - header.numReadonlyUnsignedAccounts,
    );
    return {
      tx,
      wire,
      signature: bs58.encode(tx.signatures[0] ?? new Uint8Array(64)),
      blockhash: msg.recentBlockhash,
      accountKeys: [...staticKeys, ...loadedAddresses.writable, ...loadedAddresses.readonly],
      writable: [...writable, ...loadedAddresses.writable.map(() => true), ...loadedAddresses.readonly.map(() => false)],
      loadedAddresses,
    };
  }

  /** Signature, blockhash and duplicate checks a validator applies before it runs a transaction. */
  precheck(d: DecodedTransaction): RenderedError | null {
    if (this.ledger.has(d.signature)) return txErrorByName('AlreadyProcessed');
    if (!this.isBlockhashValid(d.blockhash)) return txErrorByName('BlockhashNotFound');
    return null;
  }

  simulate(d: DecodedTransaction, opts: { sigVerify: boolean; checkBlockhash: boolean }): SimulationResult {
    if (opts.checkBlockhash && !this.isBlockhashValid(d.blockhash)) {
      const pre = txErrorByName('BlockhashNotFound');
      return { err: pre.json, message: pre.message, logs: [], unitsConsumed: 0, returnData: null, postAccounts: new Map(), innerInstructions: [] };
    }
    this.svm.withSigverify(opts.sigVerify);
    try {
      const result = this.svm.simulateTransaction(kitDecoder.decode(d.wire) as never);
      if ('err' in result) {
        const e = renderTxError(result.err());
        const meta = result.meta();
        return {
          err: e.json,
          message: e.message,
          logs: meta.logs(),
          unitsConsumed: Number(meta.computeUnitsConsumed()),
          returnData: returnDataOf(meta),
          postAccounts: new Map(),
          innerInstructions: innerInstructionsOf(meta),
        };
      }
      const meta = result.meta();
      const postAccounts = new Map<string, RawAccount>();
      for (const a of result.postAccounts()) {
        postAccounts.set(a.address, { lamports: BigInt(a.lamports), data: Uint8Array.from(a.data), owner: a.programAddress, executable: a.executable });
      }
      return {
        err: null,
        message: null,
        logs: meta.logs(),
        unitsConsumed: Number(meta.computeUnitsConsumed()),
        returnData: returnDataOf(meta),
        postAccounts,
        innerInstructions: innerInstructionsOf(meta),
      };
    } finally {
      this.svm.withSigverify(true);
    }
  }

  /**
   * Execute a transaction in the current slot. Returns the landed record, or null when a validator
   * would drop it without a trace (bad signature, expired blockhash, duplicate, no fee payer funds).
   */
  execute(d: DecodedTransaction): LandedTransaction | null {
    if (this.precheck(d)) return null;
    const preBalances = d.accountKeys.map((k) => this.getBalance(k));
    const preTokenBalances = this.tokenBalances(d.accountKeys);
    const result = this.svm.sendTransaction(kitDecoder.decode(d.wire) as never);
    let err: RenderedError | null = null;
    let meta = result as ReturnType<LiteSVM['sendTransaction']> & { logs: () => string[] };
    if ('err' in result) {
      err = renderTxError(result.err());
      if (!err.committed) return null;
      meta = result.meta() as never;
    }
    const { fee, priceMicroLamports } = this.feeFor(d);
    const landed: LandedTransaction = {
      signature: d.signature,
      slot: this.slot,
      blockTime: Math.floor(Date.now() / 1000),
      wire: d.wire,
      version: d.tx.version === 'legacy' ? 'legacy' : 0,
      err: err ? err.json : null,
      fee,
      preBalances,
      postBalances: d.accountKeys.map((k) => this.getBalance(k)),
      preTokenBalances,
      postTokenBalances: this.tokenBalances(d.accountKeys),
      logs: meta.logs(),
      computeUnits: (meta as unknown as { computeUnitsConsumed(): bigint }).computeUnitsConsumed(),
      innerInstructions: innerInstructionsOf(meta as never),
      loadedAddresses: d.loadedAddresses,
      returnData: returnDataOf(meta as never),
    };
    this.ledger.set(d.signature, landed);
    this.transactionCount++;
    const perSlot = this.fees.get(landed.slot) ?? [];
    perSlot.push({ fee: priceMicroLamports, writable: d.accountKeys.filter((_, i) => d.writable[i]) });
    this.fees.set(landed.slot, perSlot);
    this.events.emit('transaction', d.signature);
    for (const [i, k] of d.accountKeys.entries()) if (d.writable[i]) this.events.emit('account', k);
    return landed;
  }

  /** 5,000 lamports per signature plus the priority fee (price × requested compute units). */
  feeFor(d: DecodedTransaction): { fee: bigint; priceMicroLamports: number } {
    const msg = d.tx.message;
    const keys = msg.staticAccountKeys;
    const budget = ComputeBudgetProgram.programId;
    let limit: number | null = null;
    let price = 0n;
    let other = 0;
    for (const ix of msg.compiledInstructions) {
      if (!keys[ix.programIdIndex]?.equals(budget)) {
        other++;
        continue;
      }
      const data = Buffer.from(ix.data);
      if (data[0] === 2 && data.length >= 5) limit = data.readUInt32LE(1);
      if (data[0] === 3 && data.length >= 9) price = data.readBigUInt64LE(1);
    }
    const units = BigInt(Math.min(limit ?? other * DEFAULT_CU_PER_INSTRUCTION, MAX_CU));
    const priority = (price * units + 999_999n) / 1_000_000n;
    return { fee: BigInt(msg.header.numRequiredSignatures) * LAMPORTS_PER_SIGNATURE + priority, priceMicroLamports: Number(price) };
  }

  private tokenBalances(keys: string[]): TokenBalance[] {
    const out: TokenBalance[] = [];
    keys.forEach((k, accountIndex) => {
      const acc = this.getAccount(k);
      if (!acc || !TOKEN_PROGRAMS.has(acc.owner) || acc.data.length < 165 || (acc.data.length > 165 && acc.data[165] !== 2)) return;
      const data = Buffer.from(acc.data);
      const mint = bs58.encode(data.subarray(0, 32));
      const mintAcc = this.getAccount(mint);
      const decimals = mintAcc && mintAcc.data.length >= 45 ? mintAcc.data[44]! : 0;
      out.push({
        accountIndex,
        mint,
        owner: bs58.encode(data.subarray(32, 64)),
        programId: acc.owner,
        uiTokenAmount: uiTokenAmount(data.readBigUInt64LE(64), decimals),
      });
    });
    return out;
  }

  // ---- ledger -----------------------------------------------------------------------------------

  getTransaction(signature: string, commitment: Commitment = 'finalized'): LandedTransaction | null {
    const tx = this.ledger.get(signature);
    return tx && tx.slot <= this.slotAt(commitment) ? tx : null;
  }

  /** A validator's signature status: null when unknown, or not in the status cache without history search. */
  signatureStatus(signature: string, searchHistory: boolean) {
    const tx = this.ledger.get(signature);
    if (!tx) return null;
    if (!searchHistory && tx.slot < this.slot - STATUS_CACHE_SLOTS) return null;
    const commitment = this.commitmentOf(tx.slot);
    return {
      slot: tx.slot,
      confirmations: commitment === 'finalized' ? null : this.slot - tx.slot,
      err: tx.err,
      status: tx.err === null ? { Ok: null } : { Err: tx.err },
      confirmationStatus: commitment,
    };
  }

  commitmentOf(slot: number): Commitment {
    if (slot <= this.slotAt('finalized')) return 'finalized';
    if (slot <= this.slotAt('confirmed')) return 'confirmed';
    return 'processed';
  }

  recentPrioritizationFees(accounts: string[]): { slot: number; prioritizationFee: number }[] {
    const wanted = new Set(accounts);
    return this.slots.slice(-MAX_PROCESSING_AGE).map(({ slot }) => {
      const txs = this.fees.get(slot) ?? [];
      const relevant = wanted.size === 0 ? txs : txs.filter((t) => t.writable.some((w) => wanted.has(w)));
      return { slot, prioritizationFee: relevant.length ? Math.min(...relevant.map((t) => t.fee)) : 0 };
    });
  }

  stop(): void {
    this.pause();
    this.events.removeAllListeners();
  }
}

export function uiTokenAmount(amount: bigint, decimals: number) {
  const s = amount.toString().padStart(decimals + 1, '0');
  const whole = s.slice(0, s.length - decimals);
  const frac = s.slice(s.length - decimals).replace(/0+$/, '');
  const uiAmountString = frac ? `${whole}.${frac}` : whole;
  return { amount: amount.toString(), decimals, uiAmount: Number(uiAmountString), uiAmountString };
}

type MetaLike = {
  innerInstructions(): { instruction(): { programIdIndex(): number; accounts(): Uint8Array; data(): Uint8Array }; stackHeight(): number }[][];
  returnData(): { programId(): Uint8Array; data(): Uint8Array };
};

function innerInstructionsOf(meta: MetaLike): LandedTransaction['innerInstructions'] {
  return meta
    .innerInstructions()
    .map((list, index) => ({
      index,
      instructions: list.map((inner) => {
        const ix = inner.instruction();
        return { programIdIndex: ix.programIdIndex(), accounts: Array.from(ix.accounts()), data: bs58.encode(ix.data()), stackHeight: inner.stackHeight() };
      }),
    }))
    .filter((x) => x.instructions.length > 0);
}

function returnDataOf(meta: MetaLike): LandedTransaction['returnData'] {
  const rd = meta.returnData();
  const data = rd.data();
  if (data.length === 0) return null;
  return { programId: bs58.encode(rd.programId()), data: [Buffer.from(data).toString('base64'), 'base64'] };
}
