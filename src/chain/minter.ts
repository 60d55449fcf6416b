// The minting engine: validated readings → planned transactions (optimizeBatch) → built, simulated,
// signed once, recorded, sent and followed in parallel under p-limit → one MintResult per reading,
// yielded as each transaction settles.
import BN from 'bn.js';
import { Program, type Idl } from '@coral-xyz/anchor';
import { ComputeBudgetProgram, type Keypair, PublicKey, Transaction, type TransactionInstruction } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, createAssociatedTokenAccountIdempotentInstruction, getAssociatedTokenAddressSync } from '@solana/spl-token';
import bs58 from 'bs58';
import pLimit from 'p-limit';
import pRetry from 'p-retry';
import { BatchTooLarge, EmptyBatch, InvalidBatchData, PartiallySuccessful, RpcFailure } from '../errors.js';
import type { Log } from '../log.js';
import { estimateBatchFee, type FeeEstimate, optimizeBatch, type PackLimits, type PlannedMint } from '../minting/optimizeBatch.js';
import type { MintBatchData, MintResult } from '../minting/types.js';
import { tokenInfoAddress } from './energyToken.js';
import { decodeTransactionError } from './programErrors.js';
import type { Context, RpcClient, TransactionErrorJson } from './rpcClient.js';
import { sendAndConfirm, type SendOptions, type SignedTransaction } from './sendAndConfirm.js';

/** What is persisted before the first send: enough to follow or rebroadcast the transaction after a crash. */
export interface SignedRecord extends SignedTransaction {
  readingIds: string[];
}

export interface MinterDeps {
  rpc: RpcClient;
  authority: Keypair;
  programId: PublicKey;
  mint: PublicKey;
  idl: Idl;
  log: Log;
  limits: PackLimits;
  /** BLOCKCHAIN_MAX_BATCH_SIZE; read on every batch, since the service's settings may change it. */
  maxBatchSize: () => number;
  /** BLOCKCHAIN_CONCURRENT_BATCHES: transactions in flight at once. */
  concurrency: number;
  maxPriorityMicroLamports: bigint;
  send: Omit<SendOptions, 'log'>;
  /** Retries of a transient RPC failure (429, 5xx, time-out) in a read before signing; default 3. */
  readRetries?: number;
  /** New transactions built for the same readings after provable expiries, before giving up. */
  maxExpiries?: number;
  /** Called with every signed transaction before its first send; a throw means it is never sent. */
  onSigned?: (record: SignedRecord) => Promise<void>;
  /**
   * The rent budget (MAX_NEW_TOKEN_ACCOUNTS_PER_DAY): given the wallets that need a new token account,
   * reserves what is left and answers the wallets granted one. Readings of the others are `deferred`:
   * nothing is planned or signed for them. Without it every token account is created as needed.
   */
  reserveTokenAccounts?: (wallets: string[]) => Promise<Set<string>>;
}

export interface MintOptions {
  signal?: AbortSignal;
  log?: Log;
  /** Per-call persistence hook; overrides the minter's own. */
  onSigned?: (record: SignedRecord) => Promise<void>;
  /** Told as each signed transaction is sent and as it ends (the ledger of mint_transactions). */
  onTransaction?: (signature: string, status: 'sent' | 'failed' | 'expired', error?: string) => void;
}

const MAX_CU = 1_400_000;
const RENT_TOKEN_2022_ACCOUNT = 2_074_080n; // 170 bytes: the account plus its ImmutableOwner extension

type IxRole = { kind: 'budget' } | { kind: 'ata' | 'mint'; mint: number };

export function makeMinter(deps: MinterDeps) {
  const knownAtas = new Set<string>();
  const tokenInfo = tokenInfoAddress(deps.programId);
  // Only the instruction builder is used: no provider calls, so no connection is needed.
  const program = new Program({ ...deps.idl, address: deps.programId.toBase58() }, { connection: {} } as never);
  const ataOf = (wallet: string) => getAssociatedTokenAddressSync(deps.mint, new PublicKey(wallet), false, TOKEN_2022_PROGRAM_ID);
  const ataKnown = (wallet: string) => knownAtas.has(wallet);
  // Nothing is at stake before signing: a transient failure there is retried instead of costing the
  // readings an attempt (and a back-off).
  const read = <T>(method: string, params: unknown[], signal?: AbortSignal) =>
    pRetry(() => deps.rpc.call<T>(method, params), {
      retries: deps.readRetries ?? 3,
      minTimeout: 100,
      randomize: true,
      signal,
      shouldRetry: ({ error }) => error instanceof RpcFailure && error.retryable,
    });

  function validate(batch: MintBatchData[]): void {
    if (batch.length === 0) throw new EmptyBatch();
    const max = deps.maxBatchSize();
    if (batch.length > max) throw new BatchTooLarge(batch.length, max);
    const seen = new Set<string>();
    for (const r of batch) {
      if (seen.has(r.readingId)) throw new InvalidBatchData('appears twice in the batch', r.readingId);
      seen.add(r.readingId);
      try {
        if (!PublicKey.isOnCurve(new PublicKey(r.walletAddress).toBytes())) throw new Error();
      } catch {
        throw new InvalidBatchData(`wallet_address ${r.walletAddress} is not a wallet (base58 ed25519 public key)`, r.readingId);
      }
    }
  }

  /** Learn which recipients already have a token account, so no creation is paid or packed for them. */
  async function discoverAtas(batch: MintBatchData[], signal?: AbortSignal): Promise<void> {
    const unknown = [...new Set(batch.map((r) => r.walletAddress))].filter((w) => !knownAtas.has(w));
    for (let i = 0; i < unknown.length; i += 100) {
      const chunk = unknown.slice(i, i + 100);
      const res = await read<Context<(object | null)[]>>(
        'getMultipleAccounts',
        [chunk.map((w) => ataOf(w).toBase58()), { encoding: 'base64', dataSlice: { offset: 0, length: 0 }, commitment: 'confirmed' }],
        signal,
      );
      res.value.forEach((acc, j) => acc && knownAtas.add(chunk[j]!));
    }
  }

  async function priorityFee(signal?: AbortSignal): Promise<bigint> {
    const fees = await read<{ prioritizationFee: number }[]>('getRecentPrioritizationFees', [[tokenInfo.toBase58(), deps.mint.toBase58()]], signal);
    const paid = fees.map((f) => BigInt(f.prioritizationFee)).filter((f) => f > 0n).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const p75 = paid.length ? paid[Math.floor(paid.length * 0.75)]! : 0n;
    return p75 < deps.maxPriorityMicroLamports ? p75 : deps.maxPriorityMicroLamports;
  }

  async function instructionsFor(mints: PlannedMint[], cuLimit: number, price: bigint): Promise<{ ixs: TransactionInstruction[]; roles: IxRole[] }> {
    const ixs: TransactionInstruction[] = [
      ComputeBudgetProgram.setComputeUnitLimit({ units: cuLimit }),
      ComputeBudgetProgram.setComputeUnitPrice({ microLamports: price }),
    ];
    const roles: IxRole[] = [{ kind: 'budget' }, { kind: 'budget' }];
    for (const [i, m] of mints.entries()) {
      const wallet = new PublicKey(m.walletAddress);
      const ata = ataOf(m.walletAddress);
      if (m.createAta && !knownAtas.has(m.walletAddress)) {
        ixs.push(createAssociatedTokenAccountIdempotentInstruction(deps.authority.publicKey, ata, wallet, deps.mint, TOKEN_2022_PROGRAM_ID));
        roles.push({ kind: 'ata', mint: i });
      }
      // Several parts only for one reading above the per-instruction cap: all in this transaction.
      for (const part of m.parts) {
        ixs.push(
          await program.methods
            .mintTokensDirect!(new BN(part.toString()))
            .accountsStrict({ tokenInfo, mint: deps.mint, userTokenAccount: ata, authority: deps.authority.publicKey, tokenProgram: TOKEN_2022_PROGRAM_ID })
            .instruction(),
        );
        roles.push({ kind: 'mint', mint: i });
      }
    }
    return { ixs, roles };
  }

  /** Which planned mint an error belongs to, and its decoded reason. */
  function blame(err: TransactionErrorJson, roles: IxRole[]) {
    const decoded = decodeTransactionError(err, deps.idl, (ix) => (roles[ix]?.kind === 'ata' ? 'ata' : roles[ix]?.kind === 'mint' ? 'program' : 'other'));
    const role = decoded.instruction === null ? undefined : roles[decoded.instruction];
    return { decoded, mintIndex: role && role.kind !== 'budget' ? role.mint : null };
  }

  /**
   * Settle a set of planned mints in one transaction. A bad recipient is removed and the rest retried;
   * an expired transaction is rebuilt; nothing is signed twice before its blockhash provably expired.
   */
  async function settle(mints: PlannedMint[], emit: (group: MintResult[]) => void, price: bigint, opts: MintOptions, expiries = 0): Promise<void> {
    if (mints.length === 0) return;
    const log = opts.log ?? deps.log;
    const fail = (ms: PlannedMint[], error: string, txSignature: string | null = null, outcome: 'failed' | 'unknown' = 'failed') =>
      emit(ms.flatMap((m) => m.readingIds.map((readingId) => ({ readingId, success: false, error, txSignature, outcome }))));
    if (opts.signal?.aborted) return fail(mints, 'cancelled before signing: not minted');

    let signed: SignedRecord;
    let roles: IxRole[];
    try {
      const latest = await read<Context<{ blockhash: string; lastValidBlockHeight: number }>>('getLatestBlockhash', [{ commitment: 'confirmed' }], opts.signal);
      const probe = await instructionsFor(mints, MAX_CU, price);
      const unsigned = new Transaction({ feePayer: deps.authority.publicKey, ...latest.value }).add(...probe.ixs);
      // Simulate before signing: it sizes the compute limit and finds a bad recipient while nothing is at stake.
      const sim = await read<Context<{ err: TransactionErrorJson | null; unitsConsumed?: number }>>(
        'simulateTransaction',
        [
          unsigned.serialize({ requireAllSignatures: false, verifySignatures: false }).toString('base64'),
          { encoding: 'base64', sigVerify: false, replaceRecentBlockhash: true, commitment: 'confirmed' },
        ],
        opts.signal,
      );
      if (sim.value.err) {
        const { decoded, mintIndex } = blame(sim.value.err, probe.roles);
        if (mintIndex === null) return fail(mints, decoded.message);
        log.warn({ wallet: mints[mintIndex]!.walletAddress, reason: decoded.message }, 'recipient fails alone; retrying the others');
        fail([mints[mintIndex]!], decoded.message);
        return settle(mints.filter((_, i) => i !== mintIndex), emit, price, opts, expiries);
      }
      const cuLimit = Math.min(MAX_CU, Math.ceil((sim.value.unitsConsumed ?? MAX_CU) * 1.1) + 1_000);
      const built = await instructionsFor(mints, cuLimit, price);
      roles = built.roles;
      const tx = new Transaction({ feePayer: deps.authority.publicKey, ...latest.value }).add(...built.ixs);
      tx.sign(deps.authority);
      signed = {
        signature: bs58.encode(tx.signature!),
        wire: tx.serialize({ verifySignatures: false }),
        lastValidBlockHeight: latest.value.lastValidBlockHeight,
        readingIds: mints.flatMap((m) => m.readingIds),
      };
    } catch (e) {
      // A cancel that lands during the reads before signing aborts them: it is a cancel, not a failure.
      if (opts.signal?.aborted) return fail(mints, 'cancelled before signing: not minted');
      return fail(mints, `not sent: ${(e as Error).message}`);
    }
    try {
      await (opts.onSigned ?? deps.onSigned)?.(signed);
    } catch (e) {
      return fail(mints, `not sent: the signed transaction could not be recorded (${(e as Error).message})`);
    }

    const outcome = await sendAndConfirm(deps.rpc, signed, { ...deps.send, log, onSent: () => opts.onTransaction?.(signed.signature, 'sent') });
    switch (outcome.status) {
      case 'confirmed':
        for (const m of mints) knownAtas.add(m.walletAddress);
        emit(signed.readingIds.map((readingId) => ({ readingId, success: true, error: null, txSignature: signed.signature, outcome: 'minted' as const })));
        return;
      case 'failed': {
        // It landed and failed as a whole, so nothing in it was minted: the others may go again.
        const { decoded, mintIndex } = blame(outcome.err, roles);
        opts.onTransaction?.(signed.signature, 'failed', decoded.message);
        if (mintIndex === null) return fail(mints, decoded.message, signed.signature);
        fail([mints[mintIndex]!], decoded.message, signed.signature);
        return settle(mints.filter((_, i) => i !== mintIndex), emit, price, opts, expiries);
      }
      case 'expired':
        opts.onTransaction?.(signed.signature, 'expired');
        if (expiries + 1 > (deps.maxExpiries ?? 3)) return fail(mints, `transaction ${signed.signature} expired ${expiries + 1} times: not minted`);
        return settle(mints, emit, price, opts, expiries + 1);
      case 'unknown':
        return fail(mints, `outcome unknown: ${outcome.reason}`, signed.signature, 'unknown');
    }
  }

  /**
   * Yields the results of each settled transaction together (one group: the readings of one transaction, or
   * of one set of mints that failed or were cancelled together), as they settle, not in input order. The
   * stream ends only when every planned transaction has settled, so a consumer never leaves one in flight.
   */
  async function* mintGroups(all: MintBatchData[], opts: MintOptions = {}): AsyncGenerator<MintResult[]> {
    validate(all);
    await discoverAtas(all, opts.signal);
    // Known now: which recipients need a new token account. Reserve them before anything is planned or signed.
    let batch = all;
    const newAccounts = [...new Set(all.map((r) => r.walletAddress))].filter((w) => !knownAtas.has(w)).sort();
    if (deps.reserveTokenAccounts && newAccounts.length) {
      const granted = await deps.reserveTokenAccounts(newAccounts);
      const waits = (r: MintBatchData) => !knownAtas.has(r.walletAddress) && !granted.has(r.walletAddress);
      const deferred = all.filter(waits);
      if (deferred.length) {
        yield deferred.map((r) => ({
          readingId: r.readingId,
          success: false,
          error: 'deferred: the token-account budget for today (MAX_NEW_TOKEN_ACCOUNTS_PER_DAY) is spent',
          txSignature: null,
          outcome: 'deferred' as const,
        }));
      }
      batch = all.filter((r) => !waits(r));
      if (batch.length === 0) return;
    }
    const plan = optimizeBatch(batch, deps.limits, ataKnown);
    const price = await priorityFee(opts.signal);
    (opts.log ?? deps.log).info({ readings: batch.length, transactions: plan.length, priceMicroLamports: String(price) }, 'batch planned');

    const queue: MintResult[][] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    let failure: unknown = null;
    const emit = (group: MintResult[]) => {
      if (group.length === 0) return;
      queue.push(group);
      wake?.();
    };
    const limit = pLimit(deps.concurrency);
    // allSettled, not all: one transaction's unexpected failure must not end the stream while others still fly.
    void Promise.allSettled(plan.map((tx) => limit(() => settle(tx.mints, emit, price, opts)))).then((outcomes) => {
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
    const plan = optimizeBatch(batch, deps.limits, ataKnown);
    return estimateBatchFee(plan, { priorityMicroLamports: await priorityFee(), rentPerTokenAccount: RENT_TOKEN_2022_ACCOUNT });
  }

  return { mintGroups, mintStream, mintEnergyTokensBatch, mintOne: (r: MintBatchData, o?: MintOptions) => mintEnergyTokensBatch([r], o), estimateFee, knownAtas };
}

export type Minter = ReturnType<typeof makeMinter>;

/** The batch's outcome as a typed error when some readings failed; null when all were minted. */
export function partialFailure(results: MintResult[]): PartiallySuccessful | null {
  const ok = results.filter((r) => r.success).length;
  return ok === results.length ? null : new PartiallySuccessful(ok, results.length);
}
