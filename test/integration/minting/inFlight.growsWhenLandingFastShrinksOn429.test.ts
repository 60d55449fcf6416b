// The engine's in-flight limit on the local chain: transactions that land within two slots of their send
// let it grow (up to its ceiling); an RPC that answers 429 halves it, and the reading is still minted.
import { Keypair } from '@solana/web3.js';
import { makeRpcClient } from '../../../src/chain/rpcClient.js';
import { makeInFlightLimiter } from '../../../src/minting/inFlight.js';
import { RUNTIME_LIMITS } from '../../../src/minting/optimizeBatch.js';
import { reading, testEngine } from '../../support/engine.js';
import { startTestChain, type TestChain } from '../../support/localnet.js';

let chain: TestChain;
beforeAll(async () => {
  chain = await startTestChain();
});
afterAll(() => chain.stop());

it('grows while transactions land within two slots of their send, never past the ceiling', async () => {
  const inFlight = makeInFlightLimiter({ initial: 1, ceiling: 3, growEvery: 1 });
  // One recipient per transaction: six transactions, one at a time at first.
  const { engine } = testEngine(chain, { inFlight, limits: { ...RUNTIME_LIMITS, maxTokensPerInstruction: 10n ** 12n, usersPerTx: 1 } });
  const results = await engine.mintEnergyTokensBatch(Array.from({ length: 6 }, (_, i) => reading(Keypair.generate().publicKey, BigInt(i + 1))));
  expect(results.every((r) => r.outcome === 'minted')).toBe(true);
  expect(inFlight.limit()).toBe(3);
  expect(inFlight.inFlight()).toBe(0);
});

it('halves when the RPC answers 429, and the reading is still minted once', async () => {
  let throttled = 0;
  const fetchImpl: typeof fetch = async (url, init) => {
    const method = JSON.parse(String(init!.body)).method as string;
    if (method === 'getLatestBlockhash' && throttled++ === 0) return new Response('slow down', { status: 429 });
    return fetch(url, init);
  };
  const inFlight = makeInFlightLimiter({ initial: 8, ceiling: 64 });
  const { engine, signed } = testEngine(chain, { inFlight, rpc: makeRpcClient({ url: chain.url, timeoutMs: 2_000, fetchImpl }) });
  const [result] = await engine.mintOne(reading(Keypair.generate().publicKey, 42n));
  expect(result).toMatchObject({ success: true, outcome: 'minted' });
  expect(signed).toHaveLength(1);
  expect(inFlight.limit()).toBe(4);
});
