// The governance authority may remove the service's REC validator while it runs. Then minting waits, visibly:
// /health/details turns degraded with rec_validator.registered false, the worker pauses with the reason, a reading
// posted meanwhile waits (pending, no attempt spent); once a registered key is configured (here: a new validator
// added by governance, the service restarted with its key file) the reading is minted, co-signed by it.
// The service on the embedded chain (a ledger kept across the restart), on Postgres and on PGlite.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Connection, Keypair } from '@solana/web3.js';
import { eq } from 'drizzle-orm';
import { loadConfig } from '../../../src/config.js';
import { readings } from '../../../src/db/schema.js';
import { makeLog } from '../../../src/log.js';
import { startService, type RunningService } from '../../../src/service.js';
import { DATABASES, postgresAvailable, type TestDatabase, waitFor } from '../../support/db.js';
import { recValidator } from '../../support/engine.js';
import { registerMeters } from '../../support/meters.js';
import { addRecValidator, registeredValidators, removeRecValidator } from '../../support/recValidators.js';

const log = makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const G = { authorization: 'Bearer gw', 'content-type': 'application/json' };

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let svc: RunningService | null = null;
  afterAll(async () => {
    await svc?.stop();
    await t?.drop().catch(() => undefined);
  });

  it('a removed validator: degraded, paused, the reading waits; a registered key configured: minted, co-signed by it', async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    const dir = mkdtempSync(join(tmpdir(), 'validator-removed-'));
    const env: Record<string, string> = {
      PORT: '0',
      LOCALNET_SLOT_MS: '50',
      LOCALNET_LEDGER_DIR: join(dir, 'ledger'),
      GATEWAY_API_KEYS: 'gw:gw',
      OPERATOR_TOKEN: 'op',
      BATCH_INTERVAL_MS: '100',
      HEALTH_CHECK_INTERVAL_MS: '200',
      RETRY_BACKOFF_MS: '200',
    };
    if (kind === 'postgres') {
      t = await open();
      env.DATABASE_URL = t.url!;
      await t.database.close();
    } else {
      env.PGLITE_DIR = join(dir, 'pglite');
    }
    svc = await startService(loadConfig(env), log);
    const api = (path: string, init: RequestInit = {}) => fetch(`${svc!.apiUrl}${path}`, init);
    const details = async () => (await (await api('/health/details', { headers: { authorization: 'Bearer op' } })).json()) as any;
    const connection = new Connection(svc.rpcUrl, { commitment: 'confirmed', wsEndpoint: svc.wsUrl });
    const wallet = Keypair.generate().publicKey.toBase58();
    await registerMeters(api, 'op', [{ meter_id: `vr-${kind}`, wallet_address: wallet }]);
    let minute = 0;
    const post = async (kwh: string) => {
      const body = { meter_id: `vr-${kind}`, kwh_amount: kwh, reading_timestamp: new Date(Date.UTC(2026, 3, 1, 0, ++minute)).toISOString() };
      const res = (await (await api('/readings', { method: 'POST', headers: G, body: JSON.stringify(body) })).json()) as any;
      return res.readings[0].reading_id as string;
    };
    const row = async (id: string) => (await svc!.database.db.select().from(readings).where(eq(readings.id, id)))[0]!;

    const first = await post('1');
    await waitFor(async () => (await row(first)).status === 'completed', 30_000, 'the first reading minted');
    expect((await details()).rec_validator).toMatchObject({ address: recValidator().publicKey.toBase58(), registered: true });

    await removeRecValidator(connection, recValidator().publicKey);
    await waitFor(async () => (await details()).rec_validator.registered === false, 10_000, 'the health check to see the validator removed');
    await waitFor(async () => (await details()).worker.paused === true, 10_000, 'the worker to pause');
    const seen = await details();
    expect(seen.status).toBe('degraded');
    expect(seen.worker).toMatchObject({ paused: true, reason: expect.stringMatching(/REC validator \S+ is not registered in token_info.*REC_VALIDATOR_KEYPAIR_PATH/) });

    const waiting = await post('2');
    // Two worker cycles after the post, the reading is still waiting with no attempt spent.
    const cycle = async () => {
      const at = Date.now();
      await waitFor(async () => { const w = (await details()).worker; return w.age_ms !== null && Date.now() - w.age_ms > at; }, 10_000, 'a worker cycle');
    };
    await cycle();
    await cycle();
    expect(await row(waiting)).toMatchObject({ status: 'pending', attempts: 0 });

    // Governance registers another validator; the operator configures its key and restarts the service.
    const replacement = Keypair.generate();
    await addRecValidator(connection, replacement.publicKey);
    expect(await registeredValidators(connection)).toEqual([replacement.publicKey.toBase58()]);
    const keyPath = join(dir, 'replacement.json');
    writeFileSync(keyPath, JSON.stringify(Array.from(replacement.secretKey)), { mode: 0o600 });
    await svc.stop();
    svc = await startService(loadConfig({ ...env, REC_VALIDATOR_KEYPAIR_PATH: keyPath }), log);
    expect((await details()).rec_validator).toMatchObject({ address: replacement.publicKey.toBase58(), registered: true });
    await waitFor(async () => (await row(waiting)).status === 'completed', 30_000, 'the waiting reading minted after the key was replaced');
    const done = await row(waiting);
    expect(done.attempts).toBe(1);
    const tx = await new Connection(svc.rpcUrl, 'confirmed').getTransaction(done.txSignature!, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
    expect(tx!.transaction.message.staticAccountKeys.slice(0, 2).map((k) => k.toBase58())).toContain(replacement.publicKey.toBase58());
    expect(tx!.meta!.err).toBeNull();
  }, 120_000);
});
