// Named operators (OPERATOR_TOKENS=name:token,...; OPERATOR_TOKEN is the operator named `operator`): the
// name of the operator who changed a meter is what meter_changes records. Postgres and PGlite.
import { meterChangesOf } from '../../../src/meters/repo.js';
import { DATABASES } from '../../support/db.js';
import { client, meterSpec, type Request, useRegistry } from '../../support/meters.js';

describe.each(DATABASES)('on %s', (kind, open) => {
  const fx = useRegistry(kind, open);
  const request: Request = (path, init) => fx.request(path, init);

  it('meter_changes records the calling operator by name', async () => {
    if (!fx.ready()) return;
    const { meter_id: _, ...meter } = meterSpec({ meter_id: 'named-1' });
    expect((await client(request).put('alice-op')('/meters/named-1', meter)).status).toBe(201);
    expect((await client(request).put('op')('/meters/named-1', { max_kw: '12' })).status).toBe(200);
    expect((await client(request).del('alice-op')('/meters/named-1')).status).toBe(200);
    const changes = await meterChangesOf(fx.t!.database.db, 'named-1');
    expect(changes.map((c) => c.actor)).toEqual(['alice', 'operator', 'alice']);
  });
});
