// An unmodified web3.js Connection and the spl-token helpers against the local chain: the flows the
// service relies on must behave as they do against solana-test-validator.
import {
  ComputeBudgetProgram,
  Keypair,
  LAMPORTS_PER_SOL,
  PublicKey,
  SendTransactionError,
  SystemProgram,
  Transaction,
  TransactionExpiredBlockheightExceededError,
  VersionedTransaction,
  TransactionMessage,
  Connection,
  sendAndConfirmTransaction,
} from '@solana/web3.js';
import {
  TOKEN_2022_PROGRAM_ID,
  createAssociatedTokenAccountIdempotent,
  createMint,
  createMintToInstruction,
  getAccount,
  getAssociatedTokenAddressSync,
  getMint,
  mintTo,
} from '@solana/spl-token';
import bs58 from 'bs58';
import { hooksOrSkip, startTestChain, type TestChain } from '../../support/localnet.js';

let chain: TestChain;
const payer = Keypair.generate();
const owner = Keypair.generate();
let mint: PublicKey;
let ata: PublicKey;

beforeAll(async () => {
  chain = await startTestChain();
  const sig = await chain.connection.requestAirdrop(payer.publicKey, 100 * LAMPORTS_PER_SOL);
  const latest = await chain.connection.getLatestBlockhash();
  await chain.connection.confirmTransaction({ signature: sig, ...latest }, 'confirmed');
});
afterAll(() => chain.stop());

async function rpc(method: string, params?: unknown, raw?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(chain.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ?? JSON.stringify({ jsonrpc: '2.0', id: 7, method, params }),
  });
  return { status: res.status, body: await res.json() };
}

describe('accounts, airdrop and Token-2022 through spl-token helpers', () => {
  it('airdropped lamports are visible at confirmed', async () => {
    expect(await chain.connection.getBalance(payer.publicKey)).toBe(100 * LAMPORTS_PER_SOL);
  });

  it('creates a Token-2022 mint, an ATA with CreateIdempotent, and mints to it', async () => {
    mint = await createMint(chain.connection, payer, payer.publicKey, null, 6, Keypair.generate(), undefined, TOKEN_2022_PROGRAM_ID);
    const info = await getMint(chain.connection, mint, 'confirmed', TOKEN_2022_PROGRAM_ID);
    expect(info.decimals).toBe(6);
    expect(info.mintAuthority?.equals(payer.publicKey)).toBe(true);

    ata = await createAssociatedTokenAccountIdempotent(chain.connection, payer, mint, owner.publicKey, undefined, TOKEN_2022_PROGRAM_ID);
    expect(ata.equals(getAssociatedTokenAddressSync(mint, owner.publicKey, false, TOKEN_2022_PROGRAM_ID))).toBe(true);
    // Idempotent: a second create succeeds and changes nothing.
    await createAssociatedTokenAccountIdempotent(chain.connection, payer, mint, owner.publicKey, undefined, TOKEN_2022_PROGRAM_ID);

    await mintTo(chain.connection, payer, mint, ata, payer, 1_234_567n, [], undefined, TOKEN_2022_PROGRAM_ID);
    const account = await getAccount(chain.connection, ata, 'confirmed', TOKEN_2022_PROGRAM_ID);
    expect(account.amount).toBe(1_234_567n);
    expect(account.owner.equals(owner.publicKey)).toBe(true);

    const balance = await chain.connection.getTokenAccountBalance(ata);
    expect(balance.value).toEqual({ amount: '1234567', decimals: 6, uiAmount: 1.234567, uiAmountString: '1.234567' });
    const supply = await chain.connection.getTokenSupply(mint);
    expect(supply.value.amount).toBe('1234567');
  });

  it('reads several accounts at once, null for a missing one', async () => {
    const missing = Keypair.generate().publicKey;
    const infos = await chain.connection.getMultipleAccountsInfo([mint, missing, ata]);
    expect(infos[0]?.owner.equals(TOKEN_2022_PROGRAM_ID)).toBe(true);
    expect(infos[1]).toBeNull();
    expect(infos[2]?.data.length).toBeGreaterThanOrEqual(165);
  });
});

describe('sending and confirming', () => {
  const mintIx = (amount: bigint) => createMintToInstruction(mint, ata, payer.publicKey, amount, [], TOKEN_2022_PROGRAM_ID);

  it('confirms with the blockhash strategy, and getTransaction reports logs, fee and compute units', async () => {
    const { blockhash, lastValidBlockHeight } = await chain.connection.getLatestBlockhash('confirmed');
    const tx = new Transaction({ feePayer: payer.publicKey, blockhash, lastValidBlockHeight }).add(
      ComputeBudgetProgram.setComputeUnitLimit({ units: 10_000 }),
      ComputeBudgetProgram.setComputeUnitPrice({ microLamports: 500_000 }),
      mintIx(10n),
    );
    tx.sign(payer);
    const signature = await chain.connection.sendRawTransaction(tx.serialize(), { skipPreflight: false, maxRetries: 0 });
    const res = await chain.connection.confirmTransaction({ signature, blockhash, lastValidBlockHeight }, 'confirmed');
    expect(res.value.err).toBeNull();

    const got = await chain.connection.getTransaction(signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
    expect(got?.meta?.err).toBeNull();
    expect(got?.meta?.logMessages).toContain('Program log: Instruction: MintTo');
    // 5,000 per signature + ceil(500,000 µlamports × 10,000 CU / 10^6) = 5,000
    expect(got?.meta?.fee).toBe(10_000);
    expect(got?.meta?.computeUnitsConsumed).toBeGreaterThan(1000);
    const payerIndex = 0;
    expect(got!.meta!.preBalances[payerIndex]! - got!.meta!.postBalances[payerIndex]!).toBe(10_000);
    expect(got?.meta?.postTokenBalances?.find((b) => b.mint === mint.toBase58())?.uiTokenAmount.amount).toBe('1234577');
  });

  it('sends base58 too, and reports fees per message', async () => {
    const { blockhash } = await chain.connection.getLatestBlockhash();
    const tx = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(mintIx(1n));
    tx.sign(payer);
    const fee = await chain.connection.getFeeForMessage(tx.compileMessage());
    expect(fee.value).toBe(5000);
    const { body } = await rpc('sendTransaction', [bs58.encode(tx.serialize())]);
    expect(body.result).toBe(bs58.encode(tx.signature!));
  });

  it('a versioned (v0) transaction needs maxSupportedTransactionVersion to be read back', async () => {
    const { blockhash, lastValidBlockHeight } = await chain.connection.getLatestBlockhash();
    const msg = new TransactionMessage({ payerKey: payer.publicKey, recentBlockhash: blockhash, instructions: [mintIx(2n)] }).compileToV0Message();
    const vtx = new VersionedTransaction(msg);
    vtx.sign([payer]);
    const signature = await chain.connection.sendTransaction(vtx);
    await chain.connection.confirmTransaction({ signature, blockhash, lastValidBlockHeight });
    await expect(chain.connection.getTransaction(signature, { commitment: 'confirmed' } as never)).rejects.toThrow(/maxSupportedTransactionVersion/);
    const got = await chain.connection.getTransaction(signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
    expect(got?.version).toBe(0);
  });

  it('lists the transactions that touched an address, newest first, paged with before / until', async () => {
    // Every transaction of this file that minted wrote the mint: the history web3.js pages through.
    const all = await chain.connection.getSignaturesForAddress(mint, {}, 'confirmed');
    expect(all.length).toBeGreaterThanOrEqual(3);
    const slots = all.map((s) => s.slot);
    expect([...slots].sort((a, b) => b - a)).toEqual(slots);
    for (const s of all) expect(s).toEqual(expect.objectContaining({ err: null, memo: null, confirmationStatus: expect.stringMatching(/confirmed|finalized/) }));

    const [first, second, third] = all;
    const page = await chain.connection.getSignaturesForAddress(mint, { before: first!.signature, limit: 1 }, 'confirmed');
    expect(page.map((s) => s.signature)).toEqual([second!.signature]);
    const until = await chain.connection.getSignaturesForAddress(mint, { until: third!.signature }, 'confirmed');
    expect(until.map((s) => s.signature)).toEqual([first!.signature, second!.signature]);
    // An address nothing touched has no history; a bad limit is the validator's -32602.
    expect(await chain.connection.getSignaturesForAddress(Keypair.generate().publicKey, {}, 'confirmed')).toEqual([]);
    expect((await rpc('getSignaturesForAddress', [mint.toBase58(), { limit: 1001 }])).body.error.code).toBe(-32602);
  });

  it('signature statuses move from processed to confirmed to finalized', async () => {
    const hooks = hooksOrSkip(chain, 'commitment progression');
    if (!hooks) return;
    hooks.hooks.pauseSlots();
    try {
      const { blockhash } = await chain.connection.getLatestBlockhash('processed');
      const tx = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(mintIx(3n));
      tx.sign(payer);
      const signature = await chain.connection.sendRawTransaction(tx.serialize(), { skipPreflight: true });
      const status = async () => (await chain.connection.getSignatureStatuses([signature])).value[0];
      // Received, waiting for the end of the slot: no status yet; then in a block, processed.
      expect(await status()).toBeNull();
      hooks.hooks.advanceSlots(1);
      expect((await status())?.confirmationStatus).toBe('processed');
      expect(await chain.connection.getTransaction(signature, { commitment: 'confirmed' })).toBeNull();
      hooks.hooks.advanceSlots(hooks.chain.confirmSlots);
      expect((await status())?.confirmationStatus).toBe('confirmed');
      hooks.hooks.advanceSlots(hooks.chain.finalizeSlots);
      const final = await status();
      expect(final?.confirmationStatus).toBe('finalized');
      expect(final?.confirmations).toBeNull();
    } finally {
      hooks.hooks.resumeSlots();
    }
  });
});

describe('how failures are reported', () => {
  it('a failed preflight is SendTransactionError with the simulation logs (-32002)', async () => {
    const stranger = Keypair.generate();
    const { blockhash } = await chain.connection.getLatestBlockhash();
    // Minting with an authority that is not the mint's: Token-2022 OwnerMismatch (custom error 4).
    const tx = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(
      createMintToInstruction(mint, ata, stranger.publicKey, 1n, [], TOKEN_2022_PROGRAM_ID),
    );
    tx.sign(payer, stranger);
    const err = await chain.connection.sendRawTransaction(tx.serialize()).catch((e) => e);
    expect(err).toBeInstanceOf(SendTransactionError);
    expect(err.message).toMatch(/Transaction simulation failed: Error processing Instruction 0: custom program error: 0x4/);
    expect(err.logs.join('\n')).toMatch(/owner does not match/i);

    const { body } = await rpc('sendTransaction', [tx.serialize().toString('base64'), { encoding: 'base64' }]);
    expect(body.error.code).toBe(-32002);
    expect(body.error.data.err).toEqual({ InstructionError: [0, { Custom: 4 }] });
  });

  it('with skipPreflight the failed transaction lands, pays its fee, and confirmTransaction resolves with value.err', async () => {
    const local = hooksOrSkip(chain, 'a failed transaction confirmed over the subscription');
    if (!local) return;
    const stranger = Keypair.generate();
    const { blockhash, lastValidBlockHeight } = await chain.connection.getLatestBlockhash();
    const tx = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(
      createMintToInstruction(mint, ata, stranger.publicKey, 1n, [], TOKEN_2022_PROGRAM_ID),
    );
    tx.sign(payer, stranger);
    const before = await chain.connection.getBalance(payer.publicKey);
    // A connection that tells when web3 made its one status check after subscribing, so the block is
    // produced only then: the transaction lands while web3 listens, as it does against a validator.
    let checked!: () => void;
    const statusChecked = new Promise<void>((r) => (checked = r));
    const watched = new Connection(chain.url, {
      commitment: 'confirmed',
      wsEndpoint: chain.wsUrl,
      fetch: async (input, init) => {
        const res = await fetch(input as string, init as RequestInit);
        if (String(init?.body).includes('getSignatureStatuses')) checked();
        return res;
      },
    });
    local.hooks.pauseSlots();
    let signature: string;
    let res: Awaited<ReturnType<Connection['confirmTransaction']>>;
    try {
      signature = await watched.sendRawTransaction(tx.serialize(), { skipPreflight: true });
      const confirming = watched.confirmTransaction({ signature, blockhash, lastValidBlockHeight });
      await statusChecked;
      local.hooks.advanceSlots(1 + local.chain.confirmSlots); // lands, then is confirmed
      res = await confirming;
    } finally {
      local.hooks.resumeSlots();
    }
    expect(res.value.err).toEqual({ InstructionError: [0, { Custom: 4 }] });
    const got = await chain.connection.getTransaction(signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
    expect(got?.meta?.err).toEqual({ InstructionError: [0, { Custom: 4 }] });
    expect(got?.meta?.logMessages?.some((l) => /failed: custom program error: 0x4/.test(l))).toBe(true);
    expect(before - (await chain.connection.getBalance(payer.publicKey))).toBe(10_000);
  });

  it('sendAndConfirmTransaction surfaces a simulation failure before anything lands', async () => {
    const poor = Keypair.generate();
    const tx = new Transaction().add(SystemProgram.transfer({ fromPubkey: poor.publicKey, toPubkey: payer.publicKey, lamports: 1 }));
    await expect(sendAndConfirmTransaction(chain.connection, tx, [poor])).rejects.toThrow(/Attempt to debit an account but found no record of a prior credit/);
  });

});

describe('the chain moves like a validator', () => {
  it('slots advance and each has a new blockhash; commitments lag as configured', async () => {
    const a = await chain.connection.getLatestBlockhash('processed');
    const slotA = await chain.connection.getSlot('processed');
    await new Promise((r) => setTimeout(r, 200));
    const b = await chain.connection.getLatestBlockhash('processed');
    expect(await chain.connection.getSlot('processed')).toBeGreaterThan(slotA);
    expect(b.blockhash).not.toBe(a.blockhash);
    expect(b.lastValidBlockHeight).toBeGreaterThan(a.lastValidBlockHeight);
    const processed = await chain.connection.getSlot('processed');
    const finalized = await chain.connection.getSlot('finalized');
    expect(processed).toBeGreaterThan(finalized);
    const epoch = await chain.connection.getEpochInfo();
    expect(epoch.absoluteSlot).toBeGreaterThanOrEqual(finalized);
  });

  it('notifies slot and account subscribers over the WebSocket', async () => {
    const slot = await new Promise<number>((resolve) => {
      const id = chain.connection.onSlotChange((s) => {
        void chain.connection.removeSlotChangeListener(id);
        resolve(s.slot);
      });
    });
    expect(slot).toBeGreaterThan(0);

    const target = Keypair.generate().publicKey;
    const seen = new Promise<number>((resolve) => {
      const id = chain.connection.onAccountChange(
        target,
        (info) => {
          void chain.connection.removeAccountChangeListener(id);
          resolve(info.lamports);
        },
        { commitment: 'confirmed' },
      );
    });
    await new Promise((r) => setTimeout(r, 100)); // let the subscription be acknowledged
    await sendAndConfirmTransaction(chain.connection, new Transaction().add(SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: target, lamports: 5_000_000 })), [payer]);
    expect(await seen).toBe(5_000_000);
  });

  it('reports recent prioritization fees for the accounts a transaction writes', async () => {
    const { blockhash, lastValidBlockHeight } = await chain.connection.getLatestBlockhash();
    const tx = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(
      ComputeBudgetProgram.setComputeUnitPrice({ microLamports: 777 }),
      createMintToInstruction(mint, ata, payer.publicKey, 1n, [], TOKEN_2022_PROGRAM_ID),
    );
    tx.sign(payer);
    const signature = await chain.connection.sendRawTransaction(tx.serialize());
    await chain.connection.confirmTransaction({ signature, blockhash, lastValidBlockHeight });
    const fees = await chain.connection.getRecentPrioritizationFees({ lockedWritableAccounts: [mint] });
    expect(fees.length).toBeGreaterThan(0);
    expect(fees.some((f) => f.prioritizationFee === 777)).toBe(true);
    const other = await chain.connection.getRecentPrioritizationFees({ lockedWritableAccounts: [Keypair.generate().publicKey] });
    expect(Math.max(...other.map((f) => f.prioritizationFee))).toBe(0);
  });
});

describe('simulation', () => {
  it('returns logs, units, post-state accounts and a replacement blockhash', async () => {
    const tx = new Transaction({ feePayer: payer.publicKey, recentBlockhash: '11111111111111111111111111111111' }).add(
      createMintToInstruction(mint, ata, payer.publicKey, 5n, [], TOKEN_2022_PROGRAM_ID),
    );
    const wire = tx.serialize({ requireAllSignatures: false, verifySignatures: false }).toString('base64');
    const { body } = await rpc('simulateTransaction', [
      wire,
      { encoding: 'base64', replaceRecentBlockhash: true, sigVerify: false, accounts: { addresses: [ata.toBase58()], encoding: 'base64' } },
    ]);
    const v = body.result.value;
    expect(v.err).toBeNull();
    expect(v.unitsConsumed).toBeGreaterThan(0);
    expect(v.logs).toContain('Program log: Instruction: MintTo');
    expect(v.replacementBlockhash.blockhash).toMatch(/^[1-9A-HJ-NP-Za-km-z]{32,44}$/);
    const before = (await getAccount(chain.connection, ata, 'processed', TOKEN_2022_PROGRAM_ID)).amount;
    const post = Buffer.from(v.accounts[0].data[0], 'base64').readBigUInt64LE(64);
    expect(post).toBe(before + 5n);
    // Simulation changes nothing.
    expect((await getAccount(chain.connection, ata, 'processed', TOKEN_2022_PROGRAM_ID)).amount).toBe(before);

    const stale = await rpc('simulateTransaction', [wire, { encoding: 'base64' }]);
    expect(stale.body.result.value.err).toBe('BlockhashNotFound');
    const both = await rpc('simulateTransaction', [wire, { encoding: 'base64', sigVerify: true, replaceRecentBlockhash: true }]);
    expect(both.body.error.code).toBe(-32602);
  });

  it('with sigVerify a bad signature fails', async () => {
    const { blockhash } = await chain.connection.getLatestBlockhash();
    const tx = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: owner.publicKey, lamports: 1 }),
    );
    tx.sign(payer);
    const wire = tx.serialize();
    wire[10] = wire[10]! ^ 0xff; // corrupt the signature
    const { body } = await rpc('simulateTransaction', [wire.toString('base64'), { encoding: 'base64', sigVerify: true }]);
    expect(body.result.value.err).toBe('SignatureFailure');
    const sent = await rpc('sendTransaction', [wire.toString('base64'), { encoding: 'base64' }]);
    expect(sent.body.error).toEqual({ code: -32003, message: 'Transaction signature verification failure' });
  });
});

describe('bad input never kills the server', () => {
  it.each([
    ['malformed JSON', undefined, undefined, '{"jsonrpc":', -32700],
    ['an unknown method', 'getFooBar', [], undefined, -32601],
    ['a wrong param type', 'getBalance', [42], undefined, -32602],
    ['an invalid pubkey', 'getAccountInfo', ['not-a-key'], undefined, -32602],
    ['an undecodable transaction', 'sendTransaction', ['AAAA', { encoding: 'base64' }], undefined, -32602],
    ['bad base58', 'sendTransaction', ['0OIl'], undefined, -32602],
    ['an unknown commitment', 'getSlot', [{ commitment: 'soon' }], undefined, -32602],
    ['params that are not an array', 'getSlot', { commitment: 'confirmed' }, undefined, -32602],
  ])('%s answers a JSON-RPC error', async (_what, method, params, raw, code) => {
    const { status, body } = await rpc(method as string, params, raw as string | undefined);
    expect(status).toBe(200);
    expect(body.error.code).toBe(code);
    expect((await rpc('getHealth')).body.result).toBe('ok');
  });

  it('answers batches in order', async () => {
    const { body } = await rpc('', undefined, JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'getHealth' },
      { jsonrpc: '2.0', id: 2, method: 'nope' },
    ]));
    expect(body).toEqual([
      { jsonrpc: '2.0', id: 1, result: 'ok' },
      { jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'Method not found' } },
    ]);
  });

  it('identifies itself as a validator does', async () => {
    expect((await chain.connection.getVersion())['solana-core']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(await chain.connection.getGenesisHash()).toMatch(/^[1-9A-HJ-NP-Za-km-z]{32,44}$/);
    expect(await chain.connection.getMinimumBalanceForRentExemption(165)).toBe(2_039_280);
  });
});

// Last: warping 151 slots makes every blockhash web3.js cached (for 30 s) stale.
describe('expiry', () => {
  it('an expired blockhash is rejected with the validator error, and the blockhash strategy reports expiry', async () => {
    const local = hooksOrSkip(chain, 'expired blockhash');
    if (!local) return;
    const { blockhash, lastValidBlockHeight } = await chain.connection.getLatestBlockhash('processed');
    const tx = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: owner.publicKey, lamports: 1 }),
    );
    tx.sign(payer);
    local.hooks.advanceSlots(lastValidBlockHeight - (await chain.connection.getBlockHeight('processed')) + 1);
    expect((await chain.connection.isBlockhashValid(blockhash, { commitment: 'processed' })).value).toBe(false);

    const err = await chain.connection.sendRawTransaction(tx.serialize()).catch((e) => e);
    expect(err).toBeInstanceOf(SendTransactionError);
    expect(err.message).toMatch(/Blockhash not found/);

    // Sent without preflight it is silently dropped, and confirmation ends in expiry, never "landed".
    const signature = await chain.connection.sendRawTransaction(tx.serialize(), { skipPreflight: true });
    await expect(chain.connection.confirmTransaction({ signature, blockhash, lastValidBlockHeight }, 'confirmed')).rejects.toBeInstanceOf(
      TransactionExpiredBlockheightExceededError,
    );
    const status = await chain.connection.getSignatureStatuses([signature], { searchTransactionHistory: true });
    expect(status.value[0]).toBeNull();
  });
});
