// The engine lays out mint_tokens_direct itself (mintInstructionOf: the IDL's accounts and flags, anchor's
// coder for the data) instead of calling anchor's method builder per mint. This proves the two give the same
// instruction, byte for byte, for amounts across the u64 range: a reordered account, a lost writable or
// signer flag, or a wrong encoding of the amount fails here before any chain sees it.
import BN from 'bn.js';
import { Program } from '@coral-xyz/anchor';
import { Keypair, type TransactionInstruction } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID } from '@solana/spl-token';
import { mintInstructionOf } from '../../../src/chain/mintTransaction.js';
import { authority, idl, MINT, PROGRAM_ID, TOKEN_INFO } from '../../support/energyToken.js';

const program = new Program(idl(), { connection: {} } as never);
const fixed = { tokenInfo: TOKEN_INFO, mint: MINT, authority: authority().publicKey };

const plain = (ix: TransactionInstruction) => ({
  programId: ix.programId.toBase58(),
  keys: ix.keys.map((k) => ({ pubkey: k.pubkey.toBase58(), isSigner: k.isSigner, isWritable: k.isWritable })),
  data: Buffer.from(ix.data).toString('hex'),
});

it.each([1n, 1_250_000_000n, 2n ** 53n + 1n, 2n ** 64n - 1n])('amount %s: the same instruction as anchor builds', async (amount) => {
  const tokenAccount = Keypair.generate().publicKey;
  const anchors = await program.methods
    .mintTokensDirect!(new BN(amount.toString()))
    .accountsStrict({ tokenInfo: TOKEN_INFO, mint: MINT, userTokenAccount: tokenAccount, authority: fixed.authority, tokenProgram: TOKEN_2022_PROGRAM_ID })
    .instruction();
  const ours = mintInstructionOf(program, fixed)(tokenAccount, amount);
  expect(plain(ours)).toEqual(plain(anchors));
  expect(ours.programId.equals(PROGRAM_ID)).toBe(true);
  // The amount is the last 8 bytes, little-endian (after the 8-byte discriminator).
  expect(Buffer.from(ours.data).readBigUInt64LE(8)).toBe(amount);
});

it('refuses an IDL whose instruction wants an account it does not know', () => {
  const other = idl();
  const ix = other.instructions.find((i) => i.name === 'mint_tokens_direct')!;
  ix.accounts = [...ix.accounts, { name: 'fee_vault', writable: true }];
  expect(() => mintInstructionOf(new Program(other, { connection: {} } as never), fixed)).toThrow(/feeVault/);
});
