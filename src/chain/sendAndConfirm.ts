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
    await sleep(opts.pollMs);
  }
  return { status: 'unknown', reason: `no confirmation or expiry within ${opts.followTimeoutMs} ms (last: ${lastError})` };
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
