// A small JSON-RPC client for the send path. web3.js's Connection hides HTTP statuses and error codes and
// has no request timeout; exactly-once sending needs all three: a timeout or a 5xx is "unknown", never
// "failed", and failures are classified by code, never by message text.
import { RpcFailure } from '../errors.js';

export interface RpcClient {
  url: string;
  call<T>(method: string, params?: unknown[]): Promise<T>;
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
  return {
    url: opts.url,
    async call<T>(method: string, params: unknown[] = []): Promise<T> {
      let res: Response;
      const post = () =>
        doFetch(opts.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
      try {
        res = await post().catch((e: unknown) => (closedSocket(e) ? post() : Promise.reject(e)));
      } catch (e) {
        const name = (e as Error).name;
        const timedOut = name === 'TimeoutError' || name === 'AbortError';
        throw new RpcFailure(null, `${method}: ${timedOut ? `no answer within ${opts.timeoutMs} ms` : 'connection failed'}`, true, { cause: e });
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
  };
}

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
