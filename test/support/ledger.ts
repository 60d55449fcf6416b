// The exactly-once verdict every fault test ends with: the ledger reconciles with the chain by transactions
// (0 minted twice or outside the ledger, supply moved by the completed sum), every reading the test posted is
// completed (0 lost), and each wallet holds on chain exactly the sum of its completed readings.
import { and, eq, inArray, sql } from 'drizzle-orm';
import { makeChainHistory } from '../../src/chain/history.js';
import { loadIdl } from '../../src/chain/energyToken.js';
import { walletBalances } from '../../src/chain/balances.js';
import { makeRpcClient } from '../../src/chain/rpcClient.js';
import type { Db } from '../../src/db/client.js';
import { readings } from '../../src/db/schema.js';
import { reconcile, type Reconciliation } from '../../src/minting/reconcile.js';
import { MINT, PROGRAM_ID, TOKEN_INFO } from './energyToken.js';

export async function reconcileWith(db: Db, rpcUrl: string): Promise<Reconciliation> {
  const rpc = makeRpcClient({ url: rpcUrl, timeoutMs: 10_000 });
  const history = makeChainHistory({ rpc, idl: loadIdl(), programId: PROGRAM_ID, mint: MINT });
  return reconcile(db, { rpc, history, tokenInfo: TOKEN_INFO.toBase58(), mint: MINT.toBase58() });
}

export interface Verdict {
  /** Differences between the ledger and the chain (anything minted twice, outside the ledger, or missing). */
  differences: string[];
  /** Readings of the test that did not end completed. */
  lost: number;
  /** Wallets whose on-chain balance differs from the sum of their completed readings. */
  walletsOff: string[];
}

/** The verdict for the readings `ids` (their wallets must receive tokens from nothing else). */
export async function exactlyOnceVerdict(db: Db, rpcUrl: string, ids: string[]): Promise<Verdict> {
  const r = await reconcileWith(db, rpcUrl);
  const [done] = await db.select({ n: sql<number>`count(*)::int` }).from(readings).where(and(eq(readings.status, 'completed'), inArray(readings.id, ids)));
  const sums = await db
    .select({ wallet: readings.walletAddress, total: sql<string>`sum(${readings.tokensToMint})::text` })
    .from(readings)
    .where(and(eq(readings.status, 'completed'), inArray(readings.id, ids)))
    .groupBy(readings.walletAddress);
  const balances = await walletBalances(makeRpcClient({ url: rpcUrl, timeoutMs: 10_000 }), MINT.toBase58(), sums.map((s) => s.wallet));
  return {
    differences: r.differences.map((d) => `${d.kind} ${d.signature ?? ''}: ${d.detail}`),
    lost: ids.length - done!.n,
    walletsOff: sums.filter((s) => balances.get(s.wallet) !== BigInt(s.total)).map((s) => `${s.wallet}: on chain ${balances.get(s.wallet)}, completed ${s.total}`),
  };
}

export const EXACTLY_ONCE: Verdict = { differences: [], lost: 0, walletsOff: [] };
