// The chain's side of minting, as primitives: which recipients already have a token account, the priority
// fee, a recent blockhash, a mint transaction built from a list of mints (legacy, or v0 over lookup tables),
// its simulation with the failing mint named, signing, and sending (sendAndConfirm). Nothing here plans,
// retries a transaction or decides what a failure means for a reading: that is minting/engine.ts.
import BN from 'bn.js';
import { Program, type Idl } from '@coral-xyz/anchor';
import {
  type AddressLookupTableAccount,
  ComputeBudgetProgram,
  type Keypair,
  PublicKey,
  SystemProgram,
  TransactionInstruction,
  TransactionMessage,
  VersionedTransaction,
} from '@solana/web3.js';
import { ASSOCIATED_TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID, createAssociatedTokenAccountIdempotentInstruction } from '@solana/spl-token';
import bs58 from 'bs58';
import pLimit from 'p-limit';
import pRetry from 'p-retry';
import { RpcFailure } from '../errors.js';
import type { Log } from '../log.js';
import { programInterface, tokenInfoAddress } from './energyToken.js';
import { decodeTransactionError, type DecodedError } from './programErrors.js';
import { isRateLimited, type Context, type RpcClient, type TransactionErrorJson } from './rpcClient.js';
import { followReads, sendAndConfirm, type SendOptions, type SendOutcome, type SignedTransaction } from './sendAndConfirm.js';
import { tokenAccounts } from './addresses.js';

/** One recipient's mint instructions in a transaction: its parts' sum, after creating its token account if asked. */
export interface ChainMint {
  walletAddress: string;
  /** The mint instructions' amounts (base units): one, or several for one reading above the per-instruction cap. */
  parts: bigint[];
  /** Put a CreateIdempotent of the recipient's token account before its mints. */
  createAta: boolean;
  /** mint_generation: the meter's 16 bytes (hex) and the window's start; `parts` is then its one amount. */
  window?: GenerationWindow;
}

/** One (meter, window) of mint_generation. */
export interface GenerationWindow {
  /** The meter's 16 bytes, 32 hex digits. */
  meterId: string;
  /** The window's start, ms since the epoch (a multiple of 900,000). */
  startMs: number;
}

/** A window's GenerationMintRecord as the chain holds it (null: none yet). */
export interface GenerationRecord {
  minted: boolean;
  amount: bigint;
}

/** The rent of one GenerationMintRecord (42 bytes), paid by the authority, never returned. */
export const RENT_GENERATION_RECORD = 1_183_200n;
const GENERATION_RECORD_SIZE = 42;

/** The GenerationMintRecord PDA of a window: seeds "gen_mint", the meter's 16 bytes, window_start_ms little-endian. */
export function generationRecordAddress(programId: PublicKey, w: GenerationWindow): PublicKey {
  const start = Buffer.alloc(8);
  start.writeBigInt64LE(BigInt(w.startMs));
  return PublicKey.findProgramAddressSync([Buffer.from('gen_mint'), Buffer.from(w.meterId, 'hex'), start], programId)[0];
}

/** The records of these windows as the chain holds them now (confirmed), in their order; for the rescuer. */
export async function readGenerationRecords(rpc: RpcClient, programId: PublicKey, windows: GenerationWindow[]): Promise<(GenerationRecord | null)[]> {
  const out: (GenerationRecord | null)[] = [];
  for (let k = 0; k < windows.length; k += 100) {
    const chunk = windows.slice(k, k + 100);
    const res = await rpc.call<Context<({ owner: string; data: [string, string] } | null)[]>>('getMultipleAccounts', [
      chunk.map((w) => generationRecordAddress(programId, w).toBase58()),
      { encoding: 'base64', commitment: 'confirmed' },
    ]);
    for (const acc of res.value) out.push(acc && acc.owner === programId.toBase58() ? decodeGenerationRecord(Buffer.from(acc.data[0], 'base64')) : null);
  }
  return out;
}

/** A record's data: discriminator, meter_id, window_start_ms, amount, minted, bump. */
export function decodeGenerationRecord(data: Buffer): GenerationRecord | null {
  if (data.length < GENERATION_RECORD_SIZE) return null;
  return { amount: data.readBigUInt64LE(32), minted: data[40] === 1 };
}

/** What each instruction of a built transaction is for: its position names the mint an error belongs to. */
export type IxRole = { kind: 'budget' } | { kind: 'ata' | 'mint'; mint: number };

export interface Blockhash {
  blockhash: string;
  lastValidBlockHeight: number;
}

export interface BuildRequest {
  mints: ChainMint[];
  cuLimit: number;
  price: bigint;
  blockhash: Blockhash;
  /** Given: a v0 transaction whose accounts are looked up in them. Absent: a legacy transaction. */
  lookupTables?: AddressLookupTableAccount[];
}

export interface BuiltTransaction {
  /** Legacy (a legacy message) or v0. */
  tx: VersionedTransaction;
  roles: IxRole[];
  lastValidBlockHeight: number;
  /** What it was compiled from, so that `withComputeLimit` recompiles without building the instructions again. */
  source: { instructions: TransactionInstruction[]; blockhash: Blockhash; lookupTables?: AddressLookupTableAccount[] };
}

/** Which mint (index into BuildRequest.mints) a transaction error belongs to, and its decoded reason. */
export interface Blame {
  blamedMint: number | null;
  reason: string;
  decoded: DecodedError;
}

export interface Simulation {
  err: TransactionErrorJson | null;
  unitsConsumed: number | null;
  /** Null when the simulation succeeded or the error belongs to no one mint. */
  blamedMint: number | null;
  reason: string | null;
  /** The error decoded (null when the simulation succeeded). */
  decoded: DecodedError | null;
}

export interface MintChainDeps {
  rpc: RpcClient;
  /** token_info's authority: signs every mint and pays the fees. */
  authority: Keypair;
  /**
   * The REC validator that co-signs every mint (energy_token 0.1.1 on: the IDL's mint_tokens_direct has a
   * `rec_validator` signer). Required then; unused on 0.1.0.
   */
  recValidator?: Keypair | null;
  /** token_info's registry authority, which 0.1.1's mint_tokens_direct names (unused on 0.1.0). */
  registryAuthority?: PublicKey | null;
  programId: PublicKey;
  mint: PublicKey;
  idl: Idl;
  log: Log;
  /** Retries of a transient RPC failure (429, 5xx, time-out) in a read before signing; default 3. */
  readRetries?: number;
  /** Told of every RPC answer HTTP 429 (rate limited), reads and sends alike: the engine's in-flight limiter slows down. */
  onRateLimited?: () => void;
  /** The clock (ms) that ages the shared blockhash; tests pass their own. */
  now?: () => number;
}

/** What one mint transaction names and who signs it: a fact of the program's IDL (mintShape). */
export interface MintShape {
  /** Signatures per transaction: the authority (the fee payer), and a co-signer where the program wants one. */
  signers: number;
  /** Accounts of one mint_tokens_direct instruction. */
  accountsPerMint: number;
  /** Accounts every mint names besides the authority, token_info, the mint, Token-2022 and the recipient's token account. */
  extraShared: string[];
  /** Whether a mint write-locks token_info (0.1.0 writes total_supply per mint; 0.1.1 reads it only). */
  tokenInfoWritable: boolean;
}

/** energy_token 0.1.0: the authority alone signs; mint_tokens_direct names 5 accounts and writes token_info. */
export const AUTHORITY_ONLY: MintShape = { signers: 1, accountsPerMint: 5, extraShared: [], tokenInfoWritable: true };
/** energy_token 0.1.1: a REC validator co-signs; 7 accounts (registry_authority and rec_validator besides); token_info read-only. */
export const CO_SIGNED: MintShape = { signers: 2, accountsPerMint: 7, extraShared: ['registry_authority', 'rec_validator'], tokenInfoWritable: false };

/**
 * The shape of a mint transaction for a program's mint_tokens_direct, as its IDL lays it out. `sameKey`: the REC
 * validator is the authority itself (one signature, one account fewer).
 */
export function mintShape(mintAccounts: { name: string; writable: boolean; signer: boolean }[], sameKey = false): MintShape {
  const known = new Set(['token_info', 'mint', 'user_token_account', 'authority', 'token_program']);
  const extra = mintAccounts.map((a) => a.name).filter((n) => !known.has(n) && !(sameKey && n === 'rec_validator'));
  return {
    signers: 1 + mintAccounts.filter((a) => a.signer && a.name !== 'authority' && !(sameKey && a.name === 'rec_validator')).length,
    accountsPerMint: mintAccounts.length,
    extraShared: extra,
    tokenInfoWritable: mintAccounts.find((a) => a.name === 'token_info')?.writable ?? false,
  };
}

export const MAX_CU = 1_400_000;
/** A token account's state byte (spl-token's layout: mint, owner, amount, delegate, then the state). */
const TOKEN_ACCOUNT_STATE = 108;
const ACCOUNT_FROZEN = 2;

/** A wallet's token account as the chain holds it (MintChain.inspectTokenAccount). */
export type TokenAccountState = 'usable' | 'missing' | 'frozen' | 'foreign';
/** How long one blockhash read serves the transactions built after it. */
const BLOCKHASH_MAX_AGE_MS = 1_000;
export const RENT_TOKEN_2022_ACCOUNT = 2_074_080n; // 170 bytes: the account plus its ImmutableOwner extension

export function makeMintChain(deps: MintChainDeps) {
  // Every call goes through here, so that a 429 anywhere (a read, a send, a status poll) is told.
  const rpc: RpcClient = {
    ...deps.rpc,
    call: <T>(method: string, params?: unknown[]) =>
      deps.rpc.call<T>(method, params).catch((e: unknown) => {
        if (isRateLimited(e)) deps.onRateLimited?.();
        throw e;
      }),
  };
  // Every transaction in flight is followed through one client whose status reads are merged (sendAndConfirm.ts).
  const following = followReads(rpc, { heightMaxAgeMs: 200 });
  const tokenInfo = tokenInfoAddress(deps.programId);
  // Only the instruction coder is used: no provider calls, so no connection is needed.
  const program = new Program({ ...deps.idl, address: deps.programId.toBase58() }, { connection: {} } as never);
  const ataOf = tokenAccounts(deps.mint);
  const fixedAccounts = {
    tokenInfo,
    mint: deps.mint,
    authority: deps.authority.publicKey,
    registryAuthority: deps.registryAuthority ?? null,
    recValidator: deps.recValidator?.publicKey ?? null,
  };
  const mintInstruction = mintInstructionOf(program, fixedAccounts);
  // Only for an IDL that has it (0.1.1 on); start-up refuses MINT_INSTRUCTION=mint_generation otherwise.
  const generationInstruction = program.idl.instructions.some((i) => i.name === 'mintGeneration') ? generationInstructionOf(program, fixedAccounts) : null;
  // Every signer the message names, each signing once: the fee payer (the authority) first.
  const signers = [deps.authority, ...(deps.recValidator && !deps.recValidator.publicKey.equals(deps.authority.publicKey) ? [deps.recValidator] : [])];
  // Nothing is at stake before signing: a transient failure there is retried instead of costing the
  // readings an attempt (and a back-off).
  const read = <T>(method: string, params: unknown[], signal?: AbortSignal) =>
    pRetry(() => rpc.call<T>(method, params), {
      retries: deps.readRetries ?? 3,
      minTimeout: 100,
      randomize: true,
      signal,
      shouldRetry: ({ error }) => error instanceof RpcFailure && error.retryable,
    });

  /** The wallets among `wallets` whose token account exists (confirmed): reads of 100 each, four at a time. */
  async function discoverTokenAccounts(wallets: string[], signal?: AbortSignal): Promise<Set<string>> {
    const found = new Set<string>();
    const chunks = Array.from({ length: Math.ceil(wallets.length / 100) }, (_, k) => wallets.slice(k * 100, k * 100 + 100));
    const limit = pLimit(4);
    await Promise.all(
      chunks.map((chunk) => limit(async () => {
        const res = await read<Context<(object | null)[]>>(
          'getMultipleAccounts',
          [chunk.map((w) => ataOf(w).toBase58()), { encoding: 'base64', dataSlice: { offset: 0, length: 0 }, commitment: 'confirmed' }],
          signal,
        );
        res.value.forEach((acc, j) => acc && found.add(chunk[j]!));
      })),
    );
    return found;
  }

  /**
   * What the chain holds at a wallet's token account now, for when a mint to it failed although it was known
   * to exist: `missing` (closed by its owner: create it again), `frozen` or `foreign` (another mint or
   * program: nothing the service can fix), or `usable` (the failure had another cause).
   */
  async function inspectTokenAccount(wallet: string, signal?: AbortSignal): Promise<TokenAccountState> {
    const res = await read<Context<{ owner: string; data: [string, string] } | null>>(
      'getAccountInfo',
      [ataOf(wallet).toBase58(), { encoding: 'base64', dataSlice: { offset: 0, length: TOKEN_ACCOUNT_STATE + 1 }, commitment: 'confirmed' }],
      signal,
    );
    const acc = res.value;
    if (!acc) return 'missing';
    const data = Buffer.from(acc.data[0], 'base64');
    if (acc.owner !== TOKEN_2022_PROGRAM_ID.toBase58() || data.length <= TOKEN_ACCOUNT_STATE || !data.subarray(0, 32).equals(deps.mint.toBuffer())) return 'foreign';
    return data[TOKEN_ACCOUNT_STATE] === ACCOUNT_FROZEN ? 'frozen' : 'usable';
  }

  /** The 75th percentile of recent paid priority fees on our accounts, at most `cap` (micro-lamports per CU). */
  async function priorityFee(cap: bigint, signal?: AbortSignal): Promise<bigint> {
    const fees = await read<{ prioritizationFee: number }[]>('getRecentPrioritizationFees', [[tokenInfo.toBase58(), deps.mint.toBase58()]], signal);
    const paid = fees.map((f) => BigInt(f.prioritizationFee)).filter((f) => f > 0n).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const p75 = paid.length ? paid[Math.floor(paid.length * 0.75)]! : 0n;
    return p75 < cap ? p75 : cap;
  }

  /**
   * A recent blockhash, shared by the transactions built within BLOCKHASH_MAX_AGE_MS of each other (one read,
   * not one per transaction: a blockhash is good for 150 blocks, about a minute, and a second of it is
   * nothing). `fresh`: a read of its own, for a transaction built anew after its last one provably expired.
   * The shared read does not take the caller's signal: one batch's cancel must not fail another's build.
   */
  let recent: { at: number; value: Promise<Blockhash> } | null = null;
  function latestBlockhash(signal?: AbortSignal, fresh = false): Promise<Blockhash> {
    const ask = (s?: AbortSignal) => read<Context<Blockhash>>('getLatestBlockhash', [{ commitment: 'confirmed' }], s).then((r) => r.value);
    if (fresh) return ask(signal);
    const at = (deps.now ?? Date.now)();
    if (!recent || at - recent.at > BLOCKHASH_MAX_AGE_MS) {
      const mine = { at, value: ask() };
      recent = mine;
      // A failed read is not shared: the next transaction asks again.
      mine.value.catch(() => recent === mine && (recent = null));
    }
    return recent.value;
  }

  function build(req: BuildRequest): BuiltTransaction {
    const ixs: TransactionInstruction[] = [
      ComputeBudgetProgram.setComputeUnitLimit({ units: req.cuLimit }),
      ComputeBudgetProgram.setComputeUnitPrice({ microLamports: req.price }),
    ];
    const roles: IxRole[] = [{ kind: 'budget' }, { kind: 'budget' }];
    for (const [i, m] of req.mints.entries()) {
      const ata = ataOf(m.walletAddress);
      if (m.createAta) {
        ixs.push(createAssociatedTokenAccountIdempotentInstruction(deps.authority.publicKey, ata, new PublicKey(m.walletAddress), deps.mint, TOKEN_2022_PROGRAM_ID));
        roles.push({ kind: 'ata', mint: i });
      }
      if (m.window) {
        if (!generationInstruction) throw new Error('this IDL has no mint_generation');
        ixs.push(generationInstruction(m.window, ata, new PublicKey(m.walletAddress), m.parts.reduce((a, b) => a + b, 0n)));
        roles.push({ kind: 'mint', mint: i });
        continue;
      }
      for (const part of m.parts) {
        ixs.push(mintInstruction(ata, part));
        roles.push({ kind: 'mint', mint: i });
      }
    }
    return compile({ instructions: ixs, blockhash: req.blockhash, lookupTables: req.lookupTables }, roles);
  }

  /**
   * Legacy without lookup tables, v0 with them; compiled once into a VersionedTransaction either way (it holds a
   * legacy message as well), which is then signed and serialized without compiling again. web3.js's
   * `Transaction` compiles its message anew on every serialize and sign, sorting its keys by their base58
   * text each time: that was the largest cost of building in the scale benchmark's profile.
   */
  function compile(source: BuiltTransaction['source'], roles: IxRole[]): BuiltTransaction {
    const message = new TransactionMessage({ payerKey: deps.authority.publicKey, recentBlockhash: source.blockhash.blockhash, instructions: source.instructions });
    const tx = new VersionedTransaction(source.lookupTables ? message.compileToV0Message(source.lookupTables) : message.compileToLegacyMessage());
    return { tx, roles, lastValidBlockHeight: source.blockhash.lastValidBlockHeight, source };
  }

  /** The same transaction with another compute-unit limit (the first instruction), its mint instructions reused. */
  function withComputeLimit(built: BuiltTransaction, units: number): BuiltTransaction {
    const [, ...rest] = built.source.instructions;
    return compile({ ...built.source, instructions: [ComputeBudgetProgram.setComputeUnitLimit({ units }), ...rest] }, built.roles);
  }

  /** Which mint a transaction error belongs to (by the failing instruction's role), and why, decoded. */
  function blame(err: TransactionErrorJson, roles: IxRole[]): Blame {
    const decoded = decodeTransactionError(err, deps.idl, (ix) => (roles[ix]?.kind === 'ata' ? 'ata' : roles[ix]?.kind === 'mint' ? 'program' : 'other'));
    const role = decoded.instruction === null ? undefined : roles[decoded.instruction];
    return { blamedMint: role && role.kind !== 'budget' ? role.mint : null, reason: decoded.message, decoded };
  }

  /** Simulate unsigned (sigVerify off, a fresh blockhash): sizes the compute limit and finds a bad recipient. */
  async function simulate(built: Pick<BuiltTransaction, 'tx' | 'roles'>, signal?: AbortSignal): Promise<Simulation> {
    const sim = await read<Context<{ err: TransactionErrorJson | null; unitsConsumed?: number }>>(
      'simulateTransaction',
      [Buffer.from(built.tx.serialize()).toString('base64'), { encoding: 'base64', sigVerify: false, replaceRecentBlockhash: true, commitment: 'confirmed' }],
      signal,
    );
    if (!sim.value.err) return { err: null, unitsConsumed: sim.value.unitsConsumed ?? null, blamedMint: null, reason: null, decoded: null };
    const { blamedMint, reason, decoded } = blame(sim.value.err, built.roles);
    return { err: sim.value.err, unitsConsumed: sim.value.unitsConsumed ?? null, blamedMint, reason, decoded };
  }

  /**
   * Sign once, by every signer at once (the authority, and the REC validator where the program wants its
   * co-signature): the signature, the exact bytes to (re)broadcast, and when they expire.
   */
  function sign(built: BuiltTransaction): SignedTransaction {
    const { tx, lastValidBlockHeight } = built;
    tx.sign(signers);
    return { signature: bs58.encode(tx.signatures[0]!), wire: tx.serialize(), lastValidBlockHeight };
  }

  /**
   * The GenerationMintRecords of these windows as the chain holds them now (confirmed): reads of 100 each. A
   * window's record that says minted is proof its window was minted, with the amount it holds.
   */
  async function readGenerationRecords(windows: GenerationWindow[], signal?: AbortSignal): Promise<(GenerationRecord | null)[]> {
    const out: (GenerationRecord | null)[] = [];
    for (let k = 0; k < windows.length; k += 100) {
      const chunk = windows.slice(k, k + 100);
      const res = await read<Context<({ owner: string; data: [string, string] } | null)[]>>(
        'getMultipleAccounts',
        [chunk.map((w) => generationRecordAddress(deps.programId, w).toBase58()), { encoding: 'base64', commitment: 'confirmed' }],
        signal,
      );
      for (const acc of res.value) {
        out.push(acc && acc.owner === deps.programId.toBase58() ? decodeGenerationRecord(Buffer.from(acc.data[0], 'base64')) : null);
      }
    }
    return out;
  }

  return {
    discoverTokenAccounts,
    inspectTokenAccount,
    readGenerationRecords,
    priorityFee,
    latestBlockhash,
    build,
    withComputeLimit,
    simulate,
    blame,
    sign,
    /** What each mint transaction names and who signs it (for the planner and the fee estimate). */
    shape: mintShape(programInterface(deps.idl).mintAccounts, deps.recValidator?.publicKey.equals(deps.authority.publicKey) ?? false),
    sendAndConfirm: (signed: SignedTransaction, opts: SendOptions): Promise<SendOutcome> => sendAndConfirm(following, signed, opts),
  };
}

export type MintChain = ReturnType<typeof makeMintChain>;

/** The accounts mint_tokens_direct names besides the recipient's token account; null where the IDL has none. */
export interface MintAccounts {
  tokenInfo: PublicKey;
  mint: PublicKey;
  authority: PublicKey;
  /** 0.1.1 on: token_info's registry_authority. */
  registryAuthority?: PublicKey | null;
  /** 0.1.1 on: the co-signing REC validator. */
  recValidator?: PublicKey | null;
}

/**
 * mint_tokens_direct for one token account and amount: its accounts in the IDL's order with the IDL's flags,
 * its data from anchor's coder. Only the token account and the amount differ between instructions, so anchor's
 * method builder (which resolves the accounts anew, asynchronously, on every call) is not needed per mint;
 * a unit test checks the two give the same instruction for each IDL in programs-idl/.
 */
export function mintInstructionOf(program: Program, fixed: MintAccounts) {
  // Anchor's view of the IDL (names in camelCase), which its coder uses too.
  const ix = program.idl.instructions.find((i) => i.name === 'mintTokensDirect');
  if (!ix) throw new Error('the IDL has no mint_tokens_direct');
  const named: Record<string, PublicKey | 'recipient' | null | undefined> = {
    tokenInfo: fixed.tokenInfo,
    mint: fixed.mint,
    userTokenAccount: 'recipient',
    authority: fixed.authority,
    registryAuthority: fixed.registryAuthority,
    recValidator: fixed.recValidator,
    tokenProgram: TOKEN_2022_PROGRAM_ID,
  };
  const layout = ix.accounts.map((a) => {
    if ('accounts' in a || !(a.name in named)) throw new Error(`mint_tokens_direct: account ${a.name} is not one this service knows`);
    const key = named[a.name];
    if (!key) throw new Error(`mint_tokens_direct: this IDL names the account ${a.name}, which was not given`);
    return { key, isWritable: !!a.writable, isSigner: !!a.signer };
  });
  return (tokenAccount: PublicKey, amount: bigint): TransactionInstruction =>
    new TransactionInstruction({
      programId: program.programId,
      keys: layout.map((a) => ({ pubkey: a.key === 'recipient' ? tokenAccount : a.key, isWritable: a.isWritable, isSigner: a.isSigner })),
      data: program.coder.instruction.encode(ix.name, { amount: new BN(amount.toString()) }),
    });
}

/**
 * mint_generation for one (meter, window): its 11 accounts in the IDL's order with the IDL's flags (the authority
 * pays the record's rent), its data from anchor's coder. The REC validator co-signs (the program wants one, and
 * one other than the authority).
 */
export function generationInstructionOf(program: Program, fixed: MintAccounts) {
  const ix = program.idl.instructions.find((i) => i.name === 'mintGeneration');
  if (!ix) throw new Error('the IDL has no mint_generation');
  const named: Record<string, PublicKey | 'destination' | 'owner' | 'record' | null | undefined> = {
    mint: fixed.mint,
    tokenInfo: fixed.tokenInfo,
    destination: 'destination',
    destinationOwner: 'owner',
    mintRecord: 'record',
    authority: fixed.authority,
    recValidator: fixed.recValidator,
    payer: fixed.authority,
    tokenProgram: TOKEN_2022_PROGRAM_ID,
    associatedTokenProgram: ASSOCIATED_TOKEN_PROGRAM_ID,
    systemProgram: SystemProgram.programId,
  };
  const layout = ix.accounts.map((a) => {
    if ('accounts' in a || !(a.name in named)) throw new Error(`mint_generation: account ${a.name} is not one this service knows`);
    const key = named[a.name];
    if (!key) throw new Error(`mint_generation: this IDL names the account ${a.name}, which was not given`);
    return { key, isWritable: !!a.writable, isSigner: !!a.signer };
  });
  return (w: GenerationWindow, destination: PublicKey, owner: PublicKey, amount: bigint): TransactionInstruction => {
    const record = generationRecordAddress(program.programId, w);
    const pick = (k: (typeof layout)[number]['key']) => (k === 'destination' ? destination : k === 'owner' ? owner : k === 'record' ? record : k);
    return new TransactionInstruction({
      programId: program.programId,
      keys: layout.map((a) => ({ pubkey: pick(a.key), isWritable: a.isWritable, isSigner: a.isSigner })),
      data: program.coder.instruction.encode(ix.name, { meterId: [...Buffer.from(w.meterId, 'hex')], windowStartMs: new BN(w.startMs), amount: new BN(amount.toString()) }),
    });
  };
}
