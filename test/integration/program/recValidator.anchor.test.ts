// energy_token 0.1.1 on the local chain, through the Anchor TS client and the published 0.1.1 IDL: a
// mint needs a registered REC validator's co-signature (or the registry authority's), token_info is no
// longer written (nor write-locked) by a mint, the governance authority manages the validator set, and
// set_registry_authority, sync_total_supply and initialize_token behave as GridTokenX's source does.
import { readFileSync } from 'node:fs';
import BN from 'bn.js';
import { AnchorError, BorshCoder, EventParser, type Program } from '@coral-xyz/anchor';
import { Keypair, PublicKey, SendTransactionError, SystemProgram, SYSVAR_RENT_PUBKEY, Transaction, TransactionInstruction } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, MintLayout, createAssociatedTokenAccountIdempotentInstruction, getAccount, getMint } from '@solana/spl-token';
import { Clock, LiteSVM } from 'litesvm';
import { address } from '@solana/kit';
import {
  decodeTokenInfo,
  encodeGovernanceConfig,
  GOVERNANCE_PROGRAM_ID,
  governanceConfigAddress,
  mintAddress,
  TOKEN_INFO_SIZE_0_1_1,
  tokenInfoAddress,
} from '../../../anchor-localnet/fixtures.js';
import { programSoPath } from '../../../anchor-localnet/paths.js';
import { startTestChain, type TestChain } from '../../support/localnet.js';
import { addresses, anchorProgram, ataOf as ataOfMint, authority, governance, idl, recValidator, registryAuthority } from '../../support/energyToken.js';
import { kitAddress, sendIxs } from '../../support/litesvm.js';

const VERSION = '0.1.1';
const { programId: PROGRAM_ID, tokenInfo: TOKEN_INFO, mint: MINT } = addresses(VERSION);
const ataOf = (owner: PublicKey) => ataOfMint(owner, MINT);
const auth = authority();
const rec = recValidator();
const gov = governance();
const registry = registryAuthority();
const user = Keypair.generate().publicKey;

let chain: TestChain;
let program: Program;

const mintAccounts = (over: Partial<Record<string, PublicKey>> = {}) => ({
  tokenInfo: TOKEN_INFO,
  mint: MINT,
  userTokenAccount: ataOf(user),
  authority: auth.publicKey,
  registryAuthority: registry.publicKey,
  recValidator: rec.publicKey,
  tokenProgram: TOKEN_2022_PROGRAM_ID,
  ...over,
});
const validatorAccounts = (signer: PublicKey, over: Partial<Record<string, PublicKey>> = {}) => ({
  tokenInfo: TOKEN_INFO,
  governanceConfig: governanceConfigAddress(),
  authority: signer,
  ...over,
});

const mintIx = (over: Partial<Record<string, PublicKey>> = {}, amount = 5) =>
  program.methods.mintTokensDirect!(new BN(amount)).accountsStrict(mintAccounts(over)).instruction();

async function funded(): Promise<Keypair> {
  const kp = Keypair.generate();
  await chain.connection.confirmTransaction(await chain.connection.requestAirdrop(kp.publicKey, 1e9), 'confirmed');
  return kp;
}

/** Sends with preflight (fee payer: the authority) and returns the Anchor error decoded from the logs. */
async function anchorErrorOf(ix: TransactionInstruction, signers: Keypair[]): Promise<AnchorError | null> {
  const tx = new Transaction().add(ix);
  tx.feePayer = auth.publicKey;
  tx.recentBlockhash = (await chain.connection.getLatestBlockhash()).blockhash;
  tx.sign(auth, ...signers.filter((s) => !s.publicKey.equals(auth.publicKey)));
  const err = await chain.connection.sendRawTransaction(tx.serialize()).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SendTransactionError);
  return AnchorError.parse((err as SendTransactionError).logs ?? []);
}

const tokenInfoBytes = async () => Buffer.from((await chain.connection.getAccountInfo(TOKEN_INFO, 'confirmed'))!.data);
const tokenInfo = async () => decodeTokenInfo(await tokenInfoBytes());
const balance = async (owner = user) => (await getAccount(chain.connection, ataOf(owner), 'confirmed', TOKEN_2022_PROGRAM_ID)).amount;
const eventsOf = async (signature: string) => {
  const tx = await chain.connection.getTransaction(signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
  return { tx: tx!, events: [...new EventParser(PROGRAM_ID, program.coder).parseLogs(tx!.meta!.logMessages!)] };
};

beforeAll(async () => {
  chain = await startTestChain({ programVersion: VERSION });
  program = anchorProgram(chain.connection, auth, VERSION);
  await chain.connection.confirmTransaction(
    await chain.connection.sendTransaction(
      new Transaction().add(createAssociatedTokenAccountIdempotentInstruction(auth.publicKey, ataOf(user), user, MINT, TOKEN_2022_PROGRAM_ID)),
      [auth],
    ),
    'confirmed',
  );
});
afterAll(() => chain.stop());

describe('the 0.1.1 genesis', () => {
  it('has a 320-byte token_info naming the authority, a distinct registry authority and one REC validator', async () => {
    const info = await tokenInfo();
    expect((await tokenInfoBytes()).length).toBe(TOKEN_INFO_SIZE_0_1_1);
    expect(info.authority.equals(auth.publicKey)).toBe(true);
    expect(info.registryAuthority!.equals(registry.publicKey)).toBe(true);
    expect(info.registryAuthority!.equals(auth.publicKey)).toBe(false);
    expect(info.mint.equals(MINT)).toBe(true);
    expect(info.recValidators.map(String)).toEqual([rec.publicKey.toBase58()]);
    const config = (await chain.connection.getAccountInfo(governanceConfigAddress(), 'confirmed'))!;
    expect(config.owner.equals(GOVERNANCE_PROGRAM_ID)).toBe(true);
    expect(new PublicKey(config.data.subarray(8, 40)).equals(gov.publicKey)).toBe(true);
  });
});

describe('mint_tokens_direct with a REC co-signature', () => {
  it('a mint co-signed by the registered validator lands, emits GridTokensMinted, and leaves token_info unwritten and unlocked', async () => {
    const [b0, before] = [await balance(), await tokenInfoBytes()];
    const signature = await program.methods.mintTokensDirect!(new BN('123456789012345')).accountsStrict(mintAccounts()).signers([rec]).rpc();
    expect(await balance()).toBe(b0 + 123456789012345n);
    expect((await tokenInfoBytes()).equals(before)).toBe(true);

    const { tx, events } = await eventsOf(signature);
    expect(events).toHaveLength(1);
    expect(events[0]!.name).toMatch(/^gridTokensMinted$/i);
    expect((events[0]!.data.meterOwner as PublicKey).equals(user)).toBe(true);
    expect((events[0]!.data.amount as BN).toString()).toBe('123456789012345');
    expect(Math.abs((events[0]!.data.timestamp as BN).toNumber() - Date.now() / 1000)).toBeLessThan(60);

    const message = tx.transaction.message;
    const keys = message.getAccountKeys().staticAccountKeys;
    const at = (k: PublicKey) => keys.findIndex((x) => x.equals(k));
    expect(message.isAccountWritable(at(TOKEN_INFO))).toBe(false);
    expect(message.isAccountWritable(at(MINT))).toBe(true);
    expect(message.isAccountSigner(at(rec.publicKey))).toBe(true);
    process.stdout.write(`0.1.1 mint_tokens_direct compute units (existing token account): ${tx.meta!.computeUnitsConsumed}\n`);
  });

  it('6008 RecValidatorNotFound for a co-signer that is not registered', async () => {
    const stranger = Keypair.generate();
    const e = await anchorErrorOf(await mintIx({ recValidator: stranger.publicKey }), [stranger]);
    expect(e?.error.errorCode).toEqual({ code: 'RecValidatorNotFound', number: 6008 });
  });

  it('3010 AccountNotSigner when the REC validator did not sign', async () => {
    const ix = await mintIx();
    ix.keys = ix.keys.map((k) => (k.pubkey.equals(rec.publicKey) ? { ...k, isSigner: false } : k));
    const e = await anchorErrorOf(ix, [auth]);
    expect(e?.error.errorCode).toEqual({ code: 'AccountNotSigner', number: 3010 });
    expect(e?.error.origin).toBe('rec_validator');
  });

  it('6000 UnauthorizedAuthority for a signer that is neither the authority nor the registry', async () => {
    const impostor = await funded();
    const e = await anchorErrorOf(await mintIx({ authority: impostor.publicKey }), [impostor, rec]);
    expect(e?.error.errorCode).toEqual({ code: 'UnauthorizedAuthority', number: 6000 });
  });

  it('6000 on registry_authority when it is not token_info.registry_authority', async () => {
    const e = await anchorErrorOf(await mintIx({ registryAuthority: Keypair.generate().publicKey }), [rec]);
    expect(e?.error.errorCode).toEqual({ code: 'UnauthorizedAuthority', number: 6000 });
    expect(e?.error.origin).toBe('registry_authority');
  });

  it('6000 on mint when it is not token_info.mint', async () => {
    const e = await anchorErrorOf(await mintIx({ mint: TOKEN_INFO }), [rec]);
    expect(e?.error.errorCode.number).toBe(3007); // loaded first: token_info is not a token-program account
    const other = Keypair.generate().publicKey;
    const local = chain.localnet!;
    const mintData = Buffer.alloc(82);
    MintLayout.encode({ mintAuthorityOption: 1, mintAuthority: TOKEN_INFO, supply: 0n, decimals: 9, isInitialized: true, freezeAuthorityOption: 0, freezeAuthority: PublicKey.default }, mintData);
    local.hooks.setAccount(other.toBase58(), { lamports: 10_000_000n, data: mintData, owner: TOKEN_2022_PROGRAM_ID.toBase58(), executable: false });
    const e2 = await anchorErrorOf(await mintIx({ mint: other }), [rec]);
    expect(e2?.error.errorCode).toEqual({ code: 'UnauthorizedAuthority', number: 6000 });
    expect(e2?.error.origin).toBe('mint');
  });

  it('the registry authority mints without a REC co-signature (it signs as the placeholder)', async () => {
    const b0 = await balance();
    await program.methods.mintTokensDirect!(new BN(7)).accountsStrict(mintAccounts({ authority: registry.publicKey, recValidator: registry.publicKey })).signers([registry]).rpc();
    expect(await balance()).toBe(b0 + 7n);
  });
});

describe('the REC validator set, managed by the governance authority', () => {
  const added = Keypair.generate();

  it('add_rec_validator by the governance authority registers a validator whose co-signature then mints', async () => {
    await program.methods.addRecValidator!(added.publicKey, 'Localnet ERC').accountsStrict(validatorAccounts(gov.publicKey)).signers([gov]).rpc();
    expect((await tokenInfo()).recValidators.map(String)).toEqual([rec.publicKey.toBase58(), added.publicKey.toBase58()]);
    const b0 = await balance();
    await program.methods.mintTokensDirect!(new BN(11)).accountsStrict(mintAccounts({ recValidator: added.publicKey })).signers([added]).rpc();
    expect(await balance()).toBe(b0 + 11n);
  });

  it('6000 for add_rec_validator by anyone else (the token authority included), with the keys compared', async () => {
    const ix = await program.methods.addRecValidator!(Keypair.generate().publicKey, 'x').accountsStrict(validatorAccounts(auth.publicKey)).instruction();
    const e = await anchorErrorOf(ix, [auth]);
    expect(e?.error.errorCode).toEqual({ code: 'UnauthorizedAuthority', number: 6000 });
    expect(e?.error.comparedValues?.map(String)).toEqual([auth.publicKey.toBase58(), gov.publicKey.toBase58()]);
  });

  it('6006 ValidatorAlreadyExists, and 6013 InvalidGovernanceAccount for another governance_config', async () => {
    const again = await program.methods.addRecValidator!(added.publicKey, '').accountsStrict(validatorAccounts(gov.publicKey)).instruction();
    expect((await anchorErrorOf(again, [gov]))?.error.errorCode).toEqual({ code: 'ValidatorAlreadyExists', number: 6006 });
    const forged = await program.methods.addRecValidator!(Keypair.generate().publicKey, '').accountsStrict(validatorAccounts(gov.publicKey, { governanceConfig: auth.publicKey })).instruction();
    expect((await anchorErrorOf(forged, [gov]))?.error.errorCode).toEqual({ code: 'InvalidGovernanceAccount', number: 6013 });
  });

  it('remove_rec_validator makes the next mint co-signed by that validator fail with 6008', async () => {
    await program.methods.removeRecValidator!(added.publicKey).accountsStrict(validatorAccounts(gov.publicKey)).signers([gov]).rpc();
    expect((await tokenInfo()).recValidators.map(String)).toEqual([rec.publicKey.toBase58()]);
    const e = await anchorErrorOf(await mintIx({ recValidator: added.publicKey }), [added]);
    expect(e?.error.errorCode).toEqual({ code: 'RecValidatorNotFound', number: 6008 });
    const twice = await program.methods.removeRecValidator!(added.publicKey).accountsStrict(validatorAccounts(gov.publicKey)).instruction();
    expect((await anchorErrorOf(twice, [gov]))?.error.errorCode).toEqual({ code: 'RemoveValidatorNotFound', number: 6009 });
  });

  it('6007 MaxValidatorsReached past five validators, and swap-remove keeps the set dense', async () => {
    const extra = Array.from({ length: 4 }, () => Keypair.generate().publicKey);
    for (const k of extra) await program.methods.addRecValidator!(k, '').accountsStrict(validatorAccounts(gov.publicKey)).signers([gov]).rpc();
    const full = await program.methods.addRecValidator!(Keypair.generate().publicKey, '').accountsStrict(validatorAccounts(gov.publicKey)).instruction();
    expect((await anchorErrorOf(full, [gov]))?.error.errorCode).toEqual({ code: 'MaxValidatorsReached', number: 6007 });
    await program.methods.removeRecValidator!(extra[0]!).accountsStrict(validatorAccounts(gov.publicKey)).signers([gov]).rpc();
    expect((await tokenInfo()).recValidators.map(String)).toEqual([rec.publicKey, extra[3]!, extra[1]!, extra[2]!].map(String));
    for (const k of extra.slice(1)) await program.methods.removeRecValidator!(k).accountsStrict(validatorAccounts(gov.publicKey)).signers([gov]).rpc();
    expect((await tokenInfo()).recValidators.map(String)).toEqual([rec.publicKey.toBase58()]);
  });
});

describe('set_registry_authority and sync_total_supply', () => {
  it('set_registry_authority by the authority replaces it; 6000 for anyone else', async () => {
    const next = Keypair.generate().publicKey;
    await program.methods.setRegistryAuthority!(next).accountsStrict({ tokenInfo: TOKEN_INFO, authority: auth.publicKey }).rpc();
    expect((await tokenInfo()).registryAuthority!.equals(next)).toBe(true);
    const impostor = await funded();
    const ix = await program.methods.setRegistryAuthority!(impostor.publicKey).accountsStrict({ tokenInfo: TOKEN_INFO, authority: impostor.publicKey }).instruction();
    expect((await anchorErrorOf(ix, [impostor]))?.error.errorCode).toEqual({ code: 'UnauthorizedAuthority', number: 6000 });
    await program.methods.setRegistryAuthority!(registry.publicKey).accountsStrict({ tokenInfo: TOKEN_INFO, authority: auth.publicKey }).rpc();
    expect((await tokenInfo()).registryAuthority!.equals(registry.publicKey)).toBe(true);
  });

  it('sync_total_supply copies the mint supply into token_info and emits TotalSupplySynced; 6000 for anyone else', async () => {
    const supply = (await getMint(chain.connection, MINT, 'confirmed', TOKEN_2022_PROGRAM_ID)).supply;
    expect(supply).toBeGreaterThan(0n);
    expect((await tokenInfo()).totalSupply).toBe(0n); // mints no longer write it
    const signature = await program.methods.syncTotalSupply!().accountsStrict({ tokenInfo: TOKEN_INFO, mint: MINT, authority: auth.publicKey }).rpc();
    expect((await tokenInfo()).totalSupply).toBe(supply);
    const { events } = await eventsOf(signature);
    expect(events.map((e) => e.name)).toEqual([expect.stringMatching(/^totalSupplySynced$/i)]);
    expect((events[0]!.data.supply as BN).toString()).toBe(supply.toString());
    expect((events[0]!.data.authority as PublicKey).equals(auth.publicKey)).toBe(true);
    const impostor = await funded();
    const ix = await program.methods.syncTotalSupply!().accountsStrict({ tokenInfo: TOKEN_INFO, mint: MINT, authority: impostor.publicKey }).instruction();
    expect((await anchorErrorOf(ix, [impostor]))?.error.errorCode).toEqual({ code: 'UnauthorizedAuthority', number: 6000 });
  });
});

describe('initialize_token on a fresh deployment (LiteSVM, the 0.1.1 program at a new address)', () => {
  it('creates a 320-byte token_info and a Token-2022 mint whose authority is token_info; then the REC gate applies', () => {
    const svm = new LiteSVM();
    const now = 1_800_000_000n;
    svm.setClock(new Clock(1n, now, 0n, 1n, now));
    const programId = Keypair.generate().publicKey;
    svm.addProgram(kitAddress(programId), readFileSync(programSoPath(VERSION)));
    const payer = Keypair.generate();
    svm.airdrop(kitAddress(payer.publicKey), 10_000_000_000n as never);
    const coder = new BorshCoder(idl(VERSION));
    const tokenInfo = tokenInfoAddress(programId);
    const mint = mintAddress(programId);
    const registryProgram = Keypair.generate().publicKey;
    const init = new TransactionInstruction({
      programId,
      keys: [
        { pubkey: tokenInfo, isSigner: false, isWritable: true },
        { pubkey: mint, isSigner: false, isWritable: true },
        { pubkey: payer.publicKey, isSigner: true, isWritable: true },
        { pubkey: SystemProgram.programId, isSigner: false, isWritable: false },
        { pubkey: TOKEN_2022_PROGRAM_ID, isSigner: false, isWritable: false },
        { pubkey: SYSVAR_RENT_PUBKEY, isSigner: false, isWritable: false },
      ],
      data: coder.instruction.encode('initialize_token', { registry_program_id: registryProgram, registry_authority: registry.publicKey }),
    });
    const r = sendIxs(svm, [init], [payer]);
    if ('err' in r) throw new Error(`initialize_token failed: ${String(r.err())}\n${r.meta().logs().join('\n')}`);

    const account = svm.getAccount(kitAddress(tokenInfo));
    if (!account.exists) throw new Error('token_info was not created');
    expect(account.data.length).toBe(TOKEN_INFO_SIZE_0_1_1);
    expect(String(account.programAddress)).toBe(programId.toBase58());
    expect(account.lamports).toBe(svm.minimumBalanceForRentExemption(BigInt(TOKEN_INFO_SIZE_0_1_1)));
    const info = decodeTokenInfo(account.data);
    expect(info.authority.equals(payer.publicKey)).toBe(true);
    expect(info.registryAuthority!.equals(registry.publicKey)).toBe(true);
    expect(info.registryProgram.equals(registryProgram)).toBe(true);
    expect(info.mint.equals(mint)).toBe(true);
    expect(info.recValidators).toEqual([]);
    expect(info.createdAt).toBe(now);

    const mintAccount = svm.getAccount(kitAddress(mint));
    if (!mintAccount.exists) throw new Error('the mint was not created');
    expect(String(mintAccount.programAddress)).toBe(TOKEN_2022_PROGRAM_ID.toBase58());
    const decoded = MintLayout.decode(Buffer.from(mintAccount.data).subarray(0, 82));
    expect(decoded.isInitialized).toBe(true);
    expect(decoded.decimals).toBe(9);
    expect(decoded.mintAuthority.equals(tokenInfo)).toBe(true);
    expect(decoded.freezeAuthorityOption).toBe(0);

    // A second initialize_token fails (the accounts exist).
    expect('err' in sendIxs(svm, [init], [payer])).toBe(true);

    // With no validator registered nobody but the registry mints; after governance registers one, its co-signature does.
    svm.setAccount({ address: address(governanceConfigAddress().toBase58()), lamports: 10_000_000n, data: encodeGovernanceConfig(gov.publicKey), programAddress: address(GOVERNANCE_PROGRAM_ID.toBase58()), executable: false, space: 413n } as never);
    const ata = ataOfMint(user, mint);
    const mintTo = (validator: Keypair) =>
      new TransactionInstruction({
        programId,
        keys: [
          { pubkey: tokenInfo, isSigner: false, isWritable: false },
          { pubkey: mint, isSigner: false, isWritable: true },
          { pubkey: ata, isSigner: false, isWritable: true },
          { pubkey: payer.publicKey, isSigner: true, isWritable: false },
          { pubkey: registry.publicKey, isSigner: false, isWritable: false },
          { pubkey: validator.publicKey, isSigner: true, isWritable: false },
          { pubkey: TOKEN_2022_PROGRAM_ID, isSigner: false, isWritable: false },
        ],
        data: coder.instruction.encode('mint_tokens_direct', { amount: new BN(42) }),
      });
    const none = sendIxs(svm, [createAssociatedTokenAccountIdempotentInstruction(payer.publicKey, ata, user, mint, TOKEN_2022_PROGRAM_ID), mintTo(rec)], [payer, rec]);
    expect('err' in none && none.meta().logs().some((l) => l.includes('Error Number: 6008'))).toBe(true);
    const add = new TransactionInstruction({
      programId,
      keys: [
        { pubkey: tokenInfo, isSigner: false, isWritable: true },
        { pubkey: governanceConfigAddress(), isSigner: false, isWritable: false },
        { pubkey: gov.publicKey, isSigner: true, isWritable: false },
      ],
      data: coder.instruction.encode('add_rec_validator', { validator_pubkey: rec.publicKey, _authority_name: 'ERC' }),
    });
    const landed = sendIxs(svm, [add, createAssociatedTokenAccountIdempotentInstruction(payer.publicKey, ata, user, mint, TOKEN_2022_PROGRAM_ID), mintTo(rec)], [payer, gov, rec]);
    if ('err' in landed) throw new Error(`mint after add_rec_validator failed: ${String(landed.err())}\n${landed.meta().logs().join('\n')}`);
    const tokenAccount = svm.getAccount(kitAddress(ata));
    expect(tokenAccount.exists && Buffer.from(tokenAccount.data).readBigUInt64LE(64)).toBe(42n);
  });
});
