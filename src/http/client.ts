// Who is on the other end of a request: its address (for logs) and the scheme it used (for the console's
// Secure cookie and its same-origin checks). Taken from the socket, or, for the proxies TRUST_PROXY names
// only, from X-Forwarded-For and X-Forwarded-Proto: anyone can send those headers, so without TRUST_PROXY a
// forged one changes nothing.
import { BlockList, isIP } from 'node:net';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import type { TrustProxy } from '../config.js';

export interface Client {
  /** The client's IP address; undefined when the request came over no socket (app.request in tests). */
  address: string | undefined;
  protocol: 'http:' | 'https:';
}

const CLIENT_KEY = 'client';

/** The list of a comma-separated header, trimmed, in order. */
const listOf = (header: string | undefined) => (header ?? '').split(',').map((s) => s.trim()).filter(Boolean);

/**
 * The client as seen through the trusted proxies: walk X-Forwarded-For from the right (the nearest hop first)
 * while the address that handed the request on is a trusted proxy; the first untrusted address is the client.
 * X-Forwarded-Proto is read at the same depth (each proxy appends what it received).
 */
export function resolveClient(socket: { address: string | undefined; protocol: 'http:' | 'https:' }, headers: { forwardedFor?: string; forwardedProto?: string }, trust: TrustProxy): Client {
  if (!trust || socket.address === undefined) return socket;
  let isTrusted: (address: string, depth: number) => boolean;
  if ('hops' in trust) isTrusted = (_a, depth) => depth < trust.hops;
  else {
    const list = new BlockList();
    for (const a of trust.addresses) {
      if (a.prefix === undefined) list.addAddress(a.address, a.family);
      else list.addSubnet(a.address, a.prefix, a.family);
    }
    isTrusted = (address) => list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
  const forwarded = listOf(headers.forwardedFor);
  // chain[0] is the socket's peer, then the addresses X-Forwarded-For names, nearest first.
  const chain = [socket.address, ...forwarded.reverse()];
  // A peer that is not a trusted proxy is the client, whatever it wrote in the headers.
  if (!isTrusted(socket.address, 0)) return socket;
  let depth = 0;
  while (depth < chain.length - 1 && isTrusted(chain[depth]!, depth) && isIP(chain[depth + 1]!) !== 0) depth++;
  const protos = listOf(headers.forwardedProto).map((p) => p.toLowerCase());
  // The scheme the outermost trusted proxy received (it appended it); one value when one proxy sets it.
  const proto = protos[Math.max(0, protos.length - Math.max(depth, 1))];
  return { address: chain[depth], protocol: proto === 'https' ? 'https:' : proto === 'http' ? 'http:' : socket.protocol };
}

/** Middleware: resolve the request's client once, for everything after it (clientOf). */
export function clientMiddleware(trust: TrustProxy): MiddlewareHandler {
  return async (c, next) => {
    let address: string | undefined;
    try {
      address = getConnInfo(c).remote.address;
    } catch {
      address = undefined; // no Node socket (app.request): nothing to trust either
    }
    const protocol = new URL(c.req.url).protocol === 'https:' ? 'https:' : 'http:';
    c.set(CLIENT_KEY as never, resolveClient({ address, protocol }, { forwardedFor: c.req.header('x-forwarded-for'), forwardedProto: c.req.header('x-forwarded-proto') }, trust) as never);
    await next();
  };
}

/** The request's client (the socket's, when no middleware resolved it). */
export function clientOf(c: Context): Client {
  const resolved = c.get(CLIENT_KEY as never) as Client | undefined;
  return resolved ?? { address: undefined, protocol: new URL(c.req.url).protocol === 'https:' ? 'https:' : 'http:' };
}

/** The origin this request was made to (scheme as the client used it, Host, port), or undefined if the Host is malformed. */
export function requestOrigin(c: Context): string | undefined {
  const host = c.req.header('host') ?? new URL(c.req.url).host;
  try {
    return new URL(`${clientOf(c).protocol}//${host}`).origin;
  } catch {
    return undefined;
  }
}

/**
 * Whether an Origin (or a Referer) names this request's own origin: scheme, host and port compared, as
 * browsers serialise them. A malformed value (`garbage`, `http://`, `null`) is never the same origin.
 */
export function isSameOrigin(c: Context, sent: string | undefined): boolean {
  if (sent === undefined || sent === 'null') return false;
  let origin: string;
  try {
    origin = new URL(sent).origin;
  } catch {
    return false;
  }
  const own = requestOrigin(c);
  return own !== undefined && origin !== 'null' && origin === own;
}
