// Transactions as Agave encodes them: "json" (compiled instructions, key indexes) and "jsonParsed"
// (account keys as {pubkey, writable, signer, source}; instructions of the programs Agave parses — system,
// SPL Token and Token-2022, associated token accounts, memo — as {program, programId, parsed}; the rest
// partially decoded as {programId, accounts, data}).
import bs58 from 'bs58';
import { VersionedMessage, VersionedTransaction } from '@solana/web3.js';
import { accountKeysOf, uiTokenAmount, type LandedTransaction } from './chain.js';
import { writeLocked } from './costModel.js';
import { TOKEN_2022_PROGRAM, TOKEN_PROGRAM } from './parsedAccounts.js';

const SYSTEM = '11111111111111111111111111111111';
const ATA = 'ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL';
const MEMO = 'MemoSq4gqABAXKb96qWcwV8ZkRTbZKtC2GrYdPN3E8W2';
const MEMO_V1 = 'Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo';

type Parsed = { program: string; parsed: unknown };
type Compiled = { programIdIndex: number; accounts: number[]; data: string; stackHeight: number | null };

const u64At = (b: Buffer, at: number) => b.readBigUInt64LE(at);

function parseSystem(data: Buffer, a: string[]): Parsed['parsed'] | null {
  const tag = data.readUInt32LE(0);
  if (tag === 0) return { type: 'createAccount', info: { source: a[0], newAccount: a[1], lamports: Number(u64At(data, 4)), space: Number(u64At(data, 12)), owner: bs58.encode(data.subarray(20, 52)) } };
  if (tag === 1) return { type: 'assign', info: { account: a[0], owner: bs58.encode(data.subarray(4, 36)) } };
  if (tag === 2) return { type: 'transfer', info: { source: a[0], destination: a[1], lamports: Number(u64At(data, 4)) } };
  if (tag === 8) return { type: 'allocate', info: { account: a[0], space: Number(u64At(data, 4)) } };
  return null;
}

/** The authority fields as Agave writes them: a single authority, or a multisig and its signers. */
function authority(a: string[], at: number, name: string): Record<string, unknown> {
  if (a.length > at + 1) {
    const multisig = `multisig${name[0]!.toUpperCase()}${name.slice(1)}`;
    return { [multisig]: a[at], signers: a.slice(at + 1) };
  }
  return { [name]: a[at] };
}

function parseToken(data: Buffer, a: string[]): Parsed['parsed'] | null {
  const tag = data[0];
  const amount = () => u64At(data, 1).toString();
  const checked = () => uiTokenAmount(u64At(data, 1), data[9]!);
  switch (tag) {
    case 3:
      return { type: 'transfer', info: { source: a[0], destination: a[1], amount: amount(), ...authority(a, 2, 'authority') } };
    case 7:
      return { type: 'mintTo', info: { mint: a[0], account: a[1], amount: amount(), ...authority(a, 2, 'mintAuthority') } };
    case 8:
      return { type: 'burn', info: { account: a[0], mint: a[1], amount: amount(), ...authority(a, 2, 'authority') } };
    case 12:
      return { type: 'transferChecked', info: { source: a[0], mint: a[1], destination: a[2], tokenAmount: checked(), ...authority(a, 3, 'authority') } };
    case 14:
      return { type: 'mintToChecked', info: { mint: a[0], account: a[1], tokenAmount: checked(), ...authority(a, 2, 'mintAuthority') } };
    case 18:
      return { type: 'initializeAccount3', info: { account: a[0], mint: a[1], owner: bs58.encode(data.subarray(1, 33)) } };
    case 20: {
      const info: Record<string, unknown> = { mint: a[0], decimals: data[1], mintAuthority: bs58.encode(data.subarray(2, 34)) };
      if (data[34] === 1) info.freezeAuthority = bs58.encode(data.subarray(35, 67));
      return { type: 'initializeMint2', info };
    }
    default:
      return null;
  }
}

function parseAta(data: Buffer, a: string[]): Parsed['parsed'] | null {
  const tag = data.length === 0 ? 0 : data[0];
  if (tag !== 0 && tag !== 1) return null;
  return { type: tag === 0 ? 'create' : 'createIdempotent', info: { source: a[0], account: a[1], wallet: a[2], mint: a[3], systemProgram: a[4], tokenProgram: a[5] } };
}

/** Agave's parse_instruction for the programs it knows; null for the rest (partially decoded). */
function parseInstruction(programId: string, data: Buffer, accounts: string[]): Parsed | null {
  try {
    if (programId === SYSTEM) return wrap('system', parseSystem(data, accounts));
    if (programId === TOKEN_PROGRAM || programId === TOKEN_2022_PROGRAM) return wrap('spl-token', parseToken(data, accounts));
    if (programId === ATA) return wrap('spl-associated-token-account', parseAta(data, accounts));
    if (programId === MEMO || programId === MEMO_V1) return { program: 'spl-memo', parsed: new TextDecoder('utf-8', { fatal: true }).decode(data) };
  } catch {
    // malformed data: partially decoded, as Agave falls back
  }
  return null;
}

const wrap = (program: string, parsed: Parsed['parsed'] | null): Parsed | null => (parsed ? { program, parsed } : null);

function uiInstruction(keys: string[], ix: Compiled) {
  const programId = keys[ix.programIdIndex]!;
  const accounts = ix.accounts.map((i) => keys[i]!);
  const parsed = parseInstruction(programId, Buffer.from(bs58.decode(ix.data)), accounts);
  if (parsed) return { ...parsed, programId, stackHeight: ix.stackHeight };
  return { programId, accounts, data: ix.data, stackHeight: ix.stackHeight };
}

export function signaturesOf(wire: Uint8Array): string[] {
  const sigCount = wire[0]!; // compact-u16; a transaction never has 128 signatures or more
  return Array.from({ length: sigCount }, (_, i) => bs58.encode(wire.subarray(1 + i * 64, 65 + i * 64)));
}

const messageOf = (wire: Uint8Array) => VersionedMessage.deserialize(wire.subarray(1 + wire[0]! * 64));

/** jsonParsed account keys: {pubkey, writable, signer, source}, lookups after the static keys. */
export function parsedAccountKeys(t: LandedTransaction) {
  const tx = VersionedTransaction.deserialize(t.wire);
  const keys = accountKeysOf(t);
  const nStatic = tx.message.staticAccountKeys.length;
  const writable = keys.map((_, i) => (i < nStatic ? tx.message.isAccountWritable(i) : i < nStatic + t.loadedAddresses.writable.length));
  const locked = writeLocked({ tx, accountKeys: keys, writable });
  return keys.map((pubkey, i) => ({
    pubkey,
    writable: locked[i]!,
    signer: i < tx.message.header.numRequiredSignatures,
    source: i < nStatic ? 'transaction' : 'lookupTable',
  }));
}

/** The transaction in one of Agave's encodings. */
export function encodeTransaction(t: LandedTransaction, encoding: string): unknown {
  if (encoding === 'base64') return [Buffer.from(t.wire).toString('base64'), 'base64'];
  if (encoding === 'base58') return [bs58.encode(t.wire), 'base58'];
  const msg = messageOf(t.wire);
  const compiled: Compiled[] = msg.compiledInstructions.map((ix) => ({
    programIdIndex: ix.programIdIndex,
    accounts: ix.accountKeyIndexes,
    data: bs58.encode(ix.data),
    stackHeight: null,
  }));
  const lookups =
    msg.version === 0
      ? {
          addressTableLookups: msg.addressTableLookups.map((l) => ({
            accountKey: l.accountKey.toBase58(),
            writableIndexes: l.writableIndexes,
            readonlyIndexes: l.readonlyIndexes,
          })),
        }
      : {};
  if (encoding === 'jsonParsed') {
    const keys = accountKeysOf(t);
    return {
      signatures: signaturesOf(t.wire),
      message: { accountKeys: parsedAccountKeys(t), recentBlockhash: msg.recentBlockhash, instructions: compiled.map((ix) => uiInstruction(keys, ix)), ...lookups },
    };
  }
  return {
    signatures: signaturesOf(t.wire),
    message: { accountKeys: msg.staticAccountKeys.map((k) => k.toBase58()), header: msg.header, recentBlockhash: msg.recentBlockhash, instructions: compiled, ...lookups },
  };
}

/** The status meta; jsonParsed parses inner instructions too and leaves loadedAddresses out (the keys carry them). */
export function encodeMeta(t: LandedTransaction, encoding: string) {
  const parsed = encoding === 'jsonParsed';
  const keys = parsed ? accountKeysOf(t) : [];
  return {
    err: t.err,
    status: t.err === null ? { Ok: null } : { Err: t.err },
    fee: t.fee,
    preBalances: t.preBalances,
    postBalances: t.postBalances,
    innerInstructions: parsed ? t.innerInstructions.map((g) => ({ index: g.index, instructions: g.instructions.map((ix) => uiInstruction(keys, ix)) })) : t.innerInstructions,
    logMessages: t.logs,
    preTokenBalances: t.preTokenBalances,
    postTokenBalances: t.postTokenBalances,
    rewards: [],
    ...(parsed ? {} : { loadedAddresses: t.loadedAddresses }),
    computeUnitsConsumed: t.computeUnits,
    ...(t.returnData ? { returnData: t.returnData } : {}),
  };
}
