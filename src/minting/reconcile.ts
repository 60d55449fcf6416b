// Reconciliation: each wallet's on-chain balance and the mint's supply against the sum of its completed
// readings. A difference means something was minted twice, lost, or minted outside this service.
import { mintSupply, walletBalances } from '../chain/balances.js';
import type { RpcClient } from '../chain/rpcClient.js';
import type { Db } from '../db/client.js';
import { completedSumsByWallet } from './repo.js';

export interface Reconciliation {
  wallets: number;
  differences: { wallet: string; onChain: bigint; completed: bigint }[];
  supply: bigint;
  completedTotal: bigint;
}

export async function reconcile(db: Db, rpc: RpcClient, mint: string): Promise<Reconciliation> {
  const sums = await completedSumsByWallet(db);
  const balances = await walletBalances(rpc, mint, [...sums.keys()]);
  const differences = [...sums].filter(([w, s]) => balances.get(w) !== s).map(([wallet, completed]) => ({ wallet, onChain: balances.get(wallet) ?? 0n, completed }));
  const completedTotal = [...sums.values()].reduce((a, b) => a + b, 0n);
  return { wallets: sums.size, differences, supply: await mintSupply(rpc, mint), completedTotal };
}
