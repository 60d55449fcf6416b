// Per-gateway rate limits: requests per second (any route a gateway calls) and readings per second (a
// POST /readings costs one unit per reading), each with a burst. Operators are not limited. The state is in
// Postgres (src/db/rateLimits.ts), so the limits hold across every API process sharing the database.
import type { Context, Next } from 'hono';
import type { Db } from '../db/client.js';
import { type RateCheck, takeRate } from '../db/rateLimits.js';
import { PayloadTooLarge, RateLimited } from '../errors.js';
import { type Auth, principal, type Role } from './auth.js';

export interface RateLimitSettings {
  /** 0: no readings limit. */
  readingsPerSecond: number;
  /** Raised to the number of enabled meters the gateway serves (they post on the same interval boundaries). */
  readingsBurst: number;
  /** 0: no request limit. */
  requestsPerSecond: number;
  requestsBurst: number;
}

export interface RateLimiter {
  /** The auth middleware, then the request limit for a gateway. */
  auth: Auth;
  /** Take `count` readings of a gateway's allowance; throws RateLimited (429) when over it. */
  readings(c: Context, gatewayId: string, count: number): Promise<void>;
}

/** IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers): limit, remaining, reset seconds. */
const headersOf = (r: RateCheck): Record<string, string> => ({
  'RateLimit-Limit': String(r.burst),
  'RateLimit-Remaining': String(r.remaining),
  'RateLimit-Reset': String(r.resetSeconds),
});

export function makeRateLimiter(d: { db: Db; auth: Auth; limits: RateLimitSettings }): RateLimiter {
  const { limits } = d;
  const take = async (c: Context, what: 'requests' | 'readings', gatewayId: string, cost: number) => {
    const perSecond = what === 'requests' ? limits.requestsPerSecond : limits.readingsPerSecond;
    if (perSecond <= 0) return;
    const burst = what === 'requests' ? limits.requestsBurst : limits.readingsBurst;
    const r = await takeRate(d.db, `${what}:${gatewayId}`, cost, 1e6 / perSecond, burst, what === 'readings' ? gatewayId : null);
    const headers = headersOf(r);
    if (r.allowed) {
      for (const [k, v] of Object.entries(headers)) c.header(k, v);
      return;
    }
    if (r.retryAfterSeconds === null) {
      // More readings in one request than the gateway's burst: waiting never makes it pass.
      throw new PayloadTooLarge(`${cost} readings in one request is more than this gateway's burst of ${r.burst}; send at most ${r.burst} per request`);
    }
    throw new RateLimited(
      what === 'requests'
        ? `gateway ${gatewayId} is over its limit of ${perSecond} requests per second (burst ${r.burst}); retry after ${r.retryAfterSeconds} s`
        : `gateway ${gatewayId} is over its limit of ${perSecond} readings per second (burst ${r.burst}); retry after ${r.retryAfterSeconds} s`,
      r.retryAfterSeconds,
      headers,
    );
  };

  const middleware = (...roles: Role[]) => {
    const inner = d.auth(...roles);
    return (c: Context, next: Next) =>
      inner(c, async () => {
        const p = principal(c);
        if (p.role === 'gateway') await take(c, 'requests', p.gatewayId, 1);
        await next();
      });
  };
  const auth: Auth = Object.assign(middleware, { principalOf: d.auth.principalOf });

  return { auth, readings: (c, gatewayId, count) => take(c, 'readings', gatewayId, count) };
}
