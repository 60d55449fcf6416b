// Reconciliation by transactions, not balances: a ledger minted by the service agrees with the chain; a mint
// made before the database was bound is not its business; and each way the two can disagree is reported by
// kind: a mint outside the ledger, a confirmed transaction the chain does not know, amounts that differ, a
// completed reading without a confirmed transaction, and a supply that moved by another sum.
import { randomBytes, randomUUID } from 'node:crypto';
import { Keypair, type PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID } from '@solana/spl-token';
import BN from 'bn.js';
import bs58 from 'bs58';
import { eq, sql } from 'drizzle-orm';
import { makeChainHistory } from '../../../src/chain/history.js';
import { makeRpcClient } from '../../../src/chain/rpcClient.js';
import { checkChainIdentity } from '../../../src/db/chainIdentity.js';
import { mintTransactions, readings } from '../../../src/db/schema.js';
import { makeBatchEvents } from '../../../src/minting/events.js';
import { makeBatchRunner } from '../../../src/minting/runBatch.js';
import { seedReadings, freshPglite, type TestDatabase } from '../../support/db.js';
import { anchorProgram, ataOf, authority, MINT, PROGRAM_ID, TOKEN_INFO, idl } from '../../support/energyToken.js';
import { reconcileWith } from '../../support/ledger.js';
import { startTestChain, type TestChain } from '../../support/localnet.js';
import { recValidator, registryAuthority, testLog, testEngine } from '../../support/engine.js';

let chain: TestChain;
let t: TestDatabase;
beforeAll(async () => {
  chain = await startTestChain({ slotMs: 20 });
  t = await freshPglite();
});
afterAll(async () => {
  await t?.drop();
  await chain?.stop();
});

const mintOutside = async (owner: PublicKey, amount: number) => {
  const auth = authority();
  await anchorProgram(chain.connection, auth)
    .methods.mintTokensDirect!(new BN(amount))
    .accountsStrict({ tokenInfo: TOKEN_INFO, mint: MINT, userTokenAccount: ataOf(owner), authority: auth.publicKey, registryAuthority: registryAuthority(), recValidator: recValidator().publicKey, tokenProgram: TOKEN_2022_PROGRAM_ID })
    .signers([recValidator()])
    .rpc();
};

it('agrees with a ledger the service wrote, and names each way the two can disagree', async () => {
  const db = t.database.db;
  const users = Array.from({ length: 3 }, () => Keypair.generate().publicKey);
  // Minted before the database was bound: history it is not answerable for.
  const { engine: early } = testEngine(chain);
  await early.mintEnergyTokensBatch([{ readingId: randomUUID(), userId: 'x', walletAddress: users[0]!.toBase58(), kwhAmount: '1', tokensToMint: 99n, meterId: null }]);
  const rpc = makeRpcClient({ url: chain.url, timeoutMs: 5_000 });
  const history = makeChainHistory({ rpc, idl: idl(), programId: PROGRAM_ID, mint: MINT });
  await checkChainIdentity(db, await chain.connection.getGenesisHash(), async () => {
    const b = await history.baseline(TOKEN_INFO.toBase58());
    return { historyUntil: b.newest, initialSupply: b.supply };
  });

  const rows = Array.from({ length: 6 }, (_, i) => ({
    id: randomUUID(),
    meterId: 'm',
    userId: `u${i % 3}`,
    walletAddress: users[i % 3]!.toBase58(),
    kwhAmount: '1',
    tokensToMint: BigInt(100 + i),
    readingTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
  }));
  await seedReadings(db, rows);
  const { engine } = testEngine(chain);
  const runner = makeBatchRunner({ db, engine, log: testLog, defaults: { batchIntervalMs: 50, maxBatchSize: 100, maxAttempts: 5, backoffMs: 0 }, leaseMs: 30_000, events: makeBatchEvents(t.database) });
  expect((await (await runner.start('poll', null)).done).successful_mints).toBe(6);

  const clean = await reconcileWith(db, chain.url);
  expect(clean).toMatchObject({ differences: [], baseline: true, completedTotal: 615n, supplyMoved: 615n });
  expect(clean.confirmedTransactions).toBeGreaterThanOrEqual(1);

  // A mint outside the ledger (the authority used elsewhere): on chain, not recorded; the supply moved more.
  await mintOutside(users[1]!, 1);
  // A confirmed transaction the chain never saw.
  const ghost = bs58.encode(randomBytes(64));
  await db.insert(mintTransactions).values({ signature: ghost, raw: new Uint8Array([0]), lastValidBlockHeight: 1, status: 'confirmed', readingIds: [] });
  // The ledger says a reading carried one more base unit than its transaction minted.
  const [first] = await db.select().from(readings).where(eq(readings.id, rows[0]!.id));
  await db.update(readings).set({ tokensToMint: sql`${readings.tokensToMint} + 1` }).where(eq(readings.id, first!.id));
  // A completed reading that names no transaction.
  const orphan = { ...rows[0]!, id: randomUUID(), readingTimestamp: new Date(Date.UTC(2026, 0, 2)), tokensToMint: 5n };
  await seedReadings(db, [orphan]);
  await db.update(readings).set({ status: 'completed' }).where(eq(readings.id, orphan.id));

  const r = await reconcileWith(db, chain.url);
  const kinds = r.differences.map((d) => d.kind).sort();
  expect(kinds).toEqual(['amounts_differ', 'completed_without_confirmed_transaction', 'not_on_chain', 'supply', 'unrecorded_mint']);
  expect(r.differences.find((d) => d.kind === 'unrecorded_mint')!.detail).toBe('mint_tokens_direct of 1 base units not in the ledger');
  expect(r.differences.find((d) => d.kind === 'not_on_chain')!.signature).toBe(ghost);
  expect(r.differences.find((d) => d.kind === 'amounts_differ')!.detail).toMatch(new RegExp(`${ataOf(users[0]!).toBase58()}: the ledger says \\d+, the chain minted \\d+`));
  expect(r.supplyMoved).toBe(616n);
});
