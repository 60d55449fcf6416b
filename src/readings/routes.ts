// POST /readings (a gateway, for the meters it serves), GET /readings/:id, GET /readings.
import { Hono } from 'hono';
import { validate as isUuid } from 'uuid';
import type { Db } from '../db/client.js';
import { READING_STATUSES, type ReadingStatus } from '../db/schema.js';
import { NotFound, ValidationError } from '../errors.js';
import { type Auth, gatewayScope, principal } from '../http/auth.js';
import { jsonBody, limitOf, pageCursor, uuidParam } from '../http/input.js';
import { clientOf } from '../http/client.js';
import { boundedText, instantOf, MAX_ID_CHARS } from '../fields.js';
import { kwhText } from '../meters/registry.js';
import type { AcceptPolicy } from './accept.js';
import { parseReadingsBody } from './parseReadings.js';
import { acceptReadings, getQueueItem, listReadings, type ReadingRow } from './repo.js';
import type { Log } from '../log.js';
import type { RateLimiter } from '../http/rateLimit.js';

export { jsonBody };

export interface ReadingRoutesDeps {
  db: Db;
  policy: AcceptPolicy;
  maxReadingsPerRequest: number;
  auth: Auth;
  log?: Log;
  /** Per-gateway readings limit (one unit per reading); none: unlimited. */
  limiter?: Pick<RateLimiter, 'readings'>;
}

export const readingJson = (r: ReadingRow) => ({
  reading_id: r.id,
  client_reading_id: r.clientReadingId,
  meter_id: r.meterId,
  gateway_id: r.gatewayId,
  user_id: r.userId,
  wallet_address: r.walletAddress,
  reading_timestamp: r.readingTimestamp.toISOString(),
  kwh_amount: kwhText(r.kwhAmount),
  register_kwh: kwhText(r.registerKwh),
  tokens_to_mint: r.tokensToMint,
  status: r.status,
  attempts: r.attempts,
  error: r.lastError,
  tx_signature: r.txSignature,
  batch_id: r.batchId,
  /** GridTokenX readings: their telemetry (and `kwh_raw`, the float as sent); null for native readings. */
  telemetry: r.telemetry ?? null,
  created_at: r.createdAt.toISOString(),
  updated_at: r.updatedAt.toISOString(),
});

/**
 * The readings' keyset cursor (created_at, id): the API's pages and the console's. Its instant is read as any
 * other (fields.ts): a cursor made up with year 275760 or 10000 is refused here, not by Postgres (a 500).
 */
export const readingCursor = pageCursor((v) => {
  if (!Array.isArray(v)) return null;
  const [at, id] = v as unknown[];
  const created = instantOf(at);
  return 'problem' in created || typeof id !== 'string' || !isUuid(id) ? null : { createdAt: created.at, id };
});

const optionalQuery = (v: string | undefined, field: string) => (v === undefined ? undefined : boundedText(v, field, MAX_ID_CHARS));

export function readingRoutes(d: ReadingRoutesDeps): Hono {
  const app = new Hono();

  app.post('/readings', d.auth('gateway'), async (c) => {
    const p = principal(c);
    const gatewayId = p.role === 'gateway' ? p.gatewayId : '';
    const parsed = parseReadingsBody(await jsonBody(c.req), d.policy.rate, d.maxReadingsPerRequest);
    // After parsing (a malformed request costs no allowance), before anything is stored.
    await d.limiter?.readings(c, gatewayId, parsed.length);
    const outcome = await acceptReadings(d.db, gatewayId, parsed, d.policy);
    // One line per request; each accepted reading's id is in the answer and in the runner's log lines.
    d.log?.info({ gatewayId, client: clientOf(c).address, meters: [...new Set(parsed.map((r) => r.meterId))].slice(0, 20), accepted: outcome.accepted, duplicates: outcome.duplicates }, 'readings accepted');
    return c.json(outcome, 202);
  });

  // The queue's view of one item is the same reading, with its queue position as of now (the estimate
  // POST /readings gives, see repo.ts queuePosition). A gateway sees only the readings it posted.
  for (const path of ['/readings/:id', '/queue/item/:id']) {
    app.get(path, d.auth('gateway', 'operator'), async (c) => {
      const id = uuidParam(c.req.param('id'));
      const item = await getQueueItem(d.db, id, gatewayScope(c));
      if (!item) throw new NotFound(`reading ${id}`);
      return c.json({ ...readingJson(item.row), queue_position: item.queuePosition });
    });
  }

  app.get('/readings', d.auth('gateway', 'operator'), async (c) => {
    const status = c.req.query('status');
    if (status !== undefined && !READING_STATUSES.includes(status as ReadingStatus)) {
      throw new ValidationError(`status must be one of ${READING_STATUSES.join(', ')}`, 'status');
    }
    const limit = limitOf(c.req.query('limit'));
    const after = c.req.query('cursor');
    const rows = await listReadings(d.db, {
      status: status as ReadingStatus | undefined,
      wallet: optionalQuery(c.req.query('wallet'), 'wallet'),
      gatewayId: gatewayScope(c),
      after: after ? readingCursor.decode(after) : undefined,
      limit,
    });
    const last = rows[rows.length - 1];
    return c.json({ readings: rows.map(readingJson), next_cursor: rows.length === limit && last ? readingCursor.encode([last.createdAt.toISOString(), last.id]) : null });
  });

  return app;
}
