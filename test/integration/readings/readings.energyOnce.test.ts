// A meter's energy for an instant is minted once, however often and under whatever id it is sent: the
// issue's first attack (one 5 kWh reading posted three times) mints 5 tokens, not 15; concurrent identical
// posts end with one row and one mint; other energy for that instant is a 409. A register delta above the
// per-instruction cap is minted whole, in one transaction. And the migration keeps every row from before
// the identity, the earliest of each (meter, time) holding it. Real Postgres server and PGlite.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, Keypair, PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount, getAssociatedTokenAddressSync } from '@solana/spl-token';
import { and, arrayContains, eq } from 'drizzle-orm';
import { loadConfig } from '../../../src/config.js';
import { mintTransactions, readings } from '../../../src/db/schema.js';
import { startService, type RunningService } from '../../../src/service.js';
import { DATABASES, olderDatabase, postgresAvailable, type TestDatabase } from '../../support/db.js';
import { client, registerMeters, registryApp, silentLog } from '../../support/meters.js';

const T0 = Date.UTC(2026, 9, 1);
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

describe.each(DATABASES)('minted once, on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let svc: RunningService;
  let connection: Connection;
  let mint: PublicKey;
  const wallets = Array.from({ length: 4 }, () => Keypair.generate().publicKey);
  const api = (path: string, init: RequestInit = {}) => fetch(`${svc.apiUrl}${path}`, init);
  const gw = () => client(api).post('gw');
  const mintAll = async () => {
    const res = await client(api).post('op')('/mint-batch', {});
    expect(res.status).toBe(200);
    return (await res.json()) as any;
  };
  const balance = (w: PublicKey) =>
    getAccount(connection, getAssociatedTokenAddressSync(mint, w, false, TOKEN_2022_PROGRAM_ID), 'confirmed', TOKEN_2022_PROGRAM_ID).then((a) => a.amount, () => 0n);

  beforeAll(async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    const env: Record<string, string> = { PORT: '0', LOCALNET_SLOT_MS: '50', GATEWAY_API_KEYS: 'gw:gw', OPERATOR_TOKEN: 'op', SYNC_WINDOW_MS: '30000', WORKER: 'off' };
    if (kind === 'postgres') {
      t = await open();
      env.DATABASE_URL = t.url!;
      await t.database.close();
    } else env.PGLITE_DIR = join(mkdtempSync(join(tmpdir(), 'once-')), 'pglite');
    svc = await startService(loadConfig(env), silentLog);
    connection = new Connection(svc.rpcUrl, { commitment: 'confirmed', wsEndpoint: svc.wsUrl });
    mint = new PublicKey(((await (await api('/health/details', { headers: { authorization: 'Bearer op' } })).json()) as any).mint.address);
    await registerMeters(api, 'op', [
      { meter_id: 'thrice', max_kw: '20', active_from: at(0), wallet_address: wallets[0]!.toBase58() },
      { meter_id: 'race', max_kw: '20', active_from: at(0), wallet_address: wallets[1]!.toBase58() },
      { meter_id: 'offline', kind: 'register', max_kw: '10', active_from: at(0), register_baseline: { kwh: '100', at: at(0) }, wallet_address: wallets[2]!.toBase58() },
    ]);
  });
  afterAll(async () => {
    await svc?.stop();
    if (t) await t.drop().catch(() => undefined);
  });
  const ready = () => svc !== undefined;

  it('one 5 kWh reading posted three times (two reading_ids and none) mints 5 tokens, not 15', async () => {
    if (!ready()) return;
    const r = { meter_id: 'thrice', reading_timestamp: at(15), kwh_amount: '5' };
    const answers = [];
    for (const body of [{ ...r, reading_id: '3b0c6c0e-8f43-4b2e-9f6a-6a1f1d1e2a11' }, { ...r, reading_id: '9d7d0b1e-1c2b-4a55-8f00-000000000001' }, r]) {
      answers.push((await (await gw()('/readings', body)).json()) as any);
    }
    expect(answers.map((a) => [a.accepted, a.duplicates])).toEqual([[1, 0], [0, 1], [0, 1]]);
    expect(new Set(answers.map((a) => a.readings[0].reading_id)).size).toBe(1);
    const batch = await mintAll();
    expect(batch.successful_mints).toBe(1);
    expect(await balance(wallets[0]!)).toBe(5_000_000_000n);
    // Sent once more after it was minted: still a duplicate, still 5 tokens.
    expect(((await (await gw()('/readings', r)).json()) as any).duplicates).toBe(1);
    expect((await mintAll()).total_readings).toBe(0);
  });

  it('other energy for a minted instant is 409 CONFLICTING_READING and changes nothing', async () => {
    if (!ready()) return;
    const res = await gw()('/readings', { meter_id: 'thrice', reading_timestamp: at(15), kwh_amount: '4' });
    expect(res.status).toBe(409);
    expect(((await res.json()) as any).error.code).toBe('CONFLICTING_READING');
    const rows = await svc.database.db.select().from(readings).where(eq(readings.meterId, 'thrice'));
    expect(rows.map((x) => [x.status, x.tokensToMint])).toEqual([['completed', '5000000000']]);
  });

  it('eight concurrent identical posts end with one row and one mint', async () => {
    if (!ready()) return;
    const r = { meter_id: 'race', reading_timestamp: at(15), kwh_amount: '3.25' };
    const answers = (await Promise.all(Array.from({ length: 8 }, () => gw()('/readings', r).then((x) => x.json())))) as any[];
    expect(answers.reduce((n, a) => n + a.accepted, 0)).toBe(1);
    expect(answers.reduce((n, a) => n + a.duplicates, 0)).toBe(7);
    const rows = await svc.database.db.select().from(readings).where(eq(readings.meterId, 'race'));
    expect(rows).toHaveLength(1);
    await mintAll();
    const carried = await svc.database.db.select().from(mintTransactions).where(and(arrayContains(mintTransactions.readingIds, [rows[0]!.id]), eq(mintTransactions.status, 'confirmed')));
    expect(carried).toHaveLength(1);
    expect(await balance(wallets[1]!)).toBe(3_250_000_000n);
  });

  it('a register delta above the per-instruction cap (2,300 kWh after ten days offline) is minted whole, in one transaction', async () => {
    if (!ready()) return;
    const body = (await (await gw()('/readings', { meter_id: 'offline', reading_timestamp: at(10 * 24 * 60), register_kwh: '2400' })).json()) as any;
    expect(body.accepted).toBe(1);
    const batch = await mintAll();
    expect(batch).toMatchObject({ successful_mints: 1, failed_mints: 0 });
    expect(await balance(wallets[2]!)).toBe(2_300_000_000_000n);
    const tx = await connection.getTransaction(batch.results[0].tx_signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
    // 1,000 + 1,000 + 300 tokens: three mint_tokens_direct instructions in the one transaction.
    expect(tx!.meta!.logMessages!.filter((l) => l.includes('Instruction: MintTokensDirect'))).toHaveLength(3);
  });
});

describe.each(['postgres', 'pglite'] as const)('the migration, on %s', (kind) => {
  const OLD = (id: string, kwh: string, created: string, minute = 15) =>
    `insert into readings (id, meter_id, user_id, wallet_address, kwh_amount, tokens_to_mint, reading_timestamp, status, created_at)
     values ('${id}', 'old-m', 'u', '${Keypair.generate().publicKey.toBase58()}', ${kwh}, ${kwh}000000000, '${at(minute)}', 'completed', '${created}')`;

  it('keeps every row; the earliest of a repeated (meter, time) holds the identity; a new reading of it is a duplicate or a 409', async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    const statements = [
      OLD('00000000-0000-4000-8000-00000000000a', '5', '2026-10-01T01:00:00Z'),
      OLD('00000000-0000-4000-8000-00000000000b', '5', '2026-10-01T02:00:00Z'),
      OLD('00000000-0000-4000-8000-00000000000c', '7', '2026-10-01T03:00:00Z'),
      OLD('00000000-0000-4000-8000-00000000000d', '1', '2026-10-01T01:30:00Z', 30),
    ];
    // As before the registry: migrations 0000 and 0001 only.
    const older = await olderDatabase(kind, (tag) => tag.startsWith('0000_') || tag.startsWith('0001_'), statements);
    const database = await older.open(); // applies the registry's migrations
    try {
      const rows = await database.db.select().from(readings).where(eq(readings.meterId, 'old-m'));
      expect(rows).toHaveLength(4);
      const holderOf = Object.fromEntries(rows.map((r) => [r.id.slice(-1), r.duplicateOf?.slice(-1) ?? null]));
      expect(holderOf).toEqual({ a: null, b: 'a', c: 'a', d: null });
      const { request } = await registryApp(database);
      await registerMeters(request, 'op', [{ meter_id: 'old-m', active_from: at(0), max_kw: '100' }]);
      const again = (await (await client(request).post('gw-key')('/readings', { meter_id: 'old-m', reading_timestamp: at(15), kwh_amount: '5' })).json()) as any;
      expect(again).toMatchObject({ accepted: 0, duplicates: 1, readings: [{ reading_id: '00000000-0000-4000-8000-00000000000a', status: 'completed' }] });
      expect((await client(request).post('gw-key')('/readings', { meter_id: 'old-m', reading_timestamp: at(15), kwh_amount: '7' })).status).toBe(409);
    } finally {
      await database.close();
      await older.drop();
    }
  });
});
