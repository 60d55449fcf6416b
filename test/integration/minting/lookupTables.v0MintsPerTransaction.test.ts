// The most mint_tokens_direct instructions one transaction carries, measured on the local chain: v0 with
// every account looked up in the service's table against legacy. v0 is bound by the instruction trace (64
// entries, CPIs included: 31 mints), not by its 1,232 bytes. Each lands, every recipient's balance
// rises exactly once by its amount, and the planner (optimizeBatch's measure) predicted both numbers. The
// figures (mints per transaction, fee per reading) are printed for the README.
import { Keypair, PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount } from '@solana/spl-token';
import { makeLookupTables, type LookupTableStore, type StoredLookupTable } from '../../../src/chain/lookupTables.js';
import { loadIdl, tokenInfoAddress } from '../../../src/chain/energyToken.js';
import { makeMintChain, MAX_CU, type ChainMint } from '../../../src/chain/mintTransaction.js';
import { makeRpcClient } from '../../../src/chain/rpcClient.js';
import { groupByRecipient, measure, optimizeBatch, RUNTIME_LIMITS } from '../../../src/minting/optimizeBatch.js';
import { ataOf, authority, MINT, PROGRAM_ID } from '../../support/energyToken.js';
import { coSigning, reading, testEngine, testLog } from '../../support/engine.js';
import { startTestChain, type TestChain } from '../../support/localnet.js';

const AMOUNT = 1_000_000_007n;
const send = { pollMs: 25, rebroadcastMs: 500, followTimeoutMs: 60_000 };
let chain: TestChain;
beforeAll(async () => {
  chain = await startTestChain({ slotMs: 50 });
});
afterAll(() => chain.stop());

/** The store as the database keeps it, in memory: this test is about the chain. */
function memoryStore(): LookupTableStore {
  const rows: StoredLookupTable[] = [];
  return {
    list: async () => rows.map((r) => ({ ...r })),
    add: async (address, pending) => void rows.push({ address, pending }),
    setPending: async (address, pending) => void (rows.find((r) => r.address === address)!.pending = pending),
    remove: async (address) => void rows.splice(rows.findIndex((r) => r.address === address), 1),
    lock: (fn) => fn(),
  };
}

const balanceOf = async (wallet: string) => (await getAccount(chain.connection, ataOf(new PublicKey(wallet)), 'confirmed', TOKEN_2022_PROGRAM_ID)).amount;

it('fits 31 mints in a v0 transaction with every account looked up (the instruction trace binds), against 13 in legacy (two signatures on energy_token 0.1.1); each lands once', async () => {
  const rpc = makeRpcClient({ url: chain.url, timeoutMs: 2_000 });
  const wallets = Array.from({ length: 60 }, () => Keypair.generate().publicKey.toBase58());
  // Their token accounts exist (a first mint, legacy), as for recipients minted to often.
  const { engine } = testEngine(chain);
  const first = await engine.mintEnergyTokensBatch(wallets.map((w) => reading(new PublicKey(w), 1n)));
  expect(first.every((r) => r.success)).toBe(true);

  const tables = makeLookupTables({ rpc, authority: authority(), log: testLog, store: memoryStore(), send, shared: { tokenInfo: tokenInfoAddress(PROGRAM_ID), mint: MINT } });
  const lookupTables = await tables.addRecipients(wallets);
  expect(lookupTables).toHaveLength(1);

  const mintChain = makeMintChain({ rpc, authority: authority(), ...coSigning(), programId: PROGRAM_ID, mint: MINT, idl: loadIdl(), log: testLog });
  const price = await mintChain.priorityFee(100_000n);
  const mintsOf = (ws: string[]): ChainMint[] => ws.map((walletAddress) => ({ walletAddress, parts: [AMOUNT], createAta: false }));

  /**
   * The most of `wallets` one transaction carries, measured by building and simulating it (the runtime refuses
   * more than 64 instructions in its trace, CPIs included), then sent; its fee and size.
   */
  async function most(v0: boolean) {
    const blockhash = await mintChain.latestBlockhash();
    let k = wallets.length;
    for (; k > 0; k--) {
      const built = await mintChain.build({ mints: mintsOf(wallets.slice(0, k)), cuLimit: MAX_CU, price, blockhash, lookupTables: v0 ? lookupTables : undefined });
      try {
        // Legacy serializing refuses more than 1,232 bytes; v0 serializes it, and the RPC would refuse it.
        if (mintChain.sign(built).wire.length > 1232) continue;
      } catch {
        continue;
      }
      if ((await mintChain.simulate(built)).err === null) break;
    }
    const ws = wallets.slice(0, k);
    const before = await Promise.all(ws.map(balanceOf));
    const probe = await mintChain.build({ mints: mintsOf(ws), cuLimit: MAX_CU, price, blockhash, lookupTables: v0 ? lookupTables : undefined });
    const sim = await mintChain.simulate(probe);
    expect(sim.err).toBeNull();
    const cuLimit = Math.ceil(sim.unitsConsumed! * 1.1) + 1_000;
    const signed = mintChain.sign(await mintChain.build({ mints: mintsOf(ws), cuLimit, price, blockhash, lookupTables: v0 ? lookupTables : undefined }));
    const outcome = await mintChain.sendAndConfirm(signed, { ...send, log: testLog });
    expect(outcome.status).toBe('confirmed');
    const after = await Promise.all(ws.map(balanceOf));
    ws.forEach((_, i) => expect(after[i]! - before[i]!).toBe(AMOUNT));
    const tx = await chain.connection.getTransaction(signed.signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
    const mints = groupByRecipient(ws.map((w) => reading(new PublicKey(w), AMOUNT)), 10n ** 12n, () => true);
    return { k, bytes: signed.wire.length, fee: tx!.meta!.fee, planned: measure(mints, v0 ? tables.lookupsFor(ws) : undefined, mintChain.shape) };
  }

  const v0 = await most(true);
  const legacy = await most(false);
  process.stdout.write(
    `mints per transaction: v0 with every account looked up ${v0.k} (${v0.bytes} bytes, fee ${v0.fee} lamports, ${(v0.fee / v0.k).toFixed(1)} per reading); ` +
      `legacy ${legacy.k} (${legacy.bytes} bytes, fee ${legacy.fee} lamports, ${(legacy.fee / legacy.k).toFixed(1)} per reading)\n`,
  );
  expect(v0.k).toBe(31);
  expect(legacy.k).toBe(13);
  // The planner's measure is exact for both shapes, and its limits stop where the chain does.
  expect(v0.planned.bytes).toBe(v0.bytes);
  expect(v0.planned.instructionTrace).toBe(RUNTIME_LIMITS.maxInstructionTrace);
  expect(optimizeBatch(wallets.slice(0, 40).map((w) => reading(new PublicKey(w), AMOUNT)), { ...RUNTIME_LIMITS, maxTokensPerInstruction: 10n ** 12n, usersPerTx: 64, shape: mintChain.shape }, () => true, tables.lookupsFor(wallets)).map((t) => t.mints.length)).toEqual([31, 9]);
  expect(v0.planned.lookupTables).toEqual([lookupTables[0]!.key.toBase58()]);
  expect(legacy.planned.bytes).toBe(legacy.bytes);
  expect(v0.fee / v0.k).toBeLessThan(legacy.fee / legacy.k);
});
