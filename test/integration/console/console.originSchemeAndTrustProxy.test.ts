// The console's second layer: a sign-in or change with a malformed Origin (`garbage`, `http://`) is 403 (it
// was a 500); the origin compared is scheme, host and port (an https page may not sign in to the http
// console, nor another port); TRUST_PROXY (off by default) lets the named proxies' X-Forwarded-Proto decide the
// cookie's Secure and their X-Forwarded-For the client address the logs show. Without it, forged headers
// change nothing.
import { Writable } from 'node:stream';
import type { Hono } from 'hono';
import { loadConfig, parseTrustProxy, type TrustProxy } from '../../../src/config.js';
import { makeLog } from '../../../src/log.js';
import { DATABASES, type TestDatabase, withDatabase } from '../../support/db.js';
import { consoleApp } from '../../support/console.js';

const ORIGIN = 'http://console.test';
const form = { 'content-type': 'application/x-www-form-urlencoded' };
/** The request as it arrives on a socket from `peer` (getConnInfo reads the Node request's socket). */
const fromPeer = (peer: string) => ({ incoming: { socket: { remoteAddress: peer, remotePort: 40000, remoteFamily: peer.includes(':') ? 'IPv6' : 'IPv4' } } });

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  const lines: string[] = [];
  const log = makeLog('info', new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
  const apps = new Map<string, Hono>();
  withDatabase(kind, open, async (d) => {
    t = d;
    for (const [name, trustProxy] of [['off', null], ['one hop', { hops: 1 }], ['10.0.0.9', parseTrustProxy('10.0.0.9,192.168.0.0/16') as TrustProxy]] as const) {
      apps.set(name, (await consoleApp(d.database, { log, trustProxy })).app);
    }
  });
  const request = (app: string, path: string, init: RequestInit, peer = '10.0.0.9') => apps.get(app)!.request(new URL(path, ORIGIN).toString(), init, fromPeer(peer));
  const signIn = (app: string, headers: Record<string, string>, peer?: string) => request(app, '/console/login', { method: 'POST', headers: { ...form, ...headers }, body: 'token=op' }, peer);
  const lastLine = (msg: string) => JSON.parse(lines.filter((l) => l.includes(`"msg":"${msg}"`)).at(-1)!) as { client?: string };

  it.each(['garbage', 'http://', 'null', '://x', 'https://console.test', 'http://console.test:8080', 'http://evil.test', 'ftp://console.test'])('POST /console/login with Origin %j is 403, never a 500', async (origin) => {
    if (!t) return;
    const res = await signIn('off', { origin });
    expect(res.status).toBe(403);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('a sign-in whose body is not the form its Content-Type says is 400, never a 500', async () => {
    if (!t) return;
    const res = await request('off', '/console/login', { method: 'POST', headers: { origin: ORIGIN, 'content-type': 'multipart/form-data; boundary=x' }, body: '{}' });
    expect(res.status).toBe(400);
  });

  it('the same scheme, host and port signs in (port 80 written out or not)', async () => {
    if (!t) return;
    for (const origin of [ORIGIN, 'http://console.test:80']) expect((await signIn('off', { origin })).status).toBe(303);
  });

  it('a change with the session cookie from another scheme or a malformed Origin or Referer is 403', async () => {
    if (!t) return;
    const cookie = (await signIn('off', { origin: ORIGIN })).headers.get('set-cookie')!.split(';')[0]!;
    const page = await (await request('off', '/console/settings', { headers: { cookie } })).text();
    const csrf = /name="csrf-token" content="([^"]+)"/.exec(page)![1]!;
    const change = (h: Record<string, string | undefined>) => request('off', '/minting/pause', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json', ...(h as Record<string, string>) }, body: '{"reason":"test"}' });
    for (const h of [{ origin: 'https://console.test' }, { origin: 'garbage' }, { origin: 'http://' }, { referer: 'garbage' }, { referer: 'https://console.test/console' }]) {
      expect([h, (await change(h)).status]).toEqual([h, 403]);
    }
    expect((await change({ referer: `${ORIGIN}/console/settings` })).status).toBe(200);
    await request('off', '/minting/resume', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, origin: ORIGIN } });
  });

  it('without TRUST_PROXY, forged X-Forwarded-Proto and X-Forwarded-For change nothing', async () => {
    if (!t) return;
    const forged = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.66' };
    const res = await signIn('off', { origin: ORIGIN, ...forged });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).not.toMatch(/Secure/i);
    expect(lastLine('console session started').client).toBe('10.0.0.9');
    // The forged scheme does not make an https Origin this console's own.
    expect((await signIn('off', { origin: 'https://console.test', ...forged })).status).toBe(403);
  });

  it('TRUST_PROXY=1: the proxy says https, so the cookie is Secure and https is the origin; the client is its X-Forwarded-For', async () => {
    if (!t) return;
    const res = await signIn('one hop', { origin: 'https://console.test', 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.1, 203.0.113.7' });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(/Secure/);
    // One trusted hop: the address it saw (the last one listed), not what the client itself wrote before it.
    expect(lastLine('console session started').client).toBe('203.0.113.7');
    expect((await signIn('one hop', { origin: ORIGIN, 'x-forwarded-proto': 'https' })).status).toBe(403);
  });

  it('TRUST_PROXY=<addresses>: only a request from a listed proxy has its X-Forwarded-* believed', async () => {
    if (!t) return;
    const headers = { origin: 'https://console.test', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.8' };
    const viaProxy = await signIn('10.0.0.9', headers, '10.0.0.9');
    expect([viaProxy.status, /Secure/.test(viaProxy.headers.get('set-cookie') ?? '')]).toEqual([303, true]);
    expect(lastLine('console session started').client).toBe('203.0.113.8');
    // A chain of listed proxies (a subnet here) is walked to the first address that is not one.
    await signIn('10.0.0.9', { ...headers, 'x-forwarded-for': '203.0.113.9, 192.168.1.2', 'x-forwarded-proto': 'https, https' }, '10.0.0.9');
    expect(lastLine('console session started').client).toBe('203.0.113.9');
    const direct = await signIn('10.0.0.9', headers, '10.0.0.7');
    expect(direct.status).toBe(403);
    expect(lastLine('console sign-in from another origin refused').client).toBe('10.0.0.7');
  });
});

it('TRUST_PROXY is off by default and takes a hop count or addresses; anything else stops the service with a message', () => {
  const base = {};
  expect(loadConfig(base).TRUST_PROXY).toBeNull();
  expect(loadConfig({ TRUST_PROXY: '2' }).TRUST_PROXY).toEqual({ hops: 2 });
  expect(loadConfig({ TRUST_PROXY: '10.0.0.1, ::1, 10.1.0.0/16' }).TRUST_PROXY).toEqual({
    addresses: [
      { address: '10.0.0.1', family: 'ipv4' },
      { address: '::1', family: 'ipv6' },
      { address: '10.1.0.0', prefix: 16, family: 'ipv4' },
    ],
  });
  for (const bad of ['0', 'yes', '10.0.0.1,proxy.internal', '10.0.0.0/33', '999']) expect(() => loadConfig({ TRUST_PROXY: bad })).toThrow(/TRUST_PROXY/);
});
