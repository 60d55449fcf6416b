// The whole service on the embedded chain, against a real Postgres server and against PGlite, on both
// interfaces of the energy_token program (0.1.1, the default, whose mints a REC validator co-signs; and
// 0.1.0): readings a gateway posts for the meters the operator registered are minted (by the operator's batch
// and by the polling worker), and each reading ends completed with the signature whose balance change matches it.
import { Writable } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, Keypair, PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount, getAssociatedTokenAddressSync } from '@solana/spl-token';
import { loadConfig } from '../../../src/config.js';
import { makeLog } from '../../../src/log.js';
import { startService, type RunningService } from '../../../src/service.js';
import { DATABASES, postgresAvailable, type TestDatabase } from '../../support/db.js';
import { registerMeters } from '../../support/meters.js';
import { eq } from 'drizzle-orm';
import { mintTransactions, readings as readingsTable } from '../../../src/db/schema.js';

const log = makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const G = { authorization: 'Bearer gw', 'content-type': 'application/json' };
const O = { authorization: 'Bearer op', 'content-type': 'application/json' };

const VERSIONS = [
  // The default: no ENERGY_TOKEN_IDL; two signatures per transaction (the authority and the REC validator).
  { version: '0.1.1', env: {}, signers: 2 },
  { version: '0.1.0', env: { ENERGY_TOKEN_IDL: 'programs-idl/energy_token-0.1.0.json' }, signers: 1 },
] as const;
const CASES = DATABASES.flatMap(([kind, open]) => VERSIONS.map((v) => [`${kind}, energy_token ${v.version}`, kind, open, v] as const));

describe.each(CASES)('end to end on %s', (_name, kind, open, program) => {
  let t: TestDatabase | null = null;
  let svc: RunningService;
  let connection: Connection;
  let mint: PublicKey;
  const users = Array.from({ length: 3 }, () => Keypair.generate().publicKey);
  let seq = 0;
  const reading = (u: number, kwh: string) => ({
    meter_id: `m-${kind}-${u}`,
    user_id: `user-${u}`,
    wallet_address: users[u]!.toBase58(),
    kwh_amount: kwh,
    reading_timestamp: new Date(Date.UTC(2026, 9, 1, 0, 0, ++seq)).toISOString(),
  });
  const api = (path: string, init: RequestInit = {}) => fetch(`${svc.apiUrl}${path}`, init);
  const post = async (path: string, body: unknown, headers = O) => api(path, { method: 'POST', headers, body: JSON.stringify(body) });
  const balance = async (u: number) =>
    getAccount(connection, getAssociatedTokenAddressSync(mint, users[u]!, false, TOKEN_2022_PROGRAM_ID), 'confirmed', TOKEN_2022_PROGRAM_ID).then((a) => a.amount, () => 0n);

  beforeAll(async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    const env: Record<string, string> = {
      PORT: '0',
      LOCALNET_SLOT_MS: '50',
      GATEWAY_API_KEYS: 'gw:gw',
      OPERATOR_TOKEN: 'op',
      SYNC_WINDOW_MS: '20000',
      BATCH_INTERVAL_MS: '100',
      LOCALNET_LEDGER_DIR: join(mkdtempSync(join(tmpdir(), 'e2e-ledger-')), 'ledger'),
      ...program.env,
    };
    if (kind === 'postgres') {
      t = await open();
      env.DATABASE_URL = t.url!;
      await t.database.close(); // the service opens its own
    } else {
      env.PGLITE_DIR = join(mkdtempSync(join(tmpdir(), 'e2e-')), 'pglite');
    }
    svc = await startService(loadConfig({ ...env, WORKER: 'off' }), log);
    connection = new Connection(svc.rpcUrl, { commitment: 'confirmed', wsEndpoint: svc.wsUrl });
    const details = (await (await api('/health/details', { headers: { authorization: 'Bearer op' } })).json()) as any;
    expect(details.program.version).toBe(program.version);
    expect(details.rec_validator === null).toBe(program.signers === 1);
    mint = new PublicKey(details.mint.address);
    await registerMeters(api, 'op', [0, 1, 2].map((u) => ({ meter_id: `m-${kind}-${u}`, user_id: `user-${u}`, wallet_address: users[u]!.toBase58() })));
  });
  afterAll(async () => {
    await svc?.stop();
    if (t) await t.drop().catch(() => undefined);
  });
  const ready = () => svc !== undefined;

  it('POST /readings → POST /mint-batch → completed readings whose signatures carry exactly their tokens', async () => {
    if (!ready()) return;
    const body = { readings: [reading(0, '1.5'), reading(1, '2'), reading(0, '0.25'), reading(2, '7')] };
    const accepted = (await (await post('/readings', body, G)).json()) as any;
    expect(accepted.accepted).toBe(4);
    const before = await Promise.all([0, 1, 2].map(balance));

    const res = await post('/mint-batch', {});
    expect(res.status).toBe(200);
    const batch = (await res.json()) as any;
    expect(batch).toMatchObject({ total_readings: 4, successful_mints: 4, failed_mints: 0, state: 'completed' });

    for (const r of accepted.readings) {
      const got = (await (await api(`/readings/${r.reading_id}`, { headers: G })).json()) as any;
      expect(got.status).toBe('completed');
      expect(got.batch_id).toBe(batch.batch_id);
      const tx = await connection.getTransaction(got.tx_signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
      expect(tx?.meta?.err).toBeNull();
      const change = (tx!.meta!.postTokenBalances ?? []).find((b) => b.owner === got.wallet_address);
      expect(change).toBeDefined();
      // Signed once by every signer the program wants: the authority, and on 0.1.1 the REC validator.
      expect(tx!.transaction.signatures).toHaveLength(program.signers);
      expect(tx!.meta!.fee).toBeGreaterThanOrEqual(5000 * program.signers);
    }
    const after = await Promise.all([0, 1, 2].map(balance));
    expect(after.map((a, i) => a - before[i]!)).toEqual([1_750_000_000n, 2_000_000_000n, 7_000_000_000n]);

    const again = (await (await post('/mint-batch', {})).json()) as any;
    expect(again.total_readings).toBe(0); // nothing minted twice
    // The ledger: every transaction of the batch went signed → sent → confirmed.
    const txs = await svc.database.db.select().from(mintTransactions).where(eq(mintTransactions.batchId, batch.batch_id));
    expect(txs.length).toBeGreaterThan(0);
    expect(txs.every((tx) => tx.status === 'confirmed')).toBe(true);
  });

  it('prefer_async answers 202 at once; the batch is then followed by GET and by server-sent events', async () => {
    if (!ready()) return;
    const accepted = (await (await post('/readings', { readings: [reading(1, '3'), reading(2, '4')] }, G)).json()) as any;
    const res = await post('/mint-batch', { reading_ids: accepted.readings.map((r: any) => r.reading_id), prefer_async: true });
    expect(res.status).toBe(202);
    const { batch_id, state } = (await res.json()) as any;
    expect(state).toBe('pending');

    // As a browser's EventSource would: a stream ticket (no secret in the URL), not the operator token.
    const { events_url } = (await (await api(`/batches/${batch_id}/stream-ticket`, { method: 'POST', headers: O })).json()) as any;
    const events = await (await api(events_url)).text();
    const results = [...events.matchAll(/event: result\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]!));
    expect(results).toHaveLength(2);
    expect(results.every((r) => r.success && r.tx_signature)).toBe(true);
    expect(events).toMatch(/event: summary\ndata: .*"successful_mints":2/);

    const got = (await (await api(`/batches/${batch_id}`, { headers: O })).json()) as any;
    expect(got).toMatchObject({ batch_id, state: 'completed', successful_mints: 2, failed_mints: 0 });
  });

  it('honours Idempotency-Key: a retry gets the first answer; another body with the same key is 422', async () => {
    if (!ready()) return;
    const accepted = (await (await post('/readings', reading(0, '1'), G)).json()) as any;
    const id = accepted.readings[0].reading_id;
    const headers = { ...O, 'idempotency-key': `k-${kind}` };
    const first = await post('/mint-batch', { reading_ids: [id] }, headers);
    const second = await post('/mint-batch', { reading_ids: [id] }, headers);
    expect(second.status).toBe(first.status);
    expect(await second.json()).toEqual(await first.json());
    expect((await post('/mint-batch', {}, headers)).status).toBe(422);
  });

  it('a poll batch claims and mints the pending queue', async () => {
    if (!ready()) return;
    const accepted = (await (await post('/readings', { readings: [reading(2, '0.5')] }, G)).json()) as any;
    await svc.runner.start('poll', null).then((b) => b.done);
    const got = (await (await api(`/readings/${accepted.readings[0].reading_id}`, { headers: G })).json()) as any;
    expect(got.status).toBe('completed');
    const status = (await (await api('/queue/status', { headers: O })).json()) as any;
    expect(status.counts.pending).toBe(0);
    expect(status.counts.completed).toBeGreaterThanOrEqual(8);
    expect(status.recent_batches.length).toBeGreaterThan(0);
  });

  it('estimates the fee of pending readings, retries a failed reading, reports queue items and payers, cancels', async () => {
    if (!ready()) return;
    const fresh = Keypair.generate().publicKey;
    await registerMeters(api, 'op', [{ meter_id: `m-${kind}-fresh`, wallet_address: fresh.toBase58() }]);
    const accepted = (await (await post('/readings', { ...reading(0, '1'), meter_id: `m-${kind}-fresh`, user_id: undefined, wallet_address: undefined }, G)).json()) as any;
    const id = accepted.readings[0].reading_id;
    const fee = (await (await post('/estimate-fee', { reading_ids: [id] })).json()) as any;
    expect(fee).toMatchObject({ transactions: 1, signatures: program.signers, token_accounts_created: 1, base_fee_lamports: String(5000 * program.signers) });
    expect(BigInt(fee.total_lamports)).toBe(BigInt(fee.base_fee_lamports) + BigInt(fee.priority_fee_lamports) + BigInt(fee.rent_lamports));

    const item = (await (await api(`/queue/item/${id}`, { headers: G })).json()) as any; // the gateway posted it
    expect(item.status).toBe('pending');
    const payer = (await (await api(`/queue/payer/${fresh.toBase58()}`, { headers: O })).json()) as any;
    expect(payer.readings.map((r: any) => r.reading_id)).toEqual([id]);

    expect((await post(`/readings/${id}/retry`, {})).status).toBe(409); // not failed
    await svc.database.db.update(readingsTable).set({ status: 'failed', lastError: 'boom', attempts: 5 }).where(eq(readingsTable.id, id));
    const retried = (await (await post(`/readings/${id}/retry`, {})).json()) as any;
    expect(retried).toMatchObject({ status: 'pending', attempts: 0, error: null });

    const batch = (await (await post('/mint-batch', { reading_ids: [id], prefer_async: true })).json()) as any;
    const cancel = (await (await post(`/batches/${batch.batch_id}/cancel`, {})).json()) as any;
    expect(['cancelling', 'completed', 'cancelled']).toContain(cancel.state);
    const done = (await (await api(`/batches/${batch.batch_id}/events`, { headers: O })).text());
    expect(done).toMatch(/event: summary/);
    const final = (await (await api(`/readings/${id}`, { headers: G })).json()) as any;
    // Cancelled before signing it is pending again; signed first, it is minted: never lost either way.
    expect(['pending', 'completed']).toContain(final.status);
  });

  it('operator routes refuse bad input with 4xx naming the field', async () => {
    if (!ready()) return;
    expect((await post('/mint-batch', {}, G)).status).toBe(403);
    const bad = await post('/mint-batch', { reading_ids: ['x'] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.field).toBe('reading_ids[0]');
    expect((await post('/mint-batch', { prefer_async: 'yes' })).status).toBe(400);
    expect((await api('/batches/not-a-uuid', { headers: O })).status).toBe(400);
    expect((await api('/batches/0b7f3c1a-4d0e-4f8e-8a40-111111111111', { headers: O })).status).toBe(404);
    expect((await post('/readings/0b7f3c1a-4d0e-4f8e-8a40-111111111111/retry', {})).status).toBe(404);
  });
});
