// `npm run reconcile`: each wallet's on-chain balance and the mint's supply against the sum of completed
// readings in the database (DATABASE_URL, SOLANA_RPC_URL). Prints every difference; exits 1 when any.
import { Connection } from '@solana/web3.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/client.js';
import { readMintAddress } from '../src/chain/energyToken.js';
import { makeRpcClient } from '../src/chain/rpcClient.js';
import { reconcile } from '../src/minting/reconcile.js';

const config = loadConfig(process.env);
if (!config.DATABASE_URL || !config.SOLANA_RPC_URL) {
  process.stderr.write('reconcile compares a database with a chain: set DATABASE_URL and SOLANA_RPC_URL\n');
  process.exit(2);
}
const database = await openDatabase({ url: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR });
try {
  const mint = await readMintAddress(new Connection(config.SOLANA_RPC_URL, 'confirmed'), config.ENERGY_TOKEN_PROGRAM_ID);
  const r = await reconcile(database.db, makeRpcClient({ url: config.SOLANA_RPC_URL, timeoutMs: config.RPC_TIMEOUT_MS }), mint);
  for (const d of r.differences) process.stdout.write(`DIFF wallet ${d.wallet}: on chain ${d.onChain}, completed readings ${d.completed}\n`);
  process.stdout.write(`${r.wallets} wallets, ${r.differences.length} differences; mint supply ${r.supply}, completed readings ${r.completedTotal}${r.supply === r.completedTotal ? '' : ' (differ)'}\n`);
  process.exitCode = r.differences.length === 0 && r.supply === r.completedTotal ? 0 : 1;
} finally {
  await database.close();
}
