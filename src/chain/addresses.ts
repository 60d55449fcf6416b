// Address maths, so that the rest of src/ never touches web3.js: wallet checks for input validation, and the
// associated token account of a wallet.
import { PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAssociatedTokenAddressSync } from '@solana/spl-token';

/** A base58, 32-byte ed25519 public key that can own an associated token account. */
export function isWalletAddress(text: string): boolean {
  try {
    const key = new PublicKey(text);
    return key.toBase58() === text && PublicKey.isOnCurve(key.toBytes());
  } catch {
    return false;
  }
}

/**
 * `fn`, remembered per key: for pure address maths that a fleet repeats every cycle for the same wallets. An
 * ed25519 point check or a PDA's bump search is field arithmetic worth tens of microseconds, and the
 * engine needs each several times per reading (validation, packing, building, lookups): in the scale
 * benchmark it was the service's largest CPU cost (23 % of its time). Bounded: emptied when it holds `max`.
 */
export function remembered<T>(fn: (key: string) => T, max = 100_000): (key: string) => T {
  const seen = new Map<string, T>();
  return (key) => {
    let value = seen.get(key);
    if (value === undefined) {
      if (seen.size >= max) seen.clear();
      value = fn(key);
      seen.set(key, value);
    }
    return value;
  };
}

/** The associated Token-2022 account of a wallet for `mint` (where its tokens are minted), remembered per wallet. */
export function tokenAccounts(mint: PublicKey): (wallet: string) => PublicKey {
  return remembered((wallet) => getAssociatedTokenAddressSync(mint, new PublicKey(wallet), false, TOKEN_2022_PROGRAM_ID));
}
