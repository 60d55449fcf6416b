// The HTTP API. Every error leaves through one handler as { error: { code, message, field? } }.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AppError, PayloadTooLarge } from '../errors.js';
import type { Log } from '../log.js';
import { openApiDocument } from './openapi.js';

export interface HealthReport {
  status: 'ok' | 'degraded';
  db: 'ok' | 'unreachable';
  rpc: 'ok' | 'unreachable';
  rpc_url: string;
  program_id: string;
  mint: string;
  fee_payer_lamports: string | null;
}

export interface AppDeps {
  log: Log;
  health: () => Promise<HealthReport>;
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

  app.get('/health', async (c) => {
    const report = await deps.health();
    return c.json(report, report.status === 'ok' ? 200 : 503);
  });

  app.get('/openapi.json', (c) => c.json(openApiDocument));
  if (deps.metrics) {
    const metrics = deps.metrics;
    app.get('/metrics', async (c) => c.body(await metrics.text(), 200, { 'content-type': metrics.contentType }));
  }
  for (const r of deps.routes ?? []) app.route('/', r);

  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: `no route for ${c.req.method} ${c.req.path}` } }, 404));

  app.onError((err, c) => {
    if (err instanceof AppError && err.httpStatus < 500) {
      const field = err.field ? { field: err.field } : {};
      return c.json({ error: { code: err.code, message: err.message, ...field } }, err.httpStatus as 400);
    }
    // The detail of a 500 goes to the log, never to the caller.
    deps.log.error({ err, path: c.req.path }, 'request failed');
    return c.json({ error: { code: 'INTERNAL', message: 'internal error' } }, 500);
  });

  return app;
}
