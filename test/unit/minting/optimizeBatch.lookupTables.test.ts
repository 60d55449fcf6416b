// Packing for v0 transactions with the service's lookup tables: measure() counts exactly the bytes web3.js
// serializes (legacy and v0, with and without token-account creations), every account looked up fits about
// twice the mints of legacy (31: the instruction trace binds before the bytes), recipients sharing a table are planned together, and tables are used only when
// they save transactions; nothing lost, every limit kept.
import fc from 'fast-check';
import BN from 'bn.js';
import { Program, type Idl } from '@coral-xyz/anchor';
import { AddressLookupTableAccount, ComputeBudgetProgram, Keypair, PublicKey, Transaction, TransactionMessage, VersionedTransaction, type TransactionInstruction } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, createAssociatedTokenAccountIdempotentInstruction, getAssociatedTokenAddressSync } from '@solana/spl-token';
import { lookupAddresses, type Lookups } from '../../../src/chain/lookupTables.js';
import { loadIdl, tokenInfoAddress } from '../../../src/chain/energyToken.js';
import { AUTHORITY_ONLY, CO_SIGNED } from '../../../src/chain/mintTransaction.js';
import { groupByRecipient, measure, optimizeBatch, RUNTIME_LIMITS, type PackLimits, type PlannedMint } from '../../../src/minting/optimizeBatch.js';
import type { MintBatchData } from '../../../src/minting/types.js';

const CAP = 10n ** 12n;
// The figures below are of energy_token 0.1.0's transactions (the authority alone signs, 5 accounts per mint);
// measure()'s exactness is checked for both interfaces.
const limits = (over: Partial<PackLimits> = {}): PackLimits => ({ ...RUNTIME_LIMITS, maxTokensPerInstruction: CAP, usersPerTx: 64, shape: AUTHORITY_ONLY, ...over });
const idl: Idl = loadIdl('programs-idl/energy_token-0.1.0.json');
const PROGRAM_ID = new PublicKey(idl.address);
const TOKEN_INFO = tokenInfoAddress(PROGRAM_ID);
const MINT = Keypair.generate().publicKey;
const AUTHORITY = Keypair.generate();
const VALIDATOR = Keypair.generate();
const REGISTRY = Keypair.generate().publicKey;
/** Each interface: its IDL and the shape measure() takes for it. */
const INTERFACES = [
  { version: '0.1.0', program: new Program(idl, { connection: {} } as never), shape: AUTHORITY_ONLY },
  { version: '0.1.1', program: new Program(loadIdl('programs-idl/energy_token-0.1.1.json', PROGRAM_ID.toBase58()), { connection: {} } as never), shape: CO_SIGNED },
] as const;
const wallets = Array.from({ length: 120 }, () => Keypair.generate().publicKey.toBase58());
const ataOf = (w: string) => getAssociatedTokenAddressSync(MINT, new PublicKey(w), false, TOKEN_2022_PROGRAM_ID);

const readingsOf = (ws: string[], tokens = 5n): MintBatchData[] =>
  ws.map((w, i) => ({ readingId: `r${i}`, userId: `u-${w}`, walletAddress: w, kwhAmount: '1', tokensToMint: tokens, meterId: null }));

/** Tables (fake addresses) holding the shared accounts and these wallets' accounts, as the chain would. */
function tablesFor(groups: { wallets: string[]; createAta?: boolean }[]): AddressLookupTableAccount[] {
  return groups.map(({ wallets: ws, createAta = false }, i) => {
    const addresses = lookupAddresses({ tokenInfo: TOKEN_INFO, mint: MINT }, ws.map((wallet) => ({ wallet, createAta })));
    const state = { deactivationSlot: 2n ** 64n - 1n, lastExtendedSlot: 1, lastExtendedSlotStartIndex: 0, authority: AUTHORITY.publicKey, addresses: (i === 0 ? addresses : addresses.slice(4)).map((a) => new PublicKey(a)) };
    return new AddressLookupTableAccount({ key: Keypair.generate().publicKey, state });
  });
}

/** What chain/lookupTables' lookupsFor answers for these tables: the first table holding each account. */
function lookupsOf(tables: AddressLookupTableAccount[]): Lookups {
  const where = new Map<string, string>();
  for (const t of tables) for (const a of t.state.addresses) if (!where.has(a.toBase58())) where.set(a.toBase58(), t.key.toBase58());
  const shared = { tokenInfo: TOKEN_INFO, mint: MINT, token2022: TOKEN_2022_PROGRAM_ID, system: new PublicKey('11111111111111111111111111111111') };
  return {
    shared: Object.fromEntries(Object.entries(shared).filter(([, k]) => where.has(k.toBase58())).map(([n, k]) => [n, where.get(k.toBase58())!])),
    ata: new Map(wallets.filter((w) => where.has(ataOf(w).toBase58())).map((w) => [w, where.get(ataOf(w).toBase58())!])),
    wallet: new Map(wallets.filter((w) => where.has(w)).map((w) => [w, where.get(w)!])),
  };
}

/** The instructions the minter builds for these planned mints (anchor's builder, not the engine's own layout). */
async function instructions(mints: PlannedMint[], iface: (typeof INTERFACES)[number] = INTERFACES[0]): Promise<TransactionInstruction[]> {
  const ixs = [ComputeBudgetProgram.setComputeUnitLimit({ units: 200_000 }), ComputeBudgetProgram.setComputeUnitPrice({ microLamports: 1n })];
  const coSigned = iface.shape.signers > 1;
  for (const m of mints) {
    const ata = ataOf(m.walletAddress);
    if (m.createAta) ixs.push(createAssociatedTokenAccountIdempotentInstruction(AUTHORITY.publicKey, ata, new PublicKey(m.walletAddress), MINT, TOKEN_2022_PROGRAM_ID));
    for (const part of m.parts) {
      const accounts = { tokenInfo: TOKEN_INFO, mint: MINT, userTokenAccount: ata, authority: AUTHORITY.publicKey, tokenProgram: TOKEN_2022_PROGRAM_ID };
      ixs.push(
        await iface.program.methods
          .mintTokensDirect!(new BN(part.toString()))
          .accountsStrict(coSigned ? { ...accounts, registryAuthority: REGISTRY, recValidator: VALIDATOR.publicKey } : accounts)
          .instruction(),
      );
    }
  }
  return ixs;
}

/** Serialized bytes of the transaction as web3.js builds it: legacy without tables, v0 with the tables named. */
async function wireBytes(mints: PlannedMint[], tables: AddressLookupTableAccount[], use: string[] | undefined, iface: (typeof INTERFACES)[number] = INTERFACES[0]): Promise<number> {
  const ixs = await instructions(mints, iface);
  const recentBlockhash = Keypair.generate().publicKey.toBase58();
  const signatures = 1 + 64 * iface.shape.signers;
  if (!use?.length) {
    // The message alone: serialize() refuses a transaction over 1,232 bytes, and these sizes are what is checked.
    return signatures + new Transaction({ feePayer: AUTHORITY.publicKey, recentBlockhash }).add(...ixs).serializeMessage().length;
  }
  const chosen = tables.filter((t) => use.includes(t.key.toBase58()));
  const tx = new VersionedTransaction(new TransactionMessage({ payerKey: AUTHORITY.publicKey, recentBlockhash, instructions: ixs }).compileToV0Message(chosen));
  return signatures + tx.message.serialize().length;
}

describe('optimizeBatch with lookup tables', () => {
  it.each(INTERFACES)('energy_token $version: measures exactly the bytes web3.js serializes, legacy and v0, with and without token-account creations', async (iface) => {
    const tables = tablesFor([{ wallets: wallets.slice(0, 30) }, { wallets: wallets.slice(30, 50), createAta: true }]);
    const lookups = lookupsOf(tables);
    const cases: PlannedMint[][] = [
      groupByRecipient(readingsOf(wallets.slice(0, 10)), CAP, () => true), // every account looked up
      groupByRecipient(readingsOf(wallets.slice(26, 36)), CAP, (w) => wallets.indexOf(w) < 30), // two tables, creations
      groupByRecipient(readingsOf([...wallets.slice(0, 5), ...wallets.slice(60, 70)]), CAP, () => true), // some in no table
      groupByRecipient(readingsOf(wallets.slice(0, 2), 3n * CAP), CAP, () => false), // several parts per mint
      groupByRecipient(readingsOf(wallets.slice(70, 72)), CAP, () => false), // no table holds them: legacy
    ];
    for (const mints of cases) {
      const m = measure(mints, lookups, iface.shape);
      expect(m.bytes).toBe(await wireBytes(mints, tables, m.lookupTables, iface));
      expect(measure(mints, undefined, iface.shape).bytes).toBe(await wireBytes(mints, tables, undefined, iface));
    }
  });

  it('fits about twice the mints per transaction with every account looked up: the instruction trace binds, not the bytes', async () => {
    const tables = tablesFor([{ wallets: wallets.slice(0, 100) }]);
    const v0 = optimizeBatch(readingsOf(wallets.slice(0, 100)), limits(), () => true, lookupsOf(tables));
    const legacy = optimizeBatch(readingsOf(wallets.slice(0, 100)), limits(), () => true);
    const perTx = (plan: typeof v0) => Math.max(...plan.map((t) => t.mints.length));
    // Bytes alone: 257 + 25 per mint ≤ 1,232 would hold 39; the trace (2 + 2 per mint ≤ 64) holds 31.
    // Legacy: 314 + 56 bytes per mint, 16.
    expect(perTx(v0)).toBe(31);
    expect(perTx(legacy)).toBe(16);
    expect(optimizeBatch(readingsOf(wallets.slice(0, 100)), limits({ maxInstructionTrace: 1_000 }), () => true, lookupsOf(tables))[0]!.mints).toHaveLength(39);
    for (const tx of v0) {
      expect(tx.lookupTables).toEqual([tables[0]!.key.toBase58()]);
      expect(tx.bytes).toBeLessThanOrEqual(1232);
    }
    expect(await wireBytes(v0[0]!.mints, tables, v0[0]!.lookupTables)).toBe(v0[0]!.bytes);
  });

  it('plans recipients that share a table together', () => {
    const tables = tablesFor([{ wallets: wallets.slice(0, 60) }, { wallets: wallets.slice(60, 120) }]);
    // Interleaved: the legacy order would mix both tables in every transaction.
    const batch = readingsOf(wallets.flatMap((_, i) => (i < 60 ? [wallets[i]!, wallets[i + 60]!] : [])));
    const lookups = lookupsOf(tables);
    const plan = optimizeBatch(batch, limits(), () => true, lookups);
    // The shared accounts are in the first table only, so a transaction may name it beside its recipients' table.
    const mixed = plan.filter((t) => new Set(t.mints.map((m) => lookups.ata.get(m.walletAddress))).size > 1);
    expect(mixed.length).toBeLessThanOrEqual(1); // at most the transaction where one table's recipients end
    expect(plan.flatMap((t) => t.mints).length).toBe(120);
  });

  it('uses tables only when they save a transaction', () => {
    const tables = tablesFor([{ wallets: wallets.slice(0, 100) }]);
    const few = optimizeBatch(readingsOf(wallets.slice(0, 10)), limits(), () => true, lookupsOf(tables));
    expect(few).toHaveLength(1);
    expect(few[0]!.lookupTables).toBeUndefined();
    // None of these recipients is in a table: the same plan as without tables.
    const strangers = readingsOf(wallets.slice(100, 120));
    expect(optimizeBatch(strangers, limits(), () => true, lookupsOf(tables))).toEqual(optimizeBatch(strangers, limits(), () => true));
  });

  it('loses nothing, keeps every limit, and is deterministic, whatever the tables hold', () => {
    const arb = fc.record({
      picks: fc.array(fc.record({ user: fc.integer({ min: 0, max: 119 }), tokens: fc.bigInt({ min: 1n, max: 2n * CAP }) }), { minLength: 1, maxLength: 150 }),
      split: fc.integer({ min: 0, max: 120 }),
      created: fc.integer({ min: 0, max: 120 }),
    });
    const tables = (split: number) => tablesFor([{ wallets: wallets.slice(0, split), createAta: true }, { wallets: wallets.slice(split) }]);
    fc.assert(
      fc.property(arb, ({ picks, split, created }) => {
        const batch = picks.map((p, i): MintBatchData => ({ readingId: `r${i}`, userId: `u${p.user}`, walletAddress: wallets[p.user]!, kwhAmount: '1', tokensToMint: p.tokens, meterId: null }));
        const lookups = lookupsOf(tables(split));
        const known = (w: string) => wallets.indexOf(w) >= created;
        const plan = optimizeBatch(batch, limits(), known, lookups);
        expect(plan.flatMap((t) => t.mints.flatMap((m) => m.readingIds)).sort()).toEqual(batch.map((r) => r.readingId).sort());
        for (const tx of plan) {
          expect(tx.bytes).toBeLessThanOrEqual(1232);
          expect(tx.accountLocks).toBeLessThanOrEqual(64);
          expect(tx.computeUnits).toBeLessThanOrEqual(1_400_000);
          expect(tx.instructionTrace).toBeLessThanOrEqual(64);
        }
        expect(plan.length).toBeLessThanOrEqual(optimizeBatch(batch, limits(), known).length);
        expect(optimizeBatch(batch, limits(), known, lookups)).toEqual(plan);
      }),
      { numRuns: 30 },
    );
  });
});
