// Console sessions on Postgres and PGlite: sign-in with an operator token sets an HttpOnly, SameSite=Strict
// cookie; the cookie admits the pages and the operator API; a change needs the session's CSRF token and the
// console's own origin; an expired or signed-out session is refused; a wrong token gets no session.
import { sql } from 'drizzle-orm';
import { consoleSessions } from '../../../src/db/schema.js';
import { DATABASES, type TestDatabase, withDatabase } from '../../support/db.js';
import { consoleApp } from '../../support/console.js';
import type { Request } from '../../support/meters.js';

const ORIGIN = 'http://console.test';

describe.each(DATABASES)('console sessions on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let request: Request;
  withDatabase(kind, open, async (d) => {
    t = d;
    request = (await consoleApp(d.database)).request;
  });

  const signIn = async (token: string) => request('/console/login', { method: 'POST', headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(token)}` });
  const session = async () => {
    const res = await signIn('alice-op');
    const cookie = res.headers.get('set-cookie')!;
    const pageHtml = await (await request('/console/settings', { headers: { cookie: cookie.split(';')[0]! } })).text();
    return { cookie: cookie.split(';')[0]!, setCookie: cookie, csrf: /name="csrf-token" content="([^"]+)"/.exec(pageHtml)![1]! };
  };

  it('signs in with an operator token: an HttpOnly, SameSite=Strict cookie on Path=/ that opens the pages', async () => {
    if (!t) return;
    expect((await request('/console')).status).toBe(302);
    const s = await session();
    expect(s.setCookie).toMatch(/HttpOnly/);
    expect(s.setCookie).toMatch(/SameSite=Strict/);
    expect(s.setCookie).toMatch(/Path=\//);
    for (const path of ['/console', '/console/batches', '/console/readings', '/console/failed', '/console/meters', '/console/gateways', '/console/settings']) {
      const res = await request(path, { headers: { cookie: s.cookie } });
      expect([path, res.status]).toEqual([path, 200]);
    }
    expect((await request('/gateways', { headers: { cookie: s.cookie } })).status).toBe(200);
    // A bad search is a 400 page naming the field, an unknown asset a 404 (never a 500).
    const bad = await request('/console/readings?status=nope', { headers: { cookie: s.cookie } });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('status must be one of');
    expect((await request('/console/assets/nope.js')).status).toBe(404);
    expect((await request('/docs/assets/nope.js')).status).toBe(404);
    expect((await request('/docs')).status).toBe(200);
  });

  it('refuses a wrong token and a gateway key', async () => {
    if (!t) return;
    for (const token of ['nope', 'gw-key']) {
      const res = await signIn(token);
      expect(res.status).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
    }
  });

  it('a change with the cookie needs the CSRF token and the same origin', async () => {
    if (!t) return;
    const s = await session();
    const pause = (headers: Record<string, string>) => request('/minting/pause', { method: 'POST', headers: { cookie: s.cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ reason: 'csrf test' }) });
    const noToken = await pause({ origin: ORIGIN });
    expect(noToken.status).toBe(403);
    expect(((await noToken.json()) as { error: { code: string } }).error.code).toBe('CSRF_REFUSED');
    expect((await pause({ origin: ORIGIN, 'x-csrf-token': 'wrong' })).status).toBe(403);
    expect((await pause({ origin: 'http://evil.test', 'x-csrf-token': s.csrf })).status).toBe(403);
    expect((await pause({ 'x-csrf-token': s.csrf })).status).toBe(403);
    const ok = await pause({ origin: ORIGIN, 'x-csrf-token': s.csrf });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ paused: true, paused_by: 'alice' });
    // Another session's token is not this one's.
    const other = await session();
    expect((await pause({ origin: ORIGIN, 'x-csrf-token': other.csrf })).status).toBe(403);
    await request('/minting/resume', { method: 'POST', headers: { cookie: s.cookie, origin: ORIGIN, 'x-csrf-token': s.csrf } });
  });

  it('an expired session and a signed-out one are refused', async () => {
    if (!t) return;
    const expired = await session();
    await t.database.db.update(consoleSessions).set({ expiresAt: sql`now() - interval '1 second'` }).where(sql`true`);
    const page = await request('/console', { headers: { cookie: expired.cookie } });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/console/login?expired=1');
    expect((await request('/gateways', { headers: { cookie: expired.cookie } })).status).toBe(401);

    const s = await session();
    const out = await request('/console/logout', { method: 'POST', headers: { cookie: s.cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${encodeURIComponent(s.csrf)}` });
    expect(out.status).toBe(303);
    expect((await request('/gateways', { headers: { cookie: s.cookie } })).status).toBe(401);
    expect((await request('/console', { headers: { cookie: s.cookie } })).status).toBe(302);
  });
});
