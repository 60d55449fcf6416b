// A full block, with time driven by the pause/advance hooks: transactions that all write one account
// fill its per-account budget, the rest wait for later blocks in arrival order, and one whose blockhash
// expires while it waits is dropped. Then the block methods: getBlock, getBlocks, performance samples.
import { ComputeBudgetProgram, Connection, Keypair, LAMPORTS_PER_SOL, SystemProgram, Transaction, TransactionExpiredBlockheightExceededError } from '@solana/web3.js';
import { startLocalnet, type Localnet } from '../../../anchor-localnet/server.js';
import { MAX_PROCESSING_AGE } from '../../../anchor-localnet/chain.js';

// Small enough that a few dozen transfers from one payer fill it; each transfer reserves about 18,700 CU
// (720 signature + 600 write locks + 1,000 requested + 16,384 for the default 64 MiB of loaded data).
const ACCOUNT_CU_LIMIT = 50_000;
let net: Localnet;
let connection: Connection;
const payer = Keypair.generate();

beforeAll(async () => {
  net = await startLocalnet({ slotMs: 60_000, accountCuLimit: ACCOUNT_CU_LIMIT });
  net.hooks.pauseSlots();
  connection = new Connection(net.url, { commitment: 'confirmed', wsEndpoint: net.wsUrl });
  await connection.requestAirdrop(payer.publicKey, 10 * LAMPORTS_PER_SOL);
  net.hooks.advanceSlots(2);
});
afterAll(() => net.stop());

function transfers(n: number, blockhash: string) {
  return Array.from({ length: n }, () => {
    const tx = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(
      ComputeBudgetProgram.setComputeUnitLimit({ units: 1_000 }),
      SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: Keypair.generate().publicKey, lamports: 1_000_000 }),
    );
    tx.sign(payer);
    return tx;
  });
}

const slotOf = async (signature: string) => (await connection.getSignatureStatuses([signature], { searchTransactionHistory: true })).value[0]?.slot ?? null;

it('transactions beyond the per-account budget land in later blocks, in arrival order', async () => {
  const { blockhash } = await connection.getLatestBlockhash('processed');
  const txs = transfers(60, blockhash);
  const signatures: string[] = [];
  for (const tx of txs) signatures.push(await connection.sendRawTransaction(tx.serialize(), { skipPreflight: true }));
  const first = net.chain.slot + 1;
  net.hooks.advanceSlots(1);
  const inFirst = (await Promise.all(signatures.map(slotOf))).filter((s) => s === first).length;
  // The payer's budget binds: some, not all, fit the first block; the rest wait.
  expect(inFirst).toBeGreaterThan(0);
  expect(inFirst).toBeLessThan(signatures.length);
  expect(net.chain.pendingCount).toBe(signatures.length - inFirst);
  const block = net.chain.getBlock(first, 'processed')!;
  expect(block.cost?.costliestAccount).toBe(payer.publicKey.toBase58());
  expect(block.cost!.costliestAccountCost).toBeLessThanOrEqual(ACCOUNT_CU_LIMIT);

  net.hooks.advanceSlots(Math.ceil(signatures.length / inFirst) + 1);
  const slots = await Promise.all(signatures.map(slotOf));
  expect(slots.every((s) => s !== null)).toBe(true);
  // Arrival order is kept across blocks.
  expect([...slots].sort((a, b) => a! - b!)).toEqual(slots);
  expect(net.chain.pendingCount).toBe(0);

  // getBlock answers from the blocks, at confirmed.
  net.hooks.advanceSlots(1);
  // web3.js has no getBlock for transactionDetails "signatures": asked as any client would.
  const res = await fetch(net.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'getBlock', params: [first, { commitment: 'confirmed', transactionDetails: 'signatures', rewards: false }] }),
  });
  const got = ((await res.json()) as { result: { signatures: string[]; parentSlot: number; previousBlockhash: string } }).result;
  expect(got.signatures).toEqual(signatures.slice(0, inFirst));
  expect(got?.parentSlot).toBe(first - 1);
  expect(got?.previousBlockhash).toBe((await connection.getBlock(first - 1, { commitment: 'confirmed', transactionDetails: 'none', rewards: false }))?.blockhash);
  const full = await connection.getBlock(first, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
  expect(full?.transactions).toHaveLength(inFirst);
  expect(full?.transactions[0]?.meta?.err).toBeNull();
  expect(await connection.getBlocks(first, first + 2, 'confirmed')).toEqual([first, first + 1, first + 2]);
  await expect(connection.getBlock(net.chain.slot + 10, { commitment: 'confirmed', transactionDetails: 'none' })).rejects.toThrow(/Block not available/);
});

it('a transaction still waiting when its blockhash expires is dropped, and confirmation reports expiry', async () => {
  // A blockhash with exactly one block of life left: only the next block may include it.
  const oldest = net.chain.slot - MAX_PROCESSING_AGE + 1;
  if (oldest < 1) net.hooks.advanceSlots(1 - oldest);
  const blockhash = net.chain.blockhashOf(net.chain.slot - MAX_PROCESSING_AGE + 1);
  expect(net.chain.isBlockhashValid(blockhash)).toBe(true);
  const signatures: string[] = [];
  for (const tx of transfers(60, blockhash)) signatures.push(await connection.sendRawTransaction(tx.serialize(), { skipPreflight: true }));
  const lastValidBlockHeight = net.chain.blockHeight + 1;
  const last = signatures[signatures.length - 1]!;
  const expiry = connection.confirmTransaction({ signature: last, blockhash, lastValidBlockHeight }, 'confirmed').catch((e: unknown) => e);
  net.hooks.advanceSlots(3);
  const landed = (await Promise.all(signatures.map(slotOf))).filter((s) => s !== null).length;
  expect(landed).toBeGreaterThan(0);
  expect(landed).toBeLessThan(signatures.length);
  expect(net.chain.pendingCount).toBe(0);
  expect(await slotOf(last)).toBeNull();
  expect(await expiry).toBeInstanceOf(TransactionExpiredBlockheightExceededError);
});

it('reports performance samples from the blocks: one every 150 slots, newest first', async () => {
  net.hooks.advanceSlots(300);
  const samples = await connection.getRecentPerformanceSamples(2);
  expect(samples).toHaveLength(2);
  expect(samples[0]!.slot).toBeGreaterThan(samples[1]!.slot);
  for (const s of samples) expect(s.numSlots).toBeGreaterThanOrEqual(150);
  const all = await connection.getRecentPerformanceSamples();
  expect(all.reduce((n, s) => n + s.numTransactions, 0)).toBeGreaterThan(60);
});
