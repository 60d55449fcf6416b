import type { GenerationWindow } from '../chain/mintTransaction.js';
// The data the engine works on, as the seed names it. Amounts are bigint base units end to end.
export interface MintBatchData {
  readingId: string;
  userId: string;
  walletAddress: string;
  /** Decimal string, exactly as received. */
  kwhAmount: string;
  tokensToMint: bigint;
  meterId: string | null;
  /** MINT_INSTRUCTION=mint_generation: the (meter, window) the reading is summed into; its readings mint as one instruction. */
  window?: GenerationWindow;
}

export interface MintResult {
  readingId: string;
  success: boolean;
  error: string | null;
  txSignature: string | null;
  /**
   * minted: confirmed on chain. failed: known not minted (never sent, or its transaction failed or
   * provably expired). unknown: signed and sent, outcome not yet known — never to be retried blindly.
   * deferred: known not minted, and not the reading's fault: it waits (`wait`) without losing an attempt.
   */
  outcome: 'minted' | 'failed' | 'unknown' | 'deferred';
  /**
   * minted without a signature: mint_generation found the window's record on chain saying minted, with the sum
   * of these readings, before signing anything for them (the record is the proof).
   */
  proof?: 'record';
  /** deferred only: until when and why (stored as the reading's last_error). */
  wait?: ReadingWait;
}

/**
 * Why a deferred reading waits, and until when: the next UTC day (a daily budget is spent), the retry back-off
 * (the service's own key was refused: the worker pauses until it is fixed, see /health/details), or held to be
 * summed with its wallet's later readings.
 */
export interface ReadingWait {
  /** held: given back already, to be summed with the wallet's later readings (MIN_MINT_TOKENS). */
  until: 'next_utc_day' | 'backoff' | 'held';
  reason: string;
}
