// Energy fits in time: an interval meter's reading is at most max_kw × min(time since the previous
// accepted reading, interval) × 1.05, a late reading must also leave the next one within its now shorter
// window, and readings of one request are checked in timestamp order. So the same energy 1 ms later is
// refused, and concurrent requests cannot overfill a stretch together. Postgres and PGlite.
import { DATABASES } from '../../support/db.js';
import { client, registerMeters, type Request, useRegistry } from '../../support/meters.js';

const T0 = Date.UTC(2026, 9, 1);
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

describe.each(DATABASES)('on %s', (kind, open) => {
  // 4 kW over 15 minutes: at most 1 kWh a reading (1.05 with the tolerance).
  const fx = useRegistry(kind, open, (f) =>
    registerMeters(f.request, 'op', ['solar', 'race', 'fresh'].map((meter_id) => ({ meter_id, kind: 'interval' as const, interval_minutes: 15, max_kw: '4', active_from: at(0) }))).then(() => undefined),
  );
  const request: Request = (path, init) => fx.request(path, init);
  const post = (body: unknown) => client(request).post('gw-key')('/readings', body);
  const r = (minutes: number, kwh: string, meter_id = 'solar') => ({ meter_id, reading_timestamp: at(minutes), kwh_amount: kwh });
  const error = async (res: Response) => ({ status: res.status, ...(((await res.json()) as any).error ?? {}) });
  const ready = fx.ready;

  it('takes what the meter can produce over its interval, and refuses more, saying the bound', async () => {
    if (!ready()) return;
    const over = await error(await post(r(15, '1.051')));
    expect(over).toMatchObject({ status: 422, code: 'IMPLAUSIBLE_ENERGY', field: 'kwh_amount' });
    expect(over.message).toMatch(/at most 1\.05 kWh/);
    expect((await post(r(15, '1.05'))).status).toBe(202);
  });

  it('the same energy again 1 ms later is refused: that millisecond holds almost nothing', async () => {
    if (!ready()) return;
    const again = await post({ meter_id: 'solar', reading_timestamp: new Date(T0 + 15 * 60_000 + 1).toISOString(), kwh_amount: '1.05' });
    expect(await error(again)).toMatchObject({ status: 422, code: 'IMPLAUSIBLE_ENERGY' });
  });

  it('a first reading counts from active_from', async () => {
    if (!ready()) return;
    expect(await error(await post(r(5, '1', 'fresh')))).toMatchObject({ status: 422, code: 'IMPLAUSIBLE_ENERGY' }); // 5 min: at most 0.35
    expect((await post(r(5, '0.35', 'fresh'))).status).toBe(202);
  });

  it('a late reading between two accepted ones must leave the next within its shorter window', async () => {
    if (!ready()) return;
    expect((await post(r(45, '1'))).status).toBe(202);
    expect((await post(r(30, '1'))).status).toBe(202); // 15 min after 0:15 and before 0:45: both fit
    // At 0:40 its own 10 minutes allow 0.7 kWh, but 0:45's 1 kWh would then have had 5 minutes (0.35).
    const late = await error(await post(r(40, '0.5')));
    expect(late).toMatchObject({ status: 422, code: 'IMPLAUSIBLE_ENERGY', field: 'reading_timestamp' });
    expect(late.message).toMatch(/would leave the accepted reading at .*00:45:00.000Z/);
  });

  it('readings of one request are checked in timestamp order, each against the earlier ones', async () => {
    if (!ready()) return;
    const body = (await (await post({ readings: [r(75, '1'), r(60, '1')] })).json()) as any;
    expect(body.accepted).toBe(2);
    const both = await post({ readings: [r(90, '1'), { meter_id: 'solar', reading_timestamp: new Date(T0 + 90 * 60_000 + 1).toISOString(), kwh_amount: '1' }] });
    expect(await error(both)).toMatchObject({ status: 422, code: 'IMPLAUSIBLE_ENERGY', field: 'readings[1].kwh_amount' });
    // Nothing of that request was stored: 1:30 alone is still free.
    expect((await post(r(90, '1'))).status).toBe(202);
  });

  it('two concurrent requests 1 ms apart for one stretch: one is accepted, the other refused', async () => {
    if (!ready()) return;
    const a = post(r(15, '1', 'race'));
    const b = post({ meter_id: 'race', reading_timestamp: new Date(T0 + 15 * 60_000 + 1).toISOString(), kwh_amount: '1' });
    const statuses = (await Promise.all([a, b])).map((x) => x.status).sort();
    expect(statuses).toEqual([202, 422]);
  });
});
