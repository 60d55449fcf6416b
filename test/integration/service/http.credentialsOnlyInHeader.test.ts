// Credentials travel only in the Authorization header: `?access_token=` opens nothing (a proxy's access log
// would hold it), and a malformed Authorization header is 401 without falling back to anything. Postgres and PGlite.
import { DATABASES } from '../../support/db.js';
import { type Request, useRegistry } from '../../support/meters.js';

describe.each(DATABASES)('on %s', (kind, open) => {
  const fx = useRegistry(kind, open);
  const request: Request = (path, init) => fx.request(path, init);
  const status = async (path: string, authorization?: string, method = 'GET') =>
    (await request(path, { method, headers: authorization === undefined ? {} : { authorization } })).status;

  it('?access_token= is no credential, on reads and operator writes alike', async () => {
    if (!fx.ready()) return;
    expect(await status('/gateways?access_token=op')).toBe(401);
    expect(await status('/readings?access_token=gw-key')).toBe(401);
    expect(await status('/metrics?access_token=metrics-token')).toBe(401);
    expect(await status('/gateways/gw-2/rotate?access_token=op', undefined, 'POST')).toBe(401);
  });

  it.each([
    ['Basic b3A6b3A=', 'another scheme'],
    ['Bearer', 'no token'],
    ['Bearer ', 'an empty token'],
    ['Bearer op extra', 'two tokens'],
    ['op', 'no scheme'],
  ])('a malformed header (%s: %s) is 401, even with a valid ?access_token=', async (header) => {
    if (!fx.ready()) return;
    const res = await request('/gateways?access_token=op', { headers: { authorization: header } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.code).toBe('UNAUTHORIZED');
  });

  it('the header works, its scheme in any case', async () => {
    if (!fx.ready()) return;
    expect(await status('/gateways', 'Bearer op')).toBe(200);
    expect(await status('/gateways', 'bearer op')).toBe(200);
    expect(await status('/gateways', 'Bearer nope')).toBe(401);
  });
});
