// The minting engine: validated readings → planned transactions (optimizeBatch) → built, simulated, signed
// once, recorded, sent and followed → one MintResult per reading, yielded as each transaction settles.
// The chain primitives (chain/mintTransaction.ts) do the building, signing and sending; this decides what to
// build and what an outcome means. Transactions in flight are bounded by one limiter shared by every batch
// of the engine (inFlight.ts), so concurrent batches share one budget.
import { AppError, BatchTooLarge, EmptyBatch, InvalidBatchData, PartiallySuccessful } from '../errors.js';
import type { Log } from '../log.js';
import { isWalletAddress, remembered } from '../chain/addresses.js';
import { type BuiltTransaction, type ChainMint, type GenerationWindow, type IxRole, MAX_CU, type MintChain, RENT_GENERATION_RECORD, RENT_TOKEN_2022_ACCOUNT } from '../chain/mintTransaction.js';
import type { LookupTable, LookupTables, TableView } from '../chain/lookupTables.js';
import type { SendOptions, SignedTransaction } from '../chain/sendAndConfirm.js';
import { refusesCoSigner } from '../chain/programErrors.js';
import type { InFlightLimiter } from './inFlight.js';
import { estimateBatchFee, type FeeEstimate, optimizeBatch, type PackLimits, type PlannedMint, transactionFee } from './optimizeBatch.js';
import type { MintBatchData, MintResult, ReadingWait } from './types.js';

/** Recipients per round of lookup-table upkeep: 256 token accounts, one full table, about nine extends. */
const UPKEEP_ROUND = 256;

/** What is persisted before the first send: enough to follow or rebroadcast the transaction after a crash. */
export interface SignedRecord extends SignedTransaction {
  readingIds: string[];
  /** mint_generation: the meter's 16 bytes (hex) each reading's window is minted under in these bytes, by reading id. */
  windowBytes?: Record<string, string>;
}

export interface MintEngineDeps {
  chain: MintChain;
  log: Log;
  limits: PackLimits;
  /** BLOCKCHAIN_MAX_BATCH_SIZE; read on every batch, since the service's settings may change it. */
  maxBatchSize: () => number;
  /** Transactions in flight, shared by every batch of this engine. */
  inFlight: InFlightLimiter;
  maxPriorityMicroLamports: bigint;
  send: Omit<SendOptions, 'log'>;
  /** New transactions built for the same readings after provable expiries, before giving up. */
  maxExpiries?: number;
  /**
   * The daily fee budget (MAX_FEE_LAMPORTS_PER_DAY): reserves a transaction's whole fee before it is recorded
   * and sent; false means it is spent, and the transaction's readings wait for the next day. Without it fees
   * are not bounded.
   */
  reserveFee?: (lamports: bigint) => Promise<boolean>;
  /** Told when the program refused the co-signing REC validator (RecValidatorNotFound): the service checks it again at once. */
  onCoSignerRefused?: () => void;
  /** Called with every signed transaction before its first send; a throw means it is never sent. */
  onSigned?: (record: SignedRecord) => Promise<void>;
  /**
   * The rent budget (MAX_NEW_TOKEN_ACCOUNTS_PER_DAY): given the wallets that need a new token account,
   * reserves what is left and answers the wallets granted one. Readings of the others are `deferred`:
   * nothing is planned or signed for them. Without it every token account is created as needed.
   */
  reserveTokenAccounts?: (wallets: string[]) => Promise<Set<string>>;
  /**
   * mint_generation's rent budget (MAX_NEW_MINT_RECORDS_PER_DAY): given how many window records a batch would
   * create, reserves what is left and answers how many were granted; the other windows are `deferred`.
   */
  reserveMintRecords?: (count: number) => Promise<number>;
  /**
   * mint_generation: give back what was reserved for a transaction never recorded because its freeze refused a window
   * (its fee, its windows' records): the window goes again later, and would otherwise be paid for at each try.
   */
  giveBack?: { fee?: (lamports: bigint) => Promise<void>; mintRecords?: (count: number) => Promise<void> };
  /**
   * v0 transactions over the service's lookup tables (LOOKUP_TABLE_MIN_MINTS > 0): every batch is planned with
   * the tables, and after it the recipients it minted to that have now been minted to `minMints` times go into
   * them. `mintCounts` answers how many transactions minted to each wallet so far (the database's count).
   */
  lookupTables?: { tables: LookupTables; minMints: number; mintCounts: (wallets: string[]) => Promise<Map<string, number>> };
}

export interface MintOptions {
  signal?: AbortSignal;
  log?: Log;
  /** Per-call persistence hook; overrides the engine's own. */
  onSigned?: (record: SignedRecord) => Promise<void>;
  /** Told as each signed transaction is sent and as it ends (the ledger of mint_transactions). */
  onTransaction?: (signature: string, status: 'sent' | 'failed' | 'expired', error?: string) => void;
  /**
   * Called once every planned transaction of the batch has its room in the in-flight budget (or has settled,
   * or nothing was planned): the batch asks nothing more of the budget (a rebuild keeps its ticket).
   * The worker claims its next batch then (WORKER_PIPELINE_DEPTH), so claims follow the room in flight: not
   * sooner (readings would wait claimed while the budget is full), and not only once every transaction was
   * simulated, recorded and sent (the budget would idle through that: measured, 1 s of a 2 s batch).
   */
  onPlanned?: () => void;
}

/** Wallets whose token account the engine remembers as existing (oldest forgotten first past it). */
const KNOWN_ACCOUNTS_REMEMBERED = 200_000;

/**
 * A set that forgets its oldest entries past `max`: for facts about the chain kept as hints (a forgotten one is
 * read again from the chain, never assumed).
 */
export function boundedSet(max: number) {
  const set = new Set<string>();
  return {
    has: (k: string) => set.has(k),
    add(k: string) {
      set.delete(k);
      set.add(k);
      if (set.size > max) set.delete(set.values().next().value!);
    },
    delete: (k: string) => set.delete(k),
    get size() {
      return set.size;
    },
  };
}

export function makeMintEngine(deps: MintEngineDeps) {
  // Recipients whose token account is known to exist: no creation is paid or packed for them. A hint, not a
  // fact: an owner may close their token account at any time, so a mint that fails to one is checked against
  // the chain and the hint dropped (settle); bounded, so a fleet's churn of wallets cannot grow it for ever.
  const knownAtas = boundedSet(KNOWN_ACCOUNTS_REMEMBERED);
  const ataKnown = (wallet: string) => knownAtas.has(wallet);
  const { chain } = deps;
  // Planned as the chain builds: its signers and the accounts each mint names come from the program's IDL.
  const limits: PackLimits = { ...deps.limits, shape: chain.shape };
  // A fleet's wallets come back every cycle; the curve check is worth remembering (chain/addresses.ts).
  const walletOk = remembered(isWalletAddress);

  function validate(batch: MintBatchData[]): void {
    if (batch.length === 0) throw new EmptyBatch();
    const max = deps.maxBatchSize();
    if (batch.length > max) throw new BatchTooLarge(batch.length, max);
    const seen = new Set<string>();
    for (const r of batch) {
      if (seen.has(r.readingId)) throw new InvalidBatchData('appears twice in the batch', r.readingId);
      seen.add(r.readingId);
      if (!walletOk(r.walletAddress)) throw new InvalidBatchData(`wallet_address ${r.walletAddress} is not a wallet (base58 ed25519 public key)`, r.readingId);
    }
  }

  async function discoverAtas(batch: MintBatchData[], signal?: AbortSignal): Promise<void> {
    const unknown = [...new Set(batch.map((r) => r.walletAddress))].filter((w) => !knownAtas.has(w));
    for (const w of await chain.discoverTokenAccounts(unknown, signal)) knownAtas.add(w);
  }

  /** The chain's view of planned mints: a token account is created only if not known to exist by now. */
  const toChain = (mints: PlannedMint[]): ChainMint[] =>
    mints.map((m) => ({ walletAddress: m.walletAddress, parts: m.parts, createAta: m.createAta && !knownAtas.has(m.walletAddress), ...(m.window ? { window: m.window } : {}) }));

  interface Flight {
    price: bigint;
    /** The plan's lookup tables for this transaction (v0); absent: legacy. */
    lookupTables?: LookupTable[];
    opts: MintOptions;
    emit: (group: MintResult[]) => void;
    /** Called once the transaction has its room in flight, or has ended without it. */
    started: () => void;
  }

  /**
   * The most compute units one mint instruction used in a simulated transaction that created no token
   * account (0: none simulated yet). mint_tokens_direct to an existing token account always runs the same
   * code, so a transaction of such mints only is sized from this instead of simulated: one RPC call and one
   * execution on the chain fewer per transaction (in the scale benchmark the chain's CPU per reading fell
   * from 1.33 to 1.15–1.20 ms, and the simulation had taken a median 150 ms of a transaction's time).
   */
  let unitsPerKnownMint = 0;
  /** Signatures this engine signed lately (a blockhash lives about a minute; bounded, oldest forgotten first). */
  const signedBefore = new Set<string>();
  const SIGNED_REMEMBERED = 50_000;

  /**
   * Settle a set of planned mints in one transaction. A bad recipient is removed and the rest retried;
   * an expired transaction is rebuilt; nothing is signed twice before its blockhash provably expired.
   * `simulate`: simulate even when the compute limit is known (a retry after a failure).
   * Returns how many slots the transaction waited to land (null: it did not land, or was not measured).
   */
  async function settle(mints: PlannedMint[], f: Flight, expiries = 0, simulate = false): Promise<number | null> {
    if (mints.length === 0) return null;
    const { opts, emit } = f;
    const log = opts.log ?? deps.log;
    /** Report these mints not minted (or unknown); null: nothing landed, so nothing to measure. */
    const fail = (ms: PlannedMint[], error: string, txSignature: string | null = null, outcome: 'failed' | 'unknown' = 'failed'): null => {
      emit(ms.flatMap((m) => m.readingIds.map((readingId) => ({ readingId, success: false, error, txSignature, outcome }))));
      return null;
    };
    /** Known not minted through no fault of theirs: these mints wait without losing an attempt. */
    const defer = (ms: PlannedMint[], wait: ReadingWait, txSignature: string | null = null): null => {
      emit(ms.flatMap((m) => m.readingIds.map((readingId) => ({ readingId, success: false, error: wait.reason, txSignature, outcome: 'deferred' as const, wait }))));
      return null;
    };
    /** The program refused the co-signing REC validator: the service's key, not these readings, is at fault. */
    const coSignerRefused = (reason: string, txSignature: string | null = null): null => {
      log.error({ reason }, 'the REC validator key was refused; readings wait until a registered key is configured');
      deps.onCoSignerRefused?.();
      return defer(mints, { until: 'backoff', reason: `waiting for a registered REC validator (REC_VALIDATOR_KEYPAIR_PATH): ${reason}` }, txSignature);
    };
    const without = (i: number) => mints.filter((_, j) => j !== i);
    if (opts.signal?.aborted) return fail(mints, 'cancelled before signing: not minted');

    /**
     * Mint `i` failed alone (nothing of its transaction landed): settle it apart, then the others. Its token
     * account was taken to exist; when the chain says otherwise the hint is dropped: a closed account is created
     * again (within the rent budget) and the mint goes again at once, without costing its readings an attempt;
     * a frozen account, or one of another mint or program, is nothing the service can fix: said in words.
     */
    const blamed = async (i: number, reason: string, txSignature: string | null): Promise<number | null> => {
      const m = mints[i]!;
      let alone: Promise<number | null> | null = null;
      if (!m.createAta || knownAtas.has(m.walletAddress)) {
        const state = await chain.inspectTokenAccount(m.walletAddress, opts.signal).catch(() => null);
        const wallet = m.walletAddress;
        if (state === 'missing') {
          knownAtas.delete(wallet);
          // A reservation that could not be asked (a database error) is not a spent budget: back off, not a day.
          const granted = deps.reserveTokenAccounts ? await deps.reserveTokenAccounts([wallet]).then((g) => g.has(wallet), () => null) : true;
          log.warn({ wallet, granted }, 'the recipient\'s token account is gone (closed by its owner); creating it again');
          alone =
            granted === true
              ? settle([{ ...m, createAta: true }], f, expiries, true)
              : Promise.resolve(
                  granted === false
                    ? defer([m], { until: 'next_utc_day', reason: `the owner's token account was closed; creating it again waits for the token-account budget (MAX_NEW_TOKEN_ACCOUNTS_PER_DAY) until the next UTC midnight` })
                    : defer([m], { until: 'backoff', reason: `the owner's token account was closed; its creation could not be reserved (the database did not answer)` }),
                );
        } else if (state === 'frozen') {
          alone = Promise.resolve(fail([m], `the owner's token account ${wallet} is frozen: nothing can be minted to it until its freeze authority thaws it (${reason})`, txSignature));
        } else if (state === 'foreign') {
          alone = Promise.resolve(fail([m], `the address of the owner's token account holds an account of another mint or program: nothing can be minted to it (${reason})`, txSignature));
        }
      }
      const first = await (alone ?? Promise.resolve(fail([m], reason, txSignature)));
      const rest = await settle(without(i), f, expiries, simulate);
      return rest ?? first;
    };

    let signed: SignedRecord;
    let roles: IxRole[];
    let simulated = false;
    let fee = 0n;
    try {
      // After an expiry, a blockhash read anew (a shared one could be the expired one's).
      const blockhash = await chain.latestBlockhash(opts.signal, expiries > 0);
      const onChain = toChain(mints);
      const instructions = onChain.reduce((n, m) => n + m.parts.length, 0);
      // A mint_generation transaction is always simulated: its cost depends on its records' bumps and on whether
      // they exist, which no earlier transaction tells.
      const creates = onChain.some((m) => m.createAta || m.window);
      const sized = (units: number) => Math.min(MAX_CU, Math.ceil(units * 1.1) + 1_000);
      let built: BuiltTransaction;
      let cuLimit: number;
      if (!simulate && !creates && unitsPerKnownMint > 0) {
        cuLimit = sized(unitsPerKnownMint * instructions);
        built = chain.build({ mints: onChain, cuLimit, price: f.price, blockhash, lookupTables: f.lookupTables });
      } else {
        // Simulate before signing: it sizes the compute limit and finds a bad recipient while nothing is at stake.
        simulated = true;
        const probe = chain.build({ mints: onChain, cuLimit: MAX_CU, price: f.price, blockhash, lookupTables: f.lookupTables });
        const sim = await chain.simulate(probe, opts.signal);
        if (sim.err) {
          if (sim.decoded && refusesCoSigner(sim.decoded)) return coSignerRefused(sim.reason!);
          if (sim.blamedMint === null) return fail(mints, sim.reason!);
          log.warn({ wallet: mints[sim.blamedMint]!.walletAddress, reason: sim.reason }, 'recipient fails alone; retrying the others');
          return blamed(sim.blamedMint, sim.reason!, null);
        }
        if (!creates && sim.unitsConsumed) unitsPerKnownMint = Math.max(unitsPerKnownMint, Math.ceil(sim.unitsConsumed / instructions));
        cuLimit = sized(sim.unitsConsumed ?? MAX_CU);
        built = chain.withComputeLimit(probe, cuLimit);
      }
      // Never the bytes of a transaction signed before: two with the same mints, compute limit and blockhash
      // (shared for a second) have one signature, and one landing would count for both. A limit one unit
      // higher makes them differ. (Across processes, recording the signature refuses a duplicate.)
      let once = chain.sign(built);
      while (signedBefore.has(once.signature)) {
        built = chain.withComputeLimit(built, ++cuLimit);
        once = chain.sign(built);
      }
      signedBefore.add(once.signature);
      if (signedBefore.size > SIGNED_REMEMBERED) signedBefore.delete(signedBefore.values().next().value!);
      // The daily fee budget: the whole fee of these exact bytes, reserved before they are recorded or sent.
      // Refused, they are dropped (never recorded, never sent) and the readings wait for the next day's budget.
      fee = transactionFee(chain.shape.signers, f.price, cuLimit);
      if (deps.reserveFee && !(await deps.reserveFee(fee))) {
        log.warn({ readings: mints.reduce((n, m) => n + m.readingIds.length, 0) }, 'the fee budget for today is spent; readings wait for the next UTC day');
        return defer(mints, { until: 'next_utc_day', reason: 'waiting for the fee budget (MAX_FEE_LAMPORTS_PER_DAY) until the next UTC midnight' });
      }
      roles = built.roles;
      signed = { ...once, readingIds: mints.flatMap((m) => m.readingIds) };
      if (onChain.some((m) => m.window)) signed.windowBytes = Object.fromEntries(mints.flatMap((m) => (m.window ? m.readingIds.map((id) => [id, m.window!.meterId]) : [])));
    } catch (e) {
      // A cancel that lands during the reads before signing aborts them: it is a cancel, not a failure.
      if (opts.signal?.aborted) return fail(mints, 'cancelled before signing: not minted');
      return fail(mints, `not sent: ${(e as Error).message}`);
    }
    try {
      await (opts.onSigned ?? deps.onSigned)?.(signed);
    } catch (e) {
      // mint_generation: the freeze refused a window. WINDOW_CHANGED: it gained a reading still in the queue between
      // its claim and its freeze; not the readings' fault, and nothing was sent: they wait a back-off without losing
      // an attempt, then the window goes whole. WINDOW_UNMINTABLE: it never can be frozen as it stands.
      const windowRefused = e instanceof AppError && (e.code === 'WINDOW_CHANGED' || e.code === 'WINDOW_UNMINTABLE');
      if (windowRefused) {
        // Nothing of it was recorded: its fee and its windows' records go back to today's budgets (else a window
        // refused again and again would spend them at every try). A giving back that fails costs budget, never a mint.
        const records = mints.filter((m) => m.window).length;
        if (deps.reserveFee && fee > 0n) await deps.giveBack?.fee?.(fee).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not give back a fee reservation'));
        if (deps.reserveMintRecords && records) await deps.giveBack?.mintRecords?.(records).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not give back mint-record reservations'));
      }
      if (windowRefused && (e as AppError).code === 'WINDOW_CHANGED') return defer(mints, { until: 'backoff', reason: `not sent: ${(e as Error).message}` });
      // A window that can never be minted as it stands: its readings fail (the attempt counted), saying why.
      if (windowRefused) return fail(mints, `not sent: ${(e as Error).message}`);
      return fail(mints, `not sent: the signed transaction could not be recorded (${(e as Error).message})`);
    }

    const outcome = await chain.sendAndConfirm(signed, {
      ...deps.send,
      log,
      onSent: () => {
        opts.onTransaction?.(signed.signature, 'sent');
      },
    });
    switch (outcome.status) {
      case 'confirmed':
        for (const m of mints) knownAtas.add(m.walletAddress);
        emit(signed.readingIds.map((readingId) => ({ readingId, success: true, error: null, txSignature: signed.signature, outcome: 'minted' as const })));
        return outcome.sentSlot === null ? null : outcome.slot - outcome.sentSlot;
      case 'failed': {
        // It landed and failed as a whole, so nothing in it was minted: the others may go again.
        const { blamedMint, reason, decoded } = chain.blame(outcome.err, roles);
        opts.onTransaction?.(signed.signature, 'failed', reason);
        if (refusesCoSigner(decoded)) return coSignerRefused(reason, signed.signature);
        // Built without a simulation: all of it goes again, simulated (which names a bad recipient, or finds
        // the compute limit too low, before anything is at stake again).
        if (!simulated) {
          log.warn({ reason }, 'an unsimulated transaction failed; retrying its mints simulated');
          return settle(mints, f, expiries, true);
        }
        if (blamedMint === null) return fail(mints, reason, signed.signature);
        return blamed(blamedMint, reason, signed.signature);
      }
      case 'expired':
        opts.onTransaction?.(signed.signature, 'expired');
        if (expiries + 1 > (deps.maxExpiries ?? 3)) return fail(mints, `transaction ${signed.signature} expired ${expiries + 1} times: not minted`);
        return settle(mints, f, expiries + 1, simulate);
      case 'unknown':
        return fail(mints, `outcome unknown: ${outcome.reason}`, signed.signature, 'unknown');
    }
  }

  /** One planned transaction under the shared in-flight budget; what it learnt about landing goes back to it. */
  async function fly(mints: PlannedMint[], f: Flight): Promise<void> {
    // No ticket: the batch was cancelled while waiting for room, and settle reports that before building anything.
    const ticket = await deps.inFlight.acquire(f.opts.signal);
    f.started();
    let slots: number | null = null;
    try {
      slots = await settle(mints, f);
    } finally {
      ticket?.landed(slots);
    }
  }

  /**
   * Yields the results of each settled transaction together (one group: the readings of one transaction, or
   * of one set of mints that failed or were cancelled together), as they settle, not in input order. The
   * stream ends only when every planned transaction has settled, so a consumer never leaves one in flight.
   */
  async function* mintGroups(all: MintBatchData[], opts: MintOptions = {}): AsyncGenerator<MintResult[]> {
    let planned = false;
    const plannedOnce = () => {
      if (!planned) (planned = true), opts.onPlanned?.();
    };
    try {
      yield* groups(all, opts, plannedOnce);
    } finally {
      plannedOnce();
    }
  }

  async function* groups(all: MintBatchData[], opts: MintOptions, plannedOnce: () => void): AsyncGenerator<MintResult[]> {
    validate(all);
    await discoverAtas(all, opts.signal);
    let batch = all;
    const windowed = windowsOf(batch);
    if (windowed.size) {
      // mint_generation: a window the chain already records minted is not minted again (the program would only
      // skip it); with this batch's sum it was minted (the record is the proof), with another it was someone else's.
      const keys = [...windowed.keys()];
      const records = await chain.readGenerationRecords(keys.map((k) => windowed.get(k)!.window), opts.signal);
      const proven: MintResult[] = [];
      const foreign: MintResult[] = [];
      keys.forEach((k, i) => {
        const rec = records[i];
        if (!rec?.minted) return;
        const { window, readings } = windowed.get(k)!;
        const sum = readings.reduce((a, r) => a + r.tokensToMint, 0n);
        if (rec.amount === sum) {
          for (const r of readings) proven.push({ readingId: r.readingId, success: true, error: null, txSignature: null, outcome: 'minted', proof: 'record' });
        } else {
          const error = `window ${new Date(window.startMs).toISOString()} of meter bytes ${window.meterId} is already minted on chain with ${rec.amount} base units, not these readings' ${sum}: GridTokenX's record admits one mint per window`;
          for (const r of readings) foreign.push({ readingId: r.readingId, success: false, error, txSignature: null, outcome: 'failed' });
        }
        windowed.delete(k);
      });
      if (proven.length) yield proven;
      if (foreign.length) yield foreign;
      batch = batch.filter((r) => windowed.has(windowKey(r.window!)));
      if (batch.length === 0) return;
    }
    // Known now: which recipients need a new token account. Reserve them before anything is planned or signed.
    // mint_generation mints a window to its last reading's wallet (optimizeBatch): that wallet is the recipient of
    // every reading of the window, so the window's account is reserved once and a window waits whole, never in part.
    const recipient = recipientsOf(batch);
    const newAccounts = [...new Set(batch.map(recipient))].filter((w) => !knownAtas.has(w)).sort();
    if (deps.reserveTokenAccounts && newAccounts.length) {
      const granted = await deps.reserveTokenAccounts(newAccounts);
      const waits = (r: MintBatchData) => !knownAtas.has(recipient(r)) && !granted.has(recipient(r));
      const deferred = batch.filter(waits);
      if (deferred.length) {
        yield deferred.map((r) => ({
          readingId: r.readingId,
          success: false,
          error: 'deferred: the token-account budget for today (MAX_NEW_TOKEN_ACCOUNTS_PER_DAY) is spent',
          txSignature: null,
          outcome: 'deferred' as const,
          wait: { until: 'next_utc_day' as const, reason: 'waiting for the token-account budget (MAX_NEW_TOKEN_ACCOUNTS_PER_DAY) until the next UTC midnight' },
        }));
      }
      batch = batch.filter((r) => !waits(r));
      if (batch.length === 0) return;
    }
    // mint_generation's rent: every window planned creates its record; past the day's budget, windows wait.
    const toRecord = windowsOf(batch);
    if (deps.reserveMintRecords && toRecord.size) {
      const keys = [...toRecord.keys()].sort();
      const granted = await deps.reserveMintRecords(keys.length);
      if (granted < keys.length) {
        const waiting = new Set(keys.slice(granted));
        const wait = { until: 'next_utc_day' as const, reason: 'waiting for the mint-record budget (MAX_NEW_MINT_RECORDS_PER_DAY) until the next UTC midnight' };
        yield batch.filter((r) => waiting.has(windowKey(r.window!))).map((r) => ({ readingId: r.readingId, success: false, error: `deferred: ${wait.reason}`, txSignature: null, outcome: 'deferred' as const, wait }));
        batch = batch.filter((r) => !waiting.has(windowKey(r.window!)));
        if (batch.length === 0) return;
      }
    }
    const view = await tableView();
    const plan = optimizeBatch(batch, limits, ataKnown, view?.lookupsFor(walletsOf(batch)));
    const price = await chain.priorityFee(deps.maxPriorityMicroLamports, opts.signal);
    const v0 = plan.filter((tx) => tx.lookupTables?.length).length;
    (opts.log ?? deps.log).info({ readings: batch.length, transactions: plan.length, v0, priceMicroLamports: String(price) }, 'batch planned');

    const queue: MintResult[][] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    let failure: unknown = null;
    // Wallets this batch minted to: candidates for the lookup tables once it is over.
    const minted = new Set<string>();
    const walletOf = new Map(batch.map((r) => [r.readingId, r.walletAddress]));
    const emit = (group: MintResult[]) => {
      if (group.length === 0) return;
      for (const r of group) if (r.success) minted.add(walletOf.get(r.readingId)!);
      queue.push(group);
      wake?.();
    };
    let waiting = plan.length;
    const flights = plan.map((tx) => {
      let counted = false;
      return {
        price,
        lookupTables: tx.lookupTables?.length ? view!.tablesNamed(tx.lookupTables) : undefined,
        opts,
        emit,
        started: () => {
          if (counted) return;
          counted = true;
          if (--waiting === 0) plannedOnce();
        },
      };
    });
    // allSettled, not all: one transaction's unexpected failure must not end the stream while others still fly.
    void Promise.allSettled(plan.map((tx, i) => fly(tx.mints, flights[i]!))).then((outcomes) => {
      failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')?.reason ?? null;
      finished = true;
      wake?.();
    });
    for (;;) {
      const next = queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (finished) break;
      await new Promise<void>((r) => (wake = r));
      wake = null;
    }
    if (failure) throw failure;
    // Every group has been taken (and recorded by the consumer) by now, so the counts include this batch.
    tableUpkeep.add(minted, opts.log ?? deps.log);
  }

  const windowKey = (w: GenerationWindow) => `${w.meterId}:${w.startMs}`;
  /** mint_generation: the batch's windows and their readings, by windowKey (empty for mint_tokens_direct). */
  const windowsOf = (batch: MintBatchData[]) => {
    const out = new Map<string, { window: GenerationWindow; readings: MintBatchData[] }>();
    for (const r of batch) {
      if (!r.window) continue;
      const k = windowKey(r.window);
      const w = out.get(k) ?? { window: r.window, readings: [] };
      w.readings.push(r);
      out.set(k, w);
    }
    return out;
  };

  const walletsOf = (batch: MintBatchData[]) => [...new Set(batch.map((r) => r.walletAddress))];

  /** Who each reading's tokens go to: its wallet, or under mint_generation its window's last reading's (in batch order). */
  const recipientsOf = (batch: MintBatchData[]) => {
    const last = new Map<string, string>();
    for (const r of batch) if (r.window) last.set(windowKey(r.window), r.walletAddress);
    return (r: MintBatchData) => (r.window ? last.get(windowKey(r.window))! : r.walletAddress);
  };

  /** What the service's lookup tables offer a transaction built now (read anew: another process may have added some). */
  async function tableView(): Promise<TableView | undefined> {
    if (!deps.lookupTables) return undefined;
    try {
      return await deps.lookupTables.tables.usableView();
    } catch (e) {
      // The tables are an optimisation: without them the batch goes as legacy transactions.
      deps.log.warn({ err: (e as Error).message }, 'lookup tables not loaded; planning legacy transactions');
      return undefined;
    }
  }

  /**
   * Table upkeep runs beside minting, never in its way: a batch hands over its recipients and ends at once.
   * One round at a time per engine (the store's lock already keeps processes apart), each of at most
   * UPKEEP_ROUND recipients (about nine extend transactions), so a fleet's first day of qualifying
   * recipients (thousands at once) is added over several rounds while the batches after it mint on with
   * the entries that are usable so far. `settled()` waits for the rounds due now (tests, a graceful stop).
   */
  const tableUpkeep = (() => {
    const due = new Set<string>();
    let round: Promise<void> | null = null;
    const next = async (log: Log) => {
      while (due.size) {
        const take = [...due].slice(0, UPKEEP_ROUND);
        for (const w of take) due.delete(w);
        await addFrequentRecipients(new Set(take), log);
      }
      round = null;
    };
    return {
      add(minted: Set<string>, log: Log) {
        if (!deps.lookupTables || minted.size === 0) return;
        for (const w of minted) due.add(w);
        round ??= next(log);
      },
      settled: () => round ?? Promise.resolve(),
      /** Drop what is due and wait for the round under way (its transactions are recorded; a restart settles them). */
      async stop() {
        due.clear();
        await round;
      },
    };
  })();

  /**
   * After a batch: its recipients minted to at least LOOKUP_TABLE_MIN_MINTS times whose token account is in
   * no table yet go into one (chain/lookupTables.ts says what an entry costs and when it pays back). A
   * failure here costs nothing minted: a later batch tries again.
   */
  async function addFrequentRecipients(minted: Set<string>, log: Log): Promise<void> {
    const use = deps.lookupTables;
    if (!use || minted.size === 0) return;
    try {
      const inTable = use.tables.lookupsFor([...minted]).ata;
      const candidates = [...minted].filter((w) => !inTable.has(w)).sort();
      if (candidates.length === 0) return;
      const counts = await use.mintCounts(candidates);
      const qualifying = candidates.filter((w) => (counts.get(w) ?? 0) >= use.minMints);
      if (qualifying.length === 0) return;
      await use.tables.addRecipients(qualifying);
      log.info({ recipients: qualifying.length }, 'recipients added to the lookup tables');
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'recipients not added to the lookup tables; the next batch tries again');
    }
  }

  /** Yields each reading's MintResult as its transaction settles (not in input order). */
  async function* mintStream(batch: MintBatchData[], opts: MintOptions = {}): AsyncGenerator<MintResult> {
    for await (const group of mintGroups(batch, opts)) yield* group;
  }

  async function mintEnergyTokensBatch(batch: MintBatchData[], opts: MintOptions = {}): Promise<MintResult[]> {
    const results: MintResult[] = [];
    for await (const r of mintStream(batch, opts)) results.push(r);
    return results;
  }

  async function estimateFee(batch: MintBatchData[]): Promise<FeeEstimate> {
    validate(batch);
    await discoverAtas(batch);
    const plan = optimizeBatch(batch, limits, ataKnown, (await tableView())?.lookupsFor(walletsOf(batch)));
    return estimateBatchFee(plan, {
      priorityMicroLamports: await chain.priorityFee(deps.maxPriorityMicroLamports),
      rentPerTokenAccount: RENT_TOKEN_2022_ACCOUNT,
      rentPerMintRecord: RENT_GENERATION_RECORD,
      signersPerTransaction: chain.shape.signers,
    });
  }

  return {
    mintGroups,
    mintStream,
    mintEnergyTokensBatch,
    mintOne: (r: MintBatchData, o?: MintOptions) => mintEnergyTokensBatch([r], o),
    estimateFee,
    /** How many wallets the engine remembers as having a token account (bounded). */
    knownAccounts: () => knownAtas.size,
    inFlight: deps.inFlight,
    /** Resolves once the lookup-table upkeep due now is done (it runs beside minting). */
    tablesSettled: tableUpkeep.settled,
    stopTableUpkeep: tableUpkeep.stop,
  };
}

export type MintEngine = ReturnType<typeof makeMintEngine>;

/** The batch's outcome as a typed error when some readings failed; null when all were minted. */
export function partialFailure(results: MintResult[]): PartiallySuccessful | null {
  const ok = results.filter((r) => r.success).length;
  return ok === results.length ? null : new PartiallySuccessful(ok, results.length);
}
