// The meter-polling loop: each cycle it rescues what stopped claimers left, then claims and mints the pending
// queue. While a cycle finds work it goes again at once (a backlog drains without waiting out the interval);
// an idle cycle waits the batch interval (read from system_settings each cycle); a failed cycle (the database
// or the RPC away) tries again within a second, so minting resumes soon after they return. stop() stops
// claiming, follows every signed transaction to confirmed or expired, and releases what was never signed.
//
// Pipelined: a cycle ends once every transaction of its batch has its room in flight (RunningBatch.planned),
// not once it is done, so the next cycle claims while the last one's transactions are still in flight; at most
// `pipelineDepth` (WORKER_PIPELINE_DEPTH) batches are open at once, and a cycle first waits for one to end
// when that many are. Depth 1: each batch is done before the next is claimed.
import type { Log } from '../log.js';
import { describeError } from '../db/errors.js';
import type { BatchRunner } from './runBatch.js';
import { anythingClaimable, readSettings, type Settings } from './repo.js';
import type { Db } from '../db/client.js';
import type { RescueReport } from './rescue.js';

export interface WorkerDeps {
  db: Db;
  runner: BatchRunner;
  rescue: () => Promise<RescueReport>;
  log: Log;
  defaults: Settings;
  /** Pause claiming (e.g. the fee payer's balance is below its floor); the reason is logged. */
  paused?: () => Promise<string | null>;
  /** Delay after a failed cycle; default 1 s (or the interval, if shorter). */
  retryMs?: number;
  /** Batches open at once (WORKER_PIPELINE_DEPTH); default 1. */
  pipelineDepth?: number;
  /** MINT_INSTRUCTION=mint_generation: MINT_WINDOW_GRACE_MS (a reading waits for its window to close: no batch for it before). */
  windowGraceMs?: number;
}

const RETRY_MS = 1_000;

export function startWorker(deps: WorkerDeps) {
  let stopping = false;
  let timer: NodeJS.Timeout | null = null;
  let cycle: Promise<void> = Promise.resolve();
  let lastPause: string | null = null;
  /** When the last cycle ended, well or not (ms since epoch). */
  let lastCycleAt: number | null = null;
  const depth = deps.pipelineDepth ?? 1;
  /** The batches this worker started that are not done yet (each settles, never rejects). */
  const open = new Set<Promise<void>>();

  /** One cycle; true when it minted something (then the next one starts at once). */
  const once = async (): Promise<boolean> => {
    const report = await deps.rescue();
    if (report.confirmed + report.failed + report.expired + report.leasesTakenBack + report.batchesClosed > 0) deps.log.info(report, 'rescuer settled abandoned work');
    const pause = await deps.paused?.();
    if (pause !== lastPause) {
      if (pause) deps.log.warn({ reason: pause }, 'worker paused: not claiming');
      else if (lastPause) deps.log.info('worker resumed');
      lastPause = pause ?? null;
    }
    if (pause || stopping) return false;
    // A place in the pipeline first: no claim while `depth` batches are open.
    while (open.size >= depth) await Promise.race(open);
    if (stopping || !(await anythingClaimable(deps.db, deps.windowGraceMs)) || stopping) return false;
    const batch = await deps.runner.start('poll', null);
    const ended: Promise<void> = batch.done.then(
      () => undefined,
      (e: unknown) => deps.log.error({ batchId: batch.batchId, err: describeError(e) }, 'batch failed'),
    );
    open.add(ended);
    void ended.finally(() => open.delete(ended));
    await (depth > 1 ? batch.planned : ended);
    return batch.readings > 0;
  };

  const schedule = (delayMs: number) => {
    if (stopping) return;
    timer = setTimeout(() => {
      cycle = once().finally(() => (lastCycleAt = Date.now())).then(
        async (busy) => schedule(busy ? 0 : (await readSettings(deps.db, deps.defaults).catch(() => deps.defaults)).batchIntervalMs),
        (e: unknown) => {
          deps.log.error({ err: describeError(e) }, 'worker cycle failed; trying again shortly');
          schedule(Math.min(deps.retryMs ?? RETRY_MS, deps.defaults.batchIntervalMs));
        },
      );
    }, delayMs);
  };
  void readSettings(deps.db, deps.defaults)
    .catch(() => deps.defaults)
    .then((s) => schedule(s.batchIntervalMs));

  return {
    /** What /health/details shows: running (not stopped), paused and why, when the last cycle ended, batches open. */
    state: () => ({ running: !stopping, paused: lastPause, lastCycleAt, openBatches: open.size }),
    /** Run one cycle now (tests, and an operator's nudge). */
    runOnce: once,
    async stop(): Promise<void> {
      stopping = true;
      if (timer) clearTimeout(timer);
      await deps.runner.drain();
      await cycle;
      await Promise.all(open);
    },
  };
}
