// The rescuer's second proof of landing (every window's record on chain says minted with its frozen sum) settles
// only a transaction whose fate is open (signed or sent). One recorded failed or expired did not land: its readings
// go back to the queue as it says, whatever the records say (the next claim finds the records and completes them).
import { randomBytes, randomUUID } from 'node:crypto';
import bs58 from 'bs58';
import { inArray } from 'drizzle-orm';
import { readings } from '../../../src/db/schema.js';
import { makeLog } from '../../../src/log.js';
import { claimWindows, markTransaction, recordSigned } from '../../../src/minting/repo.js';
import { rescue } from '../../../src/minting/rescue.js';
import type { RpcClient } from '../../../src/chain/rpcClient.js';
import { DATABASES, expireLeases, withDatabase, type TestDatabase } from '../../support/db.js';
import { registerMeters, registryApp, type Request } from '../../support/meters.js';

const G = { authorization: 'Bearer gw-key', 'content-type': 'application/json' };
const silent = makeLog('fatal');

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let request: Request;
  withDatabase(kind, open, async (d) => {
    t = d;
    ({ request } = await registryApp(d.database, { refuseSettledWindows: true }));
  });

  let meterNo = 0;
  const base = Date.UTC(2026, 9, 8);

  async function recordedWindow(status: 'signed' | 'sent' | 'failed' | 'expired') {
    const db = t!.database.db;
    const meter = `rs-${kind}-${++meterNo}`;
    await registerMeters(request, 'op', [{ meter_id: meter, active_from: '2026-10-01T00:00:00Z' }]);
    const res = await request('/readings', { method: 'POST', headers: G, body: JSON.stringify({ meter_id: meter, reading_timestamp: new Date(base + 900_000).toISOString(), kwh_amount: '1' }) });
    const id = ((await res.json()) as any).readings[0].reading_id as string;
    const c = await claimWindows(db, { token: randomUUID(), limit: 10, leaseMs: 60_000, batchId: randomUUID(), graceMs: 0, ids: [id] });
    const signature = bs58.encode(randomBytes(64));
    await recordSigned(db, c.token, randomUUID(), { signature, wire: new Uint8Array([1]), lastValidBlockHeight: 1, readingIds: [id] }, { windows: true });
    if (status !== 'signed') await markTransaction(db, signature, status, status === 'failed' ? 'custom program error' : undefined);
    await expireLeases(db, [id]);
    return id;
  }

  // The chain is never asked about a transaction whose fate is recorded; the records say minted with the sum.
  const rpc = new Proxy({}, { get: () => () => Promise.reject(new Error('no chain here')) }) as unknown as RpcClient;
  const records = async (ws: unknown[]) => ws.map(() => ({ minted: true, amount: 1_000_000_000n }));
  const run = () => rescue({ db: t!.database.db, rpc, explain: () => 'failed', log: silent, policy: { maxAttempts: 5, backoffMs: 0 }, records });
  const statusOf = async (id: string) => (await t!.database.db.select({ s: readings.status }).from(readings).where(inArray(readings.id, [id])))[0]!.s;

  it.each(['failed', 'expired'] as const)('a transaction recorded %s is not completed by its windows\' records', async (status) => {
    if (!t) return;
    const id = await recordedWindow(status);
    const report = await run();
    expect(report).toMatchObject({ confirmed: 0, [status]: 1 });
    expect(await statusOf(id)).toBe('pending');
  });

  it('a transaction still sent is completed by them', async () => {
    if (!t) return;
    const id = await recordedWindow('sent');
    expect(await run()).toMatchObject({ confirmed: 1 });
    expect(await statusOf(id)).toBe('completed');
  });
});
