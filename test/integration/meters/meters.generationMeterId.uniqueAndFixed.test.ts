// A meter's 16 bytes for mint_generation: derived from meter_id as GridTokenX's aggregator derives them unless the
// operator sets them (a UUID or 32 hex digits, for a meter GridTokenX already knows); never shared by two meters;
// fixed once a window of the meter was frozen under them.
import { randomUUID } from 'node:crypto';
import { mintWindows } from '../../../src/db/schema.js';
import { generationMeterIdOf } from '../../../src/minting/windows.js';
import { DATABASES, type TestDatabase } from '../../support/db.js';
import { meterSpec, registryApp, type Request } from '../../support/meters.js';

const O = { authorization: 'Bearer op', 'content-type': 'application/json' };

describe.each(DATABASES)('on %s', (_kind, open) => {
  let t: TestDatabase | null = null;
  let request: Request;
  beforeAll(async () => {
    t = await open().catch(() => null);
    if (t) ({ request } = await registryApp(t.database));
  });
  afterAll(async () => t?.drop());
  const put = (id: string, body: object) => request(`/meters/${id}`, { method: 'PUT', headers: O, body: JSON.stringify(body) });

  it('derived from meter_id when not given; set as a UUID or hex, stored as 32 hex digits', async () => {
    if (!t) return;
    const derived = (await (await put('g-1', meterSpec({ meter_id: 'g-1' }))).json()) as any;
    expect(derived.generation_meter_id).toBe(generationMeterIdOf('g-1'));
    const uuid = randomUUID();
    const set = (await (await put('g-2', { ...meterSpec({ meter_id: 'g-2' }), generation_meter_id: uuid.toUpperCase() })).json()) as any;
    expect(set.generation_meter_id).toBe(uuid.replaceAll('-', ''));
    const bad = await put('g-3', { ...meterSpec({ meter_id: 'g-3' }), generation_meter_id: 'abc' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.field).toBe('generation_meter_id');
  });

  it("two meters never share them: 409 GENERATION_METER_ID_TAKEN, in one request or against a stored meter", async () => {
    if (!t) return;
    const taken = await put('g-4', { ...meterSpec({ meter_id: 'g-4' }), generation_meter_id: generationMeterIdOf('g-1') });
    expect(taken.status).toBe(409);
    expect(((await taken.json()) as any).error).toMatchObject({ code: 'GENERATION_METER_ID_TAKEN', field: 'generation_meter_id', message: expect.stringMatching(/belongs to meter g-1/) });
    const same = 'aa'.repeat(16);
    const both = await request('/meters', { method: 'PUT', headers: O, body: JSON.stringify([{ ...meterSpec({ meter_id: 'g-5' }), generation_meter_id: same }, { ...meterSpec({ meter_id: 'g-6' }), generation_meter_id: same }]) });
    expect(both.status).toBe(409);
    expect(((await both.json()) as any).error).toMatchObject({ code: 'GENERATION_METER_ID_TAKEN', field: '[1].generation_meter_id' });
  });

  it('fixed once a window of the meter was frozen: 409 GENERATION_METER_ID_FIXED; before that it may change', async () => {
    if (!t) return;
    expect((await put('g-1', { generation_meter_id: 'bb'.repeat(16) })).status).toBe(200);
    await t.database.db.insert(mintWindows).values({ meterId: 'g-1', windowStart: new Date('2026-10-01T00:00:00Z'), generationMeterId: 'bb'.repeat(16), walletAddress: 'x', amount: '1', readingIds: [randomUUID()] });
    const fixed = await put('g-1', { generation_meter_id: 'cc'.repeat(16) });
    expect(fixed.status).toBe(409);
    expect(((await fixed.json()) as any).error.code).toBe('GENERATION_METER_ID_FIXED');
    expect((await put('g-1', { generation_meter_id: 'bb'.repeat(16), max_kw: '5' })).status).toBe(200); // the same again is no change
  });
});
