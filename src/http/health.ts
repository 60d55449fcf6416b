// Health checks that run in the background, each with its own short timeout, so that GET /health answers at
// once with the last result of each and its age, whatever the database and the RPC are doing: a load
// balancer's probe never waits on a black-holed RPC and never restarts a healthy process because of one.
import { describeError } from '../db/errors.js';

export interface CheckResult<T = unknown> {
  ok: boolean;
  value: T | null;
  error: string | null;
  /** When the last attempt ended (ms since epoch); null before the first one. */
  checkedAt: number | null;
}

export interface Check<T = unknown> {
  run(): Promise<T>;
  /** A run that takes longer counts as failed (it may go on in the background; no second one starts meanwhile). */
  timeoutMs: number;
}

export interface HealthMonitor<K extends string> {
  /** Run every check once and wait for them (at start), then keep them running every interval. */
  start(): Promise<void>;
  last(name: K): CheckResult;
  /** The age of a check's result in milliseconds (null before the first). */
  ageMs(name: K): number | null;
  /** Run one check now, besides its interval (evidence elsewhere says its result may have changed). */
  runNow(name: K): Promise<void>;
  stop(): void;
}

export function makeHealthMonitor<K extends string>(
  checks: Record<K, Check>,
  opts: {
    intervalMs: number;
    /** A failed check runs again after this long (default: half a second, or the interval if shorter), so a return is seen soon. */
    retryMs?: number;
    now?: () => number;
  },
): HealthMonitor<K> {
  const now = opts.now ?? Date.now;
  const names = Object.keys(checks) as K[];
  const results = new Map<K, CheckResult>(names.map((n) => [n, { ok: false, value: null, error: 'not checked yet', checkedAt: null }]));
  const inFlight = new Set<K>();
  let timer: NodeJS.Timeout | null = null;
  let started = false;
  const retryMs = opts.retryMs ?? Math.min(500, opts.intervalMs);

  const runOne = async (name: K) => {
    if (inFlight.has(name)) return;
    inFlight.add(name);
    const check = checks[name];
    const running = check.run().finally(() => inFlight.delete(name));
    let timeout: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timeout = setTimeout(() => reject(new Error(`no answer within ${check.timeoutMs} ms`)), check.timeoutMs)));
    try {
      const value = await Promise.race([running, late]);
      results.set(name, { ok: true, value, error: null, checkedAt: now() });
    } catch (e) {
      // Keep the last known value beside the failure: "last seen" is still worth showing.
      results.set(name, { ok: false, value: results.get(name)!.value, error: describeError(e), checkedAt: now() });
      // Only while the monitor runs (from start() to stop()).
      if (started) setTimeout(() => void (started && runOne(name)), retryMs).unref();
    } finally {
      clearTimeout(timeout);
    }
  };
  const runAll = () => Promise.all(names.map(runOne));

  return {
    async start() {
      started = true;
      await runAll();
      timer ??= setInterval(() => void runAll(), opts.intervalMs);
      timer.unref();
    },
    last: (name) => results.get(name)!,
    ageMs: (name) => {
      const at = results.get(name)!.checkedAt;
      return at === null ? null : now() - at;
    },
    runNow: (name) => runOne(name),
    stop() {
      started = false;
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
