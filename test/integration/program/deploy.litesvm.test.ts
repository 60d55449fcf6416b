// Each built program version deployed by real BPFLoaderUpgradeable transactions (InitializeBuffer, Write,
// DeployWithMaxDataLen), so the deploy-time checks a cluster applies are applied; then it is called
// in-process on LiteSVM at that throwaway address.
import { readFileSync } from 'node:fs';
import { Keypair, PublicKey, SystemProgram, SYSVAR_CLOCK_PUBKEY, SYSVAR_RENT_PUBKEY, TransactionInstruction } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, createAssociatedTokenAccountIdempotentInstruction, getAssociatedTokenAddressSync } from '@solana/spl-token';
import bs58 from 'bs58';
import { genesisFixtures, localnetRecValidator, localnetRegistryAuthority, mintAddress, tokenInfoAddress } from '../../../anchor-localnet/fixtures.js';
import { programSoPath } from '../../../anchor-localnet/paths.js';
import { kitAddress, sendIxs } from '../../support/litesvm.js';
import { LiteSVM } from 'litesvm';
import { address } from '@solana/kit';

const LOADER = new PublicKey('BPFLoaderUpgradeab1e11111111111111111111111');
const BUFFER_METADATA = 37;
const PROGRAM_ACCOUNT_SIZE = 36;
const CHUNK = 900;

const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const u64 = (n: number | bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };

/** Deploys `so` by transactions; returns the program id, or the failure (with logs) of the step that failed. */
export function deployUpgradeable(svm: LiteSVM, payer: Keypair, so: Uint8Array): { programId: PublicKey } | { error: string; logs: string[] } {
  const buffer = Keypair.generate();
  const program = Keypair.generate();
  const rent = (n: number) => Number(svm.minimumBalanceForRentExemption(BigInt(n)));
  const fail = (r: ReturnType<typeof sendIxs>) => ('err' in r ? { error: String(r.err()), logs: r.meta().logs() } : null);
  let r = sendIxs(svm, [
    SystemProgram.createAccount({ fromPubkey: payer.publicKey, newAccountPubkey: buffer.publicKey, lamports: rent(BUFFER_METADATA + so.length), space: BUFFER_METADATA + so.length, programId: LOADER }),
    new TransactionInstruction({ programId: LOADER, keys: [{ pubkey: buffer.publicKey, isSigner: false, isWritable: true }, { pubkey: payer.publicKey, isSigner: false, isWritable: false }], data: u32(0) }),
  ], [payer, buffer]);
  if (fail(r)) return fail(r)!;
  for (let off = 0; off < so.length; off += CHUNK) {
    const bytes = so.subarray(off, off + CHUNK);
    r = sendIxs(svm, [new TransactionInstruction({
      programId: LOADER,
      keys: [{ pubkey: buffer.publicKey, isSigner: false, isWritable: true }, { pubkey: payer.publicKey, isSigner: true, isWritable: false }],
      data: Buffer.concat([u32(1), u32(off), u64(bytes.length), bytes]),
    })], [payer]);
    if (fail(r)) return fail(r)!;
  }
  const [programData] = PublicKey.findProgramAddressSync([program.publicKey.toBuffer()], LOADER);
  r = sendIxs(svm, [
    SystemProgram.createAccount({ fromPubkey: payer.publicKey, newAccountPubkey: program.publicKey, lamports: rent(PROGRAM_ACCOUNT_SIZE), space: PROGRAM_ACCOUNT_SIZE, programId: LOADER }),
    new TransactionInstruction({
      programId: LOADER,
      keys: [
        { pubkey: payer.publicKey, isSigner: true, isWritable: true },
        { pubkey: programData, isSigner: false, isWritable: true },
        { pubkey: program.publicKey, isSigner: false, isWritable: true },
        { pubkey: buffer.publicKey, isSigner: false, isWritable: true },
        { pubkey: SYSVAR_RENT_PUBKEY, isSigner: false, isWritable: false },
        { pubkey: SYSVAR_CLOCK_PUBKEY, isSigner: false, isWritable: false },
        { pubkey: SystemProgram.programId, isSigner: false, isWritable: false },
        { pubkey: payer.publicKey, isSigner: true, isWritable: false },
      ],
      data: Buffer.concat([u32(2), u64(so.length * 2)]),
    }),
  ], [payer, program]);
  if (fail(r)) return fail(r)!;
  return { programId: program.publicKey };
}

const committedSo = () => readFileSync(programSoPath('0.1.0'));

describe('deploying the committed 0.1.0 program through BPFLoaderUpgradeable', () => {
  const svm = new LiteSVM();
  const payer = Keypair.generate();
  svm.airdrop(kitAddress(payer.publicKey), 100_000_000_000n as never);

  it('passes the deploy-time ELF checks and then mints on LiteSVM at its new address', () => {
    const deployed = deployUpgradeable(svm, payer, committedSo());
    if ('error' in deployed) throw new Error(`deploy failed: ${deployed.error}\n${deployed.logs.join('\n')}`);
    const programId = deployed.programId;
    svm.expireBlockhash(); // the program is usable from the next slot
    svm.warpToSlot(10n);

    // Genesis accounts for this program id, with this payer as the authority.
    for (const f of Object.values(genesisFixtures(programId, payer.publicKey, '0.1.0'))) {
      if (f.pubkey === payer.publicKey.toBase58()) continue;
      svm.setAccount({ address: address(f.pubkey), lamports: BigInt(f.account.lamports), data: Buffer.from(f.account.data[0], 'base64'), programAddress: address(f.account.owner), executable: false, space: BigInt(f.account.space) } as never);
    }
    const user = Keypair.generate().publicKey;
    const mint = mintAddress(programId);
    const ata = getAssociatedTokenAddressSync(mint, user, false, TOKEN_2022_PROGRAM_ID);
    const data = Buffer.concat([Buffer.from([13, 246, 31, 237, 99, 19, 88, 226]), u64(42_000_000_000n)]);
    const r = sendIxs(svm, [
      createAssociatedTokenAccountIdempotentInstruction(payer.publicKey, ata, user, mint, TOKEN_2022_PROGRAM_ID),
      new TransactionInstruction({
        programId,
        keys: [
          { pubkey: tokenInfoAddress(programId), isSigner: false, isWritable: true },
          { pubkey: mint, isSigner: false, isWritable: true },
          { pubkey: ata, isSigner: false, isWritable: true },
          { pubkey: payer.publicKey, isSigner: true, isWritable: false },
          { pubkey: TOKEN_2022_PROGRAM_ID, isSigner: false, isWritable: false },
        ],
        data,
      }),
    ], [payer]);
    if ('err' in r) throw new Error(`mint failed: ${String(r.err())}\n${r.meta().logs().join('\n')}`);
    const account = svm.getAccount(kitAddress(ata));
    expect(account.exists && Buffer.from(account.data).readBigUInt64LE(64)).toBe(42_000_000_000n);
    const logs = r.logs();
    const consumed = logs.map((l) => new RegExp(`^Program ${programId.toBase58()} consumed (\\d+)`).exec(l)?.[1]).find(Boolean);
    process.stdout.write(`mint_tokens_direct on LiteSVM: ${consumed} CU (transaction with ATA creation: ${r.computeUnitsConsumed()} CU)\n`);
    expect(Number(consumed)).toBeGreaterThan(0);
    expect(bs58.encode(r.signature())).toMatch(/^[1-9A-HJ-NP-Za-km-z]+$/);
  });

  it('a real deploy rejects a corrupted ELF (so the checks are live, not skipped)', () => {
    const bad = Buffer.from(committedSo());
    bad.writeUInt16LE(2, 16); // e_type ET_EXEC
    const deployed = deployUpgradeable(svm, payer, bad);
    expect('error' in deployed).toBe(true);
  });
});

describe('deploying the committed 0.1.1 program through BPFLoaderUpgradeable', () => {
  it('passes the deploy-time ELF checks and then mints, co-signed by the REC validator, at its new address', () => {
    const svm = new LiteSVM();
    const payer = Keypair.generate();
    svm.airdrop(kitAddress(payer.publicKey), 100_000_000_000n as never);
    const deployed = deployUpgradeable(svm, payer, readFileSync(programSoPath('0.1.1')));
    if ('error' in deployed) throw new Error(`deploy failed: ${deployed.error}\n${deployed.logs.join('\n')}`);
    const programId = deployed.programId;
    svm.expireBlockhash();
    svm.warpToSlot(10n);

    // 0.1.1's genesis for this program id (its token_info names this payer, the committed REC validator).
    for (const f of Object.values(genesisFixtures(programId, payer.publicKey, '0.1.1'))) {
      if (f.pubkey === payer.publicKey.toBase58()) continue;
      svm.setAccount({ address: address(f.pubkey), lamports: BigInt(f.account.lamports), data: Buffer.from(f.account.data[0], 'base64'), programAddress: address(f.account.owner), executable: false, space: BigInt(f.account.space) } as never);
    }
    const rec = localnetRecValidator();
    const user = Keypair.generate().publicKey;
    const mint = mintAddress(programId);
    const ata = getAssociatedTokenAddressSync(mint, user, false, TOKEN_2022_PROGRAM_ID);
    const r = sendIxs(svm, [
      createAssociatedTokenAccountIdempotentInstruction(payer.publicKey, ata, user, mint, TOKEN_2022_PROGRAM_ID),
      new TransactionInstruction({
        programId,
        keys: [
          { pubkey: tokenInfoAddress(programId), isSigner: false, isWritable: false },
          { pubkey: mint, isSigner: false, isWritable: true },
          { pubkey: ata, isSigner: false, isWritable: true },
          { pubkey: payer.publicKey, isSigner: true, isWritable: false },
          { pubkey: localnetRegistryAuthority().publicKey, isSigner: false, isWritable: false },
          { pubkey: rec.publicKey, isSigner: true, isWritable: false },
          { pubkey: TOKEN_2022_PROGRAM_ID, isSigner: false, isWritable: false },
        ],
        data: Buffer.concat([Buffer.from([13, 246, 31, 237, 99, 19, 88, 226]), u64(42n)]),
      }),
    ], [payer, rec]);
    if ('err' in r) throw new Error(`mint failed: ${String(r.err())}\n${r.meta().logs().join('\n')}`);
    const account = svm.getAccount(kitAddress(ata));
    expect(account.exists && Buffer.from(account.data).readBigUInt64LE(64)).toBe(42n);
  });
});
