// The local chain: LiteSVM plus what a validator adds around it. Slots advance with the clock; the
// transactions received during a slot wait for its end and are executed then, in arrival order, as a
// block that enforces Agave's cost limits (costModel.ts); what does not fit waits for a later block and
// is dropped when its blockhash expires. Each block has a new blockhash valid for 150 blocks; commitment
// levels lag the tip; landed transactions are kept with their metadata; with a ledger directory
// (ledgerStore.ts) all of it survives a restart.
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { address, getTransactionDecoder, type Address } from '@solana/kit';
import { Clock, LiteSVM } from 'litesvm';
import bs58 from 'bs58';
import { Keypair, PublicKey, SystemProgram, Transaction, VersionedMessage, VersionedTransaction } from '@solana/web3.js';
import { readFixtures } from './fixtures.js';
import { accountsDir, DEFAULT_PROGRAM_VERSION, PROGRAM_VERSIONS, type ProgramVersion, programIdOf, programsDir } from './paths.js';
import { renderTxError, txErrorByName, type RenderedError, type UiTransactionError } from './txErrors.js';
import {
  budgetOf,
  CostTracker,
  DEFAULT_LIMITS,
  estimateCost,
  loadedAccountsDataSizeCost,
  MAX_COMPUTE_UNIT_LIMIT,
  TRANSACTION_ACCOUNT_BASE_SIZE,
  type BlockLimits,
} from './costModel.js';
import { LedgerStore } from './ledgerStore.js';

export type Commitment = 'processed' | 'confirmed' | 'finalized';

/** Blocks a blockhash stays valid for (MAX_PROCESSING_AGE). */
export const MAX_PROCESSING_AGE = 150;
/** Slots the status cache answers for without searchTransactionHistory. */
const STATUS_CACHE_SLOTS = 300;
/** Entries the SlotHashes sysvar keeps (Agave's MAX_ENTRIES). */
const SLOT_HASHES_MAX = 512;
/** A performance sample every 150 slots: Agave's 60 s at the default 400 ms slot. */
const SAMPLE_SLOTS = 150;
const MAX_SAMPLES = 720;
/** A new snapshot once the journal has grown for this long (the journal covers the time between). */
const SNAPSHOT_EVERY_MS = 10_000;
const LAMPORTS_PER_SIGNATURE = 5000n;
/** What solana-test-validator's faucet starts with: 500 million SOL. */
const FAUCET_LAMPORTS = 500_000_000n * 1_000_000_000n;
const TOKEN_PROGRAMS = new Set(['TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA', 'TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb']);
const ALT_PROGRAM = 'AddressLookupTab1e1111111111111111111111111';
const UPGRADEABLE_LOADER = 'BPFLoaderUpgradeab1e11111111111111111111111';

export interface ChainOptions extends Partial<BlockLimits> {
  /** Milliseconds per slot (a validator: 400). */
  slotMs?: number;
  /** Slots after which a transaction counts as confirmed / finalized. */
  confirmSlots?: number;
  finalizeSlots?: number;
  /** Which energy_token version the genesis deploys (default 0.1.1); a resumed ledger keeps its own. */
  programVersion?: ProgramVersion;
  /** Override the version's program directory (every `<programId>.so` in it is deployed). */
  programsDir?: string;
  /** Override the version's genesis accounts directory. */
  accountsDir?: string;
  /** Keep accounts, blocks and transactions in this directory and resume from it. */
  ledger?: string;
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

/** A block with transactions (empty blocks are implied by their slot: every slot has a block here). */
export interface BlockRecord {
  slot: number;
  blockHeight: number;
  time: number;
  signatures: string[];
  /** CU the block used, and its write-locked account that used the most (Agave's cost_tracker_stats). */
  cost: { block: number; costliestAccount: string | null; costliestAccountCost: number } | null;
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

export interface PerformanceSample {
  slot: number;
  numTransactions: number;
  numNonVoteTransactions: number;
  numSlots: number;
  samplePeriodSecs: number;
}

/** What one produced block did, for the PubSub server. */
export interface BlockEvent {
  slot: number;
  signatures: string[];
  writtenAccounts: Set<string>;
}

export class TransactionRejected extends Error {
  constructor(readonly error: RenderedError, readonly logs: string[] = [], readonly unitsConsumed = 0) {
    super(error.message);
  }
}

const toAddress = (a: string | PublicKey): Address => address(typeof a === 'string' ? a : a.toBase58());
const kitDecoder = getTransactionDecoder();
const unixSeconds = (ms: number) => Math.floor(ms / 1000);

/** The account keys of a landed transaction, in the runtime's order. */
export function accountKeysOf(t: Pick<LandedTransaction, 'wire' | 'loadedAddresses'>): string[] {
  const sigCount = t.wire[0]!; // compact-u16; a transaction never has 128 signatures or more
  const msg = VersionedMessage.deserialize(t.wire.subarray(1 + sigCount * 64));
  return [...msg.staticAccountKeys.map((k) => k.toBase58()), ...t.loadedAddresses.writable, ...t.loadedAddresses.readonly];
}

export class LocalChain {
  readonly events = new EventEmitter();
  readonly genesisHash: string;
  readonly slotMs: number;
  readonly confirmSlots: number;
  readonly finalizeSlots: number;
  readonly limits: BlockLimits;
  /** The ledger directory, when the chain keeps one. */
  readonly ledgerDir: string | null;
  /** False when the chain resumed from an existing ledger. */
  readonly createdFresh: boolean;
  readonly faucet: Keypair;
  /** The energy_token version this chain runs (for a resumed ledger: the one its genesis deployed). */
  readonly programVersion: ProgramVersion;
  private svm: LiteSVM;
  private store: LedgerStore | null;
  private slots: SlotInfo[] = [];
  private blockhashes = new Map<string, SlotInfo>();
  private ledger = new Map<string, LandedTransaction>();
  private blocks = new Map<number, BlockRecord>();
  /** Per account address: the signatures of landed transactions that reference it, oldest first. */
  private byAddress = new Map<string, string[]>();
  /** Per slot: the priority fee (µlamports/CU) of each landed transaction and its writable accounts. */
  private fees = new Map<number, { fee: number; writable: string[] }[]>();
  /** Received and not yet in a block, in arrival order. */
  private pending: DecodedTransaction[] = [];
  private pendingSignatures = new Set<string>();
  private samples: PerformanceSample[] = [];
  private sampleStart = { slot: 0, time: Date.now(), transactions: 0 };
  private lastSnapshotAt = Date.now();
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: ChainOptions = {}) {
    this.slotMs = opts.slotMs ?? 400;
    this.confirmSlots = opts.confirmSlots ?? 1;
    this.finalizeSlots = opts.finalizeSlots ?? 32;
    this.limits = { blockCuLimit: opts.blockCuLimit ?? DEFAULT_LIMITS.blockCuLimit, accountCuLimit: opts.accountCuLimit ?? DEFAULT_LIMITS.accountCuLimit };
    this.events.setMaxListeners(0);
    this.store = opts.ledger ? LedgerStore.open(opts.ledger) : null;
    this.ledgerDir = this.store?.dir ?? null;
    try {
      const stored = this.store?.genesisHash() ?? null;
      this.createdFresh = stored === null;
      this.genesisHash = stored ?? bs58.encode(randomBytes(32));
      this.faucet = Keypair.fromSeed(createHash('sha256').update(`localnet faucet ${this.genesisHash}`).digest());
      if (stored === null) {
        this.programVersion = opts.programVersion ?? DEFAULT_PROGRAM_VERSION;
        this.svm = this.configure(new LiteSVM());
        this.loadGenesis(opts.programsDir ?? programsDir(this.programVersion), opts.accountsDir ?? accountsDir(this.programVersion));
        this.pushSlot(0, 0, Date.now());
        if (this.store) {
          this.store.writeGenesis(this.genesisHash);
          this.snapshot();
        }
      } else {
        this.svm = this.restore(this.store!);
        this.programVersion =
          PROGRAM_VERSIONS.find((v) => this.svm.getAccount(toAddress(programIdOf(v))).exists) ?? opts.programVersion ?? DEFAULT_PROGRAM_VERSION;
      }
    } catch (e) {
      this.store?.close();
      throw e;
    }
    this.sampleStart = { slot: this.slot, time: Date.now(), transactions: this.ledger.size };
  }

  /** The 150-block window is enforced here, with the validator's error; LiteSVM accepts only its latest. */
  private configure(svm: LiteSVM): LiteSVM {
    return svm.withBlockhashCheck(false).withSigverify(true).withTransactionHistory(0n);
  }

  private loadGenesis(programsDir: string, accountsDir: string): void {
    if (existsSync(programsDir)) {
      for (const f of readdirSync(programsDir).filter((n) => n.endsWith('.so')).sort()) {
        this.svm.addProgram(toAddress(f.slice(0, -3)), readFileSync(join(programsDir, f)));
      }
    }
    for (const f of readFixtures(accountsDir)) {
      this.writeAccount(f.pubkey, {
        lamports: BigInt(f.account.lamports),
        data: Buffer.from(f.account.data[0], 'base64'),
        owner: f.account.owner,
        executable: f.account.executable,
      });
    }
    this.writeAccount(this.faucet.publicKey.toBase58(), { lamports: FAUCET_LAMPORTS, data: new Uint8Array(0), owner: SystemProgram.programId.toBase58(), executable: false });
  }

  // ---- persistence --------------------------------------------------------------------------------

  private snapshot(): void {
    if (!this.store) return;
    const tip = this.tip;
    this.store.writeSnapshot({ slot: tip.slot, blockHeight: tip.blockHeight, time: tip.time }, this.svm.toBytes());
    this.lastSnapshotAt = Date.now();
  }

  /** Load the snapshot, re-execute what the journal has after it, and rebuild the indexes from the journal. */
  private restore(store: LedgerStore): LiteSVM {
    const snap = store.readSnapshot();
    if (!snap) throw new Error(`localnet: the ledger ${store.dir} has a genesis but no snapshot; remove the directory to start anew`);
    this.svm = this.configure(LiteSVM.fromBytes(snap.state));
    let tip = { slot: snap.meta.slot, blockHeight: snap.meta.blockHeight, time: snap.meta.time };
    for (const entry of store.readJournal<LandedTransaction>()) {
      const replay = entry.seq > snap.meta.seq;
      if (entry.t === 'account') {
        if (replay) this.writeAccount(entry.pubkey, entry.account);
        continue;
      }
      if (replay) this.setClock(entry.slot, entry.time);
      for (const t of entry.txs) {
        if (replay) this.replay(t);
        this.record(accountKeysOf(t), t);
      }
      this.blocks.set(entry.slot, { slot: entry.slot, blockHeight: entry.blockHeight, time: entry.time, signatures: entry.txs.map((t) => t.signature), cost: null });
      if (entry.slot >= tip.slot) tip = { slot: entry.slot, blockHeight: entry.blockHeight, time: entry.time };
    }
    // The recent window of slots (blockhashes, times) the status cache and the blockhash check use.
    for (let slot = Math.max(0, tip.slot - STATUS_CACHE_SLOTS); slot <= tip.slot; slot++) {
      this.pushSlot(slot, tip.blockHeight - (tip.slot - slot), this.blocks.get(slot)?.time ?? tip.time);
    }
    for (const t of this.ledger.values()) {
      if (t.slot > tip.slot - MAX_PROCESSING_AGE) this.noteFee(t.slot, this.decodeStatic(t.wire));
    }
    return this.svm;
  }

  private replay(t: LandedTransaction): void {
    const result = this.svm.sendTransaction(kitDecoder.decode(t.wire) as never);
    const err = 'err' in result ? renderTxError(result.err()).json : null;
    if (JSON.stringify(err) !== JSON.stringify(t.err)) {
      throw new Error(`localnet: replaying ${t.signature} from the ledger gave ${JSON.stringify(err)}, not ${JSON.stringify(t.err)}; the ledger is inconsistent`);
    }
  }

  // ---- time -------------------------------------------------------------------------------------

  private get tip(): SlotInfo {
    return this.slots[this.slots.length - 1]!;
  }
  get slot(): number {
    return this.tip.slot;
  }
  get blockHeight(): number {
    return this.tip.blockHeight;
  }
  get running(): boolean {
    return this.timer !== null;
  }

  start(): void {
    if (!this.timer) this.timer = setInterval(() => this.advance(), this.slotMs);
  }
  /** Stops slot production (a test hook: nothing lands, blockhashes never expire, nothing gets confirmed). */
  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Produce `n` blocks now. */
  advance(n = 1): void {
    for (let i = 0; i < n; i++) this.produceBlock();
  }

  /** A slot's blockhash: a function of the chain and the slot, so a resumed chain knows every one. */
  blockhashOf(slot: number): string {
    if (slot === 0) return this.genesisHash;
    return bs58.encode(createHash('sha256').update(this.genesisHash).update(String(slot)).digest());
  }

  private setClock(slot: number, time: number): void {
    const unix = BigInt(unixSeconds(time));
    this.svm.setClock(new Clock(BigInt(slot), unix, 0n, 1n, unix));
  }

  private pushSlot(slot: number, blockHeight: number, time: number): void {
    const info = { slot, blockHeight, blockhash: this.blockhashOf(slot), time };
    this.slots.push(info);
    this.blockhashes.set(info.blockhash, info);
    while (this.slots.length > STATUS_CACHE_SLOTS + 1) {
      const old = this.slots.shift()!;
      this.blockhashes.delete(old.blockhash);
      this.fees.delete(old.slot);
    }
    this.setClock(slot, time);
    this.writeSlotHashes();
  }

  /**
   * The SlotHashes sysvar as a validator keeps it: the recent slots, newest first (at most 512). LiteSVM
   * leaves it at its default, and the lookup-table program refuses a create whose recent slot is not in it.
   * The hash here is the slot's blockhash. LiteSVM's SlotHash has no constructor: entries are copies read
   * back from the sysvar (two reads: one entry more than it held, as the window grows by one slot per call),
   * then given their slot and hash.
   */
  private writeSlotHashes(): void {
    const recent = this.slots.slice(-SLOT_HASHES_MAX).reverse();
    const copies = [...this.svm.getSlotHashes(), ...this.svm.getSlotHashes()];
    const entries = recent.map((s, i) => {
      const entry = copies[i]!;
      entry.slot = BigInt(s.slot);
      entry.hash = s.blockhash;
      return entry;
    });
    this.svm.setSlotHashes(entries);
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

  /** Whether a transaction with this blockhash can still land in a block of this height (the next one by default). */
  isBlockhashValid(blockhash: string, height = this.blockHeight + 1): boolean {
    const info = this.blockhashes.get(blockhash);
    return info !== undefined && height <= info.blockHeight + MAX_PROCESSING_AGE;
  }

  epochInfo(commitment: Commitment = 'finalized') {
    const slot = this.slotAt(commitment);
    return {
      absoluteSlot: slot,
      blockHeight: this.slotInfo(slot).blockHeight,
      epoch: 0,
      slotIndex: slot,
      slotsInEpoch: 432_000,
      transactionCount: this.ledger.size,
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

  private writeAccount(pubkey: string, a: RawAccount): void {
    this.svm.setAccount({
      address: toAddress(pubkey),
      lamports: a.lamports as never,
      data: a.data,
      programAddress: toAddress(a.owner),
      executable: a.executable,
      space: BigInt(a.data.length),
    } as never);
  }

  /** Set an account's raw state at once, outside any block (the test hook that plants broken accounts). */
  setAccount(pubkey: string, a: RawAccount): void {
    this.writeAccount(pubkey, a);
    this.store?.append({ t: 'account', pubkey, account: a });
    this.events.emit('account', pubkey);
  }

  minimumBalanceForRentExemption(size: number): bigint {
    return this.svm.minimumBalanceForRentExemption(BigInt(size));
  }

  /** As Agave's faucet: a transfer from the faucet account, signed and sent like any transaction. */
  airdrop(pubkey: string, lamports: bigint): string {
    const tx = new Transaction({ feePayer: this.faucet.publicKey, recentBlockhash: this.latestBlockhash('processed').blockhash }).add(
      SystemProgram.transfer({ fromPubkey: this.faucet.publicKey, toPubkey: new PublicKey(pubkey), lamports }),
    );
    tx.sign(this.faucet);
    const d = this.decode(tx.serialize({ verifySignatures: false }));
    this.submit(d);
    return d.signature;
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

  /** The static part of a landed transaction (its lookups resolved as recorded). */
  private decodeStatic(wire: Uint8Array): DecodedTransaction {
    const tx = VersionedTransaction.deserialize(wire);
    const keys = tx.message.staticAccountKeys.map((k) => k.toBase58());
    return { tx, wire, signature: '', blockhash: tx.message.recentBlockhash, accountKeys: keys, writable: keys.map((_, i) => tx.message.isAccountWritable(i)), loadedAddresses: { writable: [], readonly: [] } };
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

  /** Queue a transaction for the block being built; a duplicate of one queued or landed is ignored. */
  submit(d: DecodedTransaction): void {
    if (this.ledger.has(d.signature) || this.pendingSignatures.has(d.signature)) return;
    this.pending.push(d);
    this.pendingSignatures.add(d.signature);
    this.events.emit('received', d.signature);
  }

  /** Transactions received and waiting for a block. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /**
   * The end of the current slot: the waiting transactions run in arrival order as the next block, each
   * first reserving its estimated cost; one that does not fit waits for a later block, one whose
   * blockhash expired (or that a validator would drop: bad signature, no funds for the fee) is dropped.
   */
  private produceBlock(): void {
    const prev = this.tip;
    const slot = prev.slot + 1;
    const blockHeight = prev.blockHeight + 1;
    const time = Date.now();
    this.setClock(slot, time);
    const tracker = new CostTracker(this.limits);
    const landed: LandedTransaction[] = [];
    const written = new Set<string>();
    const waiting: DecodedTransaction[] = [];
    for (const d of this.pending) {
      if (this.ledger.has(d.signature) || !this.isBlockhashValid(d.blockhash, blockHeight)) {
        this.pendingSignatures.delete(d.signature);
        continue;
      }
      const cost = estimateCost(d);
      if (!tracker.tryAdd(cost)) {
        waiting.push(d);
        continue;
      }
      this.pendingSignatures.delete(d.signature);
      const t = this.execute(d, slot, time);
      if (!t) {
        tracker.remove(cost);
        continue;
      }
      tracker.updateExecutionCost(cost, Number(t.computeUnits), loadedAccountsDataSizeCost(this.loadedAccountsDataSize(d.accountKeys)));
      landed.push(t);
      for (const [i, k] of d.accountKeys.entries()) if (d.writable[i]) written.add(k);
    }
    this.pending = waiting;
    this.pushSlot(slot, blockHeight, time);
    if (landed.length) {
      const costliest = tracker.costliestAccount();
      this.blocks.set(slot, {
        slot,
        blockHeight,
        time,
        signatures: landed.map((t) => t.signature),
        cost: { block: tracker.blockCost, costliestAccount: costliest?.account ?? null, costliestAccountCost: costliest?.cost ?? 0 },
      });
      this.store?.append({ t: 'block', slot, blockHeight, time, txs: landed });
    }
    this.takeSample(time);
    if (this.store && landed.length && time - this.lastSnapshotAt > SNAPSHOT_EVERY_MS) this.snapshot();
    const event: BlockEvent = { slot, signatures: landed.map((t) => t.signature), writtenAccounts: written };
    this.events.emit('block', event);
    this.events.emit('slot', slot);
  }

  /** Bytes the runtime counts as loaded: each account with its base size, and a program's ProgramData. */
  private loadedAccountsDataSize(keys: string[]): number {
    let bytes = 0;
    for (const k of new Set(keys)) {
      const acc = this.getAccount(k);
      bytes += TRANSACTION_ACCOUNT_BASE_SIZE + (acc?.data.length ?? 0);
      if (acc?.executable && acc.owner === UPGRADEABLE_LOADER && acc.data.length >= 36) {
        const programData = this.getAccount(bs58.encode(acc.data.subarray(4, 36)));
        bytes += TRANSACTION_ACCOUNT_BASE_SIZE + (programData?.data.length ?? 0);
      }
    }
    return bytes;
  }

  /** Execute one transaction in the block being produced; null when a validator would not commit it. */
  private execute(d: DecodedTransaction, slot: number, time: number): LandedTransaction | null {
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
    const landed: LandedTransaction = {
      signature: d.signature,
      slot,
      blockTime: unixSeconds(time),
      wire: d.wire,
      version: d.tx.version === 'legacy' ? 'legacy' : 0,
      err: err ? err.json : null,
      fee: this.feeFor(d).fee,
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
    this.record(d.accountKeys, landed);
    this.noteFee(slot, d);
    return landed;
  }

  private noteFee(slot: number, d: DecodedTransaction): void {
    const perSlot = this.fees.get(slot) ?? [];
    perSlot.push({ fee: this.feeFor(d).priceMicroLamports, writable: d.accountKeys.filter((_, i) => d.writable[i]) });
    this.fees.set(slot, perSlot);
  }

  /** 5,000 lamports per signature plus the priority fee (price × requested compute units). */
  feeFor(d: Pick<DecodedTransaction, 'tx' | 'accountKeys'>): { fee: bigint; priceMicroLamports: number } {
    const msg = d.tx.message;
    const keys = msg.staticAccountKeys.map((k) => k.toBase58());
    const limits = budgetOf({ ...d, accountKeys: keys } as DecodedTransaction);
    const units = BigInt(limits?.computeUnitLimit ?? MAX_COMPUTE_UNIT_LIMIT);
    const price = limits?.computeUnitPrice ?? 0n;
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

  private record(accountKeys: string[], landed: LandedTransaction): void {
    this.ledger.set(landed.signature, landed);
    for (const key of new Set(accountKeys)) {
      const list = this.byAddress.get(key) ?? [];
      list.push(landed.signature);
      this.byAddress.set(key, list);
    }
  }

  /**
   * Agave's getSignaturesForAddress: landed transactions that reference `address`, newest first, visible
   * at `commitment`, starting after `before` and stopping at `until` (both excluded).
   */
  signaturesForAddress(address: string, opts: { limit: number; before?: string; until?: string; commitment: Commitment }): LandedTransaction[] {
    const list = this.byAddress.get(address) ?? [];
    const visible = this.slotAt(opts.commitment);
    const out: LandedTransaction[] = [];
    let i = list.length - 1;
    if (opts.before !== undefined) {
      const at = list.lastIndexOf(opts.before);
      // An unknown `before` starts from the newest, as Agave does for a signature it cannot find.
      if (at >= 0) i = at - 1;
    }
    for (; i >= 0 && out.length < opts.limit; i--) {
      if (list[i] === opts.until) break;
      const tx = this.ledger.get(list[i]!)!;
      if (tx.slot <= visible) out.push(tx);
    }
    return out;
  }

  getTransaction(signature: string, commitment: Commitment = 'finalized'): LandedTransaction | null {
    const tx = this.ledger.get(signature);
    return tx && tx.slot <= this.slotAt(commitment) ? tx : null;
  }

  /** A produced block (every slot up to the tip has one), or null past what `commitment` sees. */
  getBlock(slot: number, commitment: Commitment = 'finalized'): (BlockRecord & { blockhash: string; previousBlockhash: string; parentSlot: number; blockTime: number | null }) | null {
    if (!Number.isInteger(slot) || slot < 0 || slot > this.slotAt(commitment)) return null;
    const recorded = this.blocks.get(slot);
    const recent = slot >= this.slots[0]!.slot ? this.slotInfo(slot) : null;
    const time = recorded?.time ?? recent?.time ?? null;
    return {
      slot,
      blockHeight: recorded?.blockHeight ?? recent?.blockHeight ?? slot,
      time: time ?? 0,
      signatures: recorded?.signatures ?? [],
      cost: recorded?.cost ?? null,
      blockhash: this.blockhashOf(slot),
      previousBlockhash: this.blockhashOf(Math.max(0, slot - 1)),
      parentSlot: Math.max(0, slot - 1),
      blockTime: time === null ? null : unixSeconds(time),
    };
  }

  /** Agave samples every 60 s; here every 150 slots (60 s at the default 400 ms slot), newest first. */
  performanceSamples(limit: number): PerformanceSample[] {
    return this.samples.slice(-limit).reverse();
  }

  private takeSample(time: number): void {
    const numSlots = this.slot - this.sampleStart.slot;
    if (numSlots < SAMPLE_SLOTS) return;
    const numTransactions = this.ledger.size - this.sampleStart.transactions;
    this.samples.push({ slot: this.slot, numTransactions, numNonVoteTransactions: numTransactions, numSlots, samplePeriodSecs: Math.max(1, Math.round((time - this.sampleStart.time) / 1000)) });
    if (this.samples.length > MAX_SAMPLES) this.samples.shift();
    this.sampleStart = { slot: this.slot, time, transactions: this.ledger.size };
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

  /** Stop producing blocks; with a ledger, write a last snapshot and release the directory. */
  stop(): void {
    this.pause();
    this.events.removeAllListeners();
    if (this.store) {
      this.snapshot();
      this.store.close();
      this.store = null;
    }
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
