// The meter-polling loop: every batch interval (read from system_settings each cycle) it rescues what
// crashed claimers left, then claims and mints the pending queue. stop() stops claiming, follows every
// signed transaction to confirmed or expired, and releases the leases of what was never signed.
import type { Log } from '../log.js';
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
}

export function startWorker(deps: WorkerDeps) {
  let stopping = false;
  let timer: NodeJS.Timeout | null = null;
  let cycle: Promise<void> = Promise.resolve();

  const once = async () => {
    const report = await deps.rescue();
    if (report.confirmed + report.failed + report.expired + report.leasesTakenBack > 0) deps.log.info(report, 'rescuer settled abandoned work');
    const pause = await deps.paused?.();
    if (pause) {
      deps.log.warn({ reason: pause }, 'worker paused: not claiming');
      return;
    }
    if (!(await anythingClaimable(deps.db))) return;
    const batch = await deps.runner.start('poll', null);
    await batch.done;
  };

  const schedule = async () => {
    if (stopping) return;
    const settings = await readSettings(deps.db, deps.defaults).catch(() => deps.defaults);
    timer = setTimeout(() => {
      cycle = once()
        .catch((e: Error) => deps.log.error({ err: e.message }, 'worker cycle failed'))
        .then(schedule);
    }, settings.batchIntervalMs);
  };
  void schedule();

  return {
    /** Run one cycle now (tests, and an operator's nudge). */
    runOnce: once,
    async stop(): Promise<void> {
      stopping = true;
      if (timer) clearTimeout(timer);
      await deps.runner.drain();
      await cycle;
    },
  };
}
