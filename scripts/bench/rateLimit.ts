// `npm run bench:ratelimit`: what a rate-limit check costs per request. The same POST /readings app over the
// real Postgres server with and without the per-gateway limiter (limits set so high that nothing is refused,
// so both do the same work but the check), in alternating rounds of one run; and the check's statement alone.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Keypair } from '@solana/web3.js';
import postgres from 'postgres';
import { openDatabase } from '../../src/db/client.js';
import { takeRate } from '../../src/db/rateLimits.js';
import { makeApp } from '../../src/http/app.js';
import { makeAuth } from '../../src/http/auth.js';
import { makeRateLimiter } from '../../src/http/rateLimit.js';
import { makeLog } from '../../src/log.js';
import { syncGatewaysFromEnv } from '../../src/meters/gateways.js';
import { meterRoutes } from '../../src/meters/routes.js';
import { readingRoutes } from '../../src/readings/routes.js';
import { hardware, table } from './support.js';

const serverUrl = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const REQUESTS = Number(process.env.REQUESTS ?? 200);
const CLIENTS = 8;
const METERS = 997;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
const name = `bench_rl_${randomBytes(4).toString('hex')}`;
await admin.unsafe(`create database ${name}`);
try {
  const database = await openDatabase({ url: Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString(), pgliteDir: '' });
  const db = database.db;
  const log = makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() }));
  await syncGatewaysFromEnv(db, [{ gatewayId: 'g', key: 'g' }]);
  const plainAuth = makeAuth({ db, operators: [{ name: 'operator', token: 'o' }] });
  const rate = { tokensPerKwh: '1', decimals: 9, maxKwh: '1000' };
  const policy = { rate, tolerance: '0.05', requireSigned: false, maxTokensPerReading: 30n * 10n ** 12n };
  const health = () => ({ status: 'ok' as const, db: { status: 'ok' as const, age_ms: 0 }, rpc: { status: 'ok' as const, age_ms: 0 }, rpc_url: '', program_id: '', mint: '', fee_payer_lamports: null });
  const limiter = makeRateLimiter({ db, auth: plainAuth, limits: { readingsPerSecond: 1e6, readingsBurst: 10_000_000, requestsPerSecond: 1e6, requestsBurst: 1_000_000 } });
  const apps = {
    without: makeApp({ log, health, routes: [readingRoutes({ db, policy, maxReadingsPerRequest: 1000, auth: plainAuth }), meterRoutes({ db, rate, auth: plainAuth })] }),
    with: makeApp({ log, health, routes: [readingRoutes({ db, policy, maxReadingsPerRequest: 1000, auth: limiter.auth, limiter }), meterRoutes({ db, rate, auth: limiter.auth })] }),
  };
  const wallets = Array.from({ length: 50 }, () => Keypair.generate().publicKey.toBase58());
  const meters = Array.from({ length: METERS }, (_, m) => ({ meter_id: `meter-${m}`, gateway_id: 'g', user_id: `u${m % 50}`, wallet_address: wallets[m % 50]!, kind: 'interval', interval_minutes: 15, max_kw: '1000', active_from: '2025-12-31T00:00:00Z' }));
  const reg = await apps.without.request('/meters', { method: 'PUT', headers: { authorization: 'Bearer o', 'content-type': 'application/json' }, body: JSON.stringify(meters) });
  if (reg.status !== 200) throw new Error(`PUT /meters answered ${reg.status}`);

  let seq = 0;
  const body = (n: number) => JSON.stringify({ readings: Array.from({ length: n }, () => { const i = seq++; return { meter_id: `meter-${i % METERS}`, kwh_amount: '1.25', reading_timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString() }; }) });
  const round = async (which: 'with' | 'without', perRequest: number) => {
    const lat: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      while (next++ < REQUESTS) {
        const b = body(perRequest);
        const s = performance.now();
        const res = await apps[which].request('/readings', { method: 'POST', headers: { authorization: 'Bearer g', 'content-type': 'application/json' }, body: b });
        if (res.status !== 202) throw new Error(`POST /readings answered ${res.status}: ${await res.text()}`);
        lat.push(performance.now() - s);
      }
    }));
    return { lat, seconds: (performance.now() - t0) / 1000 };
  };
  const rows: (string | number)[][] = [];
  for (const perRequest of [1, 100]) {
    const acc = { with: [] as number[], without: [] as number[], sWith: 0, sWithout: 0 };
    await round('without', perRequest); // warm-up
    await round('with', perRequest);
    for (let r = 0; r < ROUNDS; r++) {
      for (const which of r % 2 ? (['with', 'without'] as const) : (['without', 'with'] as const)) {
        const { lat, seconds } = await round(which, perRequest);
        acc[which].push(...lat);
        if (which === 'with') acc.sWith += seconds;
        else acc.sWithout += seconds;
      }
    }
    const n = ROUNDS * REQUESTS;
    for (const which of ['without', 'with'] as const) {
      rows.push([`${perRequest} reading(s)/request, ${which} limiter`, (n / (which === 'with' ? acc.sWith : acc.sWithout)).toFixed(0), mean(acc[which]).toFixed(2), pct(acc[which], 50).toFixed(2), pct(acc[which], 99).toFixed(2)]);
    }
    rows.push([`  difference per request`, '', (mean(acc.with) - mean(acc.without)).toFixed(2), (pct(acc.with, 50) - pct(acc.without, 50)).toFixed(2), '']);
  }
  // The check's statement alone (requests and readings keys; the readings one counts the gateway's meters).
  for (const [label, gw] of [['check alone, request key', null], ['check alone, readings key (counts 997 meters)', 'g']] as const) {
    const lat: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const s = performance.now();
      await takeRate(db, `bench:${label}`, 1, 1, 10_000_000, gw);
      lat.push(performance.now() - s);
    }
    rows.push([`${label}, sequential`, (2000 / (lat.reduce((a, b) => a + b, 0) / 1000)).toFixed(0), mean(lat).toFixed(3), pct(lat, 50).toFixed(3), pct(lat, 99).toFixed(3)]);
  }
  process.stdout.write(`${hardware()}\n${table(['what', 'per s', 'mean ms', 'p50 ms', 'p99 ms'], rows)}\n`);
  await database.close();
} finally {
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end({ timeout: 1 });
}
