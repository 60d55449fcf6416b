// The engine on the local chain: every reading gets a result carrying the signature that minted it, and
// every balance on chain equals the exact sum of that user's readings; a transaction to existing token
// accounts is simulated only until the engine knows what such a mint costs, and one that then fails on chain
// goes again simulated.
import { Keypair, PublicKey, Transaction } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, createAssociatedTokenAccountIdempotentInstruction, getAccount } from '@solana/spl-token';
import { startTestChain, type TestChain } from '../../support/localnet.js';
import { ataOf, authority, MINT } from '../../support/energyToken.js';
import { reading, testEngine } from '../../support/engine.js';
import type { MintResult } from '../../../src/minting/types.js';
import { BatchTooLarge, EmptyBatch, InvalidBatchData } from '../../../src/errors.js';
import { partialFailure } from '../../../src/minting/engine.js';
import { makeRpcClient } from '../../../src/chain/rpcClient.js';

let chain: TestChain;
beforeAll(async () => {
  chain = await startTestChain();
});
afterAll(() => chain.stop());

async function createAtas(owners: PublicKey[]) {
  const auth = authority();
  for (let i = 0; i < owners.length; i += 10) {
    const { blockhash, lastValidBlockHeight } = await chain.connection.getLatestBlockhash('confirmed');
    const tx = new Transaction({ feePayer: auth.publicKey, blockhash, lastValidBlockHeight }).add(
      ...owners.slice(i, i + 10).map((o) => createAssociatedTokenAccountIdempotentInstruction(auth.publicKey, ataOf(o), o, MINT, TOKEN_2022_PROGRAM_ID)),
    );
    tx.sign(auth);
    const signature = await chain.connection.sendRawTransaction(tx.serialize());
    await chain.connection.confirmTransaction({ signature, blockhash, lastValidBlockHeight }, 'confirmed');
  }
}
const balanceOf = async (owner: PublicKey) => (await getAccount(chain.connection, ataOf(owner), 'confirmed', TOKEN_2022_PROGRAM_ID)).amount;

it('1,000 readings from 200 users, half without a token account: exact balances, one result per reading', async () => {
  const users = Array.from({ length: 200 }, () => Keypair.generate().publicKey);
  await createAtas(users.slice(0, 100));
  const batch = Array.from({ length: 1000 }, (_, i) => reading(users[(i * 7) % 200]!, BigInt(1 + ((i * 7919) % 5_000_000_000))));
  const { engine, signed } = testEngine(chain);

  const results: MintResult[] = [];
  for await (const r of engine.mintStream(batch)) results.push(r);

  expect(results.filter((r) => !r.success)).toEqual([]);
  expect(results.map((r) => r.readingId).sort()).toEqual(batch.map((r) => r.readingId).sort());
  const bySig = new Map(signed.map((s) => [s.signature, s]));
  for (const r of results) expect(bySig.get(r.txSignature!)?.readingIds).toContain(r.readingId);
  // Each reading was carried by exactly one signed transaction.
  expect(signed.flatMap((s) => s.readingIds).sort()).toEqual(batch.map((r) => r.readingId).sort());

  const expected = new Map<string, bigint>();
  for (const r of batch) expected.set(r.walletAddress, (expected.get(r.walletAddress) ?? 0n) + r.tokensToMint);
  for (const u of users) expect(await balanceOf(u)).toBe(expected.get(u.toBase58()));
  process.stdout.write(`1,000 readings / 200 users: ${signed.length} transactions (${(signed.length / 1000).toFixed(3)} per reading)\n`);
  expect(signed.length).toBeLessThan(60);
  expect(partialFailure(results)).toBeNull();
});

it('a broken recipient fails alone with the decoded Token-2022 error; the others in its transaction land', async () => {
  const local = chain.localnet;
  if (!local) return;
  const users = Array.from({ length: 5 }, () => Keypair.generate().publicKey);
  await createAtas(users.slice(0, 4));
  // Plant, at the fifth user's token-account address, a token account of another mint.
  const good = await chain.connection.getAccountInfo(ataOf(users[0]!));
  const data = Buffer.from(good!.data);
  Keypair.generate().publicKey.toBuffer().copy(data, 0); // mint
  users[4]!.toBuffer().copy(data, 32); // owner
  local.hooks.setAccount(ataOf(users[4]!).toBase58(), { lamports: BigInt(good!.lamports), data, owner: TOKEN_2022_PROGRAM_ID.toBase58(), executable: false });

  const batch = users.map((u) => reading(u, 1_000n));
  const { engine, signed } = testEngine(chain);
  const results = await engine.mintEnergyTokensBatch(batch);
  const bad = results.find((r) => r.readingId === batch[4]!.readingId)!;
  expect(bad.success).toBe(false);
  // energy_token 0.1.1 checks `token::mint` itself (Anchor's ConstraintTokenMint); the engine then reads the
  // account and says in words why nothing can be minted to it.
  expect(bad.error).toMatch(/^the address of the owner's token account holds an account of another mint or program: nothing can be minted to it \(anchor ConstraintTokenMint \(custom error 2014\)/);
  expect(results.filter((r) => r.success)).toHaveLength(4);
  expect(signed).toHaveLength(1); // found in simulation: nothing was sent for it
  for (const u of users.slice(0, 4)) expect(await balanceOf(u)).toBe(1_000n);
  expect(partialFailure(results)?.message).toBe('4 of 5 readings minted');
});

/** An RPC client that counts the simulations it is asked for. */
function simulationsCounted() {
  const inner = makeRpcClient({ url: chain.url, timeoutMs: 2_000 });
  let simulations = 0;
  const rpc = { ...inner, call: <T>(method: string, params: unknown[] = []) => ((method === 'simulateTransaction' && simulations++), inner.call<T>(method, params)) };
  return { rpc, simulations: () => simulations };
}

it('to token accounts that exist, a transaction is sized from the units an earlier simulation measured, not simulated again', async () => {
  const users = Array.from({ length: 20 }, () => Keypair.generate().publicKey);
  await createAtas(users);
  const { rpc, simulations } = simulationsCounted();
  const { engine, signed } = testEngine(chain, { rpc });
  const first = await engine.mintEnergyTokensBatch(users.map((u) => reading(u, 7n)));
  expect(first.every((r) => r.success)).toBe(true);
  const measured = simulations();
  expect(measured).toBeGreaterThan(0);

  const second = await engine.mintEnergyTokensBatch([...users, ...users].map((u) => reading(u, 1_000n)));
  expect(second.filter((r) => !r.success)).toEqual([]);
  expect(simulations()).toBe(measured);
  for (const u of users) expect(await balanceOf(u)).toBe(2_007n);
  // Each reading carried by exactly one signed transaction, as always.
  expect(signed.flatMap((t) => t.readingIds).sort()).toEqual([...first, ...second].map((r) => r.readingId).sort());
});

it('an unsimulated transaction that fails on chain goes again whole, simulated: the bad recipient fails alone', async () => {
  const local = chain.localnet;
  if (!local) return;
  const users = Array.from({ length: 5 }, () => Keypair.generate().publicKey);
  await createAtas(users);
  const { rpc, simulations } = simulationsCounted();
  const { engine, signed } = testEngine(chain, { rpc });
  expect((await engine.mintEnergyTokensBatch(users.map((u) => reading(u, 10n)))).every((r) => r.success)).toBe(true);
  const measured = simulations();
  // Now the fifth user's token-account address holds a token account of another mint.
  const good = await chain.connection.getAccountInfo(ataOf(users[0]!));
  const data = Buffer.from(good!.data);
  Keypair.generate().publicKey.toBuffer().copy(data, 0);
  users[4]!.toBuffer().copy(data, 32);
  local.hooks.setAccount(ataOf(users[4]!).toBase58(), { lamports: BigInt(good!.lamports), data, owner: TOKEN_2022_PROGRAM_ID.toBase58(), executable: false });

  const batch = users.map((u) => reading(u, 1_000n));
  const before = signed.length;
  const results = await engine.mintEnergyTokensBatch(batch);
  expect(results.find((r) => r.readingId === batch[4]!.readingId)).toMatchObject({ success: false, error: expect.stringMatching(/another mint or program.*ConstraintTokenMint/) });
  expect(results.filter((r) => r.success)).toHaveLength(4);
  // The unsimulated transaction (landed, failed, nothing minted), then the four simulated and minted.
  expect(signed.length - before).toBe(2);
  expect(simulations()).toBeGreaterThan(measured);
  for (const u of users.slice(0, 4)) expect(await balanceOf(u)).toBe(1_010n);
});

it('two transactions with the same mints built together never share a signature: both land, the balance is the sum', async () => {
  const user = Keypair.generate().publicKey;
  await createAtas([user]);
  const { engine } = testEngine(chain);
  // One mint measured (simulated), so that the next ones are sized alike without simulation: same mints, same
  // limit, same shared blockhash, the same bytes but for the engine's own guard.
  expect((await engine.mintEnergyTokensBatch([reading(user, 5n)])).every((r) => r.success)).toBe(true);
  const [a, b] = await Promise.all([engine.mintEnergyTokensBatch([reading(user, 1_000n)]), engine.mintEnergyTokensBatch([reading(user, 1_000n)])]);
  expect([...a, ...b].every((r) => r.success)).toBe(true);
  expect(a[0]!.txSignature).not.toBe(b[0]!.txSignature);
  expect(await balanceOf(user)).toBe(2_005n);
});

it('validates the batch with typed errors', async () => {
  const { engine } = testEngine(chain, { maxBatchSize: () => 2 });
  const w = Keypair.generate().publicKey;
  await expect(engine.mintEnergyTokensBatch([])).rejects.toBeInstanceOf(EmptyBatch);
  await expect(engine.mintEnergyTokensBatch([reading(w, 1n), reading(w, 1n), reading(w, 1n)])).rejects.toBeInstanceOf(BatchTooLarge);
  const dup = reading(w, 1n);
  await expect(engine.mintEnergyTokensBatch([dup, dup])).rejects.toThrow(/appears twice/);
  const bad = { ...reading(w, 1n), walletAddress: 'nope' };
  await expect(engine.mintEnergyTokensBatch([bad])).rejects.toBeInstanceOf(InvalidBatchData);
  // Above the per-instruction cap a reading is split inside one transaction; past what one holds, refused.
  const over = reading(w, 40n * 10n ** 12n);
  await expect(engine.mintEnergyTokensBatch([over])).rejects.toThrow(/does not fit one transaction/);
});

it('estimates the real fee: signatures, priority fee and rent for accounts to create', async () => {
  const { engine } = testEngine(chain);
  const fresh = Array.from({ length: 3 }, () => Keypair.generate().publicKey);
  const fee = await engine.estimateFee(fresh.map((u) => reading(u, 5n)));
  expect(fee.transactions).toBe(1);
  // Two signatures: the authority's and the co-signing REC validator's (energy_token 0.1.1).
  expect(fee.signatures).toBe(2);
  expect(fee.baseFeeLamports).toBe(10_000n);
  expect(fee.tokenAccountsCreated).toBe(3);
  // A Token-2022 associated account is 170 bytes (with its ImmutableOwner extension).
  expect(fee.rentLamports).toBe(3n * BigInt(await chain.connection.getMinimumBalanceForRentExemption(170)));
  expect(fee.totalLamports).toBe(fee.baseFeeLamports + fee.priorityFeeLamports + fee.rentLamports);
});

it('a 429 before signing is retried, not counted against the reading; with no retries allowed it fails unsent', async () => {
  // An RPC that answers 429 to the first getLatestBlockhash of each engine, and forwards everything else.
  const throttledOnce = () => {
    const seen: string[] = [];
    const fetchImpl: typeof fetch = async (url, init) => {
      const method = JSON.parse(String(init!.body)).method as string;
      seen.push(method);
      if (method === 'getLatestBlockhash' && seen.filter((m) => m === method).length === 1) return new Response('slow down', { status: 429 });
      return fetch(url, init);
    };
    return { seen, rpc: makeRpcClient({ url: chain.url, timeoutMs: 2_000, fetchImpl }) };
  };
  const user = Keypair.generate().publicKey;
  const a = throttledOnce();
  const [ok] = await testEngine(chain, { rpc: a.rpc }).engine.mintOne(reading(user, 11n));
  expect(ok).toMatchObject({ success: true, outcome: 'minted' });
  expect(a.seen.filter((m) => m === 'getLatestBlockhash')).toHaveLength(2);

  const b = throttledOnce();
  const [no] = await testEngine(chain, { rpc: b.rpc, readRetries: 0 }).engine.mintOne(reading(user, 12n));
  expect(no).toMatchObject({ success: false, outcome: 'failed', txSignature: null, error: 'not sent: getLatestBlockhash: HTTP 429' });
  expect((await getAccount(chain.connection, ataOf(user), 'confirmed', TOKEN_2022_PROGRAM_ID)).amount).toBe(11n);
});
