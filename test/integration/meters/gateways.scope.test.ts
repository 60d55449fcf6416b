// Gateways are identities: a key is shown once and stored as a hash; a gateway posts only for the meters
// it serves (403 otherwise) and sees only its own readings and meters (404 otherwise); a disabled
// gateway's keys get 401; a rotated key keeps working for its grace period; gateways from
// GATEWAY_API_KEYS are managed there (409). Postgres and PGlite.
import { Writable } from 'node:stream';
import { gatewayKeys } from '../../../src/db/schema.js';
import { makeLog } from '../../../src/log.js';
import { syncGatewaysFromEnv } from '../../../src/meters/gateways.js';
import { DATABASES } from '../../support/db.js';
import { client, registerMeters, type Request, useRegistry } from '../../support/meters.js';

let seq = 0;
const reading = (meter_id: string) => ({ meter_id, reading_timestamp: new Date(Date.UTC(2026, 9, 1) + ++seq * 3_600_000).toISOString(), kwh_amount: '1' });

describe.each(DATABASES)('on %s', (kind, open) => {
  const lines: string[] = [];
  const fx = useRegistry(kind, open, undefined, { log: makeLog('info', new Writable({ write: (c, _e, cb) => cb(void lines.push(String(c))) })) });
  const request: Request = (path, init) => fx.request(path, init);
  let northKey: string;
  const op = () => client(request);
  const as = (key: string) => ({ post: (b: unknown) => client(request).post(key)('/readings', b), get: (p: string) => client(request).get(key)(p) });
  const ready = fx.ready;

  it('an operator creates a gateway: its key is shown once, recognisable, and stored only as a hash', async () => {
    if (!ready()) return;
    const res = await op().post('op')('/gateways', { gateway_id: 'north' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as any;
    expect(body.gateway_id).toBe('north');
    expect(body.api_key).toMatch(/^egk_[A-Za-z0-9_-]{43}$/);
    northKey = body.api_key;
    const stored = await fx.t!.database.db.select().from(gatewayKeys);
    expect(JSON.stringify(stored)).not.toContain(northKey);
    expect((await op().post('op')('/gateways', { gateway_id: 'north' })).status).toBe(409);
    expect((await op().post('op')('/gateways', { gateway_id: 'bad name' })).status).toBe(400);
    expect((await op().post(northKey)('/gateways', { gateway_id: 'x' })).status).toBe(403);
    const list = (await (await op().get('op')('/gateways')).json()) as any;
    expect(list.gateways.map((g: any) => [g.gateway_id, g.source])).toEqual([['gw', 'env'], ['gw-2', 'env'], ['north', 'api']]);
    expect(JSON.stringify(list)).not.toMatch(/egk_|key_hash/);
    // The change is logged with who made it; the key is in no log line.
    expect(lines.join('')).toMatch(/"gatewayId":"north","actor":"operator","msg":"gateway created"/);
    expect(lines.join('')).not.toContain(northKey);
  });

  it("a gateway posts only for its own meters (403 METER_NOT_YOURS) and sees only its own readings and meters (404)", async () => {
    if (!ready()) return;
    await registerMeters(request, 'op', [{ meter_id: 'n1', gateway_id: 'north' }, { meter_id: 'g1', gateway_id: 'gw' }]);
    const foreign = await as(northKey).post(reading('g1'));
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as any).error).toMatchObject({ code: 'METER_NOT_YOURS', field: 'meter_id' });
    const mine = (await (await as(northKey).post(reading('n1'))).json()) as any;
    const theirs = (await (await as('gw-key').post(reading('g1'))).json()) as any;
    const theirId = theirs.readings[0].reading_id;
    expect((await as(northKey).get(`/readings/${theirId}`)).status).toBe(404);
    expect((await as(northKey).get(`/queue/item/${theirId}`)).status).toBe(404);
    expect((await as('gw-key').get(`/readings/${theirId}`)).status).toBe(200);
    expect((await as('op').get(`/readings/${theirId}`)).status).toBe(200);
    const listed = (await (await as(northKey).get('/readings')).json()) as any;
    expect(listed.readings.map((r: any) => r.reading_id)).toEqual([mine.readings[0].reading_id]);
    const meters = (await (await as(northKey).get('/meters')).json()) as any;
    expect(meters.meters.map((m: any) => m.meter_id)).toEqual(['n1']);
    expect(((await (await as(northKey).get('/meters?gateway=gw')).json()) as any).meters).toEqual([]);
    expect((await as(northKey).get('/meters/g1')).status).toBe(404);
    const n1 = (await (await as(northKey).get('/meters/n1')).json()) as any;
    expect(n1.totals).toEqual({ readings_accepted: 1, kwh_accepted: '1', tokens_minted: '0', readings_pending: 1 });
    expect((await op().put(northKey)('/meters/n1', { max_kw: '1' })).status).toBe(403);
  });

  it('a rotated key: the old one works through its grace period, then 401; grace 0 cuts it at once', async () => {
    if (!ready()) return;
    const rotated = (await (await op().post('op')('/gateways/north/rotate', { grace_seconds: 1 })).json()) as any;
    expect(rotated.api_key).not.toBe(northKey);
    expect(Date.parse(rotated.old_keys_expire_at)).toBeGreaterThan(Date.now() - 60_000);
    expect((await as(northKey).post(reading('n1'))).status).toBe(202);
    expect((await as(rotated.api_key).post(reading('n1'))).status).toBe(202);
    // The grace ends at old_keys_expire_at: wait for that condition, not for a fixed time.
    const deadline = Date.now() + 10_000;
    let status = 202;
    while (status !== 401 && Date.now() < deadline) {
      status = (await as(northKey).post(reading('n1'))).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(401);
    const now = (await (await op().post('op')('/gateways/north/rotate', { grace_seconds: 0 })).json()) as any;
    expect((await as(rotated.api_key).post(reading('n1'))).status).toBe(401);
    expect((await as(now.api_key).post(reading('n1'))).status).toBe(202);
    northKey = now.api_key;
    expect((await op().post('op')('/gateways/north/rotate', { grace_seconds: -1 })).status).toBe(400);
    expect((await op().post('op')('/gateways/nobody/rotate')).status).toBe(404);
  });

  it('a disabled gateway gets 401; its meters stay registered', async () => {
    if (!ready()) return;
    const res = await op().del('op')('/gateways/north');
    expect(res.status).toBe(200);
    expect((await as(northKey).post(reading('n1'))).status).toBe(401);
    const n1 = (await (await as('op').get('/meters/n1')).json()) as any;
    expect(n1).toMatchObject({ meter_id: 'n1', gateway_id: 'north', disabled_at: null });
    expect((await op().post('op')('/gateways/north/rotate', {})).status).toBe(409);
    expect((await op().del('op')('/gateways/nobody')).status).toBe(404);
  });

  it('gateways from GATEWAY_API_KEYS are managed there: rotate and delete are 409; dropped from it, a gateway is disabled', async () => {
    if (!ready()) return;
    const rot = await op().post('op')('/gateways/gw/rotate', {});
    expect(rot.status).toBe(409);
    expect(((await rot.json()) as any).error.code).toBe('GATEWAY_MANAGED_BY_ENVIRONMENT');
    expect((await op().del('op')('/gateways/gw')).status).toBe(409);
    await syncGatewaysFromEnv(fx.t!.database.db, [{ gatewayId: 'gw', key: 'gw-key' }]);
    expect((await as('gw-2-key').get('/readings')).status).toBe(401);
    expect((await as('gw-key').get('/readings')).status).toBe(200);
    // A new key for an env gateway replaces the old one at the next start.
    await syncGatewaysFromEnv(fx.t!.database.db, [{ gatewayId: 'gw', key: 'gw-key-2' }]);
    expect((await as('gw-key').get('/readings')).status).toBe(401);
    expect((await as('gw-key-2').get('/readings')).status).toBe(200);
    await expect(syncGatewaysFromEnv(fx.t!.database.db, [{ gatewayId: 'north', key: 'k' }])).rejects.toThrow(/created through the API/);
  });

  it('the registry is the operator\'s: a gateway key gets 403 on its routes', async () => {
    if (!ready()) return;
    expect((await as('gw-key-2').get('/gateways')).status).toBe(403);
    expect((await op().del('gw-key-2')('/meters/n1')).status).toBe(403);
  });
});
