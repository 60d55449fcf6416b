// A small JSON-RPC client for the send path. web3.js's Connection hides HTTP statuses and error codes and
// has no request timeout; exactly-once sending needs all three: a timeout or a 5xx is "unknown", never
// "failed", and failures are classified by code, never by message text.
import { RpcFailure } from '../errors.js';

export interface RpcClient {
  url: string;
  call<T>(method: string, params?: unknown[]): Promise<T>;
  /**
   * Give up every call now waiting for an answer, as if it had timed out (a retryable failure: a read is
   * asked again, a send's outcome is unknown and its bytes are rebroadcast). For when the RPC is known to be
   * back after an outage: a call the outage swallowed would otherwise hold its caller until its timeout.
   */
  abandonInFlight(): number;
}

/** JSON-RPC codes a retry may fix: node behind / unhealthy, slot skipped or not yet available. */
const RETRYABLE_RPC_CODES = new Set([-32004, -32005, -32007, -32009, -32014, -32016]);

/**
 * The socket closed under the request: most often a kept-alive connection the server had just closed for
 * idleness. One retry on a new connection is safe, since every call made here is idempotent (reads, and
 * sends of the same signed bytes).
 */
const CLOSED_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
const closedSocket = (e: unknown) => CLOSED_SOCKET_CODES.has(String(((e as Error).cause as { code?: unknown } | undefined)?.code));

export function makeRpcClient(opts: { url: string; timeoutMs: number; fetchImpl?: typeof fetch }): RpcClient {
  const doFetch = opts.fetchImpl ?? fetch;
  let nextId = 1;
  const inFlight = new Set<AbortController>();
  return {
    url: opts.url,
    async call<T>(method: string, params: unknown[] = []): Promise<T> {
      let res: Response;
      const abandon = new AbortController();
      inFlight.add(abandon);
      const post = () =>
        doFetch(opts.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
          signal: AbortSignal.any([AbortSignal.timeout(opts.timeoutMs), abandon.signal]),
        });
      try {
        res = await post().catch((e: unknown) => (closedSocket(e) ? post() : Promise.reject(e)));
      } catch (e) {
        const name = (e as Error).name;
        const why = abandon.signal.aborted
          ? 'abandoned after an outage (no answer yet)'
          : name === 'TimeoutError' || name === 'AbortError'
            ? `no answer within ${opts.timeoutMs} ms`
            : 'connection failed';
        throw new RpcFailure(null, `${method}: ${why}`, true, { cause: e });
      } finally {
        inFlight.delete(abandon);
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new RpcFailure(res.status, `${method}: HTTP ${res.status}`, res.status === 429 || res.status >= 500);
      }
      let body: { result?: T; error?: { code: number; message: string; data?: unknown } };
      try {
        body = (await res.json()) as typeof body;
      } catch (e) {
        throw new RpcFailure(null, `${method}: the answer is not JSON`, true, { cause: e });
      }
      if (body.error) {
        const failure = new RpcFailure(body.error.code, `${method}: ${body.error.message}`, RETRYABLE_RPC_CODES.has(body.error.code));
        Object.assign(failure, { data: body.error.data });
        throw failure;
      }
      return body.result as T;
    },
    abandonInFlight() {
      const n = inFlight.size;
      for (const c of inFlight) c.abort();
      inFlight.clear();
      return n;
    },
  };
}

/**
 * The RPC said "too many requests": HTTP 429 (RpcFailure carries the HTTP status of a non-200 answer as its
 * code; JSON-RPC codes are negative, so the two never meet).
 */
export const isRateLimited = (e: unknown): boolean => e instanceof RpcFailure && e.rpcCode === 429;

/** The shapes this service reads. */
export type TransactionErrorJson = string | Record<string, unknown>;
export interface SignatureStatus {
  slot: number;
  confirmations: number | null;
  err: TransactionErrorJson | null;
  confirmationStatus?: 'processed' | 'confirmed' | 'finalized';
}
export interface Context<T> {
  context: { slot: number };
  value: T;
}
