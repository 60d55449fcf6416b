// mint_generation of energy_token 0.1.1 on the local chain, through the Anchor TS client and the published
// 0.1.1 IDL: one mint per (meter, window), guarded by a GenerationMintRecord PDA that a replay finds minted
// (a success that mints nothing, even beside new windows in one transaction), the window and amount checks
// (each on a fresh window: a replay returns before them), the mandatory REC co-signature by a key other than
// the authority; then what packing many windows into one legacy transaction costs and where it stops.
import { randomBytes } from 'node:crypto';
import BN from 'bn.js';
import { AnchorError, EventParser, type Program } from '@coral-xyz/anchor';
import { Keypair, PublicKey, SendTransactionError, SystemProgram, Transaction, type TransactionInstruction } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, ASSOCIATED_TOKEN_PROGRAM_ID, createAssociatedTokenAccountIdempotentInstruction, getAccount } from '@solana/spl-token';
import { governanceConfigAddress } from '../../../anchor-localnet/fixtures.js';
import { startTestChain, type TestChain } from '../../support/localnet.js';
import { addresses, anchorProgram, ataOf as ataOfMint, authority, governance, recValidator } from '../../support/energyToken.js';

const VERSION = '0.1.1';
const { programId: PROGRAM_ID, tokenInfo: TOKEN_INFO, mint: MINT } = addresses(VERSION);
const ataOf = (owner: PublicKey) => ataOfMint(owner, MINT);
const auth = authority();
const rec = recValidator();
const gov = governance();
const user = Keypair.generate().publicKey;

const WINDOW_MS = 900_000;
const RECORD_SIZE = 42;
const RECORD_RENT = 1_183_200; // (128 + 42) bytes × 6,960 lamports
const LEGACY_TX_BYTES = 1232;

let chain: TestChain;
let program: Program;

/** A window `back` windows before the current one (aligned, in the past). */
const pastWindow = (back = 1) => (Math.floor(Date.now() / WINDOW_MS) - back) * WINDOW_MS;
const newMeter = () => randomBytes(16);
/** The chain's clock (what the program compares a window with), in ms. */
const chainNowMs = async () => 1000 * (await chain.connection.getBlockTime(await chain.connection.getSlot('confirmed')))!;
const windowLe = (windowStartMs: number) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(windowStartMs));
  return b;
};
const recordOf = (meter: Buffer, windowStartMs: number) =>
  PublicKey.findProgramAddressSync([Buffer.from('gen_mint'), meter, windowLe(windowStartMs)], PROGRAM_ID);

interface Window {
  meter: Buffer;
  windowStartMs: number;
  amount?: number;
  owner?: PublicKey;
}

const generationAccounts = (w: Window, over: Record<string, PublicKey | null> = {}) => ({
  mint: MINT,
  tokenInfo: TOKEN_INFO,
  destination: ataOf(w.owner ?? user),
  destinationOwner: w.owner ?? user,
  mintRecord: recordOf(w.meter, w.windowStartMs)[0],
  authority: auth.publicKey,
  recValidator: rec.publicKey as PublicKey | null,
  payer: auth.publicKey,
  tokenProgram: TOKEN_2022_PROGRAM_ID,
  associatedTokenProgram: ASSOCIATED_TOKEN_PROGRAM_ID,
  systemProgram: SystemProgram.programId,
  ...over,
});

const generationIx = (w: Window, over: Record<string, PublicKey | null> = {}) =>
  program.methods.mintGeneration!([...w.meter], new BN(w.windowStartMs), new BN(w.amount ?? 1_000)).accountsStrict(generationAccounts(w, over) as never).instruction(); // rec_validator may be null: an optional account

const balance = async (owner = user) => (await getAccount(chain.connection, ataOf(owner), 'confirmed', TOKEN_2022_PROGRAM_ID)).amount;
const fetchRecord = async (w: Window) => (program.account as any).generationMintRecord.fetch(recordOf(w.meter, w.windowStartMs)[0], 'confirmed');

function signed(ixs: TransactionInstruction[], blockhash: string, signers: Keypair[] = [auth, rec]): Transaction {
  const tx = new Transaction().add(...ixs);
  tx.feePayer = auth.publicKey;
  tx.recentBlockhash = blockhash;
  tx.sign(...signers);
  return tx;
}

async function send(ixs: TransactionInstruction[], signers: Keypair[] = [auth, rec]): Promise<string> {
  const tx = signed(ixs, (await chain.connection.getLatestBlockhash()).blockhash, signers);
  const signature = await chain.connection.sendRawTransaction(tx.serialize());
  const { value } = await chain.connection.confirmTransaction(signature, 'confirmed');
  if (value.err) throw new Error(`transaction failed: ${JSON.stringify(value.err)}`);
  return signature;
}

/** Sends with preflight (fee payer: the authority) and returns the Anchor error decoded from the logs. */
async function anchorErrorOf(ix: TransactionInstruction, signers: Keypair[] = [auth, rec]): Promise<AnchorError | null> {
  const tx = signed([ix], (await chain.connection.getLatestBlockhash()).blockhash, signers);
  const err = await chain.connection.sendRawTransaction(tx.serialize()).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SendTransactionError);
  return AnchorError.parse((err as SendTransactionError).logs ?? []);
}

/** Per top-level instruction of the program: compute units and instruction-trace entries (itself and its CPIs). */
async function perInstruction(signature: string): Promise<{ cu: number; trace: number }[]> {
  const tx = await chain.connection.getTransaction(signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
  const out: { cu: number; trace: number }[] = [];
  let trace = 0;
  for (const line of tx!.meta!.logMessages!) {
    if (line === `Program ${PROGRAM_ID.toBase58()} invoke [1]`) trace = 1;
    else if (/^Program \w+ invoke \[([2-9])\]$/.test(line)) trace++;
    const m = line.match(new RegExp(`^Program ${PROGRAM_ID.toBase58()} consumed (\\d+) of \\d+ compute units$`));
    if (m) {
      out.push({ cu: Number(m[1]), trace });
      trace = 0;
    }
  }
  return out;
}

beforeAll(async () => {
  chain = await startTestChain({ programVersion: VERSION });
  program = anchorProgram(chain.connection, auth, VERSION);
  await send([createAssociatedTokenAccountIdempotentInstruction(auth.publicKey, ataOf(user), user, MINT, TOKEN_2022_PROGRAM_ID)], [auth]);
});
afterAll(() => chain.stop());

describe('a window is minted once', () => {
  const w: Window = { meter: newMeter(), windowStartMs: pastWindow(), amount: 123_456_789 };

  it('mints, creates a 42-byte GenerationMintRecord (minted, the amount) owned by the program at the rent minimum, and emits TokensMinted', async () => {
    const b0 = await balance();
    const signature = await program.methods.mintGeneration!([...w.meter], new BN(w.windowStartMs), new BN(w.amount!)).accountsStrict(generationAccounts(w) as never).signers([rec]).rpc();
    expect(await balance()).toBe(b0 + BigInt(w.amount!));

    const [address, bump] = recordOf(w.meter, w.windowStartMs);
    const account = (await chain.connection.getAccountInfo(address, 'confirmed'))!;
    expect(account.data.length).toBe(RECORD_SIZE);
    expect(account.owner.equals(PROGRAM_ID)).toBe(true);
    expect(account.lamports).toBe(RECORD_RENT);
    expect(account.lamports).toBe(await chain.connection.getMinimumBalanceForRentExemption(RECORD_SIZE));
    expect([...account.data.subarray(0, 8)]).toEqual([180, 156, 98, 22, 4, 164, 210, 185]);
    const record = await fetchRecord(w);
    expect(Buffer.from(record.meterId).equals(w.meter)).toBe(true);
    expect(record.windowStartMs.toNumber()).toBe(w.windowStartMs);
    expect(record.amount.toNumber()).toBe(w.amount);
    expect(record.minted).toBe(true);
    expect(record.bump).toBe(bump);

    const tx = await chain.connection.getTransaction(signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
    const events = [...new EventParser(PROGRAM_ID, program.coder).parseLogs(tx!.meta!.logMessages!)];
    expect(events.map((e) => e.name)).toEqual([expect.stringMatching(/^tokensMinted$/i)]);
    expect((events[0]!.data.recipient as PublicKey).equals(ataOf(user))).toBe(true);
    expect((events[0]!.data.amount as BN).toNumber()).toBe(w.amount);
    expect(Math.abs((events[0]!.data.timestamp as BN).toNumber() - Date.now() / 1000)).toBeLessThan(60);
    // The record's creation is a CPI to the system program, the mint one to Token-2022.
    expect(await perInstruction(signature)).toEqual([{ cu: expect.any(Number), trace: 3 }]);
  });

  it('a replayed window succeeds and mints nothing, the record unchanged and no event', async () => {
    const [b0, before] = [await balance(), (await chain.connection.getAccountInfo(recordOf(w.meter, w.windowStartMs)[0], 'confirmed'))!];
    const signature = await send([await generationIx({ ...w, amount: 999 })]);
    expect(await balance()).toBe(b0);
    const after = (await chain.connection.getAccountInfo(recordOf(w.meter, w.windowStartMs)[0], 'confirmed'))!;
    expect(after.data.equals(before.data)).toBe(true);
    expect(after.lamports).toBe(before.lamports);
    const tx = await chain.connection.getTransaction(signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
    expect([...new EventParser(PROGRAM_ID, program.coder).parseLogs(tx!.meta!.logMessages!)]).toEqual([]);
    expect(await perInstruction(signature)).toEqual([{ cu: expect.any(Number), trace: 1 }]);
  });

  it('a replayed window beside new ones in one transaction: the new ones mint, the replay is a no-op', async () => {
    const fresh: Window[] = [
      { meter: w.meter, windowStartMs: pastWindow(2), amount: 7 },
      { meter: newMeter(), windowStartMs: w.windowStartMs, amount: 11 },
    ];
    const b0 = await balance();
    await send([await generationIx(fresh[0]!), await generationIx({ ...w, amount: 1_000_000 }), await generationIx(fresh[1]!)]);
    expect(await balance()).toBe(b0 + 18n);
    expect((await fetchRecord(w)).amount.toNumber()).toBe(w.amount);
    for (const f of fresh) expect(await fetchRecord(f)).toMatchObject({ minted: true });
  });

  it('a record address that already holds lamports is topped up, allocated and assigned (Transfer + Allocate + Assign)', async () => {
    const f: Window = { meter: newMeter(), windowStartMs: pastWindow(), amount: 5 };
    const address = recordOf(f.meter, f.windowStartMs)[0];
    const b0 = await balance();
    const signature = await send([SystemProgram.transfer({ fromPubkey: auth.publicKey, toPubkey: address, lamports: 1_000_000 }), await generationIx(f)]);
    expect(await balance()).toBe(b0 + 5n);
    const account = (await chain.connection.getAccountInfo(address, 'confirmed'))!;
    expect([account.data.length, account.owner.toBase58(), account.lamports]).toEqual([RECORD_SIZE, PROGRAM_ID.toBase58(), RECORD_RENT]);
    expect((await perInstruction(signature))[0]!.trace).toBe(5);
  });
});

describe('checks after the replay check, each on a fresh window', () => {
  const errorOf = async (w: Window, over: Record<string, PublicKey | null> = {}, signers: Keypair[] = [auth, rec]) => {
    const e = await anchorErrorOf(await generationIx(w, over), signers);
    // The failed transaction leaves no record behind: the window stays mintable.
    expect(await chain.connection.getAccountInfo(recordOf(w.meter, w.windowStartMs)[0], 'confirmed')).toBeNull();
    return e?.error.errorCode;
  };
  const MISALIGNED = { code: 'MisalignedWindow', number: 6010 };

  it('6010 MisalignedWindow for a window off the 15-minute grid, zero or negative', async () => {
    expect(await errorOf({ meter: newMeter(), windowStartMs: pastWindow() + 1 })).toEqual(MISALIGNED);
    expect(await errorOf({ meter: newMeter(), windowStartMs: pastWindow() + 60_000 })).toEqual(MISALIGNED);
    expect(await errorOf({ meter: newMeter(), windowStartMs: 0 })).toEqual(MISALIGNED);
    expect(await errorOf({ meter: newMeter(), windowStartMs: -WINDOW_MS })).toEqual(MISALIGNED);
  });

  it('6010 for a window starting more than 900 s after the chain clock; the next window is still accepted', async () => {
    const current = Math.floor((await chainNowMs()) / WINDOW_MS) * WINDOW_MS;
    // Two windows on: more than 900 s ahead however far the clock moves before the transaction runs.
    expect(await errorOf({ meter: newMeter(), windowStartMs: current + 3 * WINDOW_MS })).toEqual(MISALIGNED);
    const next: Window = { meter: newMeter(), windowStartMs: current + WINDOW_MS, amount: 3 };
    await send([await generationIx(next)]);
    expect(await fetchRecord(next)).toMatchObject({ minted: true });
  });

  it('6011 ZeroAmount for a zero mint', async () => {
    expect(await errorOf({ meter: newMeter(), windowStartMs: pastWindow(), amount: 0 })).toEqual({ code: 'ZeroAmount', number: 6011 });
  });

  it('6008 RecValidatorNotFound for an unregistered co-signer, and for none (the program id in its place)', async () => {
    const stranger = Keypair.generate();
    expect(await errorOf({ meter: newMeter(), windowStartMs: pastWindow() }, { recValidator: stranger.publicKey }, [auth, stranger])).toEqual({ code: 'RecValidatorNotFound', number: 6008 });
    const ix = await generationIx({ meter: newMeter(), windowStartMs: pastWindow() }, { recValidator: null });
    expect(ix.keys[6]!.pubkey.equals(PROGRAM_ID)).toBe(true);
    const e = await anchorErrorOf(ix, [auth]);
    expect(e?.error.errorCode).toEqual({ code: 'RecValidatorNotFound', number: 6008 });
  });

  it('6012 RecValidatorIsAuthority when the authority, registered as a validator, co-signs itself', async () => {
    const validators = (signer: PublicKey) => ({ tokenInfo: TOKEN_INFO, governanceConfig: governanceConfigAddress(), authority: signer });
    await program.methods.addRecValidator!(auth.publicKey, 'platform').accountsStrict(validators(gov.publicKey)).signers([gov]).rpc();
    try {
      expect(await errorOf({ meter: newMeter(), windowStartMs: pastWindow() }, { recValidator: auth.publicKey }, [auth])).toEqual({ code: 'RecValidatorIsAuthority', number: 6012 });
    } finally {
      await program.methods.removeRecValidator!(auth.publicKey).accountsStrict(validators(gov.publicKey)).signers([gov]).rpc();
    }
  });

  it('6000 on token_info for a signer that is not the authority (a constraint: before the handler)', async () => {
    const impostor = Keypair.generate();
    await chain.connection.confirmTransaction(await chain.connection.requestAirdrop(impostor.publicKey, 1e9), 'confirmed');
    const e = await anchorErrorOf(await generationIx({ meter: newMeter(), windowStartMs: pastWindow() }, { authority: impostor.publicKey }), [auth, rec, impostor]);
    expect(e?.error.errorCode).toEqual({ code: 'UnauthorizedAuthority', number: 6000 });
    expect(e?.error.origin).toBe('token_info');
  });

  it('3010 for a co-signer that is named but did not sign; 3005 on rec_validator when the accounts stop before it', async () => {
    const ix = await generationIx({ meter: newMeter(), windowStartMs: pastWindow() });
    ix.keys = ix.keys.map((k) => (k.pubkey.equals(rec.publicKey) ? { ...k, isSigner: false } : k));
    const e = await anchorErrorOf(ix, [auth]);
    expect([e?.error.errorCode.number, e?.error.origin]).toEqual([3010, 'rec_validator']);
    const short = await generationIx({ meter: newMeter(), windowStartMs: pastWindow() });
    short.keys = short.keys.slice(0, 6);
    const e2 = await anchorErrorOf(short, [auth]);
    expect([e2?.error.errorCode.number, e2?.error.origin]).toEqual([3005, 'rec_validator']);
  });

  it('2006 ConstraintSeeds for a record that is not the window\'s PDA', async () => {
    const w: Window = { meter: newMeter(), windowStartMs: pastWindow() };
    const e = await anchorErrorOf(await generationIx(w, { mintRecord: recordOf(w.meter, pastWindow(2))[0] }));
    expect(e?.error.errorCode).toEqual({ code: 'ConstraintSeeds', number: 2006 });
    expect(e?.error.origin).toBe('mint_record');
  });
});

describe('many windows in one legacy transaction', () => {
  /** The most windows whose signed legacy transaction fits LEGACY_TX_BYTES, its size and account keys, and what one more window adds. */
  async function mostThatFit(windows: Window[]): Promise<{ n: number; bytes: number; keys: number; perWindow: number }> {
    const { blockhash } = await chain.connection.getLatestBlockhash();
    const ixs = await Promise.all(windows.map((w) => generationIx(w)));
    let best = { n: 0, bytes: 0, keys: 0, perWindow: 0 };
    for (let n = 1; n <= ixs.length; n++) {
      try {
        const tx = signed(ixs.slice(0, n), blockhash);
        const bytes = tx.serialize().length;
        best = { n, bytes, keys: tx.compileMessage().accountKeys.length, perWindow: bytes - best.bytes };
      } catch {
        break; // web3.js refuses to serialize past 1232 bytes
      }
    }
    return best;
  }

  async function measure(label: string, windows: Window[]) {
    const { n, bytes, keys, perWindow } = await mostThatFit(windows);
    expect(n).toBeLessThan(windows.length);
    const packed = windows.slice(0, n);
    const created = await perInstruction(await send(await Promise.all(packed.map((w) => generationIx(w)))));
    for (const w of packed) expect(await fetchRecord(w)).toMatchObject({ minted: true });
    const replayed = await perInstruction(await send(await Promise.all(packed.map((w) => generationIx({ ...w, amount: 1 }))), [auth, rec]));
    expect(created).toHaveLength(n);
    expect(replayed).toHaveLength(n);
    const cu = (xs: { cu: number }[]) => [Math.min(...xs.map((x) => x.cu)), Math.max(...xs.map((x) => x.cu))];
    process.stdout.write(
      `mint_generation, ${label}: ${n} windows per legacy transaction (${bytes} of ${LEGACY_TX_BYTES} bytes, ${perWindow} per window; ` +
        `${n + 1} do not fit; ${keys} account keys); ` +
        `CU per instruction created ${cu(created).join('-')} (trace ${created[0]!.trace}), replayed ${cu(replayed).join('-')} (trace ${replayed[0]!.trace})\n`,
    );
    return { n, keys, perWindow, created, replayed };
  }

  it('to one owner: 1 new account (the record) per window; bytes bind long before locks, trace or compute', async () => {
    const meter = newMeter();
    const windows = Array.from({ length: 20 }, (_, i): Window => ({ meter, windowStartMs: pastWindow(100 + i), amount: 1 + i }));
    const { n, keys, perWindow, created, replayed } = await measure('one owner', windows);
    expect(n).toBe(8);
    // 10 shared keys (authority = payer, validator, mint, token_info, the token account and its owner, 3 programs, energy_token): 54 windows before 64 locks.
    expect([keys, perWindow]).toEqual([10 + n, 86]);
    expect(created.every((c) => c.trace === 3)).toBe(true);
    expect(replayed.every((c) => c.trace === 1)).toBe(true);
  });

  it('to distinct owners: 3 new accounts (record, token account, owner) per window', async () => {
    const owners = Array.from({ length: 10 }, () => Keypair.generate().publicKey);
    for (let i = 0; i < owners.length; i += 5) {
      await send(owners.slice(i, i + 5).map((o) => createAssociatedTokenAccountIdempotentInstruction(auth.publicKey, ataOf(o), o, MINT, TOKEN_2022_PROGRAM_ID)), [auth]);
    }
    const windows = owners.map((owner): Window => ({ meter: newMeter(), windowStartMs: pastWindow(), amount: 2, owner }));
    const { n, keys, perWindow, created } = await measure('distinct owners', windows);
    expect(n).toBe(5);
    // 8 shared keys: 18 windows before 64 locks.
    expect([keys, perWindow]).toEqual([8 + 3 * n, 150]);
    for (const w of windows.slice(0, n)) expect(await balance(w.owner)).toBe(2n);
    expect(created.every((c) => c.trace === 3)).toBe(true);
  });
});
