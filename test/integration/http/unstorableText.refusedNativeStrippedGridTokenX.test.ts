// Text Postgres cannot store (NUL, a lone UTF-16 surrogate such as "\ud800", which JSON carries as an escape)
// is refused with a 400 naming the field on the native routes (it reached the database and answered 500),
// and stripped from telemetry on the GridTokenX routes, which keep accepting the reading.
import { eq } from 'drizzle-orm';
import { readings } from '../../../src/db/schema.js';
import { DATABASES, type TestDatabase, withDatabase } from '../../support/db.js';
import { consoleApp } from '../../support/console.js';
import { client, registerMeters, type Request } from '../../support/meters.js';

type ErrorBody = { error: { code: string; message: string; field?: string } };
const LONE = ['\ud800', 'a\udc00b', 'x\udbff'];
let seq = 0;
const at = () => new Date(Date.UTC(2026, 10, 1) + ++seq * 3_600_000).toISOString();

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let request: Request;
  withDatabase(kind, open, async (d) => {
    t = d;
    request = (await consoleApp(d.database)).request;
    await registerMeters(request, 'op', [{ meter_id: 'm-text' }]);
  });
  const api = () => client(request);
  const refused = async (res: Response, field: string) => {
    const body = (await res.json()) as ErrorBody;
    expect([res.status, body.error.code, body.error.field]).toEqual([400, 'VALIDATION_ERROR', field]);
  };

  it.each(LONE)('POST /readings: a lone surrogate (%j) in meter_id or client_reading_id is 400 naming the field', async (text) => {
    if (!t) return;
    await refused(await api().post('gw-key')('/readings', { meter_id: text, reading_timestamp: at(), kwh_amount: '1' }), 'meter_id');
    await refused(await api().post('gw-key')('/readings', { readings: [{ meter_id: 'm-text', reading_timestamp: at(), kwh_amount: '1', client_reading_id: text }] }), 'readings[0].client_reading_id');
  });

  it.each([...LONE, 'nul\u0000'])('a pause reason, a void reason and a bulk meter_id holding %j are 400 naming the field', async (text) => {
    if (!t) return;
    await refused(await api().post('op')('/minting/pause', { reason: text }), 'reason');
    expect(((await (await api().get('op')('/minting')).json()) as { paused: boolean }).paused).toBe(false);
    await refused(await api().post('op')('/readings/00000000-0000-4000-8000-000000000000/void', { reason: text }), 'reason');
    await refused(await api().put('op')('/meters', [{ meter_id: text, gateway_id: 'gw', user_id: 'u', wallet_address: 'So11111111111111111111111111111111111111112', kind: 'interval', interval_minutes: 15, max_kw: '5', active_from: '2026-01-01T00:00:00Z' }]), '[0].meter_id');
    await refused(await api().post('op')('/readings/retry', { error: text }), 'error');
  });

  it.each(LONE)('GridTokenX routes: a lone surrogate (%j) in telemetry is stripped and the reading accepted', async (text) => {
    if (!t) return;
    const single = await api().post('gw-key')('/api/v1/meters/m-text/readings', { kwh: 1.5, timestamp: at(), weather_condition: `sun${text}ny`, zone_id: text });
    expect(single.status).toBe(200);
    const id = ((await single.json()) as { id: string }).id;
    const [row] = await t!.database.db.select().from(readings).where(eq(readings.id, id));
    const kept = text.replace(/[\ud800-\udfff]/g, '');
    expect(row!.telemetry).toMatchObject({ weather_condition: `sun${kept}ny`, zone_id: kept });
    const batch = await api().post('gw-key')('/api/v1/meters/batch/readings', { readings: [{ meter_serial: 'm-text', kwh: 2, timestamp: at(), weather_condition: `${text}rain\u0000` }] });
    expect([batch.status, ((await batch.json()) as { success_count: number }).success_count]).toEqual([200, 1]);
  });

  it('GridTokenX routes: a lone surrogate in the meter (identity is never altered) is a bad field, never a 500', async () => {
    if (!t) return;
    const res = await api().post('gw-key')('/api/v1/meters/batch/readings', { readings: [{ meter_serial: 'm\ud800', kwh: 2, timestamp: at() }] });
    const body = (await res.json()) as ErrorBody;
    expect([res.status, body.error.field]).toEqual([422, 'readings[0].meter_serial']);
  });

  it('a telemetry text cut at 100 characters never ends in half a surrogate pair', async () => {
    if (!t) return;
    const res = await api().post('gw-key')('/api/v1/meters/m-text/readings', { kwh: 1, timestamp: at(), weather_condition: `${'x'.repeat(99)}😀` });
    expect(res.status).toBe(200);
    const [row] = await t!.database.db.select().from(readings).where(eq(readings.id, ((await res.json()) as { id: string }).id));
    expect((row!.telemetry as Record<string, string>).weather_condition).toBe('x'.repeat(99));
  });
});
