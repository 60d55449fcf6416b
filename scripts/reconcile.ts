// `npm run reconcile`: the ledger in the database (DATABASE_URL) against the chain (SOLANA_RPC_URL), by
// transactions, not balances: every confirmed transaction is on chain with the recorded mints, every mint of
// the authority on chain is recorded, and the supply moved by the completed readings' sum. Prints every
// difference; exits 1 when there is any.
import { Connection, PublicKey } from '@solana/web3.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/client.js';
import { deployedProgram, readMintAddress, tokenInfoAddress } from '../src/chain/energyToken.js';
import { makeChainHistory } from '../src/chain/history.js';
import { makeRpcClient } from '../src/chain/rpcClient.js';
import { reconcile } from '../src/minting/reconcile.js';

// Only what reconciling reads: DATABASE_URL and SOLANA_RPC_URL (and the program's IDL and id); no credentials.
let config;
try {
  config = loadConfig(process.env, 'reconcile');
} catch (e) {
  process.stderr.write(`reconcile: ${(e as Error).message}\n`);
  process.exit(2);
}
if (!config.DATABASE_URL || !config.SOLANA_RPC_URL) process.exit(2); // refused by loadConfig above
const database = await openDatabase({ url: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR });
try {
  // The program and its interface as the service takes them (ENERGY_TOKEN_IDL, ENERGY_TOKEN_PROGRAM_ID).
  const { programId, program } = deployedProgram(config);
  const mint = await readMintAddress(new Connection(config.SOLANA_RPC_URL, 'confirmed'), programId.toBase58(), program.idl);
  const rpc = makeRpcClient({ url: config.SOLANA_RPC_URL, timeoutMs: config.RPC_TIMEOUT_MS });
  const history = makeChainHistory({ rpc, idl: program.idl, programId, mint: new PublicKey(mint) });
  const r = await reconcile(database.db, { rpc, history, tokenInfo: tokenInfoAddress(programId).toBase58(), mint });
  for (const d of r.differences) process.stdout.write(`DIFF ${d.kind}${d.signature ? ` ${d.signature}` : ''}: ${d.detail}\n`);
  if (!r.baseline) process.stdout.write('note: this database was bound to the chain before baselines were stored: the whole history and supply were compared\n');
  process.stdout.write(
    `${r.confirmedTransactions} confirmed transactions, ${r.chainTransactions} on chain, ${r.differences.length} differences; ` +
      `supply moved ${r.supplyMoved}, completed readings ${r.completedTotal}\n`,
  );
  process.exitCode = r.differences.length === 0 ? 0 : 1;
} finally {
  await database.close();
}
