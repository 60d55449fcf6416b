// A database belongs to one chain: its genesis hash is stored on first start, and a database is never
// run against another chain, so signatures recorded on one are never judged on another. With it goes the
// chain as the database found it (the newest transaction touching token_info, the mint's supply), so that
// reconciliation judges only what happened after.
import { chainIdentity } from './schema.js';
import type { Db } from './client.js';
import { ChainSetupError } from '../errors.js';

export type IdentityCheck = 'new' | 'same' | 'other';

export interface ChainBaseline {
  /** The newest signature touching token_info when the database was bound (null: none yet). */
  historyUntil: string | null;
  initialSupply: bigint;
}

export async function checkChainIdentity(db: Db, genesisHash: string, baseline?: () => Promise<ChainBaseline>): Promise<IdentityCheck> {
  const rows = await db.select().from(chainIdentity);
  if (rows.length === 0) {
    const b = await baseline?.();
    await db
      .insert(chainIdentity)
      .values({ genesisHash, historyUntil: b?.historyUntil ?? null, initialSupply: b ? b.initialSupply.toString() : null })
      .onConflictDoNothing();
    return 'new';
  }
  return rows.some((r) => r.genesisHash === genesisHash) ? 'same' : 'other';
}

/** The baseline stored at binding; null for a database bound before baselines were stored. */
export async function chainBaseline(db: Db): Promise<ChainBaseline | null> {
  const [row] = await db.select().from(chainIdentity).limit(1);
  if (!row || row.initialSupply === null) return null;
  return { historyUntil: row.historyUntil, initialSupply: BigInt(row.initialSupply) };
}

export function refuseOtherChain(stored: IdentityCheck, genesisHash: string): void {
  if (stored === 'other') {
    throw new ChainSetupError(
      `this database holds readings of another chain (genesis differs from ${genesisHash}); point DATABASE_URL at this chain's database or SOLANA_RPC_URL at its chain`,
    );
  }
}
