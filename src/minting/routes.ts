// Operator routes: run a batch (answer at once or within a short window), follow it (JSON or
// server-sent events), cancel it; queue status; retry a failed reading; estimate a batch's fee. Batches
// and the queue hold every gateway's readings, so a gateway key sees none of them (403).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type Context, Hono, type MiddlewareHandler, type Next } from 'hono';
import { streamSSE } from 'hono/streaming';
import { validate as isUuid } from 'uuid';
import { uuidParam } from '../http/input.js';
import { boundedText, MAX_ID_CHARS } from '../fields.js';
import type { MintEngine } from './engine.js';
import type { Db } from '../db/client.js';
import { describeError } from '../db/errors.js';
import { AppError, AuthError, NotFound, RateLimited, StateConflict, ValidationError } from '../errors.js';
import { getCookie } from 'hono/cookie';
import { admit, operatorName, SESSION_COOKIE } from '../http/auth.js';
import type { Log } from '../log.js';
import { getReading, type ReadingRow } from '../readings/repo.js';
import { jsonBody, readingJson } from '../readings/routes.js';
import {
  batchReadings,
  type BatchEventRow,
  mintBatchDataOf,
  getBatch,
  lastBatchEvent,
  mintingPause,
  pendingForWallet,
  queueStats,
  readSettings,
  recentBatches,
  releaseIdempotencyKey,
  reserveIdempotencyKey,
  retryFailed,
  saveIdempotentAnswer,
  saveStreamTicket,
  streamTicketOperator,
  type Settings,
  withOutcome,
} from './repo.js';
import type { BatchRunner, BatchSummary } from './runBatch.js';
import type { BatchEvents } from './events.js';
import { ENDED_BATCH_STATES } from '../db/schema.js';

export interface MintRoutesDeps {
  db: Db;
  /** MINT_INSTRUCTION=mint_generation: readings are planned per (meter, window). */
  windows?: boolean;
  runner: BatchRunner;
  engine: MintEngine;
  defaults: Settings;
  syncWindowMs: number;
  events: BatchEvents;
  auth: (...roles: ('gateway' | 'operator')[]) => MiddlewareHandler;
  /** How long an Idempotency-Key is kept (then purged). */
  idempotencyTtlHours: number;
  sse: SseLimits;
  log?: Log;
}

export interface SseLimits {
  /** A heartbeat comment this often; also how long a full queue may wait for a slow client. */
  heartbeatMs: number;
  /** Open streams per caller (operator name) in this process; one more is 429. */
  maxStreamsPerCaller: number;
  /** Events written but not yet taken by the client; past it (for a heartbeat interval) the stream ends with `error`. */
  maxQueuedEvents: number;
}

/** A stream ticket is good for this long, for one batch. */
export const STREAM_TICKET_TTL_SECONDS = 60;
const hashTicket = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

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
    const body = parseMintBody(await jsonBody(c.req, { optional: true }));
    const pause = await mintingPause(d.db);
    if (pause) throw new StateConflict('MINTING_PAUSED', `minting is paused by ${pause.by}: ${pause.reason} (POST /minting/resume)`);
    const key = c.req.header('idempotency-key');
    const hash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    const operator = operatorName(c);
    let reservedId: string | undefined;
    if (key !== undefined) {
      if (key.length === 0 || key.length > 200) throw new ValidationError('Idempotency-Key must be 1 to 200 characters', 'Idempotency-Key');
      // Reserved before the batch starts: a second request with the key finds this batch, never starts another.
      const held = await reserveIdempotencyKey(d.db, { operator, key, requestHash: hash, batchId: randomUUID(), ttlHours: d.idempotencyTtlHours });
      if (!held.reserved) {
        const prior = held.row;
        if (prior.requestHash !== hash) throw new IdempotencyMismatch();
        if (prior.responseStatus !== null) return c.json(prior.responseBody as object, prior.responseStatus as 200);
        // The first request with the key is still running its batch: the same batch, followed as any other.
        const row = prior.batchId ? await getBatch(d.db, prior.batchId) : null;
        return c.json({ batch_id: prior.batchId, state: row?.state ?? 'pending' }, 202);
      }
      reservedId = held.row.batchId!;
    }
    let batch;
    try {
      batch = await d.runner.start('operator', operator, body.readingIds, reservedId);
    } catch (e) {
      // The batch did not start: free the key, so that the client's retry may start it.
      if (key !== undefined && reservedId) await releaseIdempotencyKey(d.db, operator, key, reservedId).catch(() => undefined);
      throw e;
    }
    let status: 200 | 202 = 202;
    let answer: BatchSummary | { batch_id: string; state: 'pending' } = { batch_id: batch.batchId, state: 'pending' };
    if (!body.preferAsync) {
      const timeout = new Promise<null>((r) => setTimeout(() => r(null), d.syncWindowMs).unref());
      const summary = await Promise.race([batch.done, timeout]);
      // The answer says how the batch ended, as its row and its summary event do.
      if (summary) [status, answer] = [200, withOutcome(summary)];
    }
    if (key !== undefined) {
      // Not stored (the database blinked): repeats get 202 with this batch id, which is still the truth.
      await saveIdempotentAnswer(d.db, operator, key, status, answer).catch((e: unknown) => d.log?.warn({ err: describeError(e) }, 'could not store the idempotent answer'));
    }
    return c.json(answer, status);
  });

  app.get('/batches/:id', d.auth('operator'), async (c) => {
    const id = uuidParam(c.req.param('id'));
    const row = await getBatch(d.db, id);
    if (!row) throw new NotFound(`batch ${id}`);
    return c.json(summaryOf(id, row.state, await batchReadings(d.db, id)));
  });

  app.post('/batches/:id/cancel', d.auth('operator'), async (c) => {
    const id = uuidParam(c.req.param('id'));
    const row = await getBatch(d.db, id);
    if (!row) throw new NotFound(`batch ${id}`);
    const running = d.runner.get(id);
    running?.cancel();
    return c.json({ batch_id: id, state: running ? 'cancelling' : row.state });
  });

  // A stream ticket: EventSource cannot send headers, and no secret belongs in a URL, so the operator asks
  // for a ticket (random, stored as its SHA-256) good for this batch's event stream for 60 s.
  app.post('/batches/:id/stream-ticket', d.auth('operator'), async (c) => {
    const id = uuidParam(c.req.param('id'));
    if (!(await getBatch(d.db, id))) throw new NotFound(`batch ${id}`);
    const ticket = `est_${randomBytes(32).toString('base64url')}`;
    const expiresAt = await saveStreamTicket(d.db, { ticketHash: hashTicket(ticket), batchId: id, operator: operatorName(c), ttlSeconds: STREAM_TICKET_TTL_SECONDS });
    return c.json({ ticket, batch_id: id, expires_at: expiresAt.toISOString(), events_url: `/batches/${id}/events?ticket=${encodeURIComponent(ticket)}` }, 201);
  });

  /** The event stream's credentials: the Authorization header (operator), or a stream ticket for this batch. Never ?access_token=. */
  const streamAuth = async (c: Context, next: Next) => {
    const ticket = c.req.query('ticket');
    // The header, or the console's session cookie (same origin: EventSource sends it).
    if (c.req.header('authorization') !== undefined || (ticket === undefined && getCookie(c, SESSION_COOKIE) !== undefined)) return d.auth('operator')(c, next);
    if (ticket === undefined) throw new AuthError(401, 'missing credentials: send Authorization: Bearer <token>, or ?ticket= from POST /batches/:id/stream-ticket');
    const operator = ticket.length <= 200 ? await streamTicketOperator(d.db, hashTicket(ticket), uuidParam(c.req.param('id'))) : null;
    if (!operator) throw new AuthError(401, 'unknown or expired stream ticket (it is good for 60 s, for its batch only)');
    admit(c, { role: 'operator', name: operator });
    await next();
  };

  /** Open streams per caller in this process. */
  const openStreams = new Map<string, number>();

  // Server-sent events: the batch's stored events in order (each with its seq as the event id, so a client
  // that reconnects with Last-Event-ID resumes where it was), live as they are stored, ending with the summary.
  // A heartbeat comment every heartbeatMs; at most maxStreamsPerCaller open streams per caller; a client
  // that lets more than maxQueuedEvents pile up for a heartbeat interval gets a final `error` event and is
  // closed (it reconnects with Last-Event-ID and replays from batch_events).
  app.get('/batches/:id/events', streamAuth, async (c) => {
    const id = uuidParam(c.req.param('id'));
    if (!(await getBatch(d.db, id))) throw new NotFound(`batch ${id}`);
    const lastEventId = c.req.header('last-event-id');
    const resumeFrom = Number(lastEventId ?? 0);
    if (lastEventId !== undefined && (!/^\d{1,10}$/.test(lastEventId.trim()) || resumeFrom > 2 ** 31 - 1)) {
      throw new ValidationError('Last-Event-ID must be an event id this stream sent (a non-negative integer)', 'Last-Event-ID');
    }
    const caller = operatorName(c);
    const open = openStreams.get(caller) ?? 0;
    if (open >= d.sse.maxStreamsPerCaller) {
      throw new RateLimited(`${open} event streams are open for ${caller}; at most ${d.sse.maxStreamsPerCaller} are allowed at once`, 1);
    }
    openStreams.set(caller, open + 1);
    const release = () => {
      const n = (openStreams.get(caller) ?? 1) - 1;
      if (n > 0) openStreams.set(caller, n);
      else openStreams.delete(caller);
    };
    return streamSSE(c, async (stream) => {
      let wake: (() => void) | null = null;
      const poke = () => wake?.();
      /** Sleep until poked or `ms` passed. */
      const nap = (ms: number) =>
        new Promise<void>((r) => {
          const timer = setTimeout(r, ms);
          wake = () => {
            clearTimeout(timer);
            r();
          };
        }).finally(() => (wake = null));
      let closed = false;
      stream.onAbort(() => {
        closed = true;
        poke();
      });
      // Writes are queued, not awaited one by one: `queued` counts what the client has not taken yet.
      let queued = 0;
      let waitingForRoom = false;
      // Formatted here and handed to stream.write at once, so writes queue in call order and a close after the
      // last one still delivers it (writeSSE defers its write by a tick). Ids, names and JSON have no newlines.
      const enqueue = (text: string) => {
        queued++;
        void stream.write(text).finally(() => {
          queued--;
          if (waitingForRoom && queued < d.sse.maxQueuedEvents) poke();
        });
      };
      const send = (m: { id?: string; event: string; data: string }) => enqueue(`event: ${m.event}\ndata: ${m.data}\n${m.id === undefined ? '' : `id: ${m.id}\n`}\n`);
      /** Room in the queue, waiting at most one heartbeat interval for the client to take some. */
      const room = async () => {
        if (queued < d.sse.maxQueuedEvents) return true;
        waitingForRoom = true;
        await nap(d.sse.heartbeatMs);
        waitingForRoom = false;
        return closed || queued < d.sse.maxQueuedEvents;
      };
      const heartbeat = setInterval(() => {
        // Only to an empty queue: a client that takes nothing holds at most one heartbeat.
        if (queued === 0) enqueue(': heartbeat\n\n');
      }, d.sse.heartbeatMs);
      let unsubscribe: (() => Promise<void>) | null = null;
      try {
        // Subscribe first, then read what is stored: nothing falls between the two.
        unsubscribe = await d.events.subscribe(id, poke);
        let last = Number.isInteger(resumeFrom) && resumeFrom > 0 ? resumeFrom : 0;
        while (!closed) {
          let rows: BatchEventRow[] = [];
          try {
            rows = await d.events.read(id, last, EVENT_PAGE);
          } catch {
            // The database is away for a moment: keep the stream open and read again at the next poll.
          }
          for (const e of rows) {
            if (!(await room())) {
              d.log?.warn({ batchId: id, caller, queued, lastEventId: last }, 'slow event-stream client: closing its stream');
              send({
                event: 'error',
                data: JSON.stringify({
                  code: 'SLOW_CONSUMER',
                  message: `more than ${d.sse.maxQueuedEvents} events waited for this client; reconnect with Last-Event-ID to replay from the database`,
                  last_event_id: last,
                }),
              });
              return;
            }
            if (closed) return;
            send({ id: String(e.seq), event: e.event, data: JSON.stringify(e.data) });
            last = e.seq;
            if (e.event === 'summary') return;
          }
          if (rows.length === EVENT_PAGE) continue;
          if (rows.length === 0 && last > 0) {
            // The client already has the summary (it reconnected after the end): nothing more will come.
            const newest = await lastBatchEvent(d.db, id).catch(() => null);
            if (newest?.event === 'summary' && last >= newest.seq) return;
          }
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
          await nap(EVENT_POLL_MS);
        }
      } finally {
        clearInterval(heartbeat);
        release();
        await unsubscribe?.();
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
    const wallet = boundedText(c.req.param('wallet'), 'wallet', MAX_ID_CHARS);
    const rows = await pendingForWallet(d.db, wallet);
    return c.json({ wallet_address: wallet, readings: rows.map(readingJson) });
  });

  app.post('/readings/:id/retry', d.auth('operator'), async (c) => {
    const id = uuidParam(c.req.param('id'));
    const row = await retryFailed(d.db, id);
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
    // mint_generation: each reading in its window, so that the plan is the one the runner would make (one
    // instruction per window, each creating its record: the rent counts 1,183,200 lamports per window).
    const fee = await d.engine.estimateFee(await mintBatchDataOf(d.db, rows, !!d.windows));
    return c.json({
      transactions: fee.transactions,
      signatures: fee.signatures,
      token_accounts_created: fee.tokenAccountsCreated,
      mint_records_created: fee.mintRecordsCreated,
      base_fee_lamports: fee.baseFeeLamports.toString(),
      priority_fee_lamports: fee.priorityFeeLamports.toString(),
      rent_lamports: fee.rentLamports.toString(),
      total_lamports: fee.totalLamports.toString(),
    });
  });

  return app;
}
