// Database failures classified by code, never by message text: SQLSTATE from the server (postgres.js and
// PGlite both expose it as `code`), or the client's own connection codes. Drizzle wraps a failed query in an
// error whose message holds the SQL and its parameters: nothing here ever repeats that message.

/** SQLSTATE classes and codes a retry may fix: the statement did not take effect, or may be tried again. */
const TRANSIENT_SQLSTATE_CLASSES = new Set([
  '08', // connection exception (08000, 08003, 08006, ...)
]);
const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '40003', // statement_completion_unknown
  '55P03', // lock_not_available
  '57014', // query_canceled (a statement timeout)
  '57P01', // admin_shutdown (the server, or pg_terminate_backend, ended the session)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, or in recovery)
  '53300', // too_many_connections
  '53400', // configuration_limit_exceeded
]);
/** The client lost, or could not open, its connection (postgres.js codes and Node's socket errors). */
/** A statement that got no answer in time (a dead connection that was never reset): its fate is unknown. */
export class NoAnswer extends Error {
  readonly code = 'NO_ANSWER';
  constructor(ms: number) {
    super(`the database did not answer within ${ms} ms`);
  }
}

const CONNECTION_CODES = new Set([
  'NO_ANSWER',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

const codeOf = (e: unknown): string | null => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
};

/** The first code found along the cause chain (a drizzle error wraps the driver's). */
export function dbErrorCode(e: unknown): string | null {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = codeOf(cur);
    if (code) return code;
  }
  return null;
}

/** True when retrying the same statement later may succeed: a lost connection, a deadlock, a failover. */
export function isTransientDbError(e: unknown): boolean {
  const code = dbErrorCode(e);
  if (!code) return false;
  if (CONNECTION_CODES.has(code) || TRANSIENT_SQLSTATES.has(code)) return true;
  return /^[0-9A-Z]{5}$/.test(code) && TRANSIENT_SQLSTATE_CLASSES.has(code.slice(0, 2));
}

/**
 * A description of any error that is safe for a log line or an answer: a database error shows its code
 * only (its message may hold SQL and parameters); anything else its message.
 */
export function describeError(e: unknown): string {
  const code = dbErrorCode(e);
  if (code && (CONNECTION_CODES.has(code) || /^[0-9A-Z]{5}$/.test(code) || isDrizzleQueryError(e))) {
    return `database error ${code}${isTransientDbError(e) ? ' (transient)' : ''}`;
  }
  if (isDrizzleQueryError(e)) return 'database error';
  return e instanceof Error ? e.message : String(e);
}

const isDrizzleQueryError = (e: unknown): boolean => e instanceof Error && 'query' in e && 'params' in e;

export interface RetryOptions {
  /** Told of every failed attempt that will be retried. */
  onRetry?: (e: unknown, attempt: number) => void;
  /** Stop retrying once this is aborted (shutdown): the last error is thrown. */
  signal?: AbortSignal;
  /** Delay cap; the delay doubles from 50 ms up to it. */
  maxDelayMs?: number;
  /**
   * An attempt that gets no answer this long counts as a passing failure and is tried again (the write is
   * idempotent, so the first one landing late is harmless): a connection that died without a reset never
   * holds a write, or a shutdown, for ever.
   */
  attemptTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Run a write until it succeeds, retrying transient database failures (by code) with a capped back-off.
 * Only for writes that are idempotent, so that a retry after a commit whose answer was lost is harmless.
 * A failure that is not transient (a bug, a constraint) is thrown at once.
 */
export async function retryTransient<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const cap = opts.maxDelayMs ?? 1_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await (opts.attemptTimeoutMs ? answerWithin(fn(), opts.attemptTimeoutMs) : fn());
    } catch (e) {
      if (!isTransientDbError(e) || opts.signal?.aborted) throw e;
      opts.onRetry?.(e, attempt);
      await sleep(Math.min(cap, 50 * 2 ** Math.min(attempt - 1, 10)));
    }
  }
}

function answerWithin<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new NoAnswer(ms)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Why a first connection failed, in words (by code): what start-up says after "cannot reach Postgres at …". */
const CONNECT_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'no answer (timed out)',
  CONNECT_TIMEOUT: 'no answer within 5 s',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  '28P01': 'password authentication failed',
  '28000': 'authentication refused',
  '3D000': 'the database does not exist',
  '57P03': 'the server is starting up or in recovery',
  '53300': 'too many connections',
};

export function describeConnectFailure(e: unknown): string {
  const code = dbErrorCode(e);
  return (code && CONNECT_FAILURES[code]) ?? (code ? `error ${code}` : 'the connection failed');
}
