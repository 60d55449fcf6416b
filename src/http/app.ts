// The HTTP API. Every error leaves through one handler as { error: { code, message, field? } }.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { describeError, isTransientDbError } from '../db/errors.js';
import { AppError, DatabaseUnavailable, PayloadTooLarge, RateLimited } from '../errors.js';
import type { Log } from '../log.js';
import { openApiDocument } from './openapi.js';

/** A check's last result as /health shows it. */
export interface CheckReport {
  status: 'ok' | 'unreachable';
  /** How old the result is: checks run in the background, the route never waits on them. */
  age_ms: number | null;
  error?: string;
}

export interface HealthReport {
  /** ok; degraded: the RPC is away (minting waits, the API works); unavailable: the database is away (503). */
  status: 'ok' | 'degraded' | 'unavailable';
  db: CheckReport;
  rpc: CheckReport;
  rpc_url: string;
  program_id: string;
  mint: string;
  fee_payer_lamports: string | null;
}

export interface AppDeps {
  log: Log;
  /** The last results of the background checks; answers at once. */
  health: () => HealthReport;
  /** Domain routes mounted at the root (readings, minting, ...). */
  routes?: Hono[];
  metrics?: { text(): Promise<string>; contentType: string };
}

/** Largest body accepted: 1,000 readings with room to spare. */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

export function makeApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new PayloadTooLarge(`the body is larger than ${MAX_BODY_BYTES} bytes`);
      },
    }),
  );

  // 503 only when this process cannot do its role (the database is away); the RPC never makes it 503, so
  // a load balancer does not pull API processes that only need Postgres.
  app.get('/health', (c) => {
    const report = deps.health();
    return c.json(report, report.status === 'unavailable' ? 503 : 200);
  });

  app.get('/openapi.json', (c) => c.json(openApiDocument));
  if (deps.metrics) {
    const metrics = deps.metrics;
    app.get('/metrics', async (c) => c.body(await metrics.text(), 200, { 'content-type': metrics.contentType }));
  }
  for (const r of deps.routes ?? []) app.route('/', r);

  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: `no route for ${c.req.method} ${c.req.path}` } }, 404));

  app.onError((e, c) => {
    // A passing database failure (by SQLSTATE) is a 503 the caller may retry, never a 500.
    const err = !(e instanceof AppError) && isTransientDbError(e) ? new DatabaseUnavailable({ cause: e }) : e;
    if (err instanceof AppError && (err.httpStatus < 500 || err.retryable)) {
      const field = err.field ? { field: err.field } : {};
      if (err.retryable) c.header('Retry-After', '1');
      if (err instanceof RateLimited) {
        c.header('Retry-After', String(err.retryAfterSeconds));
        for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
      }
      if (err.httpStatus >= 500) deps.log.warn({ err: describeError(err.cause ?? err), path: c.req.path }, 'request refused for now');
      return c.json({ error: { code: err.code, message: err.message, ...field } }, err.httpStatus as 400);
    }
    // The detail of a 500 goes to the log (a database error's SQL and parameters only at debug), never to the caller.
    deps.log.error({ err: describeError(err), path: c.req.path }, 'request failed');
    deps.log.debug({ err, path: c.req.path }, 'request failed (detail)');
    return c.json({ error: { code: 'INTERNAL', message: 'internal error' } }, 500);
  });

  return app;
}
