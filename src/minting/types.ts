// The data the engine works on, as the seed names it. Amounts are bigint base units end to end.
export interface MintBatchData {
  readingId: string;
  userId: string;
  walletAddress: string;
  /** Decimal string, exactly as received. */
  kwhAmount: string;
  tokensToMint: bigint;
  meterId: string | null;
}

export interface MintResult {
  readingId: string;
  success: boolean;
  error: string | null;
  txSignature: string | null;
  /**
   * minted: confirmed on chain. failed: known not minted (never sent, or its transaction failed or
   * provably expired). unknown: signed and sent, outcome not yet known — never to be retried blindly.
   * deferred: its wallet needs a new token account and today's budget is spent; nothing was signed.
   */
  outcome: 'minted' | 'failed' | 'unknown' | 'deferred';
}
