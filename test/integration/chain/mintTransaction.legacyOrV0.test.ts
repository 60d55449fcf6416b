// The chain primitives build the same mints as a legacy transaction (no lookup tables) or as a v0 one
// (lookup tables given, even none): both simulate, name the mint a failure belongs to, sign once and land.
import { Keypair } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount } from '@solana/spl-token';
import { makeMintChain } from '../../../src/chain/mintTransaction.js';
import { loadIdl } from '../../../src/chain/energyToken.js';
import { makeRpcClient } from '../../../src/chain/rpcClient.js';
import { ataOf, authority, MINT, PROGRAM_ID } from '../../support/energyToken.js';
import { coSigning, testLog } from '../../support/engine.js';
import { startTestChain, type TestChain } from '../../support/localnet.js';

let chain: TestChain;
beforeAll(async () => {
  chain = await startTestChain({ slotMs: 20 });
});
afterAll(() => chain.stop());

const primitives = () => makeMintChain({ rpc: makeRpcClient({ url: chain.url, timeoutMs: 2_000 }), authority: authority(), ...coSigning(), programId: PROGRAM_ID, mint: MINT, idl: loadIdl(), log: testLog });
const balanceOf = async (owner: Keypair['publicKey']) => (await getAccount(chain.connection, ataOf(owner), 'confirmed', TOKEN_2022_PROGRAM_ID)).amount;
const send = { pollMs: 20, rebroadcastMs: 500, followTimeoutMs: 30_000, log: testLog };

it.each([
  ['legacy', undefined, 'legacy'],
  ['v0', [], 0],
] as const)('a %s transaction: simulated, signed once, landed with exact balances', async (_kind, lookupTables, shape) => {
  const c = primitives();
  const [a, b] = [Keypair.generate().publicKey, Keypair.generate().publicKey];
  const mints = [
    { walletAddress: a.toBase58(), parts: [5n], createAta: true },
    { walletAddress: b.toBase58(), parts: [7n, 8n], createAta: true },
  ];
  const blockhash = await c.latestBlockhash();
  const probe = await c.build({ mints, cuLimit: 1_400_000, price: 0n, blockhash, lookupTables: lookupTables && [...lookupTables] });
  // Both are VersionedTransactions (compiled once); the message says which kind goes on the wire.
  expect(probe.tx.version).toBe(shape);
  expect(probe.roles.map((r) => r.kind)).toEqual(['budget', 'budget', 'ata', 'mint', 'ata', 'mint', 'mint']);
  const sim = await c.simulate(probe);
  expect(sim).toMatchObject({ err: null, blamedMint: null });
  expect(sim.unitsConsumed).toBeGreaterThan(0);

  const built = await c.build({ mints, cuLimit: Math.ceil(sim.unitsConsumed! * 1.1) + 1_000, price: 0n, blockhash, lookupTables: lookupTables && [...lookupTables] });
  const signed = c.sign(built);
  expect(signed.lastValidBlockHeight).toBe(blockhash.lastValidBlockHeight);
  const outcome = await c.sendAndConfirm(signed, send);
  expect(outcome).toMatchObject({ status: 'confirmed' });
  expect([await balanceOf(a), await balanceOf(b)]).toEqual([5n, 15n]);
  // The slot the transaction landed in is measured against the slot it was sent at (the limiter's signal).
  if (outcome.status === 'confirmed') expect(outcome.sentSlot).toEqual(expect.any(Number));
});

it('a simulation names the mint whose recipient fails (its token account is not created)', async () => {
  const c = primitives();
  const good = Keypair.generate().publicKey.toBase58();
  const missing = Keypair.generate().publicKey.toBase58();
  const sim = await c.simulate(
    await c.build({
      mints: [
        { walletAddress: good, parts: [1n], createAta: true },
        { walletAddress: missing, parts: [1n], createAta: false },
      ],
      cuLimit: 1_400_000,
      price: 0n,
      blockhash: await c.latestBlockhash(),
    }),
  );
  expect(sim.err).not.toBeNull();
  expect(sim.blamedMint).toBe(1);
  expect(sim.reason).toEqual(expect.any(String));
});
