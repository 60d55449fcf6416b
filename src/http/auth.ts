// Bearer credentials. The operator token runs the service; a gateway key (looked up by its hash) posts
// readings for the gateway's meters and reads what that gateway posted and serves. 401 without valid
// credentials, 403 for the wrong role.
import { timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'hono';
import type { Db } from '../db/client.js';
import { AuthError } from '../errors.js';
import { hashKey } from '../meters/gateways.js';
import { gatewayOfKey } from '../meters/repo.js';

export type Role = 'gateway' | 'operator';

/** Who is calling: the operator, or one gateway. */
export type Principal = { role: 'operator' } | { role: 'gateway'; gatewayId: string };

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export function makeAuth(creds: { db: Db; operatorToken: string }) {
  const principalOf = async (token: string | undefined): Promise<Principal | null> => {
    if (!token) return null;
    if (same(token, creds.operatorToken)) return { role: 'operator' };
    const gatewayId = await gatewayOfKey(creds.db, hashKey(token));
    return gatewayId ? { role: 'gateway', gatewayId } : null;
  };
  /** Middleware admitting the given roles; 401 without valid credentials, 403 for the wrong role. */
  return (...allowed: Role[]) =>
    async (c: Context, next: Next) => {
      const header = c.req.header('authorization');
      const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
      // EventSource cannot send headers: the SSE route also takes ?access_token=.
      const principal = await principalOf(bearer ?? c.req.query('access_token'));
      if (!principal) throw new AuthError(401, header || c.req.query('access_token') ? 'unknown credentials' : 'missing credentials: send Authorization: Bearer <key>');
      if (!allowed.includes(principal.role)) throw new AuthError(403, `this route is for ${allowed.join(' or ')} credentials`);
      c.set('principal' as never, principal as never);
      await next();
    };
}

export type Auth = ReturnType<typeof makeAuth>;

/** The caller a route's auth middleware admitted. */
export const principal = (c: Context): Principal => c.get('principal' as never) as Principal;

/** The gateway a caller acts as, or undefined for the operator (who sees everything). */
export const gatewayScope = (c: Context): string | undefined => {
  const p = principal(c);
  return p.role === 'gateway' ? p.gatewayId : undefined;
};

/** Who a change is recorded as (meter_changes). One place, so named operators (issue 11) change only this. */
export const actorOf = (c: Context): string => {
  const p = principal(c);
  return p.role === 'operator' ? 'operator' : `gateway:${p.gatewayId}`;
};

/**
 * The calling operator's name (what idempotency keys, stream tickets and batches' requested_by record).
 * One operator named `operator` until named operators (OPERATOR_TOKENS) land; then it reads the principal's name.
 */
export const operatorName = (c: Context): string => {
  const p = principal(c) as Principal & { name?: string };
  return p.role === 'operator' ? (p.name ?? 'operator') : `gateway:${p.gatewayId}`;
};
