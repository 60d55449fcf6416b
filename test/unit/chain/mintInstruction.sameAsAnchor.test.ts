// The engine lays out mint_tokens_direct itself (mintInstructionOf: the IDL's accounts and flags, anchor's
// coder for the data) instead of calling anchor's method builder per mint. This proves the two give the same
// instruction, byte for byte, for amounts across the u64 range and for both interfaces in programs-idl/ (0.1.0:
// 5 accounts, token_info writable; 0.1.1: 7, token_info read-only, the registry authority and the co-signing
// REC validator): a reordered account, a lost writable or signer flag, or a wrong encoding fails here first.
import BN from 'bn.js';
import { Program } from '@coral-xyz/anchor';
import { Keypair, type TransactionInstruction } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID } from '@solana/spl-token';
import { loadIdl } from '../../../src/chain/energyToken.js';
import { mintInstructionOf } from '../../../src/chain/mintTransaction.js';
import { authority, MINT, PROGRAM_ID, TOKEN_INFO } from '../../support/energyToken.js';

const registryAuthority = Keypair.generate().publicKey;
const recValidator = Keypair.generate().publicKey;
const VERSIONS = [
  { version: '0.1.0', accounts: 5, extra: {} },
  { version: '0.1.1', accounts: 7, extra: { registryAuthority, recValidator } },
] as const;
const programOf = (version: string) => new Program(loadIdl(`programs-idl/energy_token-${version}.json`, PROGRAM_ID.toBase58()), { connection: {} } as never);
const fixed = { tokenInfo: TOKEN_INFO, mint: MINT, authority: authority().publicKey, registryAuthority, recValidator };

const plain = (ix: TransactionInstruction) => ({
  programId: ix.programId.toBase58(),
  keys: ix.keys.map((k) => ({ pubkey: k.pubkey.toBase58(), isSigner: k.isSigner, isWritable: k.isWritable })),
  data: Buffer.from(ix.data).toString('hex'),
});

describe.each(VERSIONS)('energy_token $version', ({ version, accounts, extra }) => {
  const program = programOf(version);
  it.each([1n, 1_250_000_000n, 2n ** 53n + 1n, 2n ** 64n - 1n])('amount %s: the same instruction as anchor builds', async (amount) => {
    const tokenAccount = Keypair.generate().publicKey;
    const anchors = await program.methods
      .mintTokensDirect!(new BN(amount.toString()))
      .accountsStrict({ tokenInfo: TOKEN_INFO, mint: MINT, userTokenAccount: tokenAccount, authority: fixed.authority, tokenProgram: TOKEN_2022_PROGRAM_ID, ...extra })
      .instruction();
    const ours = mintInstructionOf(program, fixed)(tokenAccount, amount);
    expect(plain(ours)).toEqual(plain(anchors));
    expect(ours.keys).toHaveLength(accounts);
    expect(ours.programId.equals(PROGRAM_ID)).toBe(true);
    // The amount is the last 8 bytes, little-endian (after the 8-byte discriminator).
    expect(Buffer.from(ours.data).readBigUInt64LE(8)).toBe(amount);
    // 0.1.1 reads token_info only (no write lock shared by every mint) and wants the validator's signature.
    expect(ours.keys[0]!.isWritable).toBe(version === '0.1.0');
    expect(ours.keys.filter((k) => k.isSigner).map((k) => k.pubkey.toBase58())).toEqual(version === '0.1.0' ? [fixed.authority.toBase58()] : [fixed.authority.toBase58(), recValidator.toBase58()]);
  });
});

it('refuses an IDL whose instruction wants an account it does not know', () => {
  const other = loadIdl();
  const ix = other.instructions.find((i) => i.name === 'mint_tokens_direct')!;
  ix.accounts = [...ix.accounts, { name: 'fee_vault', writable: true }];
  expect(() => mintInstructionOf(new Program(other, { connection: {} } as never), fixed)).toThrow(/feeVault/);
});

it('on 0.1.1, refuses to lay out a mint without the REC validator it must name', () => {
  expect(() => mintInstructionOf(programOf('0.1.1'), { ...fixed, recValidator: null })).toThrow(/names the account recValidator, which was not given/);
});
