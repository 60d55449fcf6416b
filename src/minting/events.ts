// Batch events (one per result, then a summary) over Postgres NOTIFY, so an SSE client connected to
// any API process sees results produced by any worker process.
import type { Database } from '../db/client.js';

const CHANNEL = 'mint_batch_events';

export interface BatchEvent {
  batch_id: string;
  event: 'result' | 'summary';
  data: unknown;
}

export interface BatchEvents {
  publish(e: BatchEvent): Promise<void>;
  /** Calls `on` for every event of one batch until the returned function is called. */
  subscribe(batchId: string, on: (e: BatchEvent) => void): Promise<() => Promise<void>>;
}

export function makeBatchEvents(database: Pick<Database, 'listen' | 'notify'>): BatchEvents {
  const handlers = new Map<string, Set<(e: BatchEvent) => void>>();
  let listening: Promise<unknown> | null = null;
  const ensureListening = () =>
    (listening ??= database.listen(CHANNEL, (payload) => {
      const e = JSON.parse(payload) as BatchEvent;
      for (const h of handlers.get(e.batch_id) ?? []) h(e);
    }));
  // One notify at a time: Postgres delivers notifications in commit order, so what this process publishes
  // arrives in the order published (a summary never overtakes its results, whatever pool connection each uses).
  let previous: Promise<unknown> = Promise.resolve();
  return {
    publish(e) {
      const sent = previous.then(() => database.notify(CHANNEL, JSON.stringify(e)));
      previous = sent.catch(() => undefined);
      return sent;
    },
    async subscribe(batchId, on) {
      await ensureListening();
      const set = handlers.get(batchId) ?? new Set();
      set.add(on);
      handlers.set(batchId, set);
      return async () => {
        set.delete(on);
        if (set.size === 0) handlers.delete(batchId);
      };
    },
  };
}
