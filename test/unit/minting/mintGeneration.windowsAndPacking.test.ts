// mint_generation's arithmetic: which window holds a reading, when a window may be minted, the meter's 16 bytes as
// GridTokenX's aggregator derives them; then the planner's packing of windows, checked against the bytes of the
// transactions the chain primitives really build, and the fee estimate counting each record's rent.
import { Keypair, PublicKey } from '@solana/web3.js';
import bs58 from 'bs58';
import { generationMeterIdOf, parseGenerationMeterId, windowClosed, windowStartOf, WINDOW_MS } from '../../../src/minting/windows.js';
import { estimateBatchFee, optimizeBatch, RUNTIME_LIMITS, type PackLimits } from '../../../src/minting/optimizeBatch.js';
import { CO_SIGNED, makeMintChain, RENT_GENERATION_RECORD, RENT_TOKEN_2022_ACCOUNT } from '../../../src/chain/mintTransaction.js';
import { loadIdl } from '../../../src/chain/energyToken.js';
import type { MintBatchData } from '../../../src/minting/types.js';
import { silentLog } from '../../support/meters.js';

const at = (iso: string) => Date.parse(iso);

describe('windows', () => {
  it('a reading belongs to the window that holds the end of its interval: (start, start + 15 min]', () => {
    expect(windowStartOf(at('2026-11-01T00:15:00Z'))).toBe(at('2026-11-01T00:00:00Z'));
    expect(windowStartOf(at('2026-11-01T00:15:00.001Z'))).toBe(at('2026-11-01T00:15:00Z'));
    expect(windowStartOf(at('2026-11-01T00:00:00.001Z'))).toBe(at('2026-11-01T00:00:00Z'));
    expect(windowStartOf(at('2026-11-01T00:07:30Z'))).toBe(at('2026-11-01T00:00:00Z'));
    expect(windowStartOf(at('2026-11-01T00:00:00Z'))).toBe(at('2026-10-31T23:45:00Z'));
    expect(windowStartOf(at('2026-11-01T00:15:00Z')) % WINDOW_MS).toBe(0);
  });

  it('a window is minted only once its end plus the grace has passed', () => {
    const start = at('2026-11-01T00:00:00Z');
    expect(windowClosed(start, 120_000, at('2026-11-01T00:16:59.999Z'))).toBe(false);
    expect(windowClosed(start, 120_000, at('2026-11-01T00:17:00Z'))).toBe(true);
    expect(windowClosed(start, 0, at('2026-11-01T00:15:00Z'))).toBe(true);
  });

  it("the meter's 16 bytes: a UUID serial's own bytes, any other serial's UUID v5 in the OID namespace", () => {
    expect(generationMeterIdOf('7697a46f-b283-5da3-8e7c-62c11c03dd9e')).toBe('7697a46fb2835da38e7c62c11c03dd9e');
    // uuid.uuid5(uuid.NAMESPACE_OID, 'abc') in Python, as Rust's Uuid::new_v5(&Uuid::NAMESPACE_OID, b"abc").
    expect(generationMeterIdOf('abc')).toBe('7697a46fb2835da38e7c62c11c03dd9e');
    expect(generationMeterIdOf('m-1')).not.toBe(generationMeterIdOf('m-2'));
    expect(parseGenerationMeterId('7697A46F-B283-5DA3-8E7C-62C11C03DD9E')).toBe('7697a46fb2835da38e7c62c11c03dd9e');
    expect(parseGenerationMeterId('7697A46FB2835DA38E7C62C11C03DD9E')).toBe('7697a46fb2835da38e7c62c11c03dd9e');
    expect(parseGenerationMeterId('7697a46fb2835da38e7c62c11c03dd9')).toBeNull();
    expect(parseGenerationMeterId('not bytes')).toBeNull();
  });
});

describe('packing windows', () => {
  const limits: PackLimits = { ...RUNTIME_LIMITS, maxTokensPerInstruction: 10n ** 12n, usersPerTx: 64, shape: CO_SIGNED };
  const owners = Array.from({ length: 12 }, () => Keypair.generate().publicKey.toBase58());
  const meters = owners.map((_, i) => generationMeterIdOf(`meter-${i}`));
  const start0 = at('2026-11-01T00:00:00Z');
  let n = 0;
  const reading = (m: number, window: number, tokens: bigint): MintBatchData => ({
    readingId: `r${++n}`,
    userId: `u${m}`,
    walletAddress: owners[m]!,
    kwhAmount: '1',
    tokensToMint: tokens,
    meterId: `meter-${m}`,
    window: { meterId: meters[m]!, startMs: start0 + window * WINDOW_MS },
  });
  const authority = Keypair.generate();
  const chain = makeMintChain({
    rpc: {} as never,
    authority,
    recValidator: Keypair.generate(),
    registryAuthority: Keypair.generate().publicKey,
    programId: new PublicKey(loadIdl().address),
    mint: Keypair.generate().publicKey,
    idl: loadIdl(),
    log: silentLog,
  });
  /** The wire bytes of the transaction the chain builds for a planned one, signed. */
  const wireBytes = (tx: ReturnType<typeof optimizeBatch>[number]) => {
    const built = chain.build({
      mints: tx.mints.map((m) => ({ walletAddress: m.walletAddress, parts: m.parts, createAta: m.createAta, window: m.window! })),
      cuLimit: 400_000,
      price: 100_000n,
      blockhash: { blockhash: bs58.encode(Buffer.alloc(32, 7)), lastValidBlockHeight: 1 },
    });
    return chain.sign(built).wire.length;
  };

  it("one instruction per window summing its readings, 8 windows of one owner a legacy transaction, each as big as measured", () => {
    const batch = Array.from({ length: 20 }, (_, w) => [reading(0, w, 5n), reading(0, w, 7n)]).flat();
    const plan = optimizeBatch(batch, limits, () => true);
    expect(plan.map((t) => t.mints.length)).toEqual([8, 8, 4]);
    for (const tx of plan) for (const m of tx.mints) expect([m.parts, m.readingIds.length]).toEqual([[12n], 2]);
    expect(plan[0]!.bytes).toBe(wireBytes(plan[0]!));
    expect(plan[0]!.bytes).toBeLessThanOrEqual(1232);
    expect(plan[0]!.bytes + 86).toBeGreaterThan(1232); // a ninth window would not fit
    expect(plan[2]!.bytes).toBe(wireBytes(plan[2]!));
  });

  it('5 windows of distinct owners a legacy transaction; a new token account created once per owner and transaction', () => {
    const batch = Array.from({ length: 12 }, (_, m) => reading(m, 0, 1_000n));
    const plan = optimizeBatch(batch, limits, () => true);
    expect(plan.map((t) => t.mints.length)).toEqual([5, 5, 2]);
    for (const tx of plan) expect(tx.bytes).toBe(wireBytes(tx));

    const unknown = optimizeBatch([reading(1, 0, 1n), reading(1, 1, 2n), reading(1, 2, 3n)], limits, () => false);
    expect(unknown).toHaveLength(1);
    expect(unknown[0]!.mints.map((m) => m.createAta)).toEqual([true, false, false]);
    expect(unknown[0]!.bytes).toBe(wireBytes(unknown[0]!));
  });

  it("the fee estimate counts every window's record rent beside the token accounts'", () => {
    const plan = optimizeBatch([reading(2, 0, 1n), reading(2, 1, 2n), reading(3, 0, 3n)], limits, (w) => w === owners[2]);
    const fee = estimateBatchFee(plan, { priorityMicroLamports: 0n, rentPerTokenAccount: RENT_TOKEN_2022_ACCOUNT, rentPerMintRecord: RENT_GENERATION_RECORD, signersPerTransaction: 2 });
    expect(fee.mintRecordsCreated).toBe(3);
    expect(fee.tokenAccountsCreated).toBe(1);
    expect(fee.rentLamports).toBe(3n * 1_183_200n + 2_074_080n);
    expect(fee.totalLamports).toBe(fee.rentLamports + fee.baseFeeLamports);
  });
});
