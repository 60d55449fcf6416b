// Operator routes: run a batch (answer at once or within a short window), follow it (JSON or
// server-sent events), cancel it; queue status; retry a failed reading; estimate a batch's fee. Batches
// and the queue hold every gateway's readings, so a gateway key sees none of them (403).
import { createHash } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import { streamSSE } from 'hono/streaming';
import { validate as isUuid } from 'uuid';
import type { Minter } from '../chain/minter.js';
import type { Db } from '../db/client.js';
import { AppError, NotFound, ValidationError } from '../errors.js';
import { getReading, type ReadingRow } from '../readings/repo.js';
import { jsonBody, readingJson } from '../readings/routes.js';
import { batchReadings, type BatchEventRow, findIdempotent, getBatch, pendingForWallet, queueStats, readSettings, recentBatches, retryFailed, saveIdempotent, type Settings } from './repo.js';
import type { BatchRunner, BatchSummary } from './runBatch.js';
import type { BatchEvents } from './events.js';
import { ENDED_BATCH_STATES } from '../db/schema.js';

export interface MintRoutesDeps {
  db: Db;
  runner: BatchRunner;
  minter: Minter;
  defaults: Settings;
  syncWindowMs: number;
  events: BatchEvents;
  auth: (...roles: ('gateway' | 'operator')[]) => MiddlewareHandler;
}

/** Events read per query, and how often an idle stream looks again without a notification. */
const EVENT_PAGE = 500;
const EVENT_POLL_MS = 2_000;

class IdempotencyMismatch extends AppError {
  constructor() {
    super('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request body', 422);
  }
}

function parseMintBody(body: unknown): { readingIds?: string[]; preferAsync: boolean } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ValidationError('the body must be a JSON object', 'body');
  const b = body as { reading_ids?: unknown; prefer_async?: unknown };
  if (b.prefer_async !== undefined && typeof b.prefer_async !== 'boolean') throw new ValidationError('prefer_async must be a boolean', 'prefer_async');
  if (b.reading_ids === undefined) return { preferAsync: b.prefer_async === true };
  if (!Array.isArray(b.reading_ids) || b.reading_ids.length === 0) throw new ValidationError('reading_ids must be a non-empty array of UUIDs', 'reading_ids');
  b.reading_ids.forEach((id, i) => {
    if (typeof id !== 'string' || !isUuid(id)) throw new ValidationError(`reading_ids[${i}] must be a UUID`, `reading_ids[${i}]`);
  });
  return { readingIds: [...new Set((b.reading_ids as string[]).map((id) => id.toLowerCase()))], preferAsync: b.prefer_async === true };
}

const summaryOf = (batchId: string, state: string, rows: ReadingRow[]) => {
  const settled = rows.filter((r) => r.status === 'completed' || r.status === 'failed' || r.lastError);
  return {
    batch_id: batchId,
    state,
    total_readings: rows.length,
    successful_mints: rows.filter((r) => r.status === 'completed').length,
    failed_mints: settled.filter((r) => r.status !== 'completed').length,
    results: settled.map((r) => ({ reading_id: r.id, success: r.status === 'completed', error: r.status === 'completed' ? null : r.lastError, tx_signature: r.txSignature })),
  };
};

export function mintRoutes(d: MintRoutesDeps): Hono {
  const app = new Hono();

  app.post('/mint-batch', d.auth('operator'), async (c) => {
    const raw = await c.req.text();
    let parsedJson: unknown = {};
    if (raw.trim()) {
      try {
        parsedJson = JSON.parse(raw);
      } catch {
        throw new ValidationError('the body is not valid JSON', 'body');
      }
    }
    const body = parseMintBody(parsedJson);
    const key = c.req.header('idempotency-key');
    const hash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    if (key !== undefined) {
      if (key.length === 0 || key.length > 200) throw new ValidationError('Idempotency-Key must be 1 to 200 characters', 'Idempotency-Key');
      const prior = await findIdempotent(d.db, key);
      if (prior) {
        if (prior.requestHash !== hash) throw new IdempotencyMismatch();
        return c.json(prior.responseBody as object, prior.responseStatus as 200);
      }
    }
    const batch = await d.runner.start('operator', 'operator', body.readingIds);
    let status: 200 | 202 = 202;
    let answer: BatchSummary | { batch_id: string; state: 'pending' } = { batch_id: batch.batchId, state: 'pending' };
    if (!body.preferAsync) {
      const timeout = new Promise<null>((r) => setTimeout(() => r(null), d.syncWindowMs).unref());
      const summary = await Promise.race([batch.done, timeout]);
      if (summary) [status, answer] = [200, summary];
    }
    if (key !== undefined) {
      const stored = await saveIdempotent(d.db, key, hash, status, answer);
      if (stored && stored.requestHash !== hash) throw new IdempotencyMismatch();
    }
    return c.json(answer, status);
  });

  const batchId = (id: string) => {
    if (!isUuid(id)) throw new ValidationError('id must be a UUID', 'id');
    return id.toLowerCase();
  };

  app.get('/batches/:id', d.auth('operator'), async (c) => {
    const id = batchId(c.req.param('id'));
    const row = await getBatch(d.db, id);
    if (!row) throw new NotFound(`batch ${id}`);
    return c.json(summaryOf(id, row.state, await batchReadings(d.db, id)));
  });

  app.post('/batches/:id/cancel', d.auth('operator'), async (c) => {
    const id = batchId(c.req.param('id'));
    const row = await getBatch(d.db, id);
    if (!row) throw new NotFound(`batch ${id}`);
    const running = d.runner.get(id);
    running?.cancel();
    return c.json({ batch_id: id, state: running ? 'cancelling' : row.state });
  });

  // Server-sent events: the batch's stored events in order (each with its seq as the event id, so a client
  // that reconnects with Last-Event-ID resumes where it was), live as they are stored, ending with the summary.
  app.get('/batches/:id/events', d.auth('operator'), async (c) => {
    const id = batchId(c.req.param('id'));
    if (!(await getBatch(d.db, id))) throw new NotFound(`batch ${id}`);
    const resumeFrom = Number(c.req.header('last-event-id') ?? 0);
    return streamSSE(c, async (stream) => {
      let wake: (() => void) | null = null;
      const poke = () => wake?.();
      // Subscribe first, then read what is stored: nothing falls between the two.
      const unsubscribe = await d.events.subscribe(id, poke);
      let closed = false;
      stream.onAbort(() => {
        closed = true;
        poke();
      });
      try {
        let last = Number.isInteger(resumeFrom) && resumeFrom > 0 ? resumeFrom : 0;
        while (!closed) {
          let rows: BatchEventRow[] = [];
          try {
            rows = await d.events.read(id, last, EVENT_PAGE);
          } catch {
            // The database is away for a moment: keep the stream open and read again at the next poll.
          }
          for (const e of rows) {
            await stream.writeSSE({ id: String(e.seq), event: e.event, data: JSON.stringify(e.data) });
            last = e.seq;
            if (e.event === 'summary') return;
          }
          if (rows.length === EVENT_PAGE) continue;
          if (rows.length === 0 && last === 0 && (await endedWithoutEvents(id))) {
            // A batch that ended before batch events were stored: its summary from its readings.
            const row = (await getBatch(d.db, id))!;
            const stored = summaryOf(id, row.state, await batchReadings(d.db, id));
            for (const r of stored.results) await stream.writeSSE({ event: 'result', data: JSON.stringify(r) });
            const { results: _, ...summary } = stored;
            await stream.writeSSE({ event: 'summary', data: JSON.stringify(summary) });
            return;
          }
          // Woken by a notification, or polling, since a notification can be lost (a listener reconnecting).
          await new Promise<void>((r) => {
            const timer = setTimeout(r, EVENT_POLL_MS);
            wake = () => {
              clearTimeout(timer);
              r();
            };
          });
          wake = null;
        }
      } finally {
        await unsubscribe();
      }
    });
  });

  const endedWithoutEvents = async (id: string) => {
    const row = await getBatch(d.db, id).catch(() => null);
    return row !== null && ENDED_BATCH_STATES.includes(row.state) && (await d.events.read(id, 0, 1)).length === 0;
  };

  app.get('/queue/status', d.auth('operator'), async (c) => {
    const stats = await queueStats(d.db);
    const settings = await readSettings(d.db, d.defaults);
    return c.json({
      counts: stats.counts,
      oldest_pending: stats.oldestPending?.toISOString() ?? null,
      unique_wallets_pending: stats.walletsPending,
      recent_batches: (await recentBatches(d.db, 10)).map((b) => ({ batch_id: b.id, source: b.source, state: b.state, total_readings: b.totalReadings, successful_mints: b.successfulMints, failed_mints: b.failedMints, created_at: b.createdAt.toISOString() })),
      batch_interval_ms: settings.batchIntervalMs,
      max_batch_size: settings.maxBatchSize,
    });
  });

  app.get('/queue/payer/:wallet', d.auth('operator'), async (c) => {
    const rows = await pendingForWallet(d.db, c.req.param('wallet'));
    return c.json({ wallet_address: c.req.param('wallet'), readings: rows.map(readingJson) });
  });

  app.post('/readings/:id/retry', d.auth('operator'), async (c) => {
    const id = c.req.param('id');
    if (!isUuid(id)) throw new ValidationError('id must be a UUID', 'id');
    const row = await retryFailed(d.db, id.toLowerCase());
    if (!row) {
      if (!(await getReading(d.db, id.toLowerCase()))) throw new NotFound(`reading ${id}`);
      throw new AppError('NOT_FAILED', 'only a failed reading can be retried', 409);
    }
    return c.json(readingJson(row));
  });

  app.post('/estimate-fee', d.auth('operator'), async (c) => {
    const body = parseMintBody(await jsonBody(c.req));
    if (!body.readingIds) throw new ValidationError('reading_ids is required', 'reading_ids');
    const rows = (await Promise.all(body.readingIds.map((id) => getReading(d.db, id)))).filter((r): r is ReadingRow => r !== null);
    if (rows.length !== body.readingIds.length) throw new NotFound('one or more readings');
    const fee = await d.minter.estimateFee(
      rows.map((r) => ({ readingId: r.id, userId: r.userId, walletAddress: r.walletAddress, kwhAmount: r.kwhAmount, tokensToMint: BigInt(r.tokensToMint), meterId: r.meterId })),
    );
    return c.json({
      transactions: fee.transactions,
      signatures: fee.signatures,
      token_accounts_created: fee.tokenAccountsCreated,
      base_fee_lamports: fee.baseFeeLamports.toString(),
      priority_fee_lamports: fee.priorityFeeLamports.toString(),
      rent_lamports: fee.rentLamports.toString(),
      total_lamports: fee.totalLamports.toString(),
    });
  });

  return app;
}
