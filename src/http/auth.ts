// Bearer credentials: gateway keys post readings, the operator token runs batches; either may read.
import { timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'hono';
import { AuthError } from '../errors.js';

export type Role = 'gateway' | 'operator';

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export function makeAuth(creds: { gatewayKeys: string[]; operatorToken: string }) {
  const roleOf = (token: string | undefined): Role | null => {
    if (!token) return null;
    if (same(token, creds.operatorToken)) return 'operator';
    return creds.gatewayKeys.some((k) => same(token, k)) ? 'gateway' : null;
  };
  /** Middleware admitting the given roles; 401 without valid credentials, 403 for the wrong role. */
  return (...allowed: Role[]) =>
    async (c: Context, next: Next) => {
      const header = c.req.header('authorization');
      const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
      // EventSource cannot send headers: the SSE route also takes ?access_token=.
      const role = roleOf(bearer ?? c.req.query('access_token'));
      if (!role) throw new AuthError(401, header || c.req.query('access_token') ? 'unknown credentials' : 'missing credentials: send Authorization: Bearer <key>');
      if (!allowed.includes(role)) throw new AuthError(403, `this route is for ${allowed.join(' or ')} credentials`);
      c.set('role' as never, role as never);
      await next();
    };
}
