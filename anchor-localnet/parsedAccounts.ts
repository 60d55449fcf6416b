// jsonParsed for SPL Token and Token-2022 accounts, mints and multisigs, with Token-2022's extensions, in
// the shapes of Agave's account-decoder (parse_token.rs, parse_token_extension.rs and their client
// types). Anything else, or token data that does not unpack, is answered in base64 by the caller, as
// Agave does for accounts it cannot parse.
import bs58 from 'bs58';
import { uiTokenAmount } from './chain.js';

export const TOKEN_PROGRAM = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA';
export const TOKEN_2022_PROGRAM = 'TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb';
const PROGRAM_NAMES: Record<string, string> = { [TOKEN_PROGRAM]: 'spl-token', [TOKEN_2022_PROGRAM]: 'spl-token-2022' };

const ACCOUNT_LEN = 165;
const MINT_LEN = 82;
const MULTISIG_LEN = 355;
const ACCOUNT_TYPE_MINT = 1;
const ACCOUNT_TYPE_ACCOUNT = 2;
const STATES = ['uninitialized', 'initialized', 'frozen'] as const;

export interface ParsedAccountData {
  program: string;
  parsed: { type: 'account' | 'mint' | 'multisig'; info: Record<string, unknown> };
  space: number;
}

/** A little-endian reader over one account's bytes; reading past the end throws (the caller falls back). */
class Reader {
  constructor(private b: Buffer, public at = 0) {}
  private take(n: number): Buffer {
    if (this.at + n > this.b.length) throw new RangeError('short');
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u8 = () => this.take(1)[0]!;
  bool = () => this.u8() !== 0;
  u16 = () => this.take(2).readUInt16LE(0);
  i16 = () => this.take(2).readInt16LE(0);
  u32 = () => this.take(4).readUInt32LE(0);
  u64 = () => this.take(8).readBigUInt64LE(0);
  i64 = () => Number(this.take(8).readBigInt64LE(0));
  f64 = () => this.take(8).readDoubleLE(0);
  key = () => bs58.encode(this.take(32));
  /** OptionalNonZeroPubkey: all zeros is None. */
  optKey = () => {
    const k = this.take(32);
    return k.every((x) => x === 0) ? null : bs58.encode(k);
  };
  /** COption<Pubkey>: a u32 tag, then the key. */
  coptKey = () => {
    const tag = this.u32();
    const k = this.key();
    return tag === 1 ? k : null;
  };
  coptU64 = () => {
    const tag = this.u32();
    const v = this.u64();
    return tag === 1 ? v : null;
  };
  /** Pod ElGamal keys and ciphertexts print as base64 in Agave. */
  b64 = (n: number) => this.take(n).toString('base64');
  optB64 = (n: number) => {
    const k = this.take(n);
    return k.every((x) => x === 0) ? null : k.toString('base64');
  };
  str = () => this.take(this.u32()).toString('utf8');
}

type Ext = { extension: string; state?: Record<string, unknown> };

const transferFee = (r: Reader) => ({ epoch: Number(r.u64()), maximumFee: Number(r.u64()), transferFeeBasisPoints: r.u16() });

/** Each extension type's UiExtension (camelCase, tagged `extension`, content `state`). */
const EXTENSIONS: Record<number, [name: string, parse?: (r: Reader) => Record<string, unknown>]> = {
  0: ['uninitialized'],
  1: ['transferFeeConfig', (r) => ({ transferFeeConfigAuthority: r.optKey(), withdrawWithheldAuthority: r.optKey(), withheldAmount: Number(r.u64()), olderTransferFee: transferFee(r), newerTransferFee: transferFee(r) })],
  2: ['transferFeeAmount', (r) => ({ withheldAmount: Number(r.u64()) })],
  3: ['mintCloseAuthority', (r) => ({ closeAuthority: r.optKey() })],
  4: ['confidentialTransferMint', (r) => ({ authority: r.optKey(), autoApproveNewAccounts: r.bool(), auditorElgamalPubkey: r.optB64(32) })],
  5: [
    'confidentialTransferAccount',
    (r) => ({
      approved: r.bool(),
      elgamalPubkey: r.b64(32),
      pendingBalanceLo: r.b64(64),
      pendingBalanceHi: r.b64(64),
      availableBalance: r.b64(64),
      decryptableAvailableBalance: r.b64(36),
      allowConfidentialCredits: r.bool(),
      allowNonConfidentialCredits: r.bool(),
      pendingBalanceCreditCounter: Number(r.u64()),
      maximumPendingBalanceCreditCounter: Number(r.u64()),
      expectedPendingBalanceCreditCounter: Number(r.u64()),
      actualPendingBalanceCreditCounter: Number(r.u64()),
    }),
  ],
  6: ['defaultAccountState', (r) => ({ accountState: STATES[r.u8()] ?? 'uninitialized' })],
  7: ['immutableOwner'],
  8: ['memoTransfer', (r) => ({ requireIncomingTransferMemos: r.bool() })],
  9: ['nonTransferable'],
  10: ['interestBearingConfig', (r) => ({ rateAuthority: r.optKey(), initializationTimestamp: r.i64(), preUpdateAverageRate: r.i16(), lastUpdateTimestamp: r.i64(), currentRate: r.i16() })],
  11: ['cpiGuard', (r) => ({ lockCpi: r.bool() })],
  12: ['permanentDelegate', (r) => ({ delegate: r.optKey() })],
  13: ['nonTransferableAccount'],
  14: ['transferHook', (r) => ({ authority: r.optKey(), programId: r.optKey() })],
  15: ['transferHookAccount', (r) => ({ transferring: r.bool() })],
  16: ['confidentialTransferFeeConfig', (r) => ({ authority: r.optKey(), withdrawWithheldAuthorityElgamalPubkey: r.optB64(32), harvestToMintEnabled: r.bool(), withheldAmount: r.b64(64) })],
  17: ['confidentialTransferFeeAmount', (r) => ({ withheldAmount: r.b64(64) })],
  18: ['metadataPointer', (r) => ({ authority: r.optKey(), metadataAddress: r.optKey() })],
  19: [
    'tokenMetadata',
    (r) => {
      const updateAuthority = r.optKey();
      const mint = r.key();
      const name = r.str();
      const symbol = r.str();
      const uri = r.str();
      const additionalMetadata = Array.from({ length: r.u32() }, () => [r.str(), r.str()]);
      return { updateAuthority, mint, name, symbol, uri, additionalMetadata };
    },
  ],
  20: ['groupPointer', (r) => ({ authority: r.optKey(), groupAddress: r.optKey() })],
  21: ['tokenGroup', (r) => ({ updateAuthority: r.optKey(), mint: r.key(), size: Number(r.u64()), maxSize: Number(r.u64()) })],
  22: ['groupMemberPointer', (r) => ({ authority: r.optKey(), memberAddress: r.optKey() })],
  23: ['tokenGroupMember', (r) => ({ mint: r.key(), group: r.key(), memberNumber: Number(r.u64()) })],
  24: ['confidentialMintBurn', (r) => ({ confidentialSupply: r.b64(64), decryptableSupply: r.b64(36), supplyElgamalPubkey: r.b64(32), pendingBurn: r.b64(64) })],
  25: [
    'scaledUiAmountConfig',
    (r) => ({ authority: r.optKey(), multiplier: String(r.f64()), newMultiplierEffectiveTimestamp: r.i64(), newMultiplier: String(r.f64()) }),
  ],
  26: ['pausableConfig', (r) => ({ authority: r.optKey(), paused: r.bool() })],
  27: ['pausableAccount'],
};

/** The TLV entries after the account-type byte, up to the first Uninitialized one (as get_extension_types stops). */
function extensionsOf(data: Buffer): Ext[] {
  const out: Ext[] = [];
  for (let at = ACCOUNT_LEN + 1; at + 4 <= data.length; ) {
    const type = data.readUInt16LE(at);
    const len = data.readUInt16LE(at + 2);
    if (type === 0) break;
    const value = data.subarray(at + 4, at + 4 + len);
    at += 4 + len;
    const known = EXTENSIONS[type];
    if (!known || value.length < len) {
      out.push({ extension: 'unparseableExtension' });
      continue;
    }
    const [extension, parse] = known;
    try {
      out.push(parse ? { extension, state: parse(new Reader(value)) } : { extension });
    } catch {
      out.push({ extension: 'unparseableExtension' });
    }
  }
  return out;
}

/** StateWithExtensions::unpack's rule: the base length exactly, or base, padding and a matching account type. */
function hasState(data: Buffer, baseLen: number, accountType: number): boolean {
  if (data.length === baseLen) return true;
  if (data.length <= ACCOUNT_LEN || data.length === MULTISIG_LEN || data[ACCOUNT_LEN] !== accountType) return false;
  return data.subarray(baseLen, ACCOUNT_LEN).every((x) => x === 0);
}

function parseTokenAccount(data: Buffer, decimals: number | null): ParsedAccountData['parsed'] | null {
  if (!hasState(data, ACCOUNT_LEN, ACCOUNT_TYPE_ACCOUNT)) return null;
  const r = new Reader(data);
  const mint = r.key();
  const owner = r.key();
  const amount = r.u64();
  const delegate = r.coptKey();
  const state = r.u8();
  const isNative = r.coptU64();
  const delegatedAmount = r.u64();
  const closeAuthority = r.coptKey();
  if (state === 0 || state > 2) return null; // Account::unpack refuses an uninitialized account
  // Agave needs the mint's decimals to parse an account; without its mint it answers base64.
  if (decimals === null) return null;
  const extensions = data.length > ACCOUNT_LEN ? extensionsOf(data) : [];
  const info: Record<string, unknown> = {
    isNative: isNative !== null,
    mint,
    owner,
    state: STATES[state],
    tokenAmount: uiTokenAmount(amount, decimals),
  };
  if (delegate !== null) info.delegate = delegate;
  if (isNative !== null) info.rentExemptReserve = uiTokenAmount(isNative, decimals);
  if (delegate !== null) info.delegatedAmount = uiTokenAmount(delegatedAmount, decimals);
  if (closeAuthority !== null) info.closeAuthority = closeAuthority;
  if (extensions.length) info.extensions = extensions;
  return { type: 'account', info };
}

function parseMint(data: Buffer): ParsedAccountData['parsed'] | null {
  if (!hasState(data, MINT_LEN, ACCOUNT_TYPE_MINT)) return null;
  const r = new Reader(data);
  const mintAuthority = r.coptKey();
  const supply = r.u64();
  const decimals = r.u8();
  const isInitialized = r.bool();
  const freezeAuthority = r.coptKey();
  if (!isInitialized) return null;
  const info: Record<string, unknown> = { decimals, freezeAuthority, isInitialized, mintAuthority, supply: supply.toString() };
  const extensions = data.length > ACCOUNT_LEN ? extensionsOf(data) : [];
  if (extensions.length) info.extensions = extensions;
  return { type: 'mint', info };
}

function parseMultisig(data: Buffer): ParsedAccountData['parsed'] | null {
  if (data.length !== MULTISIG_LEN) return null;
  const r = new Reader(data);
  const m = r.u8();
  const n = r.u8();
  const isInitialized = r.bool();
  if (!isInitialized) return null;
  const signers = Array.from({ length: 11 }, () => r.optKey()).filter((k): k is string => k !== null);
  return { type: 'multisig', info: { isInitialized, numRequiredSigners: m, numValidSigners: n, signers } };
}

/** The mint a token account names (to fetch its decimals), when the data is a token account. */
export function tokenAccountMint(owner: string, data: Uint8Array): string | null {
  if (!(owner in PROGRAM_NAMES) || !hasState(Buffer.from(data), ACCOUNT_LEN, ACCOUNT_TYPE_ACCOUNT)) return null;
  return bs58.encode(data.subarray(0, 32));
}

/** Agave's parse_token, or null where it would not parse (the caller then answers base64). */
export function parseTokenProgramAccount(owner: string, data: Uint8Array, mintDecimals: number | null): ParsedAccountData | null {
  const program = PROGRAM_NAMES[owner];
  if (!program) return null;
  const b = Buffer.from(data);
  try {
    const parsed = parseTokenAccount(b, mintDecimals) ?? parseMint(b) ?? parseMultisig(b);
    return parsed && { program, parsed, space: data.length };
  } catch {
    return null;
  }
}
