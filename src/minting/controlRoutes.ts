// Operator control of the queue: void a wrong reading, redrive failed readings by filter, pause and resume
// minting (persisted: every worker process reads it each cycle), and the worker's settings.
import { Hono } from 'hono';
import type { Db } from '../db/client.js';
import { NotFound, StateConflict, ValidationError } from '../errors.js';
import { actorOf, type Auth } from '../http/auth.js';
import { jsonBody, uuidParam } from '../http/input.js';
import { boundedText, instantField, MAX_INSTANT_CHARS, MAX_REASON_CHARS, quote } from '../fields.js';
import type { Log } from '../log.js';
import { readingJson } from '../readings/routes.js';
import { mintingPause, readSettings, type RetryFilter, retryMatching, setMintingPause, type Settings, voidReading, writeSettings } from './repo.js';

export interface ControlRoutesDeps {
  db: Db;
  auth: Auth;
  defaults: Settings;
  log?: Log;
}

const object = (v: unknown): Record<string, unknown> => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ValidationError('the body must be a JSON object', 'body');
  return v as Record<string, unknown>;
};

const text = (b: Record<string, unknown>, field: string, opts: { required?: boolean; max?: number } = {}): string | undefined => {
  const v = b[field];
  if (v === undefined || v === null || v === '') {
    if (opts.required) throw new ValidationError(`${field} is required`, field);
    return undefined;
  }
  if (typeof v !== 'string') throw new ValidationError(`${field} must be a string of at most ${opts.max ?? MAX_REASON_CHARS} characters`, field);
  return boundedText(v, field, opts.max ?? MAX_REASON_CHARS);
};

/** An ISO 8601 date-time with a zone, on a date that exists, within the service's range (fields.ts). */
const instant = (b: Record<string, unknown>, field: string): Date | undefined => {
  const v = text(b, field, { max: MAX_INSTANT_CHARS });
  return v === undefined ? undefined : instantField(v, field);
};

/** The retry filter of POST /readings/retry; at least one field, so that "retry everything" is said on purpose (`all: true`). */
export function parseRetryFilter(raw: unknown): RetryFilter {
  const b = object(raw);
  const f: RetryFilter = {
    error: text(b, 'error', { max: 2000 }),
    meterId: text(b, 'meter_id', { max: 200 }),
    gatewayId: text(b, 'gateway_id', { max: 64 }),
    wallet: text(b, 'wallet_address', { max: 64 }),
    from: instant(b, 'from'),
    to: instant(b, 'to'),
  };
  if (Object.values(f).every((v) => v === undefined) && b.all !== true) {
    throw new ValidationError('give a filter (error, meter_id, gateway_id, wallet_address, from, to) or all: true to retry every failed reading', 'body');
  }
  return f;
}

// A Map: a body's key (`constructor`, `__proto__`) must never find an Object.prototype member as a setting.
const SETTING_FIELDS = new Map<string, { key: keyof Settings; min: number; max: number }>([
  ['batch_interval_ms', { key: 'batchIntervalMs', min: 10, max: 3_600_000 }],
  ['max_batch_size', { key: 'maxBatchSize', min: 1, max: 10_000 }],
  ['max_attempts', { key: 'maxAttempts', min: 1, max: 1_000 }],
  ['retry_backoff_ms', { key: 'backoffMs', min: 0, max: 86_400_000 }],
]);

const settingsJson = (s: Settings) => ({ batch_interval_ms: s.batchIntervalMs, max_batch_size: s.maxBatchSize, max_attempts: s.maxAttempts, retry_backoff_ms: s.backoffMs });

export function controlRoutes(d: ControlRoutesDeps): Hono {
  const app = new Hono();
  const pauseJson = async () => {
    const p = await mintingPause(d.db);
    return { paused: p !== null, reason: p?.reason ?? null, paused_by: p?.by ?? null, paused_at: p?.at ?? null };
  };

  app.post('/readings/retry', d.auth('operator'), async (c) => {
    const filter = parseRetryFilter(await jsonBody(c.req));
    const moved = await retryMatching(d.db, filter);
    d.log?.info({ actor: actorOf(c), moved }, 'failed readings put back in the queue');
    return c.json({ moved });
  });

  app.post('/readings/:id/void', d.auth('operator'), async (c) => {
    const id = uuidParam(c.req.param('id'));
    const reason = text(object(await jsonBody(c.req)), 'reason', { required: true, max: 500 })!;
    const actor = actorOf(c);
    const out = await voidReading(d.db, id.toLowerCase(), actor, reason);
    if ('missing' in out) throw new NotFound(`reading ${id}`);
    if ('status' in out) throw new StateConflict('NOT_VOIDABLE', `only a pending or failed reading can be voided; this one is ${out.status}`);
    if ('frozenWindow' in out) {
      const w = out.frozenWindow;
      throw new StateConflict('WINDOW_FROZEN', `reading ${id} belongs to meter ${w.meterId}'s window ${w.windowStart.toISOString()}, frozen for minting with it and not yet minted: it cannot be voided`);
    }
    d.log?.info({ actor, readingId: id }, 'reading voided');
    return c.json({ ...readingJson(out.voided), voided_by: actor, void_reason: reason });
  });

  app.get('/minting', d.auth('operator'), async (c) => c.json(await pauseJson()));

  app.post('/minting/pause', d.auth('operator'), async (c) => {
    const reason = text(object(await jsonBody(c.req)), 'reason', { required: true, max: 500 })!;
    await setMintingPause(d.db, { reason, by: actorOf(c), at: new Date().toISOString() });
    d.log?.warn({ actor: actorOf(c), reason }, 'minting paused by an operator');
    return c.json(await pauseJson());
  });

  app.post('/minting/resume', d.auth('operator'), async (c) => {
    // No fields; a body, if sent, must still be a well-formed JSON object.
    object(await jsonBody(c.req, { optional: true }));
    await setMintingPause(d.db, null);
    d.log?.info({ actor: actorOf(c) }, 'minting resumed by an operator');
    return c.json(await pauseJson());
  });

  app.get('/settings', d.auth('operator'), async (c) => c.json(settingsJson(await readSettings(d.db, d.defaults))));

  app.put('/settings', d.auth('operator'), async (c) => {
    const b = object(await jsonBody(c.req));
    const values: Partial<Settings> = {};
    for (const [field, v] of Object.entries(b)) {
      const spec = SETTING_FIELDS.get(field);
      if (!spec) throw new ValidationError(`unknown setting ${quote(field)}: one of ${[...SETTING_FIELDS.keys()].join(', ')}`, quote(field));
      if (typeof v !== 'number' || !Number.isInteger(v) || v < spec.min || v > spec.max) throw new ValidationError(`${field} must be an integer from ${spec.min} to ${spec.max}`, field);
      values[spec.key] = v;
    }
    await writeSettings(d.db, values);
    d.log?.info({ actor: actorOf(c), settings: b }, 'settings changed');
    return c.json(settingsJson(await readSettings(d.db, d.defaults)));
  });

  return app;
}
