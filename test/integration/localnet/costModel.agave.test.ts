// The local chain charges what Agave's cost model charges: the cases of cost-model/src/cost_model.rs's
// own tests (v3.0), on transactions as the chain decodes them, and the tracker's reserve-then-correct.
import { ComputeBudgetProgram, Keypair, PublicKey, SystemProgram, Transaction, TransactionInstruction, SYSVAR_CLOCK_PUBKEY } from '@solana/web3.js';
import { LocalChain } from '../../../anchor-localnet/chain.js';
import { costSum, CostTracker, estimateCost } from '../../../anchor-localnet/costModel.js';

const chain = new LocalChain({ programsDir: '/nonexistent', accountsDir: '/nonexistent' });
afterAll(() => chain.stop());
const payer = Keypair.generate();
const to = Keypair.generate().publicKey;
const someProgram = Keypair.generate().publicKey;

function costOf(...ixs: TransactionInstruction[]) {
  const tx = new Transaction({ feePayer: payer.publicKey, recentBlockhash: chain.latestBlockhash('processed').blockhash }).add(...ixs);
  tx.sign(payer);
  return estimateCost(chain.decode(tx.serialize({ requireAllSignatures: false, verifySignatures: false })));
}
const transfer = (dest = to) => SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: dest, lamports: 2 });
const bpf = (data: number[] = []) => new TransactionInstruction({ programId: someProgram, keys: [], data: Buffer.from(data) });

it('a simple transfer: 720 per signature, 300 per write lock, 3,000 for a builtin, data bytes / 4, 16,384 for 64 MiB of loaded data', () => {
  const c = costOf(transfer());
  expect(c).toMatchObject({ signatureCost: 720, writeLockCost: 600, programsExecutionCost: 3_000, dataBytesCost: 3, loadedAccountsDataSizeCost: 16_384 });
  expect(c.writableAccounts).toEqual([payer.publicKey.toBase58(), to.toBase58()]);
  expect(costSum(c)).toBe(720 + 600 + 3_000 + 3 + 16_384);
});

it('a program instruction without a limit is charged 200,000; with SetComputeUnitLimit, the limit', () => {
  expect(costOf(bpf(), transfer()).programsExecutionCost).toBe(200_000 + 3_000);
  expect(costOf(bpf(), bpf()).programsExecutionCost).toBe(400_000);
  const limited = costOf(bpf([1, 2, 3, 4]), ComputeBudgetProgram.setComputeUnitLimit({ units: 12_345 }));
  expect(limited.programsExecutionCost).toBe(12_345);
  expect(limited.dataBytesCost).toBe(Math.floor((4 + 5) / 4));
  // Compute-budget instructions are builtins too: 2 × 3,000 without a limit.
  expect(costOf(transfer(), ComputeBudgetProgram.setComputeUnitPrice({ microLamports: 1 })).programsExecutionCost).toBe(6_000);
});

it('a requested loaded-accounts data size is charged 8 CU per 32 KiB; a repeated budget instruction charges no execution', () => {
  const setLoaded = (bytes: number) => {
    const data = Buffer.alloc(5);
    data.writeUInt8(4, 0);
    data.writeUInt32LE(bytes, 1);
    return new TransactionInstruction({ programId: ComputeBudgetProgram.programId, keys: [], data });
  };
  expect(costOf(transfer(), setLoaded(32 * 1024)).loadedAccountsDataSizeCost).toBe(8);
  const dup = costOf(bpf(), ComputeBudgetProgram.setComputeUnitLimit({ units: 1 }), ComputeBudgetProgram.setComputeUnitLimit({ units: 2 }));
  expect(dup.programsExecutionCost).toBe(0);
  expect(dup.loadedAccountsDataSizeCost).toBe(0);
});

it('a demoted write lock is charged as requested but tracked on no account', () => {
  const c = costOf(new TransactionInstruction({ programId: someProgram, keys: [{ pubkey: SYSVAR_CLOCK_PUBKEY, isSigner: false, isWritable: true }], data: Buffer.alloc(0) }));
  expect(c.writeLockCost).toBe(600);
  expect(c.writableAccounts).toEqual([payer.publicKey.toBase58()]);
});

it('counts the space a system instruction allocates (the signature for the new account is not needed to cost it)', () => {
  const create = SystemProgram.createAccount({ fromPubkey: payer.publicKey, newAccountPubkey: Keypair.generate().publicKey, lamports: 1, space: 100, programId: PublicKey.default });
  const c = costOf(create);
  expect(c.allocatedAccountsDataSize).toBe(100);
  expect(c.signatureCost).toBe(2 * 720);
});

it('the tracker reserves the estimate, corrects it to what ran, and refuses what would pass an account budget', () => {
  const c = costOf(transfer());
  const sum = costSum(c);
  const tracker = new CostTracker({ blockCuLimit: 10 * sum, accountCuLimit: 2 * sum - 1 });
  expect(tracker.tryAdd(c)).toBe(true);
  expect(tracker.tryAdd(c)).toBe(false); // the payer's budget: 2 × sum > limit
  tracker.updateExecutionCost(c, 150, 8); // it used 150 CU and loaded one page
  const used = sum - (3_000 + 16_384) + 150 + 8;
  expect(tracker.byAccount.get(payer.publicKey.toBase58())).toBe(used);
  expect(tracker.tryAdd(c)).toBe(true); // now it fits
  expect(tracker.blockCost).toBe(used + sum);
  tracker.remove(c);
  expect(tracker.blockCost).toBe(used);
  expect(tracker.costliestAccount()?.cost).toBe(used);
});
