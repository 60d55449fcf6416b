// Batch events (one `result` per reading as it settles, then one `summary`) for SSE clients of any API
// process. The events are rows of batch_events, written in order by the process that runs the batch;
// Postgres NOTIFY carries only a reference (batch id and the newest seq), so a batch of any size fits under
// NOTIFY's 8,000-byte limit, and a listener reads what it has not seen from the table (as graphile-worker,
// River and Oban do). A lost notification costs at most one poll interval: readers also poll.
import type { Database, Db } from '../db/client.js';
import { describeError, retryTransient } from '../db/errors.js';
import type { Log } from '../log.js';
import { appendBatchEvents, type BatchEventRow, readBatchEvents, withOutcome } from './repo.js';

const CHANNEL = 'mint_batch_events';

export type BatchEventInput = Pick<BatchEventRow, 'event' | 'data'>;

/** The ordered, durable event log of one batch, written by the process that runs it. */
export interface BatchEventWriter {
  /** Queue events; resolves once they are stored (retrying passing database failures), in order. */
  append(events: BatchEventInput[]): Promise<void>;
}

export interface BatchEvents {
  writer(batchId: string, log: Log, signal?: AbortSignal): BatchEventWriter;
  /** Calls `onNotify` whenever new events of the batch may be stored, until the returned function is called. */
  subscribe(batchId: string, onNotify: () => void): Promise<() => Promise<void>>;
  read(batchId: string, afterSeq: number, limit: number): Promise<BatchEventRow[]>;
  /** Wake the batch's listeners in every process (after events were stored by other means: the rescuer). */
  notify(batchId: string): Promise<void>;
}

export function makeBatchEvents(database: Pick<Database, 'db' | 'listen' | 'notify'>): BatchEvents {
  const db: Db = database.db;
  const handlers = new Map<string, Set<() => void>>();
  let listening: Promise<unknown> | null = null;
  const ensureListening = () =>
    (listening ??= database.listen(CHANNEL, (payload) => {
      let batchId: unknown;
      try {
        batchId = (JSON.parse(payload) as { batch_id?: unknown }).batch_id;
      } catch {
        return; // not ours
      }
      for (const h of handlers.get(String(batchId)) ?? []) h();
    }));

  const notify = (batchId: string, seq?: number) => database.notify(CHANNEL, JSON.stringify({ batch_id: batchId, seq }));

  return {
    writer(batchId, log, signal) {
      let seq = 0;
      let queued: BatchEventRow[] = [];
      let flushing: Promise<void> = Promise.resolve();
      // One flush at a time, each taking everything queued so far: rows commit in seq order, so a reader that
      // saw seq n has seen every seq below it, and many results become one INSERT.
      const flush = async () => {
        const rows = queued;
        queued = [];
        if (rows.length === 0) return;
        await retryTransient(() => appendBatchEvents(db, batchId, rows), {
          signal,
          attemptTimeoutMs: 30_000,
          onRetry: (e, attempt) => log.warn({ err: describeError(e), attempt }, 'could not store batch events; retrying'),
        });
        await notify(batchId, rows[rows.length - 1]!.seq).catch((e: unknown) => log.warn({ err: describeError(e) }, 'could not notify batch listeners; they will poll'));
      };
      return {
        append(events) {
          // A summary says how its batch ended (completed, completed_with_failures, failed, ...), as its row does.
          for (const e of events) queued.push({ seq: ++seq, event: e.event, data: e.event === 'summary' ? withOutcome(e.data) : e.data });
          const done = flushing.then(flush);
          flushing = done.catch(() => undefined);
          return done;
        },
      };
    },
    async subscribe(batchId, onNotify) {
      await ensureListening();
      const set = handlers.get(batchId) ?? new Set();
      set.add(onNotify);
      handlers.set(batchId, set);
      return async () => {
        set.delete(onNotify);
        if (set.size === 0) handlers.delete(batchId);
      };
    },
    read: (batchId, afterSeq, limit) => readBatchEvents(db, batchId, afterSeq, limit),
    notify: (batchId) => notify(batchId),
  };
}
