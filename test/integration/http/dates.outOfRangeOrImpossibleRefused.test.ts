// The service's instants run from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z (README, API). A date
// outside them (years 275760, 10000, -271821: a JS Date holds them, Postgres or a four-digit year does not) is
// a 400 naming the field, cursors included (it was a 500 and an error in the log); a date that does not exist
// (February 30th, February 29th of 2026, April 31st, 24:00) is a 400 naming the field (it was moved on silently).
import { DATABASES, type TestDatabase, withDatabase } from '../../support/db.js';
import { consoleApp } from '../../support/console.js';
import { client, registerMeters, type Request } from '../../support/meters.js';

type ErrorBody = { error: { code: string; message: string; field?: string } };
const OUT_OF_RANGE = ['+275760-09-13T00:00:00.000Z', '+010000-01-01T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '10000-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '9999-12-31T23:59:59-01:00'];
const IMPOSSIBLE = ['2026-02-30T00:00:00Z', '2026-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-01-01T24:00:00Z', '2026-13-01T00:00:00Z', '2026-01-01T23:60:00Z', '2026-01-01T00:00:00+25:00'];
const cursorAt = (iso: string) => Buffer.from(JSON.stringify([iso, '0b7f3c1a-4d0e-4f8e-8a40-111111111111'])).toString('base64url');
const ORIGIN = 'http://console.test';

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let request: Request;
  let cookie = '';
  withDatabase(kind, open, async (d) => {
    t = d;
    request = (await consoleApp(d.database)).request;
    await registerMeters(request, 'op', [{ meter_id: 'm-date' }]);
    const res = await request('/console/login', { method: 'POST', headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=op' });
    cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  });
  const api = () => client(request);
  const refused = async (res: Response, field: string) => {
    const body = (await res.json()) as ErrorBody;
    expect([res.status, body.error.field]).toEqual([400, field]);
  };

  it.each(OUT_OF_RANGE)('GET /readings with a cursor at %s is 400 naming the cursor', async (iso) => {
    if (!t) return;
    await refused(await api().get('op')(`/readings?cursor=${cursorAt(iso)}`), 'cursor');
    await refused(await api().get('gw-key')(`/readings?cursor=${cursorAt(iso)}`), 'cursor');
  });

  it.each(OUT_OF_RANGE)('POST /readings/retry with from or to at %s is 400 naming it', async (iso) => {
    if (!t) return;
    await refused(await api().post('op')('/readings/retry', { from: iso }), 'from');
    await refused(await api().post('op')('/readings/retry', { to: iso }), 'to');
  });

  it.each(OUT_OF_RANGE)("the console's readings page with from, to or a cursor at %s is 400, never a 500", async (iso) => {
    if (!t) return;
    for (const q of [`from=${encodeURIComponent(iso)}`, `to=${encodeURIComponent(iso)}`, `cursor=${cursorAt(iso)}`]) {
      for (const path of ['/console/readings', '/console/fragments/readings']) {
        const res = await request(`${path}?${q}`, { headers: { cookie } });
        expect([path, q, res.status]).toEqual([path, q, 400]);
      }
    }
  });

  it.each(IMPOSSIBLE)('%s is 400 naming the field wherever a date-time is taken', async (iso) => {
    if (!t) return;
    await refused(await api().post('gw-key')('/readings', { meter_id: 'm-date', reading_timestamp: iso, kwh_amount: '1' }), 'reading_timestamp');
    await refused(await api().put('op')('/meters/m-date', { active_from: iso }), 'active_from');
    await refused(await api().post('op')('/readings/retry', { from: iso }), 'from');
    const gtx = await api().post('gw-key')('/api/v1/meters/m-date/readings', { kwh: 1, timestamp: iso });
    expect([gtx.status, ((await gtx.json()) as ErrorBody).error.field]).toEqual([422, 'timestamp']);
    const page = await request(`/console/readings?from=${encodeURIComponent(iso.replace(/Z$/, ''))}`, { headers: { cookie } });
    expect(page.status).toBe(400);
  });

  it('the range ends are taken: 1970-01-01T00:00:00Z, 9999-12-31T23:59:59.999Z, a leap day that exists', async () => {
    if (!t) return;
    for (const iso of ['1970-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '2024-02-29T12:00:00Z']) {
      expect([iso, (await api().post('op')('/readings/retry', { from: iso })).status]).toEqual([iso, 200]);
    }
    expect((await request('/console/readings?from=2024-02-29T12:00', { headers: { cookie } })).status).toBe(200);
  });
});
