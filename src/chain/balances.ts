// Token balances on chain for reconciliation: each wallet's associated token account, and the mint's supply.
import { PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAssociatedTokenAddressSync } from '@solana/spl-token';
import type { Context, RpcClient } from './rpcClient.js';

type Account = { data: [string, string] } | null;

export async function walletBalances(rpc: RpcClient, mintAddress: string, wallets: string[]): Promise<Map<string, bigint>> {
  const mint = new PublicKey(mintAddress);
  const out = new Map<string, bigint>();
  for (let i = 0; i < wallets.length; i += 100) {
    const chunk = wallets.slice(i, i + 100);
    const atas = chunk.map((w) => getAssociatedTokenAddressSync(mint, new PublicKey(w), false, TOKEN_2022_PROGRAM_ID).toBase58());
    const res = await rpc.call<Context<Account[]>>('getMultipleAccounts', [atas, { encoding: 'base64', commitment: 'confirmed', dataSlice: { offset: 64, length: 8 } }]);
    res.value.forEach((acc, j) => out.set(chunk[j]!, acc ? Buffer.from(acc.data[0], 'base64').readBigUInt64LE(0) : 0n));
  }
  return out;
}

export async function mintSupply(rpc: RpcClient, mint: string): Promise<bigint> {
  const res = await rpc.call<Context<{ amount: string }>>('getTokenSupply', [mint, { commitment: 'confirmed' }]);
  return BigInt(res.value.amount);
}
