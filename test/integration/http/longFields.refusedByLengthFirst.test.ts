// Every amount, id, text and date-time field is refused by its length before any other check, whatever else
// is wrong with it, and quickly (a decimal of 100,000 digits took seconds to refuse, 1.9 MB minutes); no
// message repeats more than a short prefix of what was sent.
import { formatDecimal } from '../../../src/minting/amounts.js';
import { DATABASES, type TestDatabase, withDatabase } from '../../support/db.js';
import { consoleApp } from '../../support/console.js';
import { client, registerMeters, type Request } from '../../support/meters.js';

const long = (c: string, n = 100_000) => c.repeat(n);
/** No message repeats more than 40 characters of a value, so none is longer than this. */
const MAX_MESSAGE = 300;

type ErrorBody = { error: { code: string; message: string; field?: string } };

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let request: Request;
  withDatabase(kind, open, async (d) => {
    t = d;
    request = (await consoleApp(d.database)).request;
    await registerMeters(request, 'op', [{ meter_id: 'm-long' }]);
  });
  const api = () => client(request);
  const refusedByLength = async (res: Response, field: string) => {
    const body = (await res.json()) as ErrorBody;
    expect([res.status, body.error.field]).toEqual([400, field]);
    expect(body.error.message).toMatch(/must be at most \d+ characters \(got \d+\)/);
    expect(body.error.message.length).toBeLessThan(MAX_MESSAGE);
  };

  const reading = { meter_id: 'm-long', reading_timestamp: '2026-11-01T00:00:00Z', kwh_amount: '1' };
  // Values that also break another rule (not a decimal, not a date, not base58): the length is said first.
  it.each([
    ['kwh_amount', long('-')],
    ['kwh_amount', `0.${long('0')}1`],
    ['register_kwh', long('9')],
    ['reading_timestamp', long('x')],
    ['meter_id', long('x')],
    ['user_id', long('x')],
    ['wallet_address', long('0')],
    ['client_reading_id', long('x')],
    ['signature', long('0')],
  ])('POST /readings: a %s of 100,000 characters is 400 for its length', async (field, value) => {
    if (!t) return;
    const started = Date.now();
    const res = await api().post('gw-key')('/readings', { ...reading, ...(field === 'register_kwh' ? { kwh_amount: undefined } : {}), [field]: value });
    await refusedByLength(res, field);
    // The old formatDecimal took seconds on this; length first takes microseconds.
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it.each([
    ['meter_serial', long('x')],
    ['wallet_address', long('0')],
    ['timestamp', long('x')],
  ])('the GridTokenX batch route: a %s of 100,000 characters is refused for its length', async (field, value) => {
    if (!t) return;
    const res = await api().post('gw-key')('/api/v1/meters/batch/readings', { readings: [{ meter_serial: 'm-long', timestamp: '2026-11-01T00:00:00Z', kwh: 1, [field]: value }] });
    const body = (await res.json()) as ErrorBody;
    expect([res.status, body.error.field]).toEqual([422, `readings[0].${field}`]);
    expect(body.error.message).toMatch(/must be at most \d+ characters \(got \d+\)/);
  });

  it.each([
    ['max_kw', long('-')],
    ['active_from', long('x')],
    ['public_key', long('0')],
    ['user_id', long('x')],
    ['gateway_id', long('x')],
  ])('PUT /meters/:id: a %s of 100,000 characters is 400 for its length', async (field, value) => {
    if (!t) return;
    await refusedByLength(await api().put('op')('/meters/m-long', { [field]: value }), field);
  });

  it('PUT /meters/:id: a register baseline of 100,000 digits is 400 for its length', async () => {
    if (!t) return;
    await refusedByLength(await api().put('op')('/meters/m-reg', { kind: 'register', register_baseline: { kwh: long('1'), at: '2026-01-01T00:00:00Z' } }), 'register_baseline.kwh');
  });

  it.each(['from', 'to', 'meter_id', 'error'])('POST /readings/retry: a %s of 100,000 characters is 400 for its length', async (field) => {
    if (!t) return;
    await refusedByLength(await api().post('op')('/readings/retry', { [field]: long('x') }), field);
  });

  it('POST /minting/pause: a reason of 100,000 characters is 400 for its length', async () => {
    if (!t) return;
    await refusedByLength(await api().post('op')('/minting/pause', { reason: long('x') }), 'reason');
  });

  it('messages repeat at most 40 characters of what was sent, keys included', async () => {
    if (!t) return;
    const value = `${'a'.repeat(60)}`;
    const bad = (await (await api().post('gw-key')('/readings', { ...reading, kwh_amount: value })).json()) as ErrorBody;
    expect(bad.error.message).toContain(`${'a'.repeat(40)}…`);
    expect(bad.error.message).not.toContain('a'.repeat(41));
    const key = `k${'e'.repeat(10_000)}`;
    const unknownField = (await (await api().put('op')('/meters/m-long', { [key]: 1 })).json()) as ErrorBody;
    expect(unknownField.error.message.length).toBeLessThan(MAX_MESSAGE);
    expect(unknownField.error.field!.length).toBeLessThanOrEqual(41);
    const unknownSetting = (await (await api().put('op')('/settings', { [key]: 1 })).json()) as ErrorBody;
    expect(unknownSetting.error.message.length).toBeLessThan(MAX_MESSAGE);
  });
});

it('formatDecimal is linear in the digits (its trailing-zero regex was quadratic: 30,000 digits took a second)', () => {
  const started = Date.now();
  expect(formatDecimal({ digits: 1n, scale: 60_000 })).toBe(`0.${'0'.repeat(59_999)}1`);
  expect(formatDecimal({ digits: 10n ** 100_000n, scale: 100_000 })).toBe('1');
  expect(formatDecimal({ digits: 1500n, scale: 3 })).toBe('1.5');
  expect(formatDecimal({ digits: 0n, scale: 3 })).toBe('0');
  expect(Date.now() - started).toBeLessThan(1000);
});
