// Exactly-once under the faults a real RPC has: a send dropped on the floor is called expired only after
// its blockhash provably expired (and only then re-signed); a send whose answer never came is found landed.
import { Keypair } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount } from '@solana/spl-token';
import { startTestChain, hooksOrSkip, type TestChain } from '../support/localnet.js';
import { ataOf } from '../support/energyToken.js';
import { reading, testEngine } from '../support/engine.js';
import type { MintResult } from '../../src/minting/types.js';
import { RUNTIME_LIMITS } from '../../src/minting/optimizeBatch.js';

let chain: TestChain;
beforeAll(async () => {
  // Short slots so that 150 blocks pass in seconds.
  chain = await startTestChain({ slotMs: 20 });
});
afterAll(() => chain.stop());
const balanceOf = async (owner: Keypair['publicKey']) => (await getAccount(chain.connection, ataOf(owner), 'confirmed', TOKEN_2022_PROGRAM_ID)).amount;

it('a dropped transaction is re-signed only after its blockhash provably expired, and mints once', async () => {
  const local = hooksOrSkip(chain, 'dropped sends');
  if (!local) return;
  const user = Keypair.generate().publicKey;
  const heightsAtSigning: number[] = [];
  const { engine, signed } = testEngine(chain, {
    send: { pollMs: 20, rebroadcastMs: 200, followTimeoutMs: 60_000 },
    onSigned: async (r) => {
      heightsAtSigning.push(local.chain.blockHeightAt('finalized'));
      signed.push(r);
      // Every send of the first transaction is dropped; the second goes through.
      if (signed.length === 1) local.hooks.dropNextSends(1_000_000);
      else local.hooks.clearSendFaults();
    },
  });
  const ledger: string[] = [];
  const [result] = await engine.mintEnergyTokensBatch([reading(user, 777n)], { onTransaction: (sig, status) => ledger.push(`${sig === signed[0]?.signature ? 'first' : 'second'} ${status}`) });
  expect(ledger).toEqual(['first sent', 'first expired', 'second sent']);
  expect(signed).toHaveLength(2);
  expect(heightsAtSigning[1]!).toBeGreaterThan(signed[0]!.lastValidBlockHeight);
  expect(result).toEqual({ readingId: expect.any(String), success: true, error: null, txSignature: signed[1]!.signature, outcome: 'minted' });
  const first = await chain.connection.getSignatureStatuses([signed[0]!.signature], { searchTransactionHistory: true });
  expect(first.value[0]).toBeNull();
  expect(await balanceOf(user)).toBe(777n);
});

it('a send whose answer never arrives is followed by signature and reported landed, never re-signed', async () => {
  const local = hooksOrSkip(chain, 'held sends');
  if (!local) return;
  const user = Keypair.generate().publicKey;
  const { engine, signed } = testEngine(chain, {
    send: { pollMs: 20, rebroadcastMs: 10_000, followTimeoutMs: 60_000 },
    onSigned: async (r) => {
      signed.push(r);
      local.hooks.holdNextSends(1);
    },
  });
  const [result] = await engine.mintEnergyTokensBatch([reading(user, 4242n)]);
  local.hooks.clearSendFaults();
  expect(signed).toHaveLength(1);
  expect(result?.success).toBe(true);
  expect(result?.txSignature).toBe(signed[0]!.signature);
  expect(await balanceOf(user)).toBe(4242n);
});

it('cancelling stops signing new transactions, follows the signed ones, and reports every reading', async () => {
  const users = Array.from({ length: 12 }, () => Keypair.generate().publicKey);
  const batch = users.map((u) => reading(u, 10n));
  const { engine, signed } = testEngine(chain, {
    concurrency: 1,
    limits: { ...RUNTIME_LIMITS, maxTokensPerInstruction: 10n ** 12n, usersPerTx: 1 },
  });
  const controller = new AbortController();
  const results: MintResult[] = [];
  for await (const r of engine.mintStream(batch, { signal: controller.signal })) {
    results.push(r);
    controller.abort();
  }
  expect(results.map((r) => r.readingId).sort()).toEqual(batch.map((r) => r.readingId).sort());
  const minted = results.filter((r) => r.success);
  const cancelled = results.filter((r) => !r.success);
  expect(minted.length).toBe(signed.length);
  expect(cancelled.length).toBeGreaterThan(0);
  for (const r of cancelled) expect(r.error).toMatch(/cancelled before signing/);
  for (const [i, u] of users.entries()) {
    const ok = minted.some((r) => r.readingId === batch[i]!.readingId);
    const info = await chain.connection.getAccountInfo(ataOf(u), 'confirmed');
    expect(info ? (await balanceOf(u)) : 0n).toBe(ok ? 10n : 0n);
  }
});
