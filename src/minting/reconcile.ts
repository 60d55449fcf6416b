// Reconciliation of the ledger with the chain, without trusting balances (owners may move their tokens):
// - every transaction the ledger records as confirmed is on chain, succeeded, and minted exactly the
//   completed readings it carries, token account by token account;
// - every mint_tokens_direct on chain since the database was bound (found through getSignaturesForAddress on
//   token_info) is a transaction the ledger records as confirmed;
// - every completed reading names a transaction the ledger records as confirmed;
// - the mint's supply moved by exactly the completed readings' sum since the database was bound.
import type { ChainHistory, ChainTransaction } from '../chain/history.js';
import { mintSupply } from '../chain/balances.js';
import type { RpcClient } from '../chain/rpcClient.js';
import type { Db } from '../db/client.js';
import { chainBaseline } from '../db/chainIdentity.js';
import { ledgerStatuses, recordedMints } from './repo.js';

export type DifferenceKind = 'unrecorded_mint' | 'not_on_chain' | 'failed_on_chain' | 'amounts_differ' | 'completed_without_confirmed_transaction' | 'supply';

export interface Difference {
  kind: DifferenceKind;
  signature: string | null;
  detail: string;
}

export interface Reconciliation {
  /** Ledger transactions recorded as confirmed, all checked against the chain. */
  confirmedTransactions: number;
  /** Transactions on chain that touched token_info since the baseline. */
  chainTransactions: number;
  completedTotal: bigint;
  supplyMoved: bigint;
  /** False for a database bound before baselines were stored: the whole history and supply are compared. */
  baseline: boolean;
  differences: Difference[];
}

export async function reconcile(db: Db, deps: { rpc: RpcClient; history: ChainHistory; tokenInfo: string; mint: string }): Promise<Reconciliation> {
  const baseline = await chainBaseline(db);
  const statuses = await ledgerStatuses(db);
  const differences: Difference[] = [];

  // The ledger's side: what each confirmed transaction should have minted, per token account.
  const expected = new Map<string, Map<string, bigint>>();
  let completedTotal = 0n;
  for (const m of await recordedMints(db)) {
    completedTotal += m.tokens;
    if (!m.signature || statuses.get(m.signature) !== 'confirmed') {
      differences.push({ kind: 'completed_without_confirmed_transaction', signature: m.signature, detail: `completed readings of wallet ${m.wallet} (${m.tokens} base units) name no confirmed transaction` });
      continue;
    }
    const perAccount = expected.get(m.signature) ?? new Map<string, bigint>();
    const account = deps.history.tokenAccountOf(m.wallet);
    perAccount.set(account, (perAccount.get(account) ?? 0n) + m.tokens);
    expected.set(m.signature, perAccount);
  }
  for (const [signature, status] of statuses) if (status === 'confirmed' && !expected.has(signature)) expected.set(signature, new Map());

  const compare = (tx: ChainTransaction) => {
    const want = expected.get(tx.signature)!;
    if (tx.err) return differences.push({ kind: 'failed_on_chain', signature: tx.signature, detail: `recorded as confirmed, but it failed on chain: ${JSON.stringify(tx.err)}` });
    const got = new Map<string, bigint>();
    for (const m of tx.mints) got.set(m.tokenAccount, (got.get(m.tokenAccount) ?? 0n) + m.amount);
    for (const account of new Set([...want.keys(), ...got.keys()])) {
      const [w, g] = [want.get(account) ?? 0n, got.get(account) ?? 0n];
      if (w !== g) differences.push({ kind: 'amounts_differ', signature: tx.signature, detail: `token account ${account}: the ledger says ${w}, the chain minted ${g}` });
    }
  };

  // The chain's side: every transaction touching token_info since the baseline.
  const seen = new Set<string>();
  let chainTransactions = 0;
  for await (const s of deps.history.signatures(deps.tokenInfo, baseline?.historyUntil ?? null)) {
    chainTransactions++;
    const recorded = expected.has(s.signature);
    if (s.err && !recorded) continue; // a failed transaction minted nothing
    const tx = await deps.history.transaction(s.signature);
    if (!tx) continue;
    seen.add(s.signature);
    if (recorded) compare(tx);
    else if (tx.mints.length > 0) {
      const total = tx.mints.reduce((a, m) => a + m.amount, 0n);
      const status = statuses.get(s.signature);
      differences.push({ kind: 'unrecorded_mint', signature: s.signature, detail: `mint_tokens_direct of ${total} base units ${status ? `recorded as ${status}, not confirmed` : 'not in the ledger'}` });
    }
  }
  // Confirmed in the ledger but not in the history scan: look each one up.
  for (const signature of expected.keys()) {
    if (seen.has(signature)) continue;
    const tx = await deps.history.transaction(signature);
    if (tx) compare(tx);
    else differences.push({ kind: 'not_on_chain', signature, detail: 'recorded as confirmed, but the chain does not know it' });
  }

  const supplyMoved = (await mintSupply(deps.rpc, deps.mint)) - (baseline?.initialSupply ?? 0n);
  if (supplyMoved !== completedTotal) {
    differences.push({ kind: 'supply', signature: null, detail: `the mint's supply moved by ${supplyMoved}; completed readings carry ${completedTotal}` });
  }
  return { confirmedTransactions: expected.size, chainTransactions, completedTotal, supplyMoved, baseline: baseline !== null, differences };
}
