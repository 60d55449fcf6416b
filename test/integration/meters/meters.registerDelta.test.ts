// Register meters (cumulative export registers): a reading's energy is its register minus the latest
// accepted one (or the baseline). A resend is a duplicate, an older reading is stale, a lower register
// went back until the operator records a new baseline, a delta must fit the meter's power over the time
// since, and a long offline gap is never stuck behind MAX_KWH_PER_READING. Postgres and PGlite.
import { eq } from 'drizzle-orm';
import { readings } from '../../../src/db/schema.js';
import { meterChangesOf } from '../../../src/meters/repo.js';
import { DATABASES } from '../../support/db.js';
import { client, registerMeters, type Request, useRegistry } from '../../support/meters.js';

const T0 = Date.UTC(2026, 9, 1);
const at = (hours: number) => new Date(T0 + hours * 3_600_000).toISOString();

describe.each(DATABASES)('on %s', (kind, open) => {
  const fx = useRegistry(kind, open, (f) =>
    registerMeters(f.request, 'op', [
      { meter_id: 'reg', kind: 'register', max_kw: '10', active_from: at(0), register_baseline: { kwh: '1000', at: at(0) } },
      { meter_id: 'big', kind: 'register', max_kw: '100000', active_from: at(0), register_baseline: { kwh: '0', at: at(0) } },
    ]).then(() => undefined),
  );
  const request: Request = (path, init) => fx.request(path, init);
  const post = (body: unknown) => client(request).post('gw-key')('/readings', body);
  const reg = (hours: number, register_kwh: string, meter_id = 'reg') => ({ meter_id, reading_timestamp: at(hours), register_kwh });
  const stored = async (id: string) => (await fx.t!.database.db.select().from(readings).where(eq(readings.id, id)))[0]!;
  const refusal = async (res: Response) => [res.status, ((await res.json()) as any).error.code];
  const ready = fx.ready;

  it('refuses to register a register meter without its baseline, naming the field', async () => {
    if (!ready()) return;
    const res = await client(request).put('op')('/meters/no-baseline', { gateway_id: 'gw', user_id: 'u', wallet_address: 'So11111111111111111111111111111111111111112', kind: 'register', max_kw: '5', active_from: at(0) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.field).toBe('register_baseline');
  });

  it('the first reading is the register minus the baseline; a resend is a duplicate; other energy at that time is a conflict', async () => {
    if (!ready()) return;
    const first = (await (await post(reg(1, '1005.5'))).json()) as any;
    expect(first).toMatchObject({ accepted: 1, duplicates: 0 });
    const row = await stored(first.readings[0].reading_id);
    expect([row.kwhAmount.replace(/\.?0+$/, ''), row.registerKwh!.replace(/\.?0+$/, ''), row.tokensToMint, row.status]).toEqual(['5.5', '1005.5', '5500000000', 'pending']);
    expect(await (await post(reg(1, '1005.50'))).json()).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(await refusal(await post(reg(1, '1006')))).toEqual([409, 'CONFLICTING_READING']);
  });

  it('an older reading is stale and a lower register went back (409); nothing is lost, since the later register covers it', async () => {
    if (!ready()) return;
    expect(await refusal(await post(reg(0.5, '1002')))).toEqual([409, 'STALE_READING']);
    const back = await post(reg(2, '1004'));
    expect(back.status).toBe(409);
    expect(((await back.json()) as any).error).toMatchObject({ code: 'REGISTER_WENT_BACK', field: 'register_kwh' });
  });

  it('a zero delta is recorded: stored, never queued', async () => {
    if (!ready()) return;
    const body = (await (await post(reg(2, '1005.5'))).json()) as any;
    expect(body.readings[0]).toMatchObject({ status: 'recorded', queue_position: null });
    const got = (await (await client(request).get('gw-key')(`/readings/${body.readings[0].reading_id}`)).json()) as any;
    expect(got).toMatchObject({ status: 'recorded', kwh_amount: '0', tokens_to_mint: '0', register_kwh: '1005.5' });
  });

  it('a delta must fit max_kw × hours since the latest register (× 1.05); exactly at the bound is taken', async () => {
    if (!ready()) return;
    const over = await post(reg(3, '1016.001')); // 10.501 kWh in one hour at 10 kW
    expect(over.status).toBe(422);
    const err = ((await over.json()) as any).error;
    expect(err).toMatchObject({ code: 'IMPLAUSIBLE_ENERGY', field: 'register_kwh' });
    expect(err.message).toMatch(/at most 10.5 kWh/);
    expect((await post(reg(3, '1016'))).status).toBe(202);
  });

  it('readings of one request are taken in timestamp order, each against the one before', async () => {
    if (!ready()) return;
    const body = (await (await post({ readings: [reg(6, '1040'), reg(4, '1020'), reg(5, '1030')] })).json()) as any;
    expect(body.accepted).toBe(3);
    const deltas = await Promise.all(body.readings.map(async (r: any) => (await stored(r.reading_id)).kwhAmount.replace(/\.?0+$/, '')));
    expect(deltas).toEqual(['10', '4', '10']);
  });

  it('a new baseline (meter exchange) starts the deltas again, is logged with old and new values, and cannot reach back before the latest reading', async () => {
    if (!ready()) return;
    const early = await client(request).put('op')('/meters/reg', { register_baseline: { kwh: '0', at: at(5.5) } });
    expect(early.status).toBe(422);
    expect(((await early.json()) as any).error).toMatchObject({ code: 'BASELINE_TOO_EARLY', field: 'register_baseline.at' });
    const res = await client(request).put('op')('/meters/reg', { register_baseline: { kwh: '0', at: at(7) } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ register_baseline: { kwh: '0', at: at(7) }, last_register: { kwh: '0', at: at(7) }, max_kw: '10' });
    const body = (await (await post(reg(8, '3'))).json()) as any;
    expect((await stored(body.readings[0].reading_id)).kwhAmount.replace(/\.?0+$/, '')).toBe('3');
    const changes = await meterChangesOf(fx.t!.database.db, 'reg');
    const last = changes[changes.length - 1]!;
    expect(last.actor).toBe('operator');
    expect((last.oldValues as any).registerBaselineKwh).toMatch(/^1000(\.0+)?$/);
    expect((last.newValues as any).registerBaselineKwh).toMatch(/^0(\.0+)?$/);
  });

  it('a meter offline for ten days delivers its whole delta, past MAX_KWH_PER_READING (1,000 kWh here)', async () => {
    if (!ready()) return;
    const body = (await (await post(reg(8 + 240, '2303'))).json()) as any; // 2,300 kWh in 240 h at 10 kW
    expect(body.accepted).toBe(1);
    const row = await stored(body.readings[0].reading_id);
    expect(row.tokensToMint).toBe('2300000000000');
  });

  it('a delta larger than one transaction can mint is refused, saying what to do', async () => {
    if (!ready()) return;
    const res = await post(reg(1, '40000', 'big'));
    expect(res.status).toBe(422);
    expect(((await res.json()) as any).error).toMatchObject({ code: 'READING_TOO_LARGE', field: 'register_kwh' });
    expect((await post(reg(1, '30000', 'big'))).status).toBe(202);
  });

  it('an interval amount for a register meter is refused, naming the field', async () => {
    if (!ready()) return;
    const res = await post({ meter_id: 'reg', reading_timestamp: at(300), kwh_amount: '1' });
    expect(res.status).toBe(422);
    expect(((await res.json()) as any).error).toMatchObject({ code: 'WRONG_AMOUNT_FIELD', field: 'kwh_amount' });
  });
});
