// Bearer credentials, from the Authorization header only (never a query parameter: URLs end up in proxy
// access logs). A named operator runs the service; a gateway key (looked up by its hash) posts readings for
// the gateway's meters and reads what that gateway posted and serves; METRICS_TOKEN reads /metrics only.
// 401 without valid credentials (a malformed header included: it never falls back to anything), 403 for the
// wrong role.
import { timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'hono';
import type { Operator } from '../config.js';
import type { Db } from '../db/client.js';
import { getCookie } from 'hono/cookie';
import { AuthError, CsrfRefused } from '../errors.js';
import { isSameOrigin } from './client.js';
import { formBody } from './input.js';
import { hashKey } from '../meters/gateways.js';
import { gatewayOfKey } from '../meters/repo.js';
import { liveSession } from '../console/repo.js';

/** The console's session cookie (HttpOnly, SameSite=Strict, Path=/); its value's SHA-256 names the session. */
export const SESSION_COOKIE = 'ets_session';
const SAFE_METHODS = ['GET', 'HEAD', 'OPTIONS'];

/**
 * A change made with a session cookie must come from this origin (Origin, or Referer when a browser sends no
 * Origin) and carry the session's CSRF token (`x-csrf-token` header, or the `_csrf` form field).
 */
export async function checkCsrf(c: Context, csrfToken: string): Promise<void> {
  // Scheme, host and port (http://host is not https://host); a malformed Origin or Referer is another origin.
  if (!isSameOrigin(c, c.req.header('origin') ?? c.req.header('referer'))) throw new CsrfRefused('a change from the console must come from its own origin');
  let sent = c.req.header('x-csrf-token');
  if (sent === undefined && /^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(c.req.header('content-type') ?? '')) {
    const form = await formBody(c.req);
    sent = typeof form._csrf === 'string' ? form._csrf : undefined;
  }
  if (!sent || !same(sent, csrfToken)) throw new CsrfRefused("missing or wrong CSRF token: send the session's token in x-csrf-token (or the _csrf form field)");
}

export type Role = 'gateway' | 'operator' | 'metrics';

/** Who is calling: a named operator, one gateway, or the metrics scraper. */
export type Principal = { role: 'operator'; name: string } | { role: 'gateway'; gatewayId: string } | { role: 'metrics' };

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** `Bearer <token>` (scheme case-insensitive, RFC 7235); undefined without the header, null when it is malformed. */
export function bearerOf(header: string | undefined): string | null | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  return m ? m[1]! : null;
}

export interface AuthDeps {
  db: Db;
  operators: Operator[];
  /** The token Prometheus sends for /metrics; unset: only operators read /metrics. */
  metricsToken?: string;
}

export function makeAuth(creds: AuthDeps) {
  /** The principal a token names, or null. Every operator token is compared (no early exit on a match's position). */
  const principalOf = async (token: string): Promise<Principal | null> => {
    let operator: Operator | undefined;
    for (const o of creds.operators) if (same(token, o.token) && !operator) operator = o;
    if (operator) return { role: 'operator', name: operator.name };
    if (creds.metricsToken && same(token, creds.metricsToken)) return { role: 'metrics' };
    const gatewayId = await gatewayOfKey(creds.db, hashKey(token));
    return gatewayId ? { role: 'gateway', gatewayId } : null;
  };
  /**
   * Middleware admitting the given roles; 401 without valid credentials, 403 for the wrong role. Credentials
   * come from the Authorization header only: a route that must take another kind (the event stream's
   * `?ticket=`) checks that itself before this and sets the principal with `admit`.
   */
  const middleware =
    (...allowed: Role[]) =>
    async (c: Context, next: Next) => {
      const cookie = getCookie(c, SESSION_COOKIE);
      if (!c.get('principal' as never) && c.req.header('authorization') === undefined && cookie !== undefined) {
        // The console's session: an operator, and a change must pass the origin and CSRF checks.
        const session = cookie.length <= 200 ? await liveSession(creds.db, hashKey(cookie)) : null;
        if (!session) throw new AuthError(401, 'the console session expired or was signed out: sign in again at /console/login');
        if (!SAFE_METHODS.includes(c.req.method)) await checkCsrf(c, session.csrfToken);
        admit(c, { role: 'operator', name: session.operator });
        c.set('csrfToken' as never, session.csrfToken as never);
      }
      if (!c.get('principal' as never)) {
        const header = c.req.header('authorization');
        const token = bearerOf(header);
        if (token === undefined) throw new AuthError(401, 'missing credentials: send Authorization: Bearer <key>');
        if (token === null) throw new AuthError(401, 'malformed Authorization header: send Authorization: Bearer <key>');
        const p = await principalOf(token);
        if (!p) throw new AuthError(401, 'unknown credentials');
        admit(c, p);
      }
      if (!allowed.includes(principal(c).role)) throw new AuthError(403, `this route is for ${allowed.join(' or ')} credentials`);
      await next();
    };
  return Object.assign(middleware, { principalOf });
}

export type Auth = ReturnType<typeof makeAuth>;

/** Record who is calling (the auth middleware, or a route's own credential check such as a stream ticket). */
export const admit = (c: Context, p: Principal): void => c.set('principal' as never, p as never);

/** The caller a route's auth middleware admitted. */
export const principal = (c: Context): Principal => c.get('principal' as never) as Principal;

/** The gateway a caller acts as, or undefined for an operator (who sees everything). */
export const gatewayScope = (c: Context): string | undefined => {
  const p = principal(c);
  return p.role === 'gateway' ? p.gatewayId : undefined;
};

/**
 * The calling operator's name (OPERATOR_TOKENS; `operator` for OPERATOR_TOKEN): what idempotency keys, stream
 * tickets and batches' requested_by record. For operator-only routes.
 */
export const operatorName = (c: Context): string => {
  const p = principal(c);
  if (p.role !== 'operator') throw new Error(`operatorName called for a ${p.role} caller: the route must be operator-only`);
  return p.name;
};

/** Who a change is recorded as (meter_changes): the operator's name, or `gateway:<id>`. */
export const actorOf = (c: Context): string => {
  const p = principal(c);
  return p.role === 'operator' ? p.name : p.role === 'gateway' ? `gateway:${p.gatewayId}` : 'metrics';
};
