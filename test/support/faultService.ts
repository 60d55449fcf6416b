// What the fault suites share: a service on the localnet authority with fast worker cycles (its own PGlite
// unless the test gives DATABASE_URL), and a queue of readings spread over a set of wallets.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import { privateAuthorityKey, privateRecValidatorKey } from './localnet.js';
import { loadConfig } from '../../src/config.js';
import type { Log } from '../../src/log.js';
import { startService } from '../../src/service.js';
import type { SeedRow } from './db.js';

export function startFaultService(env: Record<string, string>, log: Log) {
  return startService(
    loadConfig({
      PORT: '0',
      AUTHORITY_KEYPAIR_PATH: privateAuthorityKey(),
      REC_VALIDATOR_KEYPAIR_PATH: privateRecValidatorKey(),
      GATEWAY_API_KEYS: 'g',
      OPERATOR_TOKEN: 'o',
      PGLITE_DIR: join(mkdtempSync(join(tmpdir(), 'faults-')), 'pg'),
      BATCH_INTERVAL_MS: '100',
      // The queued readings are a few base units each: minted as they are, not held to be summed.
      MIN_MINT_TOKENS: '0',
      ...env,
    }),
    log,
  );
}

/** `n` readings over `wallets` fresh wallets (one meter, distinct timestamps), with varied amounts. */
export function queueRows(n: number, wallets: number): SeedRow[] {
  const users = Array.from({ length: wallets }, () => Keypair.generate().publicKey.toBase58());
  return Array.from({ length: n }, (_, i) => ({
    id: crypto.randomUUID(),
    meterId: 'm',
    userId: `u${i % users.length}`,
    walletAddress: users[i % users.length]!,
    kwhAmount: '1',
    tokensToMint: BigInt(1 + ((i * 7919) % 1_000_000)),
    readingTimestamp: new Date(Date.UTC(2026, 0, 1) + i),
  }));
}
