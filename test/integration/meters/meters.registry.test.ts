// The registry as operators keep it: PUT merges (only the fields given change, each change logged), an
// array PUT is all or nothing with errors naming `[i].field`, an owner or wallet change applies to
// readings accepted after it, a disabled meter's readings are refused, and meters page by meter_id.
// Postgres and PGlite.
import { Keypair } from '@solana/web3.js';
import { count, eq } from 'drizzle-orm';
import { meters } from '../../../src/db/schema.js';
import { meterChangesOf } from '../../../src/meters/repo.js';
import { DATABASES } from '../../support/db.js';
import { client, meterSpec, registerMeters, type Request, useRegistry } from '../../support/meters.js';

const at = (hours: number) => new Date(Date.UTC(2026, 9, 1) + hours * 3_600_000).toISOString();

describe.each(DATABASES)('on %s', (kind, open) => {
  const fx = useRegistry(kind, open, (f) => registerMeters(f.request, 'op', [{ meter_id: 'house-1' }]).then(() => undefined));
  const request: Request = (path, init) => fx.request(path, init);
  const op = () => client(request);
  const error = async (res: Response) => ({ status: res.status, ...(((await res.json()) as any).error ?? {}) });
  const meterRows = async () => (await fx.t!.database.db.select({ n: count() }).from(meters))[0]!.n;

  it('a PUT changes only the fields it gives, and the change log keeps who, when, before and after', async () => {
    if (!fx.ready()) return;
    const { totals: _totals, ...before } = (await (await op().get('op')('/meters/house-1')).json()) as any;
    const res = await op().put('op')('/meters/house-1', { max_kw: '12.5' });
    expect(res.status).toBe(200);
    const after = (await res.json()) as any;
    expect(after).toEqual({ ...before, max_kw: '12.5', updated_at: expect.any(String) });
    const [created, changed] = await meterChangesOf(fx.t!.database.db, 'house-1');
    expect(created!.oldValues).toBeNull();
    expect(changed).toMatchObject({ actor: 'operator', oldValues: expect.objectContaining({ maxKw: expect.stringMatching(/^1000000/) }), newValues: expect.objectContaining({ maxKw: expect.stringMatching(/^12\.5/) }) });
    expect(changed!.changedAt.getTime()).toBeGreaterThanOrEqual(created!.changedAt.getTime());
  });

  it('an owner and wallet change applies to readings accepted after it; earlier ones keep theirs', async () => {
    if (!fx.ready()) return;
    const post = (hours: number) => op().post('gw-key')('/readings', { meter_id: 'house-1', reading_timestamp: at(hours), kwh_amount: '1' }).then((r) => r.json()) as Promise<any>;
    const first = await post(1);
    const wallet = Keypair.generate().publicKey.toBase58();
    expect((await op().put('op')('/meters/house-1', { user_id: 'new-owner', wallet_address: wallet })).status).toBe(200);
    const second = await post(2);
    const read = async (b: any) => (await (await op().get('op')(`/readings/${b.readings[0].reading_id}`)).json()) as any;
    expect((await read(first)).user_id).toBe('owner-of-house-1');
    expect(await read(second)).toMatchObject({ user_id: 'new-owner', wallet_address: wallet });
  });

  it('an array PUT is all or nothing, naming the bad entry; registry rules are 422 or 409', async () => {
    if (!fx.ready()) return;
    const n = await meterRows();
    const bad = await op().put('op')('/meters', [meterSpec({ meter_id: 'ok-1' }), meterSpec({ meter_id: 'bad-1', max_kw: '0' })]);
    expect(await error(bad)).toMatchObject({ status: 400, field: '[1].max_kw' });
    const gone = await op().put('op')('/meters', [meterSpec({ meter_id: 'ok-1' }), meterSpec({ meter_id: 'bad-2', gateway_id: 'nobody' })]);
    expect(await error(gone)).toMatchObject({ status: 422, code: 'UNKNOWN_GATEWAY', field: '[1].gateway_id' });
    expect(await meterRows()).toBe(n);
    expect(await error(await op().put('op')('/meters/house-1', { kind: 'register' }))).toMatchObject({ status: 422, code: 'METER_KIND_FIXED' });
    expect(await error(await op().put('op')('/meters/house-1', { maxkw: '3' }))).toMatchObject({ status: 400, field: 'maxkw' });
    expect(await error(await op().put('op')('/meters/house-1', { meter_id: 'house-2' }))).toMatchObject({ status: 400, field: 'meter_id' });
    expect(await error(await op().put('op')('/meters/new-1', { max_kw: '3' }))).toMatchObject({ status: 400, field: 'gateway_id' });
    expect(await error(await op().put('op')('/meters', []))).toMatchObject({ status: 400 });
    expect((await op().put('op')('/meters', Array.from({ length: 1001 }, (_, i) => meterSpec({ meter_id: `x${i}` })))).status).toBe(413);
  });

  it('an array PUT names every bad entry at once (the first in code and field, each in errors), and stores none', async () => {
    if (!fx.ready()) return;
    const n = await meterRows();
    const parse = await op().put('op')('/meters', [meterSpec({ meter_id: 'all-1' }), meterSpec({ meter_id: 'all-2', max_kw: '-5' }), meterSpec({ meter_id: 'all-3' }), meterSpec({ meter_id: 'all-4', wallet_address: 'nope' })]);
    const e1 = await error(parse);
    expect(e1).toMatchObject({ status: 400, code: 'VALIDATION_ERROR', field: '[1].max_kw' });
    expect(e1.errors.map((x: { field: string }) => x.field)).toEqual(['[1].max_kw', '[3].wallet_address']);
    // Entries that parse but break a registry rule (an unknown gateway, a new meter missing a field): each one too.
    const rules = await op().put('op')('/meters', [meterSpec({ meter_id: 'all-5', gateway_id: 'nobody' }), meterSpec({ meter_id: 'all-6' }), { meter_id: 'all-7', max_kw: '3' }]);
    const e2 = await error(rules);
    expect(e2.errors.map((x: { field: string }) => x.field).sort()).toEqual(['[0].gateway_id', '[2].gateway_id']);
    expect(await meterRows()).toBe(n);
  });

  it('a disabled meter: its readings are UNKNOWN_METER, a change to it is 409; it stays listed', async () => {
    if (!fx.ready()) return;
    await registerMeters(request, 'op', [{ meter_id: 'retired' }]);
    expect((await op().del('op')('/meters/retired')).status).toBe(200);
    const res = await op().post('gw-key')('/readings', { meter_id: 'retired', reading_timestamp: at(1), kwh_amount: '1' });
    expect(await error(res)).toMatchObject({ status: 422, code: 'UNKNOWN_METER', message: 'meter retired is disabled' });
    expect(await error(await op().put('op')('/meters/retired', { max_kw: '1' }))).toMatchObject({ status: 409, code: 'METER_DISABLED' });
    expect((await op().del('op')('/meters/nobody')).status).toBe(404);
    const [row] = await fx.t!.database.db.select().from(meters).where(eq(meters.meterId, 'retired'));
    expect(row!.disabledAt).not.toBeNull();
  });

  it('pages meters by meter_id, filtered by gateway', async () => {
    if (!fx.ready()) return;
    await registerMeters(request, 'op', ['p-1', 'p-2', 'p-3'].map((meter_id) => ({ meter_id, gateway_id: 'gw-2' })));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (await op().get('op')(`/meters?gateway=gw-2&limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json()) as any;
      seen.push(...page.meters.map((m: any) => m.meter_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(['p-1', 'p-2', 'p-3']);
    expect((await op().get('op')('/meters?cursor=nope')).status).toBe(400);
    expect((await op().get('op')('/meters/nobody')).status).toBe(404);
  });
});
