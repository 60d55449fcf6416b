// /metrics is never open: Prometheus sends METRICS_TOKEN as a bearer token (its `authorization` scrape
// setting), an operator token works too; no credentials or unknown ones get 401, a gateway 403, and the
// metrics token opens nothing else. Postgres and PGlite.
import { DATABASES } from '../../support/db.js';
import { client, type Request, useRegistry } from '../../support/meters.js';

describe.each(DATABASES)('on %s', (kind, open) => {
  const fx = useRegistry(kind, open);
  const request: Request = (path, init) => fx.request(path, init);
  const get = (token: string | null, path = '/metrics') => request(path, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });

  it('answers the metrics token and operators, 401 without or with unknown credentials, 403 for a gateway', async () => {
    if (!fx.ready()) return;
    const scraped = await get('metrics-token');
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/^energy_readings\{status="pending"\} \d+$/m);
    expect((await get('op')).status).toBe(200);
    expect((await get('alice-op')).status).toBe(200);
    expect((await get(null)).status).toBe(401);
    expect((await get('nope')).status).toBe(401);
    expect((await get('gw-key')).status).toBe(403);
  });

  it('the metrics token reads /metrics only', async () => {
    if (!fx.ready()) return;
    expect((await client(request).get('metrics-token')('/gateways')).status).toBe(403);
    expect((await client(request).get('metrics-token')('/readings')).status).toBe(403);
    expect((await client(request).put('metrics-token')('/meters/m', {})).status).toBe(403);
  });
});
