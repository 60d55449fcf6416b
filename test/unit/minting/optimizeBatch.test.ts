// optimizeBatch's promises, checked on random batches: nothing lost or duplicated, every transaction
// within size, lock, compute and token limits, per-user sums exact; and the seed's shape at 1 user per tx.
import fc from 'fast-check';
import { Keypair } from '@solana/web3.js';
import { estimateBatchFee, maxTokensPerReadingInOneTx, measure, optimizeBatch, RUNTIME_LIMITS, type PackLimits } from '../../../src/minting/optimizeBatch.js';
import type { MintBatchData } from '../../../src/minting/types.js';
import { InvalidBatchData } from '../../../src/errors.js';
import { AUTHORITY_ONLY, CO_SIGNED } from '../../../src/chain/mintTransaction.js';

const CAP = 10n ** 12n; // 1,000 tokens at 9 decimals
const limits = (over: Partial<PackLimits> = {}): PackLimits => ({ ...RUNTIME_LIMITS, maxTokensPerInstruction: CAP, usersPerTx: 64, ...over });
const wallets = Array.from({ length: 40 }, () => Keypair.generate().publicKey.toBase58());

const readingArb = fc.record({
  user: fc.integer({ min: 0, max: 39 }),
  tokens: fc.oneof(fc.bigInt({ min: 1n, max: 10n ** 9n }), fc.bigInt({ min: 1n, max: CAP })),
});
const batchArb = fc.array(readingArb, { minLength: 1, maxLength: 300 }).map((rs) =>
  rs.map(
    (r, i): MintBatchData => ({
      readingId: `r${i}`,
      userId: `u${r.user}`,
      walletAddress: wallets[r.user]!,
      kwhAmount: '1',
      tokensToMint: r.tokens,
      meterId: null,
    }),
  ),
);

describe('optimizeBatch', () => {
  it('loses nothing, duplicates nothing, keeps every limit and every per-user sum', () => {
    fc.assert(
      fc.property(batchArb, fc.integer({ min: 1, max: 20 }), fc.func(fc.boolean()), (batch, usersPerTx, known) => {
        const plan = optimizeBatch(batch, limits({ usersPerTx }), (w) => known(w));
        const ids = plan.flatMap((t) => t.mints.flatMap((m) => m.readingIds));
        expect(ids.sort()).toEqual(batch.map((r) => r.readingId).sort());
        const sums = new Map<string, bigint>();
        for (const tx of plan) {
          expect(tx.bytes).toBeLessThanOrEqual(1232);
          expect(tx.accountLocks).toBeLessThanOrEqual(64);
          expect(tx.computeUnits).toBeLessThanOrEqual(1_400_000);
          expect(new Set(tx.mints.map((m) => m.userId)).size).toBeLessThanOrEqual(usersPerTx);
          for (const m of tx.mints) {
            expect(m.amount).toBeLessThanOrEqual(CAP);
            sums.set(m.userId, (sums.get(m.userId) ?? 0n) + m.amount);
          }
        }
        const expected = new Map<string, bigint>();
        for (const r of batch) expected.set(r.userId, (expected.get(r.userId) ?? 0n) + r.tokensToMint);
        expect(sums).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('is deterministic', () => {
    fc.assert(fc.property(batchArb, (batch) => expect(optimizeBatch(batch, limits())).toEqual(optimizeBatch(batch, limits()))), { numRuns: 50 });
  });

  it('creates each missing token account once, before that recipient\'s first mint', () => {
    const batch = Array.from({ length: 6 }, (_, i): MintBatchData => ({ readingId: `r${i}`, userId: 'u', walletAddress: wallets[0]!, kwhAmount: '1', tokensToMint: CAP / 2n, meterId: null }));
    const mints = optimizeBatch(batch, limits()).flatMap((t) => t.mints);
    expect(mints).toHaveLength(3);
    expect(mints.map((m) => m.createAta)).toEqual([true, false, false]);
  });

  it('BLOCKCHAIN_USERS_PER_TX=1 gives the seed\'s one transaction per user', () => {
    const batch = [0, 1, 2, 0, 1].map((u, i): MintBatchData => ({ readingId: `r${i}`, userId: `u${u}`, walletAddress: wallets[u]!, kwhAmount: '1', tokensToMint: 5n, meterId: null }));
    const plan = optimizeBatch(batch, limits({ usersPerTx: 1 }));
    expect(plan).toHaveLength(3);
    expect(plan.map((t) => t.mints.map((m) => m.amount))).toEqual([[10n], [10n], [5n]]);
  });

  it.each([
    // 0.1.0: one signature, 5 accounts per mint: 314 bytes + 56 per mint (a token account and the instruction).
    ['energy_token 0.1.0', AUTHORITY_ONLY, 16],
    // 0.1.1: a second signature and two more shared accounts (registry authority, REC validator), 7 per mint.
    ['energy_token 0.1.1', CO_SIGNED, 13],
  ] as const)('%s: packs recipients with existing accounts into one transaction until the bytes bind', (_name, shape, most) => {
    const batch = wallets.map((w, i): MintBatchData => ({ readingId: `r${i}`, userId: `u${i}`, walletAddress: w, kwhAmount: '1', tokensToMint: 1n, meterId: null }));
    const packed = optimizeBatch(batch, limits({ shape }), () => true);
    expect(packed[0]!.mints.length).toBe(most);
    expect(packed[0]!.bytes).toBeLessThanOrEqual(1232);
    // One more would not fit: the bytes bind.
    expect(measure([...packed[0]!.mints, packed[1]!.mints[0]!], undefined, shape).bytes).toBeGreaterThan(1232);
    const withCreates = optimizeBatch(batch, limits({ shape }), () => false);
    expect(withCreates.length).toBeGreaterThan(packed.length);
  });

  it('mints a reading above the cap (a register delta) as several instructions of one planned mint, in one transaction', () => {
    const batch: MintBatchData[] = [
      { readingId: 'small', userId: 'u', walletAddress: wallets[0]!, kwhAmount: '1', tokensToMint: 5n, meterId: null },
      { readingId: 'big', userId: 'u', walletAddress: wallets[0]!, kwhAmount: '1', tokensToMint: 2n * CAP + 7n, meterId: null },
      { readingId: 'after', userId: 'u', walletAddress: wallets[0]!, kwhAmount: '1', tokensToMint: 3n, meterId: null },
    ];
    const plan = optimizeBatch(batch, limits());
    const mints = plan.flatMap((t) => t.mints);
    const big = mints.find((m) => m.readingIds.includes('big'))!;
    expect(big.readingIds).toEqual(['big']);
    expect(big.parts).toEqual([CAP, CAP, 7n]);
    expect(mints.flatMap((m) => m.parts).reduce((a, b) => a + b, 0n)).toBe(2n * CAP + 15n);
    // Every part of one reading is in the same transaction: it lands whole or not at all.
    expect(plan.filter((t) => t.mints.includes(big))).toHaveLength(1);
  });

  it('knows the largest reading one transaction can carry, and refuses a larger one naming the wallet', () => {
    const most = maxTokensPerReadingInOneTx(limits());
    expect(most % CAP).toBe(0n);
    const one = (tokens: bigint): MintBatchData[] => [{ readingId: 'r', userId: 'u', walletAddress: wallets[0]!, kwhAmount: '1', tokensToMint: tokens, meterId: null }];
    expect(optimizeBatch(one(most), limits())[0]!.mints[0]!.parts).toHaveLength(Number(most / CAP));
    expect(() => optimizeBatch(one(most + CAP), limits())).toThrow(InvalidBatchData);
    expect(() => optimizeBatch(one(most + CAP), limits())).toThrow(/does not fit one transaction/);
  });
});

describe('estimateBatchFee', () => {
  it('adds signatures, priority fee on the CU limit, and rent for created accounts', () => {
    const batch = [0, 1].map((u, i): MintBatchData => ({ readingId: `r${i}`, userId: `u${u}`, walletAddress: wallets[u]!, kwhAmount: '1', tokensToMint: 5n, meterId: null }));
    const plan = optimizeBatch(batch, limits({ usersPerTx: 1 }), (w) => w === wallets[0]);
    const fee = estimateBatchFee(plan, { priorityMicroLamports: 1_000n, rentPerTokenAccount: 2_074_080n, signersPerTransaction: 1, cuLimit: () => 50_000 });
    expect(fee).toEqual({
      transactions: 2,
      signatures: 2,
      baseFeeLamports: 10_000n,
      priorityFeeLamports: 100n,
      rentLamports: 2_074_080n,
      totalLamports: 2_084_180n,
      tokenAccountsCreated: 1,
      mintRecordsCreated: 0,
    });
  });

  it('counts every signer of each transaction: a co-signing REC validator adds 5,000 lamports per transaction', () => {
    const batch = [0, 1].map((u, i): MintBatchData => ({ readingId: `r${i}`, userId: `u${u}`, walletAddress: wallets[u]!, kwhAmount: '1', tokensToMint: 5n, meterId: null }));
    const plan = optimizeBatch(batch, limits({ usersPerTx: 1 }), () => true);
    const one = estimateBatchFee(plan, { priorityMicroLamports: 0n, rentPerTokenAccount: 0n, signersPerTransaction: 1 });
    const two = estimateBatchFee(plan, { priorityMicroLamports: 0n, rentPerTokenAccount: 0n, signersPerTransaction: 2 });
    expect([one.signatures, two.signatures]).toEqual([2, 4]);
    expect(two.baseFeeLamports - one.baseFeeLamports).toBe(BigInt(plan.length) * 5_000n);
  });
});
