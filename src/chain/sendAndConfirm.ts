// Exactly-once sending of one signed transaction: the same bytes are rebroadcast until the signature
// is confirmed or its blockhash has provably expired. Nothing here signs; a caller builds a new
// transaction only after "expired", which is said only when the finalized block height has passed
// lastValidBlockHeight and a history search does not find the signature.
import type { Log } from '../log.js';
import { RpcFailure } from '../errors.js';
import type { Context, RpcClient, SignatureStatus, TransactionErrorJson } from './rpcClient.js';

export interface SignedTransaction {
  signature: string;
  wire: Uint8Array;
  lastValidBlockHeight: number;
}

export type SendOutcome =
  /**
   * sentSlot: the slot the node was at when first asked about the signature after the first send (the
   * context of that status answer), so `slot - sentSlot` is how many slots the transaction waited to land.
   */
  | { status: 'confirmed'; slot: number; sentSlot: number | null }
  | { status: 'failed'; slot: number; sentSlot: number | null; err: TransactionErrorJson }
  | { status: 'expired' }
  /** Followed for followTimeoutMs without an answer either way: not failed, not landed — unknown. */
  | { status: 'unknown'; reason: string };

export interface SendOptions {
  pollMs: number;
  rebroadcastMs: number;
  /** Give up following (outcome unknown) after this long; the persisted record lets recovery go on. */
  followTimeoutMs: number;
  log: Log;
  /** Called once, after the first send was attempted (answered or not). */
  onSent?: () => void;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const landedAt = (s: SignatureStatus | null) => s && (s.confirmationStatus === 'confirmed' || s.confirmationStatus === 'finalized');

export async function sendAndConfirm(rpc: RpcClient, tx: SignedTransaction, opts: SendOptions): Promise<SendOutcome> {
  const sleep = opts.sleep ?? realSleep;
  const now = opts.now ?? Date.now;
  const log = opts.log.child({ signature: tx.signature });
  const wire = Buffer.from(tx.wire).toString('base64');
  const started = now();
  let lastSend = -Infinity;
  let sentOnce = false;
  let lastError = 'no answer yet';

  let sentSlot: number | null = null;

  const statusOf = async (searchTransactionHistory: boolean) => {
    const answer = await rpc.call<Context<(SignatureStatus | null)[]>>('getSignatureStatuses', [[tx.signature], { searchTransactionHistory }]);
    sentSlot ??= answer.context?.slot ?? null;
    return answer.value[0] ?? null;
  };

  while (now() - started < opts.followTimeoutMs) {
    if (now() - lastSend >= opts.rebroadcastMs) {
      lastSend = now();
      try {
        await rpc.call('sendTransaction', [wire, { encoding: 'base64', skipPreflight: true, maxRetries: 0 }]);
      } catch (e) {
        // A send that timed out or failed may still have landed: keep following the signature.
        lastError = (e as Error).message;
        log.warn({ err: lastError, code: e instanceof RpcFailure ? e.rpcCode : null }, 'send not acknowledged; following the signature');
      }
      if (!sentOnce) opts.onSent?.();
      sentOnce = true;
    }
    try {
      const status = await statusOf(false);
      if (landedAt(status)) {
        return status!.err ? { status: 'failed', slot: status!.slot, sentSlot, err: status!.err } : { status: 'confirmed', slot: status!.slot, sentSlot };
      }
      if (!status) {
        const finalizedHeight = await rpc.call<number>('getBlockHeight', [{ commitment: 'finalized' }]);
        if (finalizedHeight > tx.lastValidBlockHeight && !(await statusOf(true))) {
          log.info({ lastValidBlockHeight: tx.lastValidBlockHeight, finalizedHeight }, 'blockhash expired without the transaction');
          return { status: 'expired' };
        }
      }
    } catch (e) {
      lastError = (e as Error).message;
      log.warn({ err: lastError }, 'status check failed; retrying');
    }
    // On a beat shared by every transaction followed (the next multiple of pollMs), so that their status
    // reads fall in the same turn of the event loop and go as one call (followReads below).
    await sleep(opts.pollMs - (now() % opts.pollMs));
  }
  return { status: 'unknown', reason: `no confirmation or expiry within ${opts.followTimeoutMs} ms (last: ${lastError})` };
}

/** The RPC's limit of signatures per getSignatureStatuses. */
const MAX_SIGNATURES_PER_STATUS_CALL = 256;

/**
 * An RpcClient for following many transactions at once (sendAndConfirm) whose reads are merged: the status
 * reads of one signature asked in the same turn of the event loop go as one getSignatureStatuses (at most
 * 256 signatures a call), and the finalized block height is shared by every caller for `heightMaxAgeMs`.
 * With 50 transactions in flight polled every 250 ms that is a few calls per beat instead of up to 100, for
 * the service and the RPC alike. Each caller still sees its own answer ({ context, value: [its status] });
 * a failed merged call fails each of its callers, who ask again at their next poll. An older finalized height
 * is safe: it is only used to prove an expiry, which it can prove later, never wrongly. Everything else
 * passes through unchanged.
 */
export function followReads(rpc: RpcClient, opts: { heightMaxAgeMs: number; now?: () => number }): RpcClient {
  const now = opts.now ?? Date.now;
  type Waiter = { signature: string; resolve: (answer: Context<(SignatureStatus | null)[]>) => void; reject: (e: unknown) => void };
  /** Status reads waiting for this turn's merged call, by searchTransactionHistory. */
  const waiting = new Map<boolean, Waiter[]>();
  let height: { at: number; value: Promise<number> } | null = null;

  const flush = (history: boolean) => {
    const waiters = waiting.get(history) ?? [];
    waiting.delete(history);
    for (let i = 0; i < waiters.length; i += MAX_SIGNATURES_PER_STATUS_CALL) {
      const chunk = waiters.slice(i, i + MAX_SIGNATURES_PER_STATUS_CALL);
      // Every waiter is answered or failed, whatever the call does (a throw, an answer of the wrong shape):
      // an answer without one entry per signature is no answer, since "not found" can prove an expiry.
      Promise.resolve()
        .then(() => rpc.call<Context<(SignatureStatus | null)[]>>('getSignatureStatuses', [chunk.map((w) => w.signature), { searchTransactionHistory: history }]))
        .then((answer) => {
          if (!Array.isArray(answer?.value) || answer.value.length !== chunk.length) {
            throw new RpcFailure(null, `getSignatureStatuses: ${chunk.length} signatures asked, an answer of another shape`, true);
          }
          chunk.forEach((w, j) => w.resolve({ context: answer.context, value: [answer.value[j] ?? null] }));
        })
        .catch((e: unknown) => chunk.forEach((w) => w.reject(e)));
    }
  };
  const status = (signature: string, history: boolean) =>
    new Promise<Context<(SignatureStatus | null)[]>>((resolve, reject) => {
      let list = waiting.get(history);
      if (!list) {
        waiting.set(history, (list = []));
        setImmediate(() => flush(history));
      }
      list.push({ signature, resolve, reject });
    });
  const finalizedHeight = () => {
    const t = now();
    if (!height || t - height.at > opts.heightMaxAgeMs) {
      const value = rpc.call<number>('getBlockHeight', [{ commitment: 'finalized' }]);
      const mine = { at: t, value };
      height = mine;
      // A failed read is not kept: the next caller asks again.
      value.catch(() => height === mine && (height = null));
    }
    return height.value;
  };

  return {
    ...rpc,
    call<T>(method: string, params: unknown[] = []): Promise<T> {
      if (method === 'getSignatureStatuses') {
        const [signatures, config] = params as [string[], { searchTransactionHistory?: boolean } | undefined];
        if (signatures.length === 1) return status(signatures[0]!, config?.searchTransactionHistory === true) as Promise<T>;
      }
      if (method === 'getBlockHeight' && (params[0] as { commitment?: string } | undefined)?.commitment === 'finalized') return finalizedHeight() as Promise<T>;
      return rpc.call<T>(method, params);
    },
  };
}

export type Fate = { status: 'confirmed' } | { status: 'failed'; err: TransactionErrorJson } | { status: 'expired' } | { status: 'pending' };

/**
 * One look at a recorded transaction after a restart: landed (confirmed or failed), provably expired,
 * or still pending, in which case its same bytes are broadcast again.
 */
export async function fateOf(rpc: RpcClient, tx: SignedTransaction): Promise<Fate> {
  const status = async () =>
    (await rpc.call<Context<(SignatureStatus | null)[]>>('getSignatureStatuses', [[tx.signature], { searchTransactionHistory: true }])).value[0] ?? null;
  const s = await status();
  if (landedAt(s)) return s!.err ? { status: 'failed', err: s!.err } : { status: 'confirmed' };
  if (s) return { status: 'pending' };
  const finalizedHeight = await rpc.call<number>('getBlockHeight', [{ commitment: 'finalized' }]);
  if (finalizedHeight > tx.lastValidBlockHeight && !(await status())) return { status: 'expired' };
  await rpc.call('sendTransaction', [Buffer.from(tx.wire).toString('base64'), { encoding: 'base64', skipPreflight: true, maxRetries: 0 }]).catch(() => undefined);
  return { status: 'pending' };
}
