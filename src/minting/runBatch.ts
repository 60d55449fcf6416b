// A batch: claim readings, mint them through the engine, and write each result back under the claim.
// Results are published as they land (Postgres NOTIFY), for SSE clients of any API process.
import type { Minter } from '../chain/minter.js';
import type { Db } from '../db/client.js';
import type { Log } from '../log.js';
import type { MintBatchData, MintResult } from './types.js';
import type { BatchEvents } from './events.js';
import {
  claimReadings,
  completeTransaction,
  createBatch,
  extendLease,
  markTransaction,
  readSettings,
  recordSigned,
  releaseFailed,
  releaseUnsent,
  type Settings,
  updateBatch,
} from './repo.js';

export interface BatchSummary {
  batch_id: string;
  state: 'completed' | 'cancelled';
  total_readings: number;
  successful_mints: number;
  failed_mints: number;
  results: { reading_id: string; success: boolean; error: string | null; tx_signature: string | null }[];
}

export interface BatchRunnerDeps {
  db: Db;
  minter: Minter;
  log: Log;
  defaults: Settings;
  leaseMs: number;
  events: BatchEvents;
  /** Told of every result (metrics). */
  onResult?: (r: MintResult) => void;
}

export interface RunningBatch {
  batchId: string;
  done: Promise<BatchSummary>;
  cancel(): void;
}

export const resultJson = (r: MintResult) => ({ reading_id: r.readingId, success: r.success, error: r.error, tx_signature: r.txSignature });

export function makeBatchRunner(deps: BatchRunnerDeps) {
  const running = new Map<string, RunningBatch>();

  async function start(source: 'poll' | 'operator', requestedBy: string | null, readingIds?: string[]): Promise<RunningBatch> {
    const settings = await readSettings(deps.db, deps.defaults);
    const batchId = await createBatch(deps.db, source, requestedBy);
    const log = deps.log.child({ batchId });
    const claim = await claimReadings(deps.db, { limit: settings.maxBatchSize, leaseMs: deps.leaseMs, batchId, ids: readingIds });
    await updateBatch(deps.db, batchId, { state: 'running', totalReadings: claim.rows.length });
    const controller = new AbortController();
    const publishEvent = (event: 'result' | 'summary', data: unknown) =>
      deps.events.publish({ batch_id: batchId, event, data }).catch((e: Error) => log.warn({ err: e.message }, 'could not publish a batch event'));
    const policy = { maxAttempts: settings.maxAttempts, backoffMs: settings.backoffMs };

    const run = async (): Promise<BatchSummary> => {
      const results: MintResult[] = [];
      const publish = (r: MintResult) => {
        results.push(r);
        deps.onResult?.(r);
        void publishEvent('result', resultJson(r));
      };
      const renew = setInterval(() => void extendLease(deps.db, claim.token, deps.leaseMs).catch(() => undefined), Math.max(1000, deps.leaseMs / 3));
      try {
        if (claim.rows.length) {
          const batch: MintBatchData[] = claim.rows.map((r) => ({
            readingId: r.id,
            userId: r.userId,
            walletAddress: r.walletAddress,
            kwhAmount: r.kwhAmount,
            tokensToMint: BigInt(r.tokensToMint),
            meterId: r.meterId,
          }));
          log.info({ readings: batch.length }, 'batch claimed');
          const landed = new Set<string>();
          try {
            for await (const r of deps.minter.mintStream(batch, {
              signal: controller.signal,
              log,
              onSigned: (t) => recordSigned(deps.db, claim.token, batchId, t),
              onTransaction: (signature, status, error) =>
                void markTransaction(deps.db, signature, status, error).catch((e: Error) => log.warn({ signature, err: e.message }, 'could not record a transaction status')),
            })) {
              const rlog = log.child({ readingId: r.readingId, signature: r.txSignature });
              // The first reading of a landed transaction completes all of its readings at once.
              if (r.outcome === 'minted') {
                if (!landed.has(r.txSignature!)) await completeTransaction(deps.db, claim.token, r.txSignature!);
                landed.add(r.txSignature!);
              } else if (r.outcome === 'failed' && controller.signal.aborted && !r.txSignature) await releaseUnsent(deps.db, claim.token, [r.readingId]);
              else if (r.outcome === 'failed') await releaseFailed(deps.db, claim.token, [r.readingId], r.error ?? 'failed', policy);
              // unknown: left processing with its signature; the rescuer settles it by signature.
              rlog.info({ outcome: r.outcome, error: r.error }, 'reading settled');
              publish(r);
            }
          } catch (e) {
            // The engine refused the batch as a whole (e.g. a setting changed under it): nothing was sent.
            const error = `not sent: ${(e as Error).message}`;
            log.error({ err: error }, 'batch refused by the engine');
            await releaseFailed(deps.db, claim.token, batch.map((b) => b.readingId), error, policy);
            for (const b of batch) publish({ readingId: b.readingId, success: false, error, txSignature: null, outcome: 'failed' });
          }
        }
      } finally {
        clearInterval(renew);
      }
      const ok = results.filter((r) => r.success).length;
      const state = controller.signal.aborted ? 'cancelled' : 'completed';
      await updateBatch(deps.db, batchId, { state, successfulMints: ok, failedMints: results.length - ok, finished: true });
      const summary: BatchSummary = {
        batch_id: batchId,
        state,
        total_readings: claim.rows.length,
        successful_mints: ok,
        failed_mints: results.length - ok,
        results: results.map(resultJson),
      };
      await publishEvent('summary', summary);
      log.info({ ok, failed: results.length - ok, state }, 'batch finished');
      return summary;
    };

    const done = run().finally(() => running.delete(batchId));
    const handle: RunningBatch = { batchId, done, cancel: () => controller.abort() };
    running.set(batchId, handle);
    return handle;
  }

  return {
    start,
    get: (batchId: string) => running.get(batchId),
    /** Cancel every running batch and wait for the signed transactions to settle. */
    async drain(): Promise<void> {
      const all = [...running.values()];
      for (const b of all) b.cancel();
      await Promise.allSettled(all.map((b) => b.done));
    },
  };
}

export type BatchRunner = ReturnType<typeof makeBatchRunner>;
