// A batch: claim readings, mint them through the engine, and write each result back under the claim.
// Results are stored as batch events as they land, for SSE clients of any API process.
//
// The one rule, after signing: a reading goes back to pending only on proof that the transaction carrying it
// did not land (it was never signed or sent, it failed on chain, or its blockhash provably expired). A
// database error is never such proof: every write of the settlement path is idempotent and retried while the
// failure is passing (by SQLSTATE); what cannot be written leaves the readings processing with their
// signature, for this runner once the database answers again, or for the rescuer.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client.js';
import { describeError, retryTransient } from '../db/errors.js';
import { AppError } from '../errors.js';
import type { Log } from '../log.js';
import type { MintEngine, SignedRecord } from './engine.js';
import type { MintBatchData, MintResult } from './types.js';
import type { BatchEvents } from './events.js';
import {
  batchOutcome,
  claimReadings,
  claimWindows,
  completeByRecord,
  completeTransaction,
  mintBatchDataOf,
  createBatch,
  deferReadings,
  extendLease,
  markTransaction,
  readSettings,
  recordSigned,
  releaseClaim,
  releaseFailed,
  releaseUnsent,
  type Settings,
  updateBatch,
  waitForSum,
} from './repo.js';

export interface BatchSummary {
  batch_id: string;
  state: 'completed' | 'completed_with_failures' | 'failed' | 'cancelled';
  total_readings: number;
  successful_mints: number;
  failed_mints: number;
  /** Readings that wait, not failed (back in the queue): a daily budget is spent, or the REC validator was refused. */
  deferred: number;
  results: ResultJson[];
}

export interface BatchRunnerDeps {
  db: Db;
  engine: MintEngine;
  log: Log;
  defaults: Settings;
  leaseMs: number;
  events: BatchEvents;
  /** Told of every result (metrics). */
  onResult?: (r: MintResult) => void;
  /** How long drain() lets database writes keep retrying before leaving them to the rescuer; default 15 s. */
  drainGraceMs?: number;
  /**
   * MIN_MINT_TOKENS (base units) and MAX_MINT_WAIT_MINUTES: a wallet's claimed readings summing to less wait to
   * be summed with its later ones, unless the oldest of them has waited `maxWaitMs` since it was accepted.
   */
  minMint?: { tokens: bigint; maxWaitMs: number };
  /** The clock for the minimum-amount wait (tests pass their own). */
  now?: () => number;
  /**
   * MINT_INSTRUCTION=mint_generation: claim whole windows closed `graceMs` ago, mint each as one instruction, and
   * freeze each window when its transaction is recorded. MIN_MINT_TOKENS does not apply: a window's amount is fixed.
   */
  windows?: { graceMs: number };
}

export interface RunningBatch {
  batchId: string;
  /** Readings the batch claimed. */
  readings: number;
  /**
   * Resolves once every transaction of the batch has its room in the in-flight budget (or settled; engine
   * MintOptions.onPlanned). The worker claims its next batch then, while these are still in flight. Never rejects.
   */
  planned: Promise<void>;
  done: Promise<BatchSummary>;
  cancel(): void;
}

export type ResultJson = { reading_id: string; success: boolean; error: string | null; tx_signature: string | null };
export const resultJson = (r: MintResult): ResultJson => ({ reading_id: r.readingId, success: r.success, error: r.error, tx_signature: r.txSignature });

/** A settlement write that gets no answer this long is tried again (it is idempotent). */
const WRITE_TIMEOUT_MS = 30_000;

/** The signed transaction could not be recorded, so it is never sent (the engine reports "not sent: ..."). */
class NotRecorded extends AppError {
  constructor(cause: unknown) {
    super('NOT_RECORDED', `the signed transaction could not be recorded (${describeError(cause)})`, 503, true, { cause });
  }
}

export function makeBatchRunner(deps: BatchRunnerDeps) {
  const running = new Map<string, RunningBatch>();
  // Aborted when a drain's grace has passed: retries then stop at their next failure (the rescuer goes on).
  const giveUp = new AbortController();

  /** An idempotent write of the settlement path, retried while its failure is passing. */
  const durable = <T>(log: Log, what: string, write: () => Promise<T>) =>
    retryTransient(write, {
      signal: giveUp.signal,
      attemptTimeoutMs: WRITE_TIMEOUT_MS,
      onRetry: (e, attempt) => log.warn({ err: describeError(e), attempt, write: what }, 'database write failed; retrying'),
    });

  /**
   * Of a claimed batch, the wallets whose readings sum to less than MIN_MINT_TOKENS (one mint instruction's fee
   * for a few base units is not worth it) go back to wait for their later readings (repo waitForSum), reported
   * as deferred; unless the oldest of them has waited MAX_MINT_WAIT_MINUTES. Answers what is minted now.
   */
  async function holdSmallAmounts(
    batch: MintBatchData[],
    token: string,
    log: Log,
    settle: (group: MintResult[]) => Promise<void>,
    acceptedAt: Map<string, Date>,
  ): Promise<MintBatchData[]> {
    const min = deps.minMint;
    if (!min || min.tokens <= 1n) return batch;
    const byWallet = new Map<string, MintBatchData[]>();
    for (const r of batch) byWallet.set(r.walletAddress, [...(byWallet.get(r.walletAddress) ?? []), r]);
    const now = (deps.now ?? Date.now)();
    const held = new Set<string>();
    for (const [wallet, rs] of byWallet) {
      const total = rs.reduce((sum, r) => sum + r.tokensToMint, 0n);
      if (total >= min.tokens) continue;
      const oldest = Math.min(...rs.map((r) => acceptedAt.get(r.readingId)?.getTime() ?? now));
      const deadline = oldest + min.maxWaitMs;
      if (deadline <= now) continue; // waited long enough: minted as it is
      const reason = `waiting to be summed with later readings of its wallet: ${total} base units is below MIN_MINT_TOKENS; at most MAX_MINT_WAIT_MINUTES`;
      const ids = rs.map((r) => r.readingId);
      let outcome: 'released' | 'waiting';
      try {
        outcome = await durable(log, 'hold a small amount', () => waitForSum(deps.db, token, wallet, ids, total, min.tokens, new Date(deadline), reason));
      } catch (e) {
        // Not held: minted now instead (if the hold did commit after all, the claim no longer holds them and
        // recording their transaction refuses it, so nothing is sent for them).
        log.warn({ err: describeError(e), wallet }, 'could not hold a small amount; minting it now');
        continue;
      }
      for (const id of ids) held.add(id);
      // Reported as deferred (the attempt not counted); recorded already, so settle writes nothing more for them.
      await settle(rs.map((r) => ({ readingId: r.readingId, success: false, error: outcome === 'released' ? 'released: the wallet\'s readings now reach MIN_MINT_TOKENS together' : reason, txSignature: null, outcome: 'deferred' as const, wait: { until: 'held' as const, reason } })));
    }
    return held.size ? batch.filter((r) => !held.has(r.readingId)) : batch;
  }

  /** Start a batch; `id`: the batch id reserved for it beforehand (an Idempotency-Key's). */
  async function start(source: 'poll' | 'operator', requestedBy: string | null, readingIds?: string[], id?: string): Promise<RunningBatch> {
    const settings = await readSettings(deps.db, deps.defaults);
    const batchId = id ?? randomUUID();
    const token = randomUUID();
    const log = deps.log.child({ batchId });
    await durable(log, 'create the batch', () => createBatch(deps.db, batchId, source, requestedBy, deps.leaseMs));
    let rows;
    try {
      const claim = { token, limit: settings.maxBatchSize, leaseMs: deps.leaseMs, batchId, ids: readingIds };
      ({ rows } = deps.windows ? await claimWindows(deps.db, { ...claim, graceMs: deps.windows.graceMs }) : await claimReadings(deps.db, claim));
      await durable(log, 'start the batch', () => updateBatch(deps.db, batchId, { state: 'running', totalReadings: rows.length }));
    } catch (e) {
      // The claim may have committed with its answer lost: give back whatever it holds (nothing is signed yet).
      await durable(log, 'release the claim', () => releaseClaim(deps.db, token)).catch(() => undefined);
      throw e;
    }
    const claimed = rows;
    const controller = new AbortController();
    const writer = deps.events.writer(batchId, log, giveUp.signal);
    const policy = { maxAttempts: settings.maxAttempts, backoffMs: settings.backoffMs };
    let markPlanned: () => void = () => {};
    const planned = new Promise<void>((r) => (markPlanned = r));

    const run = async (): Promise<BatchSummary> => {
      const results: MintResult[] = [];
      const renew = setInterval(
        () => void extendLease(deps.db, token, batchId, deps.leaseMs).catch((e: unknown) => log.warn({ err: describeError(e) }, 'could not renew the lease')),
        Math.max(1000, deps.leaseMs / 3),
      );
      try {
        if (claimed.length) {
          let batch = await mintBatchDataOf(deps.db, claimed, !!deps.windows);
          log.info({ readings: batch.length }, 'batch claimed');
          // Readings carried by a recorded transaction: from then on only proof from the chain releases them.
          const signed = new Set<string>();
          const settled = new Set<string>();

          /** Write one group's outcome under the claim; never throws (what is not written, the rescuer settles). */
          const settle = async (group: MintResult[]) => {
            const first = group[0]!;
            const ids = group.map((r) => r.readingId);
            const glog = log.child({ signature: first.txSignature ?? undefined });
            try {
              if (first.outcome === 'minted' && first.proof === 'record') {
                await durable(glog, 'complete windows minted on chain', () => completeByRecord(deps.db, token, ids));
              } else if (first.outcome === 'minted') {
                await durable(glog, 'complete the transaction', () => completeTransaction(deps.db, token, first.txSignature!));
              } else if (first.outcome === 'deferred' && first.wait?.until === 'held') {
                // Held to be summed: waitForSum has already given them back.
              } else if (first.outcome === 'deferred') {
                const wait = first.wait ?? { until: 'backoff' as const, reason: first.error ?? 'deferred' };
                await durable(glog, 'defer the readings', () => deferReadings(deps.db, token, ids, wait, policy.backoffMs));
              } else if (first.outcome === 'failed' && controller.signal.aborted && !first.txSignature && !ids.some((id) => signed.has(id))) {
                await durable(glog, 'release unsent readings', () => releaseUnsent(deps.db, token, ids));
              } else if (first.outcome === 'failed') {
                await durable(glog, 'release failed readings', () => releaseFailed(deps.db, token, ids, first.error ?? 'failed', policy));
              }
              // unknown: left processing with its signature; the rescuer settles it by signature.
            } catch (e) {
              glog.error({ err: describeError(e), readings: ids.length, outcome: first.outcome }, 'could not record the outcome; the readings stay processing for the rescuer');
            }
            for (const r of group) {
              settled.add(r.readingId);
              results.push(r);
              deps.onResult?.(r);
              log.info({ readingId: r.readingId, signature: r.txSignature ?? undefined, outcome: r.outcome, error: r.error }, 'reading settled');
            }
            await writer.append(group.map((r) => ({ event: 'result' as const, data: resultJson(r) }))).catch((e: unknown) =>
              log.error({ err: describeError(e) }, 'could not store batch results'),
            );
          };

          // A wallet whose readings sum to less than MIN_MINT_TOKENS waits for its later ones (not minted now).
          // mint_generation: never held (a window's amount is fixed: its readings, frozen once signed).
          if (!deps.windows) batch = await holdSmallAmounts(batch, token, log, settle, new Map(claimed.map((r) => [r.id, r.createdAt])));
          try {
            // All held: nothing for the engine (it refuses an empty batch).
            const groups = batch.length === 0 ? [] : deps.engine.mintGroups(batch, {
              signal: controller.signal,
              log,
              onPlanned: markPlanned,
              onSigned: async (t: SignedRecord) => {
                try {
                  await durable(log.child({ signature: t.signature }), 'record the signed transaction', () => recordSigned(deps.db, token, batchId, t, { windows: !!deps.windows }));
                } catch (e) {
                  throw e instanceof AppError ? e : new NotRecorded(e);
                }
                for (const id of t.readingIds) signed.add(id);
              },
              onTransaction: (signature, status, error) =>
                void durable(log.child({ signature }), `mark the transaction ${status}`, () => markTransaction(deps.db, signature, status, error)).catch((e: unknown) =>
                  log.warn({ signature, err: describeError(e) }, 'could not record a transaction status'),
                ),
            });
            for await (const group of groups) await settle(group);
          } catch (e) {
            // The engine stopped before settling everything (it refused the batch before signing, or failed
            // unexpectedly): only what was never signed is "not sent"; the rest stays for the rescuer.
            const rest = batch.filter((b) => !settled.has(b.readingId));
            const unsent = rest.filter((b) => !signed.has(b.readingId));
            const inFlight = rest.filter((b) => signed.has(b.readingId));
            const reason = describeError(e);
            log.error({ err: reason, unsent: unsent.length, inFlight: inFlight.length }, 'the engine stopped early');
            const asResults = (list: MintBatchData[], error: string, outcome: 'failed' | 'unknown') =>
              list.map((b) => ({ readingId: b.readingId, success: false, error, txSignature: null, outcome }));
            if (unsent.length) await settle(asResults(unsent, `not sent: ${reason}`, 'failed'));
            if (inFlight.length) await settle(asResults(inFlight, `outcome unknown: ${reason}; the rescuer settles it by signature`, 'unknown'));
          }
        }
        const ok = results.filter((r) => r.success).length;
        // Deferred readings (the day's token-account budget is spent) did not fail: they wait in the queue.
        const deferred = results.filter((r) => r.outcome === 'deferred').length;
        const failed = results.length - ok - deferred;
        // How it ended: completed (nothing failed), completed_with_failures, failed (nothing minted), cancelled.
        const state = batchOutcome(controller.signal.aborted ? 'cancelled' : 'completed', ok, failed);
        await durable(log, 'finish the batch', () => updateBatch(deps.db, batchId, { state, successfulMints: ok, failedMints: failed, finished: true })).catch(
          (e: unknown) => log.error({ err: describeError(e) }, 'could not record the end of the batch; the rescuer closes it'),
        );
        const summary = { batch_id: batchId, state, total_readings: claimed.length, successful_mints: ok, failed_mints: failed, deferred } as const;
        await writer.append([{ event: 'summary', data: summary }]).catch((e: unknown) => log.error({ err: describeError(e) }, 'could not store the batch summary'));
        log.info({ ok, failed, deferred, state }, 'batch finished');
        return { ...summary, results: results.map(resultJson) };
      } finally {
        clearInterval(renew);
      }
    };

    const done = run().finally(() => {
      running.delete(batchId);
      markPlanned();
    });
    const handle: RunningBatch = { batchId, readings: claimed.length, planned, done, cancel: () => controller.abort() };
    running.set(batchId, handle);
    return handle;
  }

  return {
    start,
    get: (batchId: string) => running.get(batchId),
    /**
     * Cancel every running batch and wait for the signed transactions to settle. Database writes keep
     * retrying for the grace period, then are left to the rescuer.
     */
    async drain(): Promise<void> {
      const all = [...running.values()];
      for (const b of all) b.cancel();
      const grace = setTimeout(() => giveUp.abort(), deps.drainGraceMs ?? 15_000);
      try {
        await Promise.allSettled(all.map((b) => b.done));
      } finally {
        clearTimeout(grace);
      }
    },
  };
}

export type BatchRunner = ReturnType<typeof makeBatchRunner>;
