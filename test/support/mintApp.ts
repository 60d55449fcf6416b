// The operator's minting routes over a test database, without a chain: a real batch runner whose batches
// claim nothing (no readings are queued, so the engine is never called) unless a test gives an engine, with a gate a test can hold shut to
// keep a batch "starting" while other requests arrive. Operator token `op`.
import type { Hono } from 'hono';
import type { MintEngine } from '../../src/minting/engine.js';
import type { Database } from '../../src/db/client.js';
import { makeApp } from '../../src/http/app.js';
import { makeAuth } from '../../src/http/auth.js';
import type { Log } from '../../src/log.js';
import { makeBatchEvents } from '../../src/minting/events.js';
import { mintRoutes, type SseLimits } from '../../src/minting/routes.js';
import { makeBatchRunner } from '../../src/minting/runBatch.js';
import { silentLog } from './meters.js';

export interface MintApp {
  app: Hono;
  request: (path: string, init?: RequestInit) => Promise<Response>;
  /** How many batches the routes started. */
  starts(): number;
  /** Hold new batches before they start until release() (for a batch that is "still running"). */
  hold(): void;
  release(): void;
}

export function mintApp(database: Database, over: { idempotencyTtlHours?: number; syncWindowMs?: number; sse?: Partial<SseLimits>; log?: Log; engine?: Partial<MintEngine> } = {}): MintApp {
  const db = database.db;
  const log = over.log ?? silentLog;
  const defaults = { batchIntervalMs: 1000, maxBatchSize: 100, maxAttempts: 3, backoffMs: 100 };
  const events = makeBatchEvents(database);
  const engine = (over.engine ?? {}) as MintEngine;
  const runner = makeBatchRunner({ db, engine, log, defaults, leaseMs: 60_000, events });
  let started = 0;
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => {};
  const gated = {
    ...runner,
    start: async (...args: Parameters<typeof runner.start>) => {
      started++;
      await gate;
      return runner.start(...args);
    },
  };
  const app = makeApp({
    log,
    health: () => ({ status: 'ok', db: { status: 'ok', age_ms: 0 }, rpc: { status: 'ok', age_ms: 0 }, rpc_url: '', program_id: '', mint: '', fee_payer_lamports: null }),
    routes: [
      mintRoutes({
        db,
        runner: gated,
        engine,
        defaults,
        syncWindowMs: over.syncWindowMs ?? 5_000,
        events,
        auth: makeAuth({ db, operators: [{ name: 'operator', token: 'op' }, { name: 'alice', token: 'alice-op' }] }),
        log,
        idempotencyTtlHours: over.idempotencyTtlHours ?? 24,
        sse: { heartbeatMs: 15_000, maxStreamsPerCaller: 10, maxQueuedEvents: 1000, ...over.sse },
      }),
    ],
  });
  return {
    app,
    request: async (path, init) => app.request(path, init),
    starts: () => started,
    hold: () => {
      gate = new Promise((r) => (open = r));
    },
    release: () => open(),
  };
}
