// Ingestion figures: readings/s accepted by POST /readings into the real Postgres server (requests of
// 100 readings from concurrent clients in a closed loop, p50/p99 latency), against the raw multi-row INSERT
// of rows of the same shape, at each backlog size (readings already pending), each case in a fresh database.
// `npm run bench` takes `ingestion` (no backlog); `npx tsx scripts/bench/ingest.ts --scale` runs
// `ingestionAtScale` alone (0 and 300,000 pending), prints a table and writes bench-results/ingest-scale.json.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Keypair } from '@solana/web3.js';
import postgres from 'postgres';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/client.js';
import { meters as metersTable, readings } from '../../src/db/schema.js';
import { makeLog } from '../../src/log.js';
import { syncGatewaysFromEnv } from '../../src/meters/gateways.js';
import { startService } from '../../src/service.js';
import { seedBacklog } from '../../test/support/db.js';
import { hardware, progress, table } from './support.js';

const METERS = 997;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

export interface Rate {
  readings_per_s: number;
  p50_ms: number;
  p99_ms: number;
}

export interface IngestionCase {
  /** Readings pending (pre-loaded) when the measurement started. */
  pending: number;
  /** POST /readings, one request of `readings_per_request` readings per latency sample. */
  api: Rate;
  /** The same rows as multi-row INSERTs of `readings_per_request` rows, one statement per latency sample. */
  raw_insert: Rate;
  /** api readings/s ÷ raw INSERT readings/s (goal ≥ 0.5). */
  api_over_raw: number;
  /** api p99 ÷ raw INSERT p99 (goal ≤ 3). */
  p99_over_raw_p99: number;
}

export interface IngestionScaleResult {
  hardware: string;
  clients: number;
  requests: number;
  readings_per_request: number;
  /** Per backlog size, each figure the median over the rounds. */
  cases: IngestionCase[];
  /** Every round's cases, as measured. */
  rounds: IngestionCase[][];
  /** The issue's goals, each with its value (the worst case where there are several) and whether it is met. */
  goals: {
    /** api readings/s at the largest backlog ÷ at the smallest (≥ 0.9). */
    backlog_ratio: { value: number; goal: '>= 0.9'; met: boolean };
    api_over_raw: { value: number; goal: '>= 0.5'; met: boolean };
    p99_over_raw_p99: { value: number; goal: '<= 3'; met: boolean };
  };
}

interface Workload {
  serverUrl: string;
  clients: number;
  requests: number;
  readingsPerRequest: number;
}

/**
 * `clients` callers making `requests` calls in all, each caller's next as soon as its last answered; first
 * two calls per client unmeasured (connections opened, code warm), so the first case is not the coldest.
 */
async function closedLoop(label: string, w: Workload, call: () => Promise<void>): Promise<Rate> {
  await Promise.all(Array.from({ length: w.clients }, async () => {
    await call();
    await call();
  }));
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: w.clients }, async () => {
      while (next < w.requests) {
        next++;
        const t0 = performance.now();
        await call();
        latencies.push(performance.now() - t0);
        progress(label, latencies.length, w.requests);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return { readings_per_s: (w.requests * w.readingsPerRequest) / seconds, p50_ms: pct(latencies, 50), p99_ms: pct(latencies, 99) };
}

/** The bench's readings: meter i mod 997, one second apart from 2026-01-01 (each meter's 997 s apart). */
function readingSource(wallets: string[]) {
  let seq = 0;
  return () => {
    const i = seq++;
    return { meter_id: `meter-${i % METERS}`, user_id: `u${i % 50}`, wallet_address: wallets[i % 50]!, kwh_amount: '1.25', reading_timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString() };
  };
}

/**
 * A fresh database on the server, migrated, with gateway `g` (key `g`) serving 997 interval meters (1 MW,
 * 15 minutes) and `pending` readings of them queued before 2026 (seedBacklog). Dropped by `drop`.
 */
async function freshBenchDatabase(admin: postgres.Sql, serverUrl: string, wallets: string[], pending: number) {
  const name = `bench_${randomBytes(4).toString('hex')}`;
  await admin.unsafe(`create database ${name}`);
  const url = Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();
  const database = await openDatabase({ url, pgliteDir: '' });
  try {
    await syncGatewaysFromEnv(database.db, [{ gatewayId: 'g', key: 'g' }]);
    await database.db.insert(metersTable).values(
      Array.from({ length: METERS }, (_, m) => ({
        meterId: `meter-${m}`,
        gatewayId: 'g',
        userId: `u${m % 50}`,
        walletAddress: wallets[m % 50]!,
        kind: 'interval' as const,
        intervalMinutes: 15,
        maxKw: '1000',
        activeFrom: new Date('2025-12-31T00:00:00Z'),
      })),
    );
    if (pending > 0) {
      const t0 = performance.now();
      await seedBacklog(database.db, pending, { gatewayId: 'g', from: new Date('2025-12-31T01:00:00Z') });
      process.stderr.write(`${pending} pending readings pre-loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    }
  } finally {
    await database.close();
  }
  return { url, drop: () => admin.unsafe(`drop database if exists ${name} with (force)`) };
}

/** POST /readings of `readingsPerRequest` readings from the service over `url` (worker and rate limits off). */
async function measureApi(url: string, w: Workload, next: ReturnType<typeof readingSource>, label: string): Promise<Rate> {
  const svc = await startService(
    loadConfig({ PORT: '0', DATABASE_URL: url, WORKER: 'off', GATEWAY_API_KEYS: 'g:g', OPERATOR_TOKEN: 'o', LOCALNET_SLOT_MS: '400', LOCALNET_LEDGER_DIR: mkdtempSync(join(tmpdir(), 'ingest-ledger-')), GATEWAY_READINGS_PER_SECOND: '0', GATEWAY_REQUESTS_PER_SECOND: '0' }),
    makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() })),
  );
  try {
    const posted = () => {
      const { user_id: _u, wallet_address: _w, ...r } = next();
      return r;
    };
    return await closedLoop(label, w, async () => {
      const body = JSON.stringify({ readings: Array.from({ length: w.readingsPerRequest }, posted) });
      const res = await fetch(`${svc.apiUrl}/readings`, { method: 'POST', headers: { authorization: 'Bearer g', 'content-type': 'application/json' }, body });
      if (res.status !== 202) throw new Error(`POST /readings answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    });
  } finally {
    await svc.stop();
  }
}

/** The same number of rows, `readingsPerRequest` per multi-row INSERT, from as many connections as clients. */
async function measureRawInsert(url: string, w: Workload, next: ReturnType<typeof readingSource>, label: string): Promise<Rate> {
  const raw = await openDatabase({ url, pgliteDir: '' });
  try {
    return await closedLoop(label, w, async () => {
      const rows = Array.from({ length: w.readingsPerRequest }, () => {
        const r = next();
        return { id: randomUUID(), meterId: r.meter_id, userId: r.user_id, walletAddress: r.wallet_address, kwhAmount: r.kwh_amount, tokensToMint: '1250000000', readingTimestamp: new Date(r.reading_timestamp), gatewayId: 'g' };
      });
      await raw.db.insert(readings).values(rows);
    });
  } finally {
    await raw.close();
  }
}

/** The median of each figure over rounds of one case. */
function medianCase(runs: IngestionCase[]): IngestionCase {
  const m = (f: (c: IngestionCase) => number) => {
    const xs = runs.map(f).sort((a, b) => a - b);
    return xs.length % 2 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2;
  };
  const rate = (k: 'api' | 'raw_insert'): Rate => ({ readings_per_s: m((c) => c[k].readings_per_s), p50_ms: m((c) => c[k].p50_ms), p99_ms: m((c) => c[k].p99_ms) });
  return { pending: runs[0]!.pending, api: rate('api'), raw_insert: rate('raw_insert'), api_over_raw: m((c) => c.api_over_raw), p99_over_raw_p99: m((c) => c.p99_over_raw_p99) };
}

/**
 * For each backlog size in `pending`: POST /readings and the raw INSERT of the same rows, each in a fresh
 * database with that many readings pre-loaded, in one run; then the issue's goals. With `rounds` > 1 the
 * whole set is measured again, the sizes in reverse order every other round (so a machine that slows down
 * or speeds up during the run weighs on each size alike), and each figure is the median over the rounds.
 */
export async function ingestionAtScale(opts: Workload & { pending: number[]; rounds?: number }): Promise<IngestionScaleResult> {
  const admin = postgres(opts.serverUrl, { max: 1, onnotice: () => {} });
  const wallets = Array.from({ length: 50 }, () => Keypair.generate().publicKey.toBase58());
  const next = readingSource(wallets);
  const rounds: IngestionCase[][] = [];
  try {
    for (let round = 0; round < (opts.rounds ?? 1); round++) {
      const cases: IngestionCase[] = [];
      for (const pending of round % 2 ? [...opts.pending].reverse() : opts.pending) {
        const forApi = await freshBenchDatabase(admin, opts.serverUrl, wallets, pending);
        const api = await measureApi(forApi.url, opts, next, `POST /readings, ${pending} pending`).finally(forApi.drop);
        const forRaw = await freshBenchDatabase(admin, opts.serverUrl, wallets, pending);
        const raw = await measureRawInsert(forRaw.url, opts, next, `raw INSERT, ${pending} pending`).finally(forRaw.drop);
        cases.push({ pending, api, raw_insert: raw, api_over_raw: api.readings_per_s / raw.readings_per_s, p99_over_raw_p99: api.p99_ms / raw.p99_ms });
      }
      rounds.push(cases.sort((a, b) => opts.pending.indexOf(a.pending) - opts.pending.indexOf(b.pending)));
    }
  } finally {
    await admin.end({ timeout: 1 });
  }
  const cases = opts.pending.map((_, i) => medianCase(rounds.map((r) => r[i]!)));
  const backlog = cases[cases.length - 1]!.api.readings_per_s / cases[0]!.api.readings_per_s;
  const overRaw = Math.min(...cases.map((c) => c.api_over_raw));
  const p99 = Math.max(...cases.map((c) => c.p99_over_raw_p99));
  return {
    hardware: hardware(),
    clients: opts.clients,
    requests: opts.requests,
    readings_per_request: opts.readingsPerRequest,
    cases,
    rounds,
    goals: {
      backlog_ratio: { value: backlog, goal: '>= 0.9', met: backlog >= 0.9 },
      api_over_raw: { value: overRaw, goal: '>= 0.5', met: overRaw >= 0.5 },
      p99_over_raw_p99: { value: p99, goal: '<= 3', met: p99 <= 3 },
    },
  };
}

/** `npm run bench`'s ingestion line: the no-backlog case of ingestionAtScale, in its earlier shape. */
export async function ingestion(opts: { requests: number; clients: number; serverUrl: string }) {
  const { cases } = await ingestionAtScale({ ...opts, readingsPerRequest: 100, pending: [0] });
  const c = cases[0]!;
  return {
    requests: opts.requests,
    clients: opts.clients,
    readings: opts.requests * 100,
    api_readings_per_s: c.api.readings_per_s,
    api_p50_ms: c.api.p50_ms,
    api_p99_ms: c.api.p99_ms,
    raw_insert_readings_per_s: c.raw_insert.readings_per_s,
    ratio: c.api_over_raw,
  };
}

/** The scale section's table and goals, as `npm run bench` and `ingest.ts --scale` print them. */
export function printIngestionScale(result: IngestionScaleResult): string {
  let out = '';
  const f = (n: number) => n.toFixed(0);
  out +=
    `\nhardware: ${result.hardware}\nworkload: ${result.requests} requests of ${result.readings_per_request} readings, ${result.clients} clients, closed loop; real Postgres; worker and rate limits off; ${result.rounds.length} round(s), medians\n\n`;
  out +=
    `${table(
      ['case', 'readings/s', 'p50 ms', 'p99 ms'],
      result.cases.flatMap((c) => [
        [`POST /readings, ${c.pending} pending`, f(c.api.readings_per_s), c.api.p50_ms.toFixed(1), c.api.p99_ms.toFixed(1)],
        [`raw ${result.readings_per_request}-row INSERT, ${c.pending} pending`, f(c.raw_insert.readings_per_s), c.raw_insert.p50_ms.toFixed(1), c.raw_insert.p99_ms.toFixed(1)],
      ]),
    )}\n\n`;
  const g = result.goals;
  out +=
    `${table(
      ['goal', 'value', 'target', 'met'],
      [
        [`ingestion@${result.cases[result.cases.length - 1]!.pending} ÷ ingestion@${result.cases[0]!.pending}`, g.backlog_ratio.value.toFixed(3), g.backlog_ratio.goal, g.backlog_ratio.met ? 'yes' : 'no'],
        ['ingestion ÷ raw INSERT (worst case)', g.api_over_raw.value.toFixed(3), g.api_over_raw.goal, g.api_over_raw.met ? 'yes' : 'no'],
        ['p99(request) ÷ p99(raw INSERT) (worst case)', g.p99_over_raw_p99.value.toFixed(2), g.p99_over_raw_p99.goal, g.p99_over_raw_p99.met ? 'yes' : 'no'],
      ],
    )}\n`;
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      scale: { type: 'boolean', default: false },
      pending: { type: 'string', default: '0,300000' },
      requests: { type: 'string', default: '300' },
      clients: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '1' },
      out: { type: 'string', default: 'bench-results/ingest-scale.json' },
    },
  });
  if (!values.scale) {
    process.stderr.write('usage: npx tsx scripts/bench/ingest.ts --scale [--pending 0,300000] [--requests 300] [--clients 8] [--rounds 1] [--out bench-results/ingest-scale.json]\n');
    process.exit(2);
  }
  const result = await ingestionAtScale({
    serverUrl: process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
    pending: values.pending.split(',').map(Number),
    requests: Number(values.requests),
    clients: Number(values.clients),
    rounds: Number(values.rounds),
    readingsPerRequest: 100,
  });
  process.stdout.write(printIngestionScale(result));
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(values.out, JSON.stringify(result, null, 2));
  process.stdout.write(`\nwritten: ${values.out}\n`);
}
