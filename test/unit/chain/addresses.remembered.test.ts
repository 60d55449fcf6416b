// The address memo gives what the maths gives (a token account is the associated account web3.js derives),
// computes each key once, and stays bounded.
import { Keypair } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAssociatedTokenAddressSync } from '@solana/spl-token';
import { remembered, tokenAccounts } from '../../../src/chain/addresses.js';

it('derives the same token account as spl-token, once per wallet', () => {
  const mint = Keypair.generate().publicKey;
  const of = tokenAccounts(mint);
  const wallets = Array.from({ length: 5 }, () => Keypair.generate().publicKey);
  for (const w of wallets) {
    const expected = getAssociatedTokenAddressSync(mint, w, false, TOKEN_2022_PROGRAM_ID);
    expect(of(w.toBase58()).equals(expected)).toBe(true);
    expect(of(w.toBase58())).toBe(of(w.toBase58())); // the same object: remembered, not derived again
  }
});

it('calls the function once per key and forgets everything when full', () => {
  const calls: string[] = [];
  const f = remembered((k) => (calls.push(k), k.length), 2);
  expect([f('a'), f('bb'), f('a'), f('bb')]).toEqual([1, 2, 1, 2]);
  expect(calls).toEqual(['a', 'bb']);
  f('ccc'); // a third key: the memo was full, so it starts again
  f('a');
  expect(calls).toEqual(['a', 'bb', 'ccc', 'a']);
});
