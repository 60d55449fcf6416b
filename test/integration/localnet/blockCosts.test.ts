// localnet_getBlockCosts, the localnet-only method the scale benchmark reads the chain's bound from: the
// cost the block tracker charged each block, and an account's share of it when every transaction of the
// block write-locks that account (then it is the block's cost exactly); null when some do not.
import { Connection, Keypair, LAMPORTS_PER_SOL, SystemProgram, Transaction } from '@solana/web3.js';
import { startLocalnet, type Localnet } from '../../../anchor-localnet/server.js';

let net: Localnet;
let connection: Connection;
const a = Keypair.generate();
const b = Keypair.generate();

beforeAll(async () => {
  net = await startLocalnet({ slotMs: 60_000 });
  net.hooks.pauseSlots();
  connection = new Connection(net.url, { commitment: 'confirmed', wsEndpoint: net.wsUrl });
  await connection.requestAirdrop(a.publicKey, 10 * LAMPORTS_PER_SOL);
  await connection.requestAirdrop(b.publicKey, 10 * LAMPORTS_PER_SOL);
  net.hooks.advanceSlots(2);
});
afterAll(() => net.stop());

async function send(payer: Keypair, n: number): Promise<void> {
  const { blockhash } = await connection.getLatestBlockhash('processed');
  for (let i = 0; i < n; i++) {
    const tx = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: Keypair.generate().publicKey, lamports: 1_000_000 }));
    tx.sign(payer);
    await connection.sendRawTransaction(tx.serialize(), { skipPreflight: true });
  }
}

interface BlockCost {
  slot: number;
  transactions: number;
  blockCost: number;
  costliestAccount: string;
  costliestAccountCost: number;
  transactionsWritingAccount: number;
  accountCost: number | null;
}

async function blockCosts(from: number, to: number, account: string): Promise<BlockCost[]> {
  const res = await fetch(net.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'localnet_getBlockCosts', params: [from, to, { account }] }) });
  return ((await res.json()) as { result: BlockCost[] }).result;
}

it("charges an account the block's cost when every transaction write-locks it, and says so only then", async () => {
  const onlyA = net.chain.slot + 1;
  await send(a, 3);
  net.hooks.advanceSlots(1);
  const mixed = net.chain.slot + 1;
  await send(a, 2);
  await send(b, 1);
  net.hooks.advanceSlots(2); // the second slot makes the block confirmed

  const [first, second, ...rest] = await blockCosts(onlyA, mixed + 1, a.publicKey.toBase58());
  expect(rest).toEqual([]); // slots without transactions are left out
  expect(first).toMatchObject({ slot: onlyA, transactions: 3, transactionsWritingAccount: 3, costliestAccount: a.publicKey.toBase58() });
  expect(first!.blockCost).toBeGreaterThan(0);
  expect(first!.accountCost).toBe(first!.blockCost);
  expect(first!.costliestAccountCost).toBe(first!.blockCost);

  expect(second).toMatchObject({ slot: mixed, transactions: 3, transactionsWritingAccount: 2, accountCost: null });
  // A's two transfers cost the same as each of the first block's three.
  expect(second!.costliestAccountCost).toBe((first!.blockCost * 2) / 3);
  expect(second!.blockCost).toBe(first!.blockCost);
});

it('answers a bad account as Invalid params', async () => {
  const res = await fetch(net.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'localnet_getBlockCosts', params: [0, 1, { account: 'nope' }] }) });
  expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32602);
});
