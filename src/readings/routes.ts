// POST /readings, GET /readings/:id, GET /readings.
import { Hono, type MiddlewareHandler } from 'hono';
import { validate as isUuid } from 'uuid';
import type { Db } from '../db/client.js';
import { READING_STATUSES, type ReadingStatus } from '../db/schema.js';
import { NotFound, ValidationError } from '../errors.js';
import type { Rate } from '../minting/amounts.js';
import { parseReadingsBody } from './parseReadings.js';
import { getReading, insertReadings, listReadings, type ReadingRow } from './repo.js';

export interface ReadingRoutesDeps {
  db: Db;
  rate: Rate;
  maxReadingsPerRequest: number;
  auth: (...roles: ('gateway' | 'operator')[]) => MiddlewareHandler;
}

export const readingJson = (r: ReadingRow) => ({
  reading_id: r.id,
  meter_id: r.meterId,
  user_id: r.userId,
  wallet_address: r.walletAddress,
  kwh_amount: r.kwhAmount.replace(/\.?0+$/, ''),
  tokens_to_mint: r.tokensToMint,
  status: r.status,
  attempts: r.attempts,
  error: r.lastError,
  tx_signature: r.txSignature,
  batch_id: r.batchId,
  created_at: r.createdAt.toISOString(),
  updated_at: r.updatedAt.toISOString(),
});

export async function jsonBody(req: { json(): Promise<unknown> }): Promise<unknown> {
  try {
    return await req.json();
  } catch {
    throw new ValidationError('the body is not valid JSON', 'body');
  }
}

const encodeCursor = (r: ReadingRow) => Buffer.from(JSON.stringify([r.createdAt.toISOString(), r.id])).toString('base64url');
function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const createdAt = new Date(at);
    if (Number.isNaN(createdAt.getTime()) || !isUuid(id)) throw new Error();
    return { createdAt, id };
  } catch {
    throw new ValidationError('cursor is not a cursor this API returned', 'cursor');
  }
}

export function readingRoutes(d: ReadingRoutesDeps): Hono {
  const app = new Hono();

  app.post('/readings', d.auth('gateway'), async (c) => {
    const parsed = parseReadingsBody(await jsonBody(c.req), d.rate, d.maxReadingsPerRequest);
    return c.json(await insertReadings(d.db, parsed), 202);
  });

  // The queue's view of one item is the same reading.
  for (const path of ['/readings/:id', '/queue/item/:id']) {
    app.get(path, d.auth('gateway', 'operator'), async (c) => {
      const id = c.req.param('id')!;
      if (!isUuid(id)) throw new ValidationError('id must be a UUID', 'id');
      const row = await getReading(d.db, id.toLowerCase());
      if (!row) throw new NotFound(`reading ${id}`);
      return c.json(readingJson(row));
    });
  }

  app.get('/readings', d.auth('gateway', 'operator'), async (c) => {
    const status = c.req.query('status');
    if (status !== undefined && !READING_STATUSES.includes(status as ReadingStatus)) {
      throw new ValidationError(`status must be one of ${READING_STATUSES.join(', ')}`, 'status');
    }
    const limitText = c.req.query('limit') ?? '100';
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new ValidationError('limit must be an integer from 1 to 500', 'limit');
    const cursor = c.req.query('cursor');
    const rows = await listReadings(d.db, { status: status as ReadingStatus | undefined, wallet: c.req.query('wallet'), after: cursor ? decodeCursor(cursor) : undefined, limit });
    return c.json({ readings: rows.map(readingJson), next_cursor: rows.length === limit ? encodeCursor(rows[rows.length - 1]!) : null });
  });

  return app;
}
