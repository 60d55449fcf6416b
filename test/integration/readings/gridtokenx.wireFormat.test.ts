// GridTokenX gateways post unchanged: their reading shapes (the simulator's monitoring and full-telemetry
// payloads, the gateway's CreateReadingRequest fields; test data written here) on their three paths are
// accepted through the native rules and answered as their clients read answers: 200 single/batch shapes,
// duplicates 200, conflicting resends 409, unknown meters 404, bad fields and register meters 422, consumption
// stored `recorded`, kWh rounded half-even with the raw float kept, telemetry bounded and stripped of control
// characters, signed meters refused naming meter_signature, a batch with a bad reading refused whole and then
// stored reading by reading by their fallback, a mixed batch of 1,000, and limits answered 503 + Retry-After.
// Real Postgres server and PGlite.
import { Keypair } from '@solana/web3.js';
import { count, eq, inArray } from 'drizzle-orm';
import { readings } from '../../../src/db/schema.js';
import { GRIDTOKENX_BATCH_PATHS } from '../../../src/readings/gridTokenXRoutes.js';
import { TELEMETRY_FIELDS } from '../../../src/readings/parseGridTokenX.js';
import { DATABASES } from '../../support/db.js';
import { client, registerMeters, type RegistryFixture, useRegistry } from '../../support/meters.js';

const T0 = Date.UTC(2026, 9, 1);
/** Their timestamp format: seconds, `Z`. */
const ts = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const wallet = Keypair.generate().publicKey.toBase58();

/** The simulator's default (grid monitoring) payload. */
const monitoring = (serial: string, minutes: number, kwh: number) => ({
  meter_serial: serial,
  meter_id: serial,
  kwh,
  timestamp: ts(minutes),
  energy_generated: 1.75,
  energy_consumed: 0.5,
  voltage: 229.8,
  frequency: 49.98,
  power_factor: 0.96,
  thd_voltage: 2.4,
  thd_current: 5.1,
  zone_id: 7,
  latitude: 13.7563,
  longitude: 100.5018,
  battery_level: 81.5,
});

/** The simulator's full telemetry payload (with fields this service ignores: reading_timestamp, firmware); wallet_address as given. */
const full = (serial: string, minutes: number, kwh: number, walletAddress: string | null = null) => ({
  ...monitoring(serial, minutes, kwh),
  meter_type: 'Solar_Prosumer',
  wallet_address: walletAddress,
  meter_signature: null,
  reading_timestamp: ts(minutes),
  surplus_energy: Math.max(kwh, 0),
  deficit_energy: Math.max(-kwh, 0),
  total_energy_generated: 1204.5,
  total_energy_consumed: 980.25,
  current: 7.9,
  temperature: 31.5,
  weather_condition: 'Partly Cloudy',
  rec_eligible: true,
  carbon_offset: 0.62,
  net_emission: -0.41,
  firmware: 'ignored-by-this-service',
});

describe.each(DATABASES)('the GridTokenX wire format on %s', (kind, open) => {
  const fx: RegistryFixture = useRegistry(kind, open, async (f) => {
    await registerMeters(f.request, 'op', [
      { meter_id: 'gtx-1', wallet_address: wallet },
      { meter_id: 'gtx-2' },
      { meter_id: 'gtx-cons' },
      { meter_id: 'gtx-round' },
      { meter_id: 'gtx-tel' },
      { meter_id: 'gtx-reg', kind: 'register' },
      { meter_id: 'gtx-signed', public_key: 'AKnL4NNf3DGWZJS6cPknBuEGnVsV4A4m5tgebLHaRSZ9' },
      { meter_id: 'gtx-other', gateway_id: 'gw-2' },
      ...['a', 'b', 'c', 'd', 'e'].map((x) => ({ meter_id: `gtx-fb-${x}` })),
      ...Array.from({ length: 100 }, (_, i) => ({ meter_id: `gtx-mix-${i}` })),
    ]);
  });
  const post = (path: string, body: unknown, token = 'gw-key') => client(fx.request).post(token)(path, body);
  const single = (serial: string, body: unknown) => post(`/api/v1/meters/${serial}/readings`, body);
  const batch = (body: unknown, path: string = GRIDTOKENX_BATCH_PATHS[0]) => post(path, body);
  const reading = async (id: string) => (await client(fx.request).get('gw-key')(`/readings/${id}`)).json() as Promise<any>;
  const db = () => fx.t!.database.db;
  const rowsOf = async (meterIds: string[]) => db().select().from(readings).where(inArray(readings.meterId, meterIds));

  it('answers a single reading in their monitoring shape with their 200 body, and GET /readings/:id shows it with its telemetry', async () => {
    if (!fx.ready()) return;
    const res = await single('gtx-1', monitoring('gtx-1', 15, 1.25));
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body).toEqual({ id: expect.any(String), serial_number: 'gtx-1', kwh: 1.25, timestamp: '2026-10-01T00:15:00.000Z', minted: false, tx_signature: null, message: 'Reading queued for minting' });
    const got = await reading(body.id);
    expect(got).toMatchObject({ meter_id: 'gtx-1', kwh_amount: '1.25', tokens_to_mint: '1250000000', status: 'pending', gateway_id: 'gw' });
    expect(got.telemetry).toEqual({ energy_generated: 1.75, energy_consumed: 0.5, voltage: 229.8, frequency: 49.98, power_factor: 0.96, thd_voltage: 2.4, thd_current: 5.1, zone_id: 7, latitude: 13.7563, longitude: 100.5018, battery_level: 81.5, kwh: '1.25', kwh_raw: 1.25 });
  });

  it('takes the full telemetry payload, ignores fields it does not know, checks wallet_address against the registry', async () => {
    if (!fx.ready()) return;
    const res = await single('gtx-1', full('gtx-1', 30, 2, wallet));
    expect(res.status).toBe(200);
    const got = await reading(((await res.json()) as any).id);
    expect(got.telemetry).toMatchObject({ meter_type: 'Solar_Prosumer', weather_condition: 'Partly Cloudy', rec_eligible: true, carbon_offset: 0.62, current: 7.9, surplus_energy: 2, deficit_energy: 0 });
    expect(got.telemetry).not.toHaveProperty('firmware');
    expect(got.telemetry).not.toHaveProperty('reading_timestamp');
    expect(got.telemetry).not.toHaveProperty('wallet_address');
    const other = await single('gtx-2', full('gtx-2', 15, 1, wallet));
    expect(other.status).toBe(422);
    expect(((await other.json()) as any).error).toMatchObject({ code: 'WALLET_MISMATCH', field: 'wallet_address' });
  });

  it('rounds kwh half-even to GRIDTOKENX_KWH_DECIMALS (6) and keeps the float as sent in telemetry', async () => {
    if (!fx.ready()) return;
    const cases: [number, string][] = [
      [0.24999999999999997, '0.25'],
      [0.0000125, '0.000012'],
      [0.0000135, '0.000014'],
      [0.1 + 0.2, '0.3'],
    ];
    for (const [i, [kwh, stored]] of cases.entries()) {
      const res = await single('gtx-round', monitoring('gtx-round', 15 * (i + 1), kwh));
      expect(res.status).toBe(200);
      const body = (await res.json()) as any;
      expect(body.kwh).toBe(Number(stored));
      const got = await reading(body.id);
      expect(got.kwh_amount).toBe(stored);
      expect(got.telemetry.kwh_raw).toBe(kwh);
    }
  });

  it('stores kwh ≤ 0 as a consumption reading: recorded, nothing to mint; its resend is a duplicate, another net for it a 409', async () => {
    if (!fx.ready()) return;
    const first = await single('gtx-cons', full('gtx-cons', 15, -0.8));
    expect(first.status).toBe(200);
    const body = (await first.json()) as any;
    expect(body).toMatchObject({ kwh: -0.8, minted: false, tx_signature: null, message: expect.stringMatching(/^Consumption/) });
    expect(await reading(body.id)).toMatchObject({ status: 'recorded', kwh_amount: '0', tokens_to_mint: '0', telemetry: expect.objectContaining({ kwh: '-0.8', deficit_energy: 0.8 }) });
    const zero = await single('gtx-cons', monitoring('gtx-cons', 30, 0));
    expect(zero.status).toBe(200);
    expect((await reading(((await zero.json()) as any).id)).status).toBe('recorded');

    const again = await single('gtx-cons', full('gtx-cons', 15, -0.8));
    expect(again.status).toBe(200);
    expect(((await again.json()) as any).id).toBe(body.id);
    const other = await single('gtx-cons', full('gtx-cons', 15, -0.5));
    expect(other.status).toBe(409);
    expect(((await other.json()) as any).error).toMatchObject({ code: 'CONFLICTING_READING', field: 'kwh' });
    // A production reading for the same instant is a conflict too.
    expect((await single('gtx-cons', monitoring('gtx-cons', 15, 0.5))).status).toBe(409);
    expect(await rowsOf(['gtx-cons'])).toHaveLength(2);
  });

  it('answers a resend after a lost answer 200 with the same id (single and batch), and stores it once', async () => {
    if (!fx.ready()) return;
    const payload = monitoring('gtx-2', 45, 0.75);
    const [a, b] = [await single('gtx-2', payload), await single('gtx-2', payload)];
    expect([a.status, b.status]).toEqual([200, 200]);
    const [ja, jb] = [(await a.json()) as any, (await b.json()) as any];
    expect(jb.id).toBe(ja.id);
    expect(jb.message).toMatch(/already accepted/);
    const readingsBody = { readings: [monitoring('gtx-2', 60, 0.5), full('gtx-2', 75, -0.25)] };
    for (const path of GRIDTOKENX_BATCH_PATHS) {
      const res = await batch(readingsBody, path);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ success_count: 2, failed_count: 0, message: expect.any(String) });
    }
    const conflicting = await single('gtx-2', monitoring('gtx-2', 45, 0.7));
    expect(conflicting.status).toBe(409);
    expect(await rowsOf(['gtx-2'])).toHaveLength(3);
  });

  it('answers an unknown meter 404 (their "Meter not found"), a register meter 422, a meter of another gateway 403', async () => {
    if (!fx.ready()) return;
    const unknown = await single('nope', monitoring('nope', 15, 1));
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as any).error).toMatchObject({ code: 'UNKNOWN_METER', field: 'serial', message: expect.stringMatching(/^Meter not found/) });
    const { meter_serial: _, ...byId } = monitoring('nope', 15, 1);
    const inBatch = await batch({ readings: [monitoring('gtx-2', 90, 1), byId] });
    expect(inBatch.status).toBe(404);
    expect(((await inBatch.json()) as any).error).toMatchObject({ code: 'UNKNOWN_METER', field: 'readings[1].meter_id' });

    const register = await single('gtx-reg', monitoring('gtx-reg', 15, 1));
    expect(register.status).toBe(422);
    expect(((await register.json()) as any).error).toMatchObject({ code: 'REGISTER_METER', field: 'kwh' });
    const other = await single('gtx-other', monitoring('gtx-other', 15, 1));
    expect(other.status).toBe(403);
    expect(((await other.json()) as any).error).toMatchObject({ code: 'METER_NOT_YOURS' });
    expect(await rowsOf(['gtx-reg', 'gtx-other'])).toHaveLength(0);
  });

  it('answers bad fields 422 naming them: a missing timestamp, a kwh that is not a number, a body naming another meter', async () => {
    if (!fx.ready()) return;
    const { timestamp: _, ...noTime } = monitoring('gtx-2', 15, 1);
    const cases: [unknown, string][] = [
      [noTime, 'timestamp'],
      [{ ...monitoring('gtx-2', 15, 1), timestamp: 'yesterday' }, 'timestamp'],
      [{ ...monitoring('gtx-2', 15, 1), kwh: '1.0' }, 'kwh'],
      [{ ...monitoring('gtx-2', 15, 1), kwh: undefined }, 'kwh'],
      [{ ...monitoring('gtx-2', 15, 1), kwh: 5000 }, 'kwh'],
      [monitoring('gtx-1', 15, 1), 'meter_serial'],
      [{ ...monitoring('gtx-2', 15, 1), timestamp: new Date(Date.now() + 3_600_000).toISOString() }, 'timestamp'],
    ];
    for (const [body, field] of cases) {
      const res = await single('gtx-2', body);
      expect([res.status, ((await res.json()) as any).error.field]).toEqual([422, field]);
    }
    const inBatch = await batch({ readings: [monitoring('gtx-2', 105, 1), noTime] });
    expect(inBatch.status).toBe(422);
    expect(((await inBatch.json()) as any).error).toMatchObject({ field: 'readings[1].timestamp', message: expect.stringMatching(/timestamp is required/) });
    expect((await batch({ readings: [] })).status).toBe(422);
    expect((await batch({ nothing: true })).status).toBe(422);
    expect((await fx.request('/api/v1/meters/gtx-2/readings', { method: 'POST', body: '{', headers: { authorization: 'Bearer gw-key' } })).status).toBe(400);
    expect((await single('gtx-2', monitoring('gtx-2', 15, 1)).then((r) => r.status))).toBe(200); // none of the above was stored
  });

  it('refuses readings of a meter with a public_key, naming meter_signature (their scheme is not verified here)', async () => {
    if (!fx.ready()) return;
    for (const body of [monitoring('gtx-signed', 15, 1), { ...monitoring('gtx-signed', 15, 1), meter_signature: 'c2lnbmVkLWJ5LXRoZS1tZXRlcg==' }]) {
      const res = await single('gtx-signed', body);
      expect(res.status).toBe(422);
      expect(((await res.json()) as any).error).toMatchObject({ code: 'BAD_SIGNATURE', field: 'meter_signature' });
    }
    const inBatch = await batch({ readings: [monitoring('gtx-2', 120, 1), monitoring('gtx-signed', 30, 1)] });
    expect(((await inBatch.json()) as any).error).toMatchObject({ code: 'BAD_SIGNATURE', field: 'readings[1].meter_signature' });
  });

  it('keeps telemetry bounded, with control characters stripped rather than refused; control characters in identity are a bad field', async () => {
    if (!fx.ready()) return;
    const body = { ...full('gtx-tel', 15, 1), weather_condition: 'Sun\u0000ny\u0007\r\n', meter_type: 'x'.repeat(5000), location: { nested: 'dropped' }, voltage: { not: 'a number' } };
    const res = await single('gtx-tel', body);
    expect(res.status).toBe(200);
    const got = await reading(((await res.json()) as any).id);
    expect(got.telemetry.weather_condition).toBe('Sunny');
    expect(got.telemetry.meter_type).toHaveLength(100);
    expect(got.telemetry).not.toHaveProperty('location');
    expect(got.telemetry).not.toHaveProperty('voltage');
    // Every field at its longest still stays small.
    const longest = Object.fromEntries(TELEMETRY_FIELDS.map((k) => [k, 'y'.repeat(5000)]));
    const worst = await single('gtx-tel', { ...longest, kwh: 1, timestamp: ts(30) });
    expect(worst.status).toBe(200);
    expect(JSON.stringify((await reading(((await worst.json()) as any).id)).telemetry).length).toBeLessThan(4096);

    const badSerial = await batch({ readings: [{ ...monitoring('gtx-tel', 45, 1), meter_serial: 'gtx-tel\u0000' }] });
    expect(badSerial.status).toBe(422);
    expect(((await badSerial.json()) as any).error.field).toBe('readings[0].meter_serial');
    expect(await rowsOf(['gtx-tel'])).toHaveLength(2);
  });

  it('refuses a batch with one bad reading whole, naming it; their one-by-one fallback then stores the good ones', async () => {
    if (!fx.ready()) return;
    const list = ['a', 'b', 'c', 'd', 'e'].map((x, i) => monitoring(`gtx-fb-${x}`, 15, i === 2 ? 99_999 : 0.5 + i));
    const res = await batch({ readings: list }, GRIDTOKENX_BATCH_PATHS[1]);
    expect(res.status).toBe(422);
    expect(((await res.json()) as any).error.field).toBe('readings[2].kwh');
    expect(await rowsOf(list.map((r) => r.meter_serial))).toHaveLength(0);

    // What their client does on a 4xx from the batch route: each reading alone on the single route.
    const one = await Promise.all(list.map((r) => single(r.meter_serial, r)));
    expect(one.map((r) => r.status)).toEqual([200, 200, 422, 200, 200]);
    const stored = await rowsOf(list.map((r) => r.meter_serial));
    expect(stored.map((r) => r.meterId).sort()).toEqual(['gtx-fb-a', 'gtx-fb-b', 'gtx-fb-d', 'gtx-fb-e']);
    // And the batch again (their next cycle resending it): the good ones are duplicates, the bad one still refused.
    expect((await batch({ readings: list })).status).toBe(422);
  });

  it('takes a mixed batch of 1,000 (production and consumption, both shapes, meter_serial or meter_id) and its resend', async () => {
    if (!fx.ready()) return;
    const list = Array.from({ length: 1000 }, (_, i) => {
      const meter = `gtx-mix-${i % 100}`;
      const slot = Math.floor(i / 100) + 1;
      const kwh = i % 3 === 0 ? -((i % 7) + 1) / 10 : ((i % 11) + 1) / 8 + 0.000_000_3;
      const r: Record<string, unknown> = i % 2 ? monitoring(meter, 15 * slot, kwh) : full(meter, 15 * slot, kwh);
      if (i % 50 === 7) delete r.meter_serial;
      return r;
    });
    const res = await batch({ readings: list });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any)).toMatchObject({ success_count: 1000, failed_count: 0 });
    const meters = Array.from({ length: 100 }, (_, i) => `gtx-mix-${i}`);
    const byStatus = await db().select({ status: readings.status, n: count() }).from(readings).where(inArray(readings.meterId, meters)).groupBy(readings.status);
    const consumption = list.filter((r) => (r.kwh as number) <= 0).length;
    expect(Object.fromEntries(byStatus.map((s) => [s.status, Number(s.n)]))).toEqual({ recorded: consumption, pending: 1000 - consumption });
    const again = await batch({ readings: list });
    expect(again.status).toBe(200);
    const [total] = await db().select({ n: count() }).from(readings).where(inArray(readings.meterId, meters));
    expect(Number(total!.n)).toBe(1000);
    const [one] = await db().select().from(readings).where(eq(readings.meterId, 'gtx-mix-1'));
    expect(one!.kwhAmount).toMatch(/^\d+\.\d{1,6}0*$/); // rounded to 6 places
  });

  it('needs the gateway key in the Authorization header', async () => {
    if (!fx.ready()) return;
    expect((await fx.request('/api/v1/meters/gtx-2/readings', { method: 'POST', body: JSON.stringify(monitoring('gtx-2', 15, 1)) })).status).toBe(401);
    expect((await post('/api/v1/meters/gtx-2/readings', monitoring('gtx-2', 15, 1), 'op')).status).toBe(403);
  });
});

describe.each(DATABASES)('GridTokenX routes over a rate limit on %s', (kind, open) => {
  // One reading per 2 s: the refused reading's unit is back within 2 s, when their client retries.
  const fx = useRegistry(kind, open, (f) => registerMeters(f.request, 'op', [{ meter_id: 'lim-1' }]).then(() => undefined), {
    limits: { readingsPerSecond: 0.5, readingsBurst: 1, requestsPerSecond: 0, requestsBurst: 1 },
  });
  const single = (minutes: number) => client(fx.request).post('gw-key')('/api/v1/meters/lim-1/readings', monitoring('lim-1', minutes, 1));

  it('answers 503 with Retry-After (not 429: their clients drop 4xx), and the retry is taken once the allowance refills', async () => {
    if (!fx.ready()) return;
    expect((await single(15)).status).toBe(200);
    const limited = await single(30);
    expect(limited.status).toBe(503);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(2);
    expect(((await limited.json()) as any).error.code).toBe('OVERLOADED');
    // Their client's retry: the same reading again until it is delivered.
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await single(30)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  });
});

describe.each(DATABASES)('GridTokenX routes over the request limit on %s', (kind, open) => {
  // One request per 2 s: the request limit is checked with the gateway's credentials, before the body is read.
  const fx = useRegistry(kind, open, (f) => registerMeters(f.request, 'op', [{ meter_id: 'req-1' }]).then(() => undefined), {
    limits: { readingsPerSecond: 0, readingsBurst: 1, requestsPerSecond: 0.5, requestsBurst: 1 },
  });

  it('answers 503 with Retry-After on the batch route too, never 429', async () => {
    if (!fx.ready()) return;
    const post = () => client(fx.request).post('gw-key')(GRIDTOKENX_BATCH_PATHS[0], { readings: [monitoring('req-1', 15, 1)] });
    expect((await post()).status).toBe(200);
    const limited = await post();
    expect([limited.status, ((await limited.json()) as any).error.code]).toEqual([503, 'OVERLOADED']);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(2);
  });
});
