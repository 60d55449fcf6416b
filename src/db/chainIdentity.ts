// A database belongs to one chain: its genesis hash is stored on first start, and a database is never
// run against another chain, so signatures recorded on one are never judged on another.
import { chainIdentity } from './schema.js';
import type { Db } from './client.js';
import { ChainSetupError } from '../errors.js';

export type IdentityCheck = 'new' | 'same' | 'other';

export async function checkChainIdentity(db: Db, genesisHash: string): Promise<IdentityCheck> {
  const rows = await db.select().from(chainIdentity);
  if (rows.length === 0) {
    await db.insert(chainIdentity).values({ genesisHash }).onConflictDoNothing();
    return 'new';
  }
  return rows.some((r) => r.genesisHash === genesisHash) ? 'same' : 'other';
}

export function refuseOtherChain(stored: IdentityCheck, genesisHash: string): void {
  if (stored === 'other') {
    throw new ChainSetupError(
      `this database holds readings of another chain (genesis differs from ${genesisHash}); point DATABASE_URL at this chain's database or SOLANA_RPC_URL at its chain`,
    );
  }
}
