// The HTTP API. Every error leaves through one handler as { error: { code, message, field? } }.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { describeError, isTransientDbError } from '../db/errors.js';
import { AppError, DatabaseUnavailable, ManyErrors, Overloaded, PayloadTooLarge, RateLimited, ValidationError } from '../errors.js';
import type { Log } from '../log.js';
import type { TrustProxy } from '../config.js';
import type { Auth } from './auth.js';
import { clientMiddleware, clientOf } from './client.js';
import { refuseControlCharacters } from './input.js';
import { openApiDocument } from './openapi.js';

/** A check's last result as /health/details shows it. */
export interface CheckReport {
  status: 'ok' | 'unreachable';
  /** How old the result is: checks run in the background, the route never waits on them. */
  age_ms: number | null;
  error?: string;
}

/** Open GET /health: whether this process can do its role (the database answers); nothing else. */
export interface HealthStatus {
  status: 'ok' | 'unavailable';
}

/** GET /health/details (operators): every dependency with the age of its last check. URLs as displayUrl gives them. */
export interface HealthDetails {
  /**
   * ok; degraded: the RPC is away, or the REC validator is no longer registered (minting waits, the API
   * works); unavailable: the database is away.
   */
  status: 'ok' | 'degraded' | 'unavailable';
  db: CheckReport;
  rpc: CheckReport & { url: string };
  /** The energy_token program and the version of its interface (its IDL). */
  program: { id: string; version: string; age_ms: number };
  /** The REC validator that co-signs every mint (0.1.1 on; null on 0.1.0): registered in token_info or not (null: not seen yet). */
  rec_validator: { address: string; registered: boolean | null; age_ms: number | null } | null;
  mint: { address: string; age_ms: number };
  fee_payer: { address: string; lamports: string | null; below_floor: boolean | null; age_ms: number | null };
  rent_budget: {
    new_token_accounts_left_today: number | null;
    per_day: number;
    age_ms: number | null;
    /** mint_generation only: window records reserved today, of the day's budget, and their rent. */
    mint_records?: { reserved_today: number | null; per_day: number; rent_lamports_today: string | null };
  };
  /** MAX_FEE_LAMPORTS_PER_DAY and what is left of it today (lamports, as strings). */
  fee_budget: { lamports_left_today: string | null; per_day: string; age_ms: number | null };
  worker: {
    running: boolean;
    paused: boolean;
    reason: string | null;
    age_ms: number | null;
    /** Batches open in the pipeline (WORKER_PIPELINE_DEPTH at most). */
    open_batches: number;
    /** The engine's adaptive in-flight limit and the mint transactions in flight now. */
    in_flight_limit: number;
    in_flight: number;
  } | null;
}

export interface AppDeps {
  log: Log;
  /** Whether this process can do its role; answers at once (from the last background check). */
  health: () => HealthStatus;
  /** The details for operators; served only with `auth`. */
  healthDetails?: () => HealthDetails | Promise<HealthDetails>;
  /** Guards /health/details (operator) and /metrics (metrics token or operator): without it they are not served. */
  auth?: Auth;
  /** Domain routes mounted at the root (readings, minting, ...). */
  routes?: Hono[];
  metrics?: { text(): Promise<string>; contentType: string };
  /** TRUST_PROXY: whose X-Forwarded-For / X-Forwarded-Proto name the client (http/client.ts); none by default. */
  trustProxy?: TrustProxy;
}

/** Largest body accepted: 1,000 readings with room to spare. */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

export function makeApp(deps: AppDeps): Hono {
  const app = new Hono();
  // First: every later step (logs, the console's cookie and origin checks) sees the same client.
  app.use(clientMiddleware(deps.trustProxy ?? null));
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new PayloadTooLarge(`the body is larger than ${MAX_BODY_BYTES} bytes`);
      },
    }),
  );

  // Control characters in the path or the query string are a malformed request (400), before any route
  // sees them; bodies are checked where they are parsed (jsonBody).
  app.use(async (c, next) => {
    const url = new URL(c.req.url);
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      throw new ValidationError('the path is not valid percent-encoding', 'path');
    }
    refuseControlCharacters(path, 'path');
    for (const [k, v] of url.searchParams) refuseControlCharacters(`${k}=${v}`, /^[\x20-\x7e]{1,64}$/.test(k) ? k : 'query');
    await next();
  });

  // Open, for load balancers: 503 only when this process cannot do its role (the database is away); the RPC
  // never makes it 503, so a load balancer does not pull API processes that only need Postgres. Nothing else
  // is shown here (details for operators below).
  app.get('/health', (c) => {
    const { status } = deps.health();
    return c.json({ status }, status === 'ok' ? 200 : 503);
  });

  app.get('/openapi.json', (c) => c.json(openApiDocument));
  if (deps.auth) {
    const auth = deps.auth;
    if (deps.healthDetails) {
      const details = deps.healthDetails;
      app.get('/health/details', auth('operator'), async (c) => c.json(await details()));
    }
    // Never open: Prometheus sends METRICS_TOKEN (its `authorization` scrape setting), or an operator token.
    if (deps.metrics) {
      const metrics = deps.metrics;
      app.get('/metrics', auth('metrics', 'operator'), async (c) => c.body(await metrics.text(), 200, { 'content-type': metrics.contentType }));
    }
  }
  for (const r of deps.routes ?? []) app.route('/', r);

  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: `no route for ${c.req.method} ${c.req.path}` } }, 404));

  app.onError((e, c) => {
    // A passing database failure (by SQLSTATE) is a 503 the caller may retry, never a 500.
    const err = !(e instanceof AppError) && isTransientDbError(e) ? new DatabaseUnavailable({ cause: e }) : e;
    if (err instanceof AppError && (err.httpStatus < 500 || err.retryable)) {
      const field = err.field ? { field: err.field } : {};
      if (err.retryable) c.header('Retry-After', '1');
      if (err instanceof RateLimited || err instanceof Overloaded) {
        c.header('Retry-After', String(err.retryAfterSeconds));
        for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
      }
      if (err.httpStatus >= 500) deps.log.warn({ err: describeError(err.cause ?? err), path: c.req.path, client: clientOf(c).address }, 'request refused for now');
      const each = err instanceof ManyErrors ? { errors: err.errors } : {};
      return c.json({ error: { code: err.code, message: err.message, ...field, ...each } }, err.httpStatus as 400);
    }
    // The detail of a 500 goes to the log (a database error's SQL and parameters only at debug), never to the caller.
    deps.log.error({ err: describeError(err), path: c.req.path, client: clientOf(c).address }, 'request failed');
    deps.log.debug({ err, path: c.req.path, client: clientOf(c).address }, 'request failed (detail)');
    return c.json({ error: { code: 'INTERNAL', message: 'internal error' } }, 500);
  });

  return app;
}
