// The local chain held to a second, independent client: @solana/kit 8 with @solana-program/token-2022.
// Airdrops confirmed over subscriptions, the transaction-message pipeline with
// sendAndConfirmTransactionFactory, v0 transactions with a lookup table, Token-2022 mints with extensions,
// jsonParsed accounts and transactions checked against kit's own decoders, a failing transaction sent with
// skipPreflight, and account notifications.
import {
  address,
  airdropFactory,
  appendTransactionMessageInstructions,
  compressTransactionMessageUsingAddressLookupTables,
  createSolanaRpc,
  createSolanaRpcSubscriptions,
  createTransactionMessage,
  devnet,
  generateKeyPairSigner,
  getSignatureFromTransaction,
  isSolanaError,
  lamports,
  pipe,
  sendAndConfirmTransactionFactory,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
  type Address,
  type Instruction,
  type KeyPairSigner,
} from '@solana/kit';
import { getCreateAccountInstruction, getTransferSolInstruction } from '@solana-program/system';
import {
  extension,
  fetchMint,
  fetchToken,
  findAssociatedTokenPda,
  getCreateAssociatedTokenIdempotentInstructionAsync,
  getInitializeMint2Instruction,
  getMintSize,
  getMintToInstruction,
  getPreInitializeInstructionsForMintExtensions,
  TOKEN_2022_PROGRAM_ADDRESS,
} from '@solana-program/token-2022';
import bs58 from 'bs58';
import { hooksOrSkip, startTestChain, type TestChain } from '../../support/localnet.js';
import { waitFor } from '../../support/db.js';

let chain: TestChain;
let rpc: ReturnType<typeof createSolanaRpc<ReturnType<typeof devnet>>>;
let subscriptions: ReturnType<typeof createSolanaRpcSubscriptions<ReturnType<typeof devnet>>>;
let sendAndConfirm: ReturnType<typeof sendAndConfirmTransactionFactory>;
let payer: KeyPairSigner;
let mint: KeyPairSigner;
let owner: KeyPairSigner;
let ata: Address;
let airdropSignature: string;

beforeAll(async () => {
  chain = await startTestChain();
  // A test cluster, as kit types it: requestAirdrop is there.
  rpc = createSolanaRpc(devnet(chain.url));
  subscriptions = createSolanaRpcSubscriptions(devnet(chain.wsUrl));
  sendAndConfirm = sendAndConfirmTransactionFactory({ rpc, rpcSubscriptions: subscriptions });
  [payer, mint, owner] = await Promise.all([generateKeyPairSigner(), generateKeyPairSigner(), generateKeyPairSigner()]);
});
afterAll(() => chain.stop());

async function send(instructions: Instruction[], opts: { skipPreflight?: boolean; lookupTable?: { address: Address; addresses: Address[] } } = {}) {
  const { value: latest } = await rpc.getLatestBlockhash({ commitment: 'confirmed' }).send();
  let message = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => setTransactionMessageFeePayerSigner(payer, m),
    (m) => setTransactionMessageLifetimeUsingBlockhash(latest, m),
    (m) => appendTransactionMessageInstructions(instructions, m),
  );
  if (opts.lookupTable) message = compressTransactionMessageUsingAddressLookupTables(message, { [opts.lookupTable.address]: opts.lookupTable.addresses });
  const tx = await signTransactionMessageWithSigners(message);
  const signature = getSignatureFromTransaction(tx);
  const error = await sendAndConfirm(tx as never, { commitment: 'confirmed', skipPreflight: opts.skipPreflight }).then(
    () => null,
    (e: unknown) => e,
  );
  return { signature, error };
}

it('airdrops through the faucet and confirms over the signature subscription; the airdrop is a real transfer', async () => {
  airdropSignature = await airdropFactory({ rpc, rpcSubscriptions: subscriptions })({
    recipientAddress: payer.address,
    lamports: lamports(50_000_000_000n),
    commitment: 'confirmed',
  });
  expect((await rpc.getBalance(payer.address, { commitment: 'confirmed' }).send()).value).toBe(50_000_000_000n);
  const tx = await rpc.getTransaction(airdropSignature as never, { commitment: 'confirmed', maxSupportedTransactionVersion: 0, encoding: 'jsonParsed' }).send();
  expect(tx?.meta?.err).toBeNull();
  const ix = tx!.transaction.message.instructions[0] as unknown as { program: string; parsed: { type: string; info: { destination: string; lamports: bigint } } };
  expect(ix.program).toBe('system');
  expect(ix.parsed.type).toBe('transfer');
  expect(ix.parsed.info).toMatchObject({ destination: payer.address, lamports: 50_000_000_000n });
  const history = await rpc.getSignaturesForAddress(payer.address, { commitment: 'confirmed' }).send();
  expect(history.map((s) => s.signature)).toContain(airdropSignature);
});

it('creates a Token-2022 mint with extensions and mints to an ATA with v0 messages through sendAndConfirmTransactionFactory', async () => {
  const extensions = [
    extension('MintCloseAuthority', { closeAuthority: payer.address }),
    extension('TransferFeeConfig', {
      transferFeeConfigAuthority: payer.address,
      withdrawWithheldAuthority: payer.address,
      withheldAmount: 0n,
      olderTransferFee: { epoch: 0n, maximumFee: 1_000n, transferFeeBasisPoints: 25 },
      newerTransferFee: { epoch: 0n, maximumFee: 1_000n, transferFeeBasisPoints: 25 },
    }),
  ];
  const space = getMintSize(extensions);
  const rent = await rpc.getMinimumBalanceForRentExemption(BigInt(space)).send();
  const created = await send([
    getCreateAccountInstruction({ payer, newAccount: mint, lamports: rent, space, programAddress: TOKEN_2022_PROGRAM_ADDRESS }),
    ...getPreInitializeInstructionsForMintExtensions(mint.address, extensions),
    getInitializeMint2Instruction({ mint: mint.address, decimals: 6, mintAuthority: payer.address, freezeAuthority: null }),
  ]);
  expect(created.error).toBeNull();
  [ata] = await findAssociatedTokenPda({ mint: mint.address, owner: owner.address, tokenProgram: TOKEN_2022_PROGRAM_ADDRESS });
  const minted = await send([
    await getCreateAssociatedTokenIdempotentInstructionAsync({ payer, mint: mint.address, owner: owner.address, tokenProgram: TOKEN_2022_PROGRAM_ADDRESS }),
    getMintToInstruction({ mint: mint.address, token: ata, mintAuthority: payer, amount: 2_500_000n }, { programAddress: TOKEN_2022_PROGRAM_ADDRESS }),
  ]);
  expect(minted.error).toBeNull();
  const tx = await rpc.getTransaction(minted.signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0, encoding: 'json' }).send();
  expect(tx?.version).toBe(0);
  expect((await fetchToken(rpc, ata, { commitment: 'confirmed' })).data.amount).toBe(2_500_000n);
});

it('answers jsonParsed for the mint and the token account as Agave parses them, matching kit\'s own decoders', async () => {
  const decodedMint = (await fetchMint(rpc, mint.address, { commitment: 'confirmed' })).data;
  const { value } = await rpc.getAccountInfo(mint.address, { encoding: 'jsonParsed', commitment: 'confirmed' }).send();
  const data = value!.data as unknown as { program: string; space: bigint; parsed: { type: string; info: any } };
  expect(data.program).toBe('spl-token-2022');
  expect(data.space).toBe(value!.space);
  expect(data.parsed.type).toBe('mint');
  const info = data.parsed.info;
  expect(info).toMatchObject({ decimals: 6, isInitialized: true, mintAuthority: payer.address, freezeAuthority: null, supply: String(decodedMint.supply) });
  expect(info.extensions).toEqual([
    { extension: 'mintCloseAuthority', state: { closeAuthority: payer.address } },
    {
      extension: 'transferFeeConfig',
      state: {
        transferFeeConfigAuthority: payer.address,
        withdrawWithheldAuthority: payer.address,
        withheldAmount: 0n,
        olderTransferFee: { epoch: 0n, maximumFee: 1_000n, transferFeeBasisPoints: 25 },
        newerTransferFee: { epoch: 0n, maximumFee: 1_000n, transferFeeBasisPoints: 25 },
      },
    },
  ]);
  const kinds = decodedMint.extensions.__option === 'Some' ? decodedMint.extensions.value.map((e) => e.__kind) : [];
  expect(kinds).toEqual(['MintCloseAuthority', 'TransferFeeConfig']);

  const accounts = await rpc.getMultipleAccounts([ata, payer.address], { encoding: 'jsonParsed', commitment: 'confirmed' }).send();
  const token = accounts.value[0]!.data as unknown as { parsed: { type: string; info: any } };
  expect(token.parsed.type).toBe('account');
  expect(token.parsed.info).toMatchObject({
    mint: mint.address,
    owner: owner.address,
    state: 'initialized',
    isNative: false,
    tokenAmount: { amount: '2500000', decimals: 6, uiAmount: 2.5, uiAmountString: '2.5' },
  });
  // A Token-2022 ATA of a transfer-fee mint carries ImmutableOwner and TransferFeeAmount.
  expect(token.parsed.info.extensions.map((e: { extension: string }) => e.extension).sort()).toEqual(['immutableOwner', 'transferFeeAmount']);
  // A system account has no parser: base64, as Agave answers.
  expect(accounts.value[1]!.data).toEqual(['', 'base64']);
  // jsonParsed cannot be sliced.
  await expect(rpc.getAccountInfo(ata, { encoding: 'jsonParsed', dataSlice: { offset: 0, length: 8 } } as never).send()).rejects.toThrow(/Sliced account data/);
});

it('notifies account changes over the subscription, parsed', async () => {
  const abort = new AbortController();
  const notifications = await subscriptions.accountNotifications(ata, { commitment: 'confirmed', encoding: 'jsonParsed' } as never).subscribe({ abortSignal: abort.signal });
  const first = (async () => {
    for await (const n of notifications) return n;
    return null;
  })();
  const minted = await send([getMintToInstruction({ mint: mint.address, token: ata, mintAuthority: payer, amount: 500_000n }, { programAddress: TOKEN_2022_PROGRAM_ADDRESS })]);
  expect(minted.error).toBeNull();
  const note = await first;
  abort.abort();
  const parsed = (note!.value.data as unknown as { parsed: { info: { tokenAmount: { amount: string } } } }).parsed;
  expect(parsed.info.tokenAmount.amount).toBe('3000000');
});

it('a v0 transaction through a lookup table: jsonParsed keys say where each key came from', async () => {
  const local = hooksOrSkip(chain, 'a lookup table planted with setAccount');
  if (!local) return;
  const recipients = await Promise.all([generateKeyPairSigner(), generateKeyPairSigner()]);
  const table = (await generateKeyPairSigner()).address;
  // An address lookup table's state: 56 bytes of meta (never deactivated), then the addresses.
  const meta = Buffer.alloc(56);
  meta.writeUInt32LE(1, 0);
  meta.writeBigUInt64LE(2n ** 64n - 1n, 4);
  const data = Buffer.concat([meta, ...recipients.map((r) => Buffer.from(bs58.decode(r.address)))]);
  local.hooks.setAccount(table, { lamports: 10_000_000n, data, owner: 'AddressLookupTab1e1111111111111111111111111', executable: false });
  const sent = await send(
    recipients.map((r) => getTransferSolInstruction({ source: payer, destination: r.address, amount: 1_000_000n })),
    { lookupTable: { address: table, addresses: recipients.map((r) => r.address) } },
  );
  expect(sent.error).toBeNull();
  const tx = await rpc.getTransaction(sent.signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0, encoding: 'jsonParsed' }).send();
  const keys = tx!.transaction.message.accountKeys;
  expect(keys[0]).toEqual({ pubkey: payer.address, signer: true, writable: true, source: 'transaction' });
  for (const r of recipients) expect(keys).toContainEqual({ pubkey: r.address, signer: false, writable: true, source: 'lookupTable' });
  expect(keys).toContainEqual({ pubkey: '11111111111111111111111111111111', signer: false, writable: false, source: 'transaction' });
  const json = await rpc.getTransaction(sent.signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0, encoding: 'json' }).send();
  expect([...json!.meta!.loadedAddresses.writable].sort()).toEqual(recipients.map((r) => r.address).sort());
});

it('a failing transaction sent with skipPreflight lands in a block, and kit reports its instruction error', async () => {
  const stranger = await generateKeyPairSigner();
  const { signature, error } = await send(
    [getMintToInstruction({ mint: mint.address, token: ata, mintAuthority: stranger, amount: 1n }, { programAddress: TOKEN_2022_PROGRAM_ADDRESS })],
    { skipPreflight: true },
  );
  expect(isSolanaError(error)).toBe(true);
  // Token-2022's OwnerMismatch is custom error 4 of instruction 0.
  expect((error as { context: Record<string, unknown> }).context).toMatchObject({ index: 0, code: 4 });
  // kit may report the error from an earlier commitment than `confirmed`: wait until it is confirmed to read it.
  await waitFor(async () => ['confirmed', 'finalized'].includes(String((await rpc.getSignatureStatuses([signature]).send()).value[0]?.confirmationStatus)), 30_000, 'the failed transaction to confirm');
  const tx = await rpc.getTransaction(signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0, encoding: 'json' }).send();
  expect(tx?.meta?.err).toEqual({ InstructionError: [0n, { Custom: 4n }] });
  const block = await rpc.getBlock(tx!.slot, { commitment: 'confirmed', transactionDetails: 'signatures', maxSupportedTransactionVersion: 0, rewards: false }).send();
  expect(block?.signatures).toContain(signature);
});
