// The whole service on the embedded chain, fed as a GridTokenX network feeds it: 200 meters' readings posted
// in their format by a client that behaves as their HTTP transport does (batch route first; 200/201 delivered;
// 5xx retried three times, 2 s and 4 s apart; any 4xx → the readings one by one on the single route), with a
// batch resent after a lost answer and a batch holding one implausible reading. Every production reading is
// minted exactly once (ledger = chain, 0 lost), consumption readings mint nothing, and each owner's balance is
// the sum of its meter's rounded kWh. Prints the figure for the README. Real Postgres server and PGlite.
import { Writable } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { walletBalances } from '../../../src/chain/balances.js';
import { makeRpcClient } from '../../../src/chain/rpcClient.js';
import { loadConfig } from '../../../src/config.js';
import { mintTransactions, readings } from '../../../src/db/schema.js';
import { makeLog } from '../../../src/log.js';
import { readingIdOf } from '../../../src/readings/parseReadings.js';
import { startService, type RunningService } from '../../../src/service.js';
import { DATABASES, postgresAvailable, waitCompleted, type TestDatabase } from '../../support/db.js';
import { MINT } from '../../support/energyToken.js';
import { EXACTLY_ONCE, exactlyOnceVerdict } from '../../support/ledger.js';
import { registerMeters } from '../../support/meters.js';

const log = makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const METERS = 200;
const INTERVALS = 5;
const T0 = Date.UTC(2026, 9, 1);
const ts = (slot: number) => new Date(T0 + slot * 15 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

interface Sent {
  meter: number;
  slot: number;
  kwh: number;
}

/** Their client, as their transport behaves (issue 14): what it posts, and how it reacts to each status. */
function theirClient(baseUrl: string, key: string) {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const counts = { requests: 0, retried: 0 };
  const postWithRetries = async (path: string, body: unknown): Promise<number> => {
    let status = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      counts.requests++;
      status = (await fetch(`${baseUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) })).status;
      if (status < 500) return status;
      counts.retried++;
      if (attempt < 2) await pause(2_000 * 2 ** attempt);
    }
    return status;
  };
  return {
    counts,
    async sendBatch(list: Record<string, unknown>[]): Promise<number[]> {
      const status = await postWithRetries('/api/v1/public/meters/batch/readings', { readings: list });
      if (status === 200 || status === 201) return list.map(() => status);
      // 4xx (or retries exhausted): one by one, ten at a time.
      const out: number[] = [];
      for (let i = 0; i < list.length; i += 10) {
        out.push(...(await Promise.all(list.slice(i, i + 10).map((r) => postWithRetries(`/api/v1/meters/${r.meter_serial as string}/readings`, r)))));
      }
      return out;
    },
  };
}

describe.each(DATABASES)('GridTokenX gateways end to end on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let svc: RunningService;
  const owners = Array.from({ length: METERS }, () => Keypair.generate().publicKey.toBase58());
  const serial = (m: number) => `gtx-e2e-${kind}-${m}`;

  beforeAll(async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    const env: Record<string, string> = {
      PORT: '0',
      LOCALNET_SLOT_MS: '50',
      GATEWAY_API_KEYS: 'gtx:gtx-key',
      OPERATOR_TOKEN: 'op',
      BATCH_INTERVAL_MS: '100',
      LOCALNET_LEDGER_DIR: join(mkdtempSync(join(tmpdir(), 'gtx-e2e-ledger-')), 'ledger'),
    };
    if (kind === 'postgres') {
      t = await open();
      env.DATABASE_URL = t.url!;
      await t.database.close();
    } else env.PGLITE_DIR = join(mkdtempSync(join(tmpdir(), 'gtx-e2e-')), 'pglite');
    svc = await startService(loadConfig(env), log);
    const api = (path: string, init?: RequestInit) => fetch(`${svc.apiUrl}${path}`, init);
    // 10 kW interval meters: at most 2.625 kWh in 15 minutes with the 5 % tolerance.
    await registerMeters(api, 'op', owners.map((w, m) => ({ meter_id: serial(m), gateway_id: 'gtx', wallet_address: w, max_kw: '10' })));
  }, 120_000);
  afterAll(async () => {
    await svc?.stop();
    if (t) await t.drop().catch(() => undefined);
  });

  it(`${METERS} meters × ${INTERVALS} intervals posted in their format are minted exactly once; balances equal the sums`, async () => {
    if (!svc) return;
    const client = theirClient(svc.apiUrl!, 'gtx-key');
    const sent: Sent[] = [];
    const payload = (s: Sent) => ({
      meter_serial: serial(s.meter),
      meter_id: serial(s.meter),
      kwh: s.kwh,
      timestamp: ts(s.slot),
      energy_generated: Math.max(s.kwh, 0) + 0.3,
      energy_consumed: 0.3 + Math.max(-s.kwh, 0),
      voltage: 230.1,
      frequency: 50,
      power_factor: 0.98,
      thd_voltage: 1.9,
      thd_current: 3.7,
      zone_id: s.meter % 9,
      latitude: 13.7,
      longitude: 100.5,
      battery_level: 55,
    });
    const started = Date.now();
    const statuses: number[] = [];
    for (let slot = 1; slot <= INTERVALS; slot++) {
      const list = Array.from({ length: METERS }, (_, m): Sent => {
        // Production with a float's noise (x.1 + x.2 style) most of the time; consumption for every fourth meter.
        const kwh = (m + slot) % 4 === 0 ? -(((m * 7 + slot) % 15) + 1) / 10 : ((m * 13 + slot) % 20) / 10 + 0.1 + 0.2;
        return { meter: m, slot, kwh };
      });
      // Interval 3: one meter reports more than 10 kW can produce; the batch is refused and sent one by one.
      if (slot === 3) list[17]!.kwh = 50;
      statuses.push(...(await client.sendBatch(list.map(payload))));
      sent.push(...list);
      // Interval 2's answer is "lost": their client sends the same batch again.
      if (slot === 2) expect(await client.sendBatch(list.map(payload))).toEqual(list.map(() => 200));
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([422]);
    const accepted = sent.filter((s) => s.kwh !== 50);
    const production = accepted.filter((s) => s.kwh > 0);
    const ids = production.map((s) => readingIdOf(serial(s.meter), new Date(ts(s.slot))));
    const db = svc.database.db;
    await waitCompleted(db, ids, 120_000);
    const elapsed = Date.now() - started;

    expect(await exactlyOnceVerdict(db, svc.rpcUrl, ids)).toEqual(EXACTLY_ONCE);
    // Consumption readings: recorded, never queued.
    const consumptionIds = accepted.filter((s) => s.kwh <= 0).map((s) => readingIdOf(serial(s.meter), new Date(ts(s.slot))));
    const [recorded] = await db.select({ n: sql<number>`count(*)::int` }).from(readings).where(and(eq(readings.status, 'recorded'), inArray(readings.id, consumptionIds)));
    expect(recorded!.n).toBe(consumptionIds.length);
    // Balances equal the sums of each meter's kWh, rounded to 6 places, at 1 token per kWh (9 decimals).
    const expected = new Map<string, bigint>();
    for (const s of production) expected.set(owners[s.meter]!, (expected.get(owners[s.meter]!) ?? 0n) + BigInt(Math.round(s.kwh * 1e6)) * 1000n);
    const balances = await walletBalances(makeRpcClient({ url: svc.rpcUrl, timeoutMs: 10_000 }), MINT.toBase58(), [...expected.keys()]);
    expect([...expected].filter(([w, v]) => balances.get(w) !== v)).toEqual([]);

    const [txs] = await db.select({ n: sql<number>`count(*)::int` }).from(mintTransactions).where(eq(mintTransactions.status, 'confirmed'));
    process.stdout.write(
      `gridtokenx end to end on ${kind}: ${sent.length + METERS} readings posted (${METERS} meters × ${INTERVALS} intervals + one batch resent), ` +
        `${production.length} minted, ${consumptionIds.length} consumption recorded, 1 refused; ${client.counts.requests} requests, ${client.counts.retried} answered 503 and retried; ${elapsed} ms from first post to all minted; ${txs!.n} transactions\n`,
    );
  }, 240_000);
});
