// Ingestion figures for `npm run bench`: readings/s accepted by POST /readings into the real Postgres
// server (100-reading requests from concurrent clients in a closed loop, p50/p99 latency), against the
// raw multi-row INSERT rate of rows of the same shape measured in the same run.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Keypair } from '@solana/web3.js';
import postgres from 'postgres';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/client.js';
import { readings } from '../../src/db/schema.js';
import { makeLog } from '../../src/log.js';
import { startService } from '../../src/service.js';
import { progress } from './support.js';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

export async function ingestion(opts: { requests: number; clients: number; serverUrl: string }) {
  const admin = postgres(opts.serverUrl, { max: 1, onnotice: () => {} });
  const names = [`bench_${randomBytes(4).toString('hex')}`, `bench_${randomBytes(4).toString('hex')}`];
  for (const n of names) await admin.unsafe(`create database ${n}`);
  const urlFor = (n: string) => Object.assign(new URL(opts.serverUrl), { pathname: `/${n}` }).toString();
  const wallets = Array.from({ length: 50 }, () => Keypair.generate().publicKey.toBase58());
  let seq = 0;
  const reading = () => {
    const i = seq++;
    return { meter_id: `meter-${i % 997}`, user_id: `u${i % 50}`, wallet_address: wallets[i % 50]!, kwh_amount: '1.25', reading_timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString() };
  };
  // The registry's view of those meters: gateway g serves them; owner and wallet as the readings carry them.
  const meters = Array.from({ length: 997 }, (_, m) => ({
    meter_id: `meter-${m}`,
    gateway_id: 'g',
    user_id: `u${m % 50}`,
    wallet_address: wallets[m % 50]!,
    kind: 'interval',
    interval_minutes: 15,
    max_kw: '1000',
    active_from: '2025-12-31T00:00:00Z',
  }));
  const posted = () => {
    const { user_id: _u, wallet_address: _w, ...r } = reading();
    return r;
  };
  try {
    const svc = await startService(
      loadConfig({ PORT: '0', DATABASE_URL: urlFor(names[0]!), WORKER: 'off', GATEWAY_API_KEYS: 'g:g', OPERATOR_TOKEN: 'o', LOCALNET_SLOT_MS: '400', LOCALNET_LEDGER_DIR: mkdtempSync(join(tmpdir(), 'ingest-ledger-')), GATEWAY_READINGS_PER_SECOND: '0', GATEWAY_REQUESTS_PER_SECOND: '0' }),
      makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() })),
    );
    const registered = await fetch(`${svc.apiUrl}/meters`, { method: 'PUT', headers: { authorization: 'Bearer o', 'content-type': 'application/json' }, body: JSON.stringify(meters) });
    if (registered.status !== 200) throw new Error(`PUT /meters answered ${registered.status}: ${await registered.text()}`);
    const latencies: number[] = [];
    let next = 0;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: opts.clients }, async () => {
        while (next < opts.requests) {
          next++;
          const body = JSON.stringify({ readings: Array.from({ length: 100 }, posted) });
          const t0 = performance.now();
          const res = await fetch(`${svc.apiUrl}/readings`, { method: 'POST', headers: { authorization: 'Bearer g', 'content-type': 'application/json' }, body });
          if (res.status !== 202) throw new Error(`POST /readings answered ${res.status}: ${await res.text()}`);
          await res.arrayBuffer();
          latencies.push(performance.now() - t0);
          progress('ingestion (POST /readings)', latencies.length, opts.requests);
        }
      }),
    );
    const apiSeconds = (performance.now() - start) / 1000;
    await svc.stop();

    // The same number of rows, 100 per multi-row INSERT, from the same number of concurrent connections.
    const raw = await openDatabase({ url: urlFor(names[1]!), pgliteDir: '' });
    let done = 0;
    const rawStart = performance.now();
    await Promise.all(
      Array.from({ length: opts.clients }, async () => {
        while (done < opts.requests) {
          done++;
          const rows = Array.from({ length: 100 }, () => {
            const r = reading();
            return { id: randomUUID(), meterId: r.meter_id, userId: r.user_id, walletAddress: r.wallet_address, kwhAmount: r.kwh_amount, tokensToMint: '1250000000', readingTimestamp: new Date(r.reading_timestamp), gatewayId: 'g' };
          });
          await raw.db.insert(readings).values(rows);
        }
      }),
    );
    const rawSeconds = (performance.now() - rawStart) / 1000;
    await raw.close();
    const n = opts.requests * 100;
    return {
      requests: opts.requests,
      clients: opts.clients,
      readings: n,
      api_readings_per_s: n / apiSeconds,
      api_p50_ms: pct(latencies, 50),
      api_p99_ms: pct(latencies, 99),
      raw_insert_readings_per_s: n / rawSeconds,
      ratio: n / apiSeconds / (n / rawSeconds),
    };
  } finally {
    for (const n of names) await admin.unsafe(`drop database if exists ${n} with (force)`);
    await admin.end({ timeout: 1 });
  }
}
