// Address checks for input validation, so that the rest of src/ never touches web3.js.
import { PublicKey } from '@solana/web3.js';

/** A base58, 32-byte ed25519 public key that can own an associated token account. */
export function isWalletAddress(text: string): boolean {
  try {
    const key = new PublicKey(text);
    return key.toBase58() === text && PublicKey.isOnCurve(key.toBytes());
  } catch {
    return false;
  }
}
