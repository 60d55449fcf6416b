// mint_tokens_direct of energy_token 0.1.0 through the local chain's RPC with the Anchor TS client: the
// happy path, every error Anchor's generated code would raise (decoded by name), and the GridTokensMinted
// event. The chain runs 0.1.0 here (0.1.1 is recValidator.anchor.test.ts).
import BN from 'bn.js';
import { AnchorError, EventParser, type Program } from '@coral-xyz/anchor';
import { Keypair, PublicKey, SendTransactionError, Transaction, TransactionInstruction } from '@solana/web3.js';
import {
  TOKEN_2022_PROGRAM_ID,
  TOKEN_PROGRAM_ID,
  createAssociatedTokenAccountIdempotentInstruction,
  createMint,
  getAccount,
} from '@solana/spl-token';
import { encodeTokenInfo, TOKEN_INFO_DISCRIMINATOR } from '../../../anchor-localnet/fixtures.js';
import { hooksOrSkip, startTestChain, type TestChain } from '../../support/localnet.js';
import { addresses, anchorProgram, ataOf as ataOfMint, authority } from '../../support/energyToken.js';

const VERSION = '0.1.0';
const { programId: PROGRAM_ID, tokenInfo: TOKEN_INFO, mint: MINT } = addresses(VERSION);
const ataOf = (owner: PublicKey) => ataOfMint(owner, MINT);

let chain: TestChain;
let program: Program;
const auth = authority();
const user = Keypair.generate().publicKey;

const accounts = (over: Partial<Record<string, PublicKey>> = {}) => ({
  tokenInfo: TOKEN_INFO,
  mint: MINT,
  userTokenAccount: ataOf(user),
  authority: auth.publicKey,
  tokenProgram: TOKEN_2022_PROGRAM_ID,
  ...over,
});

beforeAll(async () => {
  chain = await startTestChain({ programVersion: VERSION });
  program = anchorProgram(chain.connection, auth, VERSION);
  await program.methods
    .mintTokensDirect!(new BN(1))
    .accountsStrict(accounts())
    .preInstructions([createAssociatedTokenAccountIdempotentInstruction(auth.publicKey, ataOf(user), user, MINT, TOKEN_2022_PROGRAM_ID)])
    .rpc();
});
afterAll(() => chain.stop());

const supply = async () => BigInt((await (program.account as any).tokenInfo.fetch(TOKEN_INFO, 'confirmed') as { totalSupply: BN }).totalSupply.toString());
const balance = async (owner = user) => (await getAccount(chain.connection, ataOf(owner), 'confirmed', TOKEN_2022_PROGRAM_ID)).amount;

/** Sends with preflight and returns the Anchor error decoded from the simulation logs. */
async function anchorErrorOf(ix: TransactionInstruction, signers: Keypair[] = [auth]): Promise<AnchorError | null> {
  const tx = new Transaction().add(ix);
  tx.feePayer = signers[0]!.publicKey;
  tx.recentBlockhash = (await chain.connection.getLatestBlockhash()).blockhash;
  tx.sign(...signers);
  const err = await chain.connection.sendRawTransaction(tx.serialize()).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SendTransactionError);
  return AnchorError.parse((err as SendTransactionError).logs ?? []);
}

const mintIx = (over: Partial<Record<string, PublicKey>> = {}, amount = 5) =>
  program.methods.mintTokensDirect!(new BN(amount)).accountsStrict(accounts(over)).instruction();

describe('mint_tokens_direct happy path', () => {
  it('mints the exact amount, raises total_supply, and emits GridTokensMinted', async () => {
    const [b0, s0] = [await balance(), await supply()];
    const amount = new BN('123456789012345');
    const signature = await program.methods.mintTokensDirect!(amount).accountsStrict(accounts()).rpc();
    expect(await balance()).toBe(b0 + 123456789012345n);
    expect(await supply()).toBe(s0 + 123456789012345n);

    const tx = await chain.connection.getTransaction(signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
    const events = [...new EventParser(PROGRAM_ID, program.coder).parseLogs(tx!.meta!.logMessages!)];
    expect(events).toHaveLength(1);
    expect(events[0]!.name).toMatch(/^gridTokensMinted$/i);
    expect((events[0]!.data.meterOwner as PublicKey).equals(user)).toBe(true);
    expect((events[0]!.data.amount as BN).toString()).toBe('123456789012345');
    expect(Math.abs((events[0]!.data.timestamp as BN).toNumber() - Date.now() / 1000)).toBeLessThan(60);
    const cu = tx!.meta!.computeUnitsConsumed!;
    process.stdout.write(`mint_tokens_direct compute units (existing token account): ${cu}\n`);
    expect(cu).toBeGreaterThan(1_289); // it includes Token-2022's MintTo
    expect(cu).toBeLessThan(20_000);
  });
});

describe('errors are raised as Anchor raises them and decoded by name', () => {
  it('101 InstructionFallbackNotFound for an unknown discriminator', async () => {
    const ix = await mintIx();
    const bad = new TransactionInstruction({ programId: PROGRAM_ID, keys: ix.keys, data: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0]) });
    const e = await anchorErrorOf(bad);
    expect(e?.error.errorCode).toEqual({ code: 'InstructionFallbackNotFound', number: 101 });
  });

  it('102 InstructionDidNotDeserialize for a truncated amount', async () => {
    const ix = await mintIx();
    const bad = new TransactionInstruction({ programId: PROGRAM_ID, keys: ix.keys, data: ix.data.subarray(0, 12) });
    expect((await anchorErrorOf(bad))?.error.errorCode).toEqual({ code: 'InstructionDidNotDeserialize', number: 102 });
  });

  it('3005 AccountNotEnoughKeys with too few accounts', async () => {
    const ix = await mintIx();
    const bad = new TransactionInstruction({ programId: PROGRAM_ID, keys: ix.keys.slice(0, 3), data: ix.data });
    const e = await anchorErrorOf(bad);
    expect(e?.error.errorCode.code).toBe('AccountNotEnoughKeys');
    expect(e?.error.origin).toBe('authority');
  });

  it('3007 AccountOwnedByWrongProgram when token_info is not the program\'s', async () => {
    const e = await anchorErrorOf(await mintIx({ tokenInfo: MINT }));
    expect(e?.error.errorCode).toEqual({ code: 'AccountOwnedByWrongProgram', number: 3007 });
    expect(e?.error.origin).toBe('token_info');
    expect(e?.error.comparedValues?.map(String)).toEqual([TOKEN_2022_PROGRAM_ID.toBase58(), PROGRAM_ID.toBase58()]);
  });

  it('3010 AccountNotSigner when the authority did not sign', async () => {
    const payer = Keypair.generate();
    await chain.connection.confirmTransaction(await chain.connection.requestAirdrop(payer.publicKey, 1e9), 'confirmed');
    const ix = await mintIx();
    ix.keys = ix.keys.map((k) => (k.pubkey.equals(auth.publicKey) ? { ...k, isSigner: false } : k));
    expect((await anchorErrorOf(ix, [payer]))?.error.errorCode).toEqual({ code: 'AccountNotSigner', number: 3010 });
  });

  it('3008 InvalidProgramId for the legacy Token program', async () => {
    const e = await anchorErrorOf(await mintIx({ tokenProgram: TOKEN_PROGRAM_ID }));
    expect(e?.error.errorCode).toEqual({ code: 'InvalidProgramId', number: 3008 });
  });

  it('2012 ConstraintAddress for a mint other than token_info.mint', async () => {
    const other = await createMint(chain.connection, auth, auth.publicKey, null, 9, Keypair.generate(), { commitment: 'confirmed' }, TOKEN_2022_PROGRAM_ID);
    const e = await anchorErrorOf(await mintIx({ mint: other }));
    expect(e?.error.errorCode).toEqual({ code: 'ConstraintAddress', number: 2012 });
    expect(e?.error.origin).toBe('mint');
  });

  it('6000 UnauthorizedAuthority for a signer that is not token_info.authority', async () => {
    const impostor = Keypair.generate();
    await chain.connection.confirmTransaction(await chain.connection.requestAirdrop(impostor.publicKey, 1e9), 'confirmed');
    const e = await anchorErrorOf(await mintIx({ authority: impostor.publicKey }), [impostor]);
    expect(e?.error.errorCode).toEqual({ code: 'UnauthorizedAuthority', number: 6000 });
    expect(e?.error.errorMessage).toBe('Unauthorized authority');
    // The Anchor client's own path decodes it too.
    const viaClient = await program.methods
      .mintTokensDirect!(new BN(1))
      .accountsStrict(accounts({ authority: impostor.publicKey }))
      .signers([impostor])
      .rpc()
      .catch((x: unknown) => x);
    expect(viaClient).toBeInstanceOf(AnchorError);
    expect((viaClient as AnchorError).error.errorCode.code).toBe('UnauthorizedAuthority');
  });

  describe('with planted accounts (local chain hooks)', () => {
    const planted = Keypair.generate().publicKey;
    const plant = (data: Buffer, at = planted) => {
      const local = hooksOrSkip(chain, 'planted token_info accounts');
      local?.hooks.setAccount(at.toBase58(), { lamports: 10_000_000n, data, owner: PROGRAM_ID.toBase58(), executable: false });
      return local;
    };
    const info = (totalSupply: bigint) => encodeTokenInfo({ authority: auth.publicKey, registryProgram: PublicKey.default, mint: MINT, totalSupply, createdAt: 0n }, VERSION);

    it('3002 AccountDiscriminatorMismatch for a program account of another type', async () => {
      const data = info(0n);
      data.set([1, 2, 3, 4, 5, 6, 7, 8], 0);
      if (!plant(data)) return;
      expect((await anchorErrorOf(await mintIx({ tokenInfo: planted })))?.error.errorCode).toEqual({ code: 'AccountDiscriminatorMismatch', number: 3002 });
    });

    it('2006 ConstraintSeeds for a TokenInfo that is not at its PDA', async () => {
      if (!plant(info(0n))) return;
      const e = await anchorErrorOf(await mintIx({ tokenInfo: planted }));
      expect(e?.error.errorCode).toEqual({ code: 'ConstraintSeeds', number: 2006 });
      expect(e?.error.comparedValues?.map(String)).toEqual([planted.toBase58(), TOKEN_INFO.toBase58()]);
    });

    it('total_supply overflow fails with ArithmeticOverflow and mints nothing', async () => {
      const original = (await chain.connection.getAccountInfo(TOKEN_INFO))!;
      const before = await balance();
      const data = info(2n ** 64n - 3n);
      expect(data.subarray(0, 8)).toEqual(Buffer.from(TOKEN_INFO_DISCRIMINATOR));
      if (!plant(data, TOKEN_INFO)) return;
      try {
        const err = await program.methods.mintTokensDirect!(new BN(5)).accountsStrict(accounts()).rpc().catch((x: unknown) => x);
        expect(String(err)).toMatch(/arithmetic overflow/i);
        expect(await balance()).toBe(before);
      } finally {
        plant(Buffer.from(original.data), TOKEN_INFO);
      }
    });
  });
});
