// Solana JSON-RPC 2.0 methods over the local chain, with the response shapes web3.js validates and
// Agave's error codes and messages.
import bs58 from 'bs58';
import { VersionedMessage } from '@solana/web3.js';
import { parseTokenProgramAccount, tokenAccountMint } from './parsedAccounts.js';
import { encodeMeta, encodeTransaction, parsedAccountKeys, signaturesOf } from './parsedTransactions.js';
import { type Commitment, type DecodedTransaction, type LandedTransaction, type LocalChain, type RawAccount, TransactionRejected, uiTokenAmount } from './chain.js';

export const AGAVE_VERSION = '4.3.0';
const PACKET_DATA_SIZE = 1232;
/** A sentinel that `toJson` writes as a bare u64 literal (JSON numbers above 2^53 lose precision in JS). */
const U64_MAX = 18446744073709551615n;

export class RpcError extends Error {
  constructor(readonly code: number, message: string, readonly data?: unknown) {
    super(message);
  }
}

export const invalidParams = (detail: string) => new RpcError(-32602, `Invalid params: ${detail}`);

/** What the in-process test hooks ask of the next sendTransaction calls. */
export interface SendFaults {
  /** Answer with the signature, never execute. */
  drop: number;
  /** Queue for the block, but hold the answer back until the client gives up (or the server stops). */
  hold: number;
}

export interface RpcContext {
  chain: LocalChain;
  faults: SendFaults;
  /** Registers a response that must never be sent (a held send). */
  holdResponse: () => Promise<never>;
}

type Params = unknown[];
type Handler = (params: Params, ctx: RpcContext) => unknown;

// ---- parameter helpers ----------------------------------------------------------------------

function config(params: Params, index: number): Record<string, unknown> {
  const c = params[index];
  if (c === undefined || c === null) return {};
  if (typeof c !== 'object' || Array.isArray(c)) throw invalidParams(`invalid type: expected a config object at position ${index}`);
  return c as Record<string, unknown>;
}

export function commitmentOf(cfg: Record<string, unknown>, key = 'commitment'): Commitment {
  const c = cfg[key] ?? 'finalized';
  if (c === 'processed' || c === 'confirmed' || c === 'finalized') return c;
  // Deprecated aliases a validator still maps.
  if (c === 'recent' || c === 'single') return 'processed';
  if (c === 'singleGossip') return 'confirmed';
  if (c === 'max' || c === 'root') return 'finalized';
  throw invalidParams(`unknown variant \`${String(c)}\`, expected one of \`processed\`, \`confirmed\`, \`finalized\``);
}

function str(params: Params, index: number, what: string): string {
  const v = params[index];
  if (typeof v !== 'string') throw invalidParams(`invalid type: expected a string for ${what} at position ${index}`);
  return v;
}

function pubkey(params: Params, index: number): string {
  const v = str(params, index, 'the account address');
  return parsePubkey(v);
}

export function parsePubkey(v: string): string {
  try {
    const bytes = bs58.decode(v);
    if (bytes.length !== 32) throw new Error();
  } catch {
    throw new RpcError(-32602, 'Invalid param: Invalid');
  }
  return v;
}

function isSignature(v: string): boolean {
  try {
    return bs58.decode(v).length === 64;
  } catch {
    return false;
  }
}

function u64Param(params: Params, index: number, what: string): bigint {
  const v = params[index];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw invalidParams(`invalid type: expected a u64 for ${what} at position ${index}`);
  return BigInt(v);
}

const ctx = (chain: LocalChain, commitment: Commitment, value: unknown) => ({
  context: { apiVersion: AGAVE_VERSION, slot: chain.slotAt(commitment) },
  value,
});

// ---- accounts ---------------------------------------------------------------------------------

/** A mint's decimals, as Agave looks them up to parse a token account (null: no such mint). */
function mintDecimals(chain: LocalChain, mint: string): number | null {
  const acc = chain.getAccount(mint);
  const parsed = acc && parseTokenProgramAccount(acc.owner, acc.data, null);
  return parsed && parsed.parsed.type === 'mint' ? (parsed.parsed.info.decimals as number) : null;
}

/** jsonParsed where Agave has a parser (the token programs), else null: the caller answers base64. */
function parsedData(chain: LocalChain, acc: RawAccount) {
  const mint = tokenAccountMint(acc.owner, acc.data);
  return parseTokenProgramAccount(acc.owner, acc.data, mint === null ? null : mintDecimals(chain, mint));
}

export function encodeAccount(chain: LocalChain, acc: RawAccount | null, cfg: Record<string, unknown>) {
  if (!acc) return null;
  const encoding = (cfg.encoding as string | undefined) ?? 'binary';
  let data = acc.data;
  const slice = cfg.dataSlice as { offset?: number; length?: number } | undefined;
  if (slice) {
    if (encoding === 'jsonParsed') throw new RpcError(-32600, 'Sliced account data can only be encoded using binary (base 58) or base64 encoding.');
    if (typeof slice.offset !== 'number' || typeof slice.length !== 'number') throw invalidParams('dataSlice needs numeric offset and length');
    data = data.subarray(slice.offset, slice.offset + slice.length);
  }
  let encoded: unknown;
  const parsed = encoding === 'jsonParsed' ? parsedData(chain, acc) : null;
  if (parsed) {
    encoded = parsed;
  } else if (encoding === 'base64' || encoding === 'jsonParsed') {
    // jsonParsed falls back to base64, as a validator does for programs it has no parser for.
    encoded = [Buffer.from(data).toString('base64'), 'base64'];
  } else if (encoding === 'base58' || encoding === 'binary') {
    if (data.length > 128) {
      throw new RpcError(-32600, 'Encoded binary (base 58) data should be less than 128 bytes, please use Base64 encoding.');
    }
    encoded = encoding === 'binary' ? bs58.encode(data) : [bs58.encode(data), 'base58'];
  } else {
    throw invalidParams(`unsupported encoding: ${encoding}`);
  }
  return {
    data: encoded,
    executable: acc.executable,
    lamports: acc.lamports,
    owner: acc.owner,
    rentEpoch: U64_MAX,
    space: acc.data.length,
  };
}

function tokenAccount(chain: LocalChain, key: string, kind: 'account' | 'mint'): { amount: bigint; decimals: number } {
  const acc = chain.getAccount(key);
  const isToken = acc && (acc.owner === 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA' || acc.owner === 'TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb');
  if (!acc || !isToken) throw invalidParams(`Invalid param: not a Token ${kind}`);
  const data = Buffer.from(acc.data);
  if (kind === 'mint') {
    if (data.length < 82) throw invalidParams('Invalid param: not a Token mint');
    return { amount: data.readBigUInt64LE(36), decimals: data[44]! };
  }
  if (data.length < 165) throw invalidParams('Invalid param: not a Token account');
  const mint = chain.getAccount(bs58.encode(data.subarray(0, 32)));
  return { amount: data.readBigUInt64LE(64), decimals: mint && mint.data.length >= 45 ? mint.data[44]! : 0 };
}

// ---- transactions -----------------------------------------------------------------------------

function decodeWire(encodedTx: string, encoding: unknown, chain: LocalChain): DecodedTransaction {
  let wire: Buffer;
  if (encoding === undefined || encoding === 'base58') {
    try {
      wire = Buffer.from(bs58.decode(encodedTx));
    } catch (e) {
      throw invalidParams(`invalid base58 encoding: ${(e as Error).message}`);
    }
  } else if (encoding === 'base64') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encodedTx)) throw invalidParams('invalid base64 encoding: Invalid symbol');
    wire = Buffer.from(encodedTx, 'base64');
  } else {
    throw invalidParams(`unsupported encoding: ${String(encoding)}. Supported encodings: base58, base64`);
  }
  if (wire.length > PACKET_DATA_SIZE) {
    throw invalidParams(
      `${String(encoding ?? 'base58')} encoded solana_transaction::versioned::VersionedTransaction too large: ${wire.length} bytes (max: encoded/raw ${encoding === 'base64' ? 1644 : 1683}/${PACKET_DATA_SIZE})`,
    );
  }
  try {
    return chain.decode(wire);
  } catch (e) {
    if (e instanceof TransactionRejected) throw invalidParams(`invalid transaction: ${e.message}`);
    throw invalidParams(`failed to deserialize solana_transaction::versioned::VersionedTransaction: ${(e as Error).message}`);
  }
}

function simulationValue(sim: ReturnType<LocalChain['simulate']>, extra: Record<string, unknown> = {}) {
  return {
    accounts: null,
    err: sim.err,
    innerInstructions: null,
    loadedAccountsDataSize: 0,
    logs: sim.logs,
    replacementBlockhash: null,
    returnData: sim.returnData,
    unitsConsumed: sim.unitsConsumed,
    ...extra,
  };
}

async function sendTransaction(params: Params, c: RpcContext): Promise<string> {
  const cfg = config(params, 1);
  const d = decodeWire(str(params, 0, 'the transaction'), cfg.encoding, c.chain);
  if (cfg.skipPreflight !== true) {
    const pre = c.chain.precheck(d);
    if (pre && pre.json === 'AlreadyProcessed') {
      throw new RpcError(-32002, `Transaction simulation failed: ${pre.message}`, simulationValue({ err: pre.json, logs: [], unitsConsumed: 0, returnData: null } as never));
    }
    const sim = c.chain.simulate(d, { sigVerify: true, checkBlockhash: true });
    if (sim.err === 'SignatureFailure') throw new RpcError(-32003, 'Transaction signature verification failure');
    if (sim.err === 'SanitizeFailure') throw invalidParams(`invalid transaction: ${sim.message}`);
    if (sim.err !== null) throw new RpcError(-32002, `Transaction simulation failed: ${sim.message}`, simulationValue(sim));
  }
  if (c.faults.drop > 0) {
    c.faults.drop--;
    return d.signature;
  }
  // It runs at the end of the slot, in a block; the answer is the signature, as a validator's RPC gives.
  c.chain.submit(d);
  if (c.faults.hold > 0) {
    c.faults.hold--;
    return c.holdResponse();
  }
  return d.signature;
}

function simulateTransaction(params: Params, c: RpcContext) {
  const cfg = config(params, 1);
  const commitment = commitmentOf(cfg);
  const sigVerify = cfg.sigVerify === true;
  const replace = cfg.replaceRecentBlockhash === true;
  if (sigVerify && replace) throw invalidParams('sigVerify may not be used with replaceRecentBlockhash');
  const d = decodeWire(str(params, 0, 'the transaction'), cfg.encoding, c.chain);
  const sim = c.chain.simulate(d, { sigVerify, checkBlockhash: !replace });
  let accounts: unknown = null;
  const acfg = cfg.accounts as { addresses?: unknown; encoding?: string } | undefined;
  if (acfg) {
    if (!Array.isArray(acfg.addresses)) throw invalidParams('accounts.addresses must be an array');
    const enc = { encoding: acfg.encoding ?? 'base64' };
    accounts = acfg.addresses.map((a) => {
      const key = parsePubkey(String(a));
      return sim.err === null ? encodeAccount(c.chain, sim.postAccounts.get(key) ?? c.chain.getAccount(key), enc) : null;
    });
  }
  const replacement = replace ? c.chain.latestBlockhash(commitment) : null;
  return ctx(
    c.chain,
    commitment,
    simulationValue(sim, {
      accounts,
      innerInstructions: cfg.innerInstructions === true ? sim.innerInstructions : null,
      replacementBlockhash: replacement && { blockhash: replacement.blockhash, lastValidBlockHeight: replacement.lastValidBlockHeight },
    }),
  );
}

function getTransaction(params: Params, c: RpcContext) {
  const signature = str(params, 0, 'the signature');
  let cfg: Record<string, unknown>;
  if (typeof params[1] === 'string') cfg = { encoding: params[1] };
  else cfg = config(params, 1);
  const commitment = commitmentOf(cfg);
  if (commitment === 'processed') throw invalidParams('Method does not support commitment below `confirmed`');
  if (!isSignature(signature)) throw invalidParams('Invalid param: Invalid');
  const t = c.chain.getTransaction(signature, commitment);
  if (!t) return null;
  const maxVersion = cfg.maxSupportedTransactionVersion;
  checkVersion(t, maxVersion);
  const encoding = (cfg.encoding as string | undefined) ?? 'json';
  return {
    slot: t.slot,
    blockTime: t.blockTime,
    ...(maxVersion !== undefined ? { version: t.version } : {}),
    transaction: encodeTransaction(t, checkTxEncoding(encoding)),
    meta: encodeMeta(t, encoding),
  };
}

function checkTxEncoding(encoding: string): string {
  if (!['json', 'jsonParsed', 'base64', 'base58'].includes(encoding)) throw invalidParams(`unsupported encoding: ${encoding}`);
  return encoding;
}

// ---- blocks -------------------------------------------------------------------------------------

const MAX_GET_BLOCKS_RANGE = 500_000;
const MAX_PERFORMANCE_SAMPLES = 720;
const slotRange = (start: number, end: number) => (end < start ? [] : Array.from({ length: end - start + 1 }, (_, i) => start + i));

/** Block methods answer at confirmed or finalized, as Agave does. */
function confirmedAtLeast(cfg: Record<string, unknown>): Commitment {
  const commitment = commitmentOf(cfg);
  if (commitment === 'processed') throw invalidParams('Method does not support commitment below `confirmed`');
  return commitment;
}

/** A transaction of a block or getTransaction: v0 needs maxSupportedTransactionVersion, as Agave asks. */
function checkVersion(t: LandedTransaction, maxVersion: unknown): void {
  if (t.version === 0 && maxVersion === undefined) {
    throw new RpcError(
      -32015,
      'Transaction version (0) is not supported by the requesting client. Please try the request again with the following configuration parameter: "maxSupportedTransactionVersion": 0',
    );
  }
}

function getBlock(params: Params, c: RpcContext) {
  const slot = Number(u64Param(params, 0, 'the slot'));
  const cfg = typeof params[1] === 'string' ? { encoding: params[1] } : config(params, 1);
  const commitment = confirmedAtLeast(cfg);
  const encoding = checkTxEncoding((cfg.encoding as string | undefined) ?? 'json');
  const details = cfg.transactionDetails ?? 'full';
  if (!['full', 'signatures', 'none', 'accounts'].includes(details as string)) {
    throw invalidParams(`unknown variant \`${String(details)}\`, expected one of \`full\`, \`signatures\`, \`none\`, \`accounts\``);
  }
  const block = c.chain.getBlock(slot, commitment);
  if (!block) throw new RpcError(-32004, `Block not available for slot ${slot}`);
  const maxVersion = cfg.maxSupportedTransactionVersion;
  const txs = () =>
    block.signatures.map((s) => {
      const t = c.chain.getTransaction(s, commitment)!;
      checkVersion(t, maxVersion);
      const version = maxVersion !== undefined ? { version: t.version } : {};
      if (details === 'accounts') {
        const { err, status, fee, preBalances, postBalances, preTokenBalances, postTokenBalances } = encodeMeta(t, 'json');
        return { transaction: { signatures: signaturesOf(t.wire), accountKeys: parsedAccountKeys(t) }, meta: { err, status, fee, preBalances, postBalances, preTokenBalances, postTokenBalances }, ...version };
      }
      return { transaction: encodeTransaction(t, encoding), meta: encodeMeta(t, encoding), ...version };
    });
  return {
    blockHeight: block.blockHeight,
    blockTime: block.blockTime,
    blockhash: block.blockhash,
    parentSlot: block.parentSlot,
    previousBlockhash: block.previousBlockhash,
    ...(details === 'signatures' ? { signatures: block.signatures } : {}),
    ...(details === 'full' || details === 'accounts' ? { transactions: txs() } : {}),
    ...(cfg.rewards === false ? {} : { rewards: [] }),
  };
}

/**
 * Localnet only (no validator has this method): what the block cost tracker charged in each block with
 * transactions in [start, end], for the benchmarks (scripts/bench/scale.ts). Agave's tracker keeps these
 * totals too but only reports them in its metrics. With `{ account }`, how many of the block's
 * transactions write-lock that account and, when all of them do, the cost charged to it: the tracker
 * charges each transaction's cost to the block and to every account it write-locks, so an account that
 * every transaction of the block write-locks was charged exactly the block's cost. Otherwise its own
 * total was not kept (only the costliest account's is) and `accountCost` is null.
 */
function getBlockCosts(params: Params, c: RpcContext) {
  const start = Number(u64Param(params, 0, 'the start slot'));
  const end = Math.min(Number(u64Param(params, 1, 'the end slot')), c.chain.slotAt('confirmed'));
  if (end - start > MAX_GET_BLOCKS_RANGE) throw invalidParams(`Slot range too large; max ${MAX_GET_BLOCKS_RANGE}`);
  const cfg = config(params, 2);
  const account = cfg.account === undefined ? null : parsePubkey(String(cfg.account));
  return slotRange(start, end).flatMap((slot) => {
    const block = c.chain.getBlock(slot, 'confirmed');
    if (!block || block.signatures.length === 0) return [];
    const costs = { slot, transactions: block.signatures.length, blockCost: block.cost?.block ?? null, costliestAccount: block.cost?.costliestAccount ?? null, costliestAccountCost: block.cost?.costliestAccountCost ?? null };
    if (account === null) return [costs];
    const writers = block.signatures.filter((s) => parsedAccountKeys(c.chain.getTransaction(s, 'confirmed')!).some((k) => k.writable && k.pubkey === account)).length;
    return [{ ...costs, transactionsWritingAccount: writers, accountCost: writers === block.signatures.length ? costs.blockCost : null }];
  });
}

// ---- the method table -----------------------------------------------------------------------

export const methods: Record<string, Handler> = {
  getHealth: () => 'ok',
  getVersion: () => ({ 'solana-core': AGAVE_VERSION, 'feature-set': 0 }),
  getGenesisHash: (_p, c) => c.chain.genesisHash,
  getIdentity: (_p, c) => ({ identity: c.chain.genesisHash }),
  getSlot: (p, c) => c.chain.slotAt(commitmentOf(config(p, 0))),
  getBlockHeight: (p, c) => c.chain.blockHeightAt(commitmentOf(config(p, 0))),
  getEpochInfo: (p, c) => c.chain.epochInfo(commitmentOf(config(p, 0))),
  getLatestBlockhash: (p, c) => {
    const commitment = commitmentOf(config(p, 0));
    const { blockhash, lastValidBlockHeight } = c.chain.latestBlockhash(commitment);
    return ctx(c.chain, commitment, { blockhash, lastValidBlockHeight });
  },
  isBlockhashValid: (p, c) => {
    const blockhash = str(p, 0, 'the blockhash');
    const commitment = commitmentOf(config(p, 1));
    return ctx(c.chain, commitment, c.chain.isBlockhashValid(blockhash));
  },
  getMinimumBalanceForRentExemption: (p, c) => {
    const size = u64Param(p, 0, 'the data length');
    if (size > 10n * 1024n * 1024n) throw invalidParams('data length too large');
    return c.chain.minimumBalanceForRentExemption(Number(size));
  },
  getFeeForMessage: (p, c) => {
    const cfg = config(p, 1);
    const commitment = commitmentOf(cfg);
    let message: VersionedMessage;
    try {
      message = VersionedMessage.deserialize(Buffer.from(str(p, 0, 'the message'), 'base64'));
    } catch (e) {
      throw invalidParams(`failed to deserialize solana_message::versions::VersionedMessage: ${(e as Error).message}`);
    }
    if (!c.chain.isBlockhashValid(message.recentBlockhash)) return ctx(c.chain, commitment, null);
    const fake = { tx: { message }, accountKeys: [], writable: [] } as unknown as DecodedTransaction;
    return ctx(c.chain, commitment, c.chain.feeFor(fake).fee);
  },
  getRecentPrioritizationFees: (p, c) => {
    const list = p[0] ?? [];
    if (!Array.isArray(list)) throw invalidParams('expected an array of account addresses');
    if (list.length > 128) throw invalidParams('Too many inputs provided; max 128');
    return c.chain.recentPrioritizationFees(list.map((a) => parsePubkey(String(a))));
  },
  getBalance: (p, c) => {
    const key = pubkey(p, 0);
    return ctx(c.chain, commitmentOf(config(p, 1)), c.chain.getBalance(key));
  },
  getAccountInfo: (p, c) => {
    const key = pubkey(p, 0);
    const cfg = config(p, 1);
    return ctx(c.chain, commitmentOf(cfg), encodeAccount(c.chain, c.chain.getAccount(key), cfg));
  },
  getMultipleAccounts: (p, c) => {
    const list = p[0];
    if (!Array.isArray(list)) throw invalidParams('invalid type: expected an array of account addresses');
    if (list.length > 100) throw invalidParams('Too many inputs provided; max 100');
    const cfg = config(p, 1);
    const keys = list.map((k) => parsePubkey(String(k)));
    return ctx(c.chain, commitmentOf(cfg), keys.map((k) => encodeAccount(c.chain, c.chain.getAccount(k), cfg)));
  },
  getTokenAccountBalance: (p, c) => {
    const key = pubkey(p, 0);
    const { amount, decimals } = tokenAccount(c.chain, key, 'account');
    return ctx(c.chain, commitmentOf(config(p, 1)), uiTokenAmount(amount, decimals));
  },
  getTokenSupply: (p, c) => {
    const key = pubkey(p, 0);
    const { amount, decimals } = tokenAccount(c.chain, key, 'mint');
    return ctx(c.chain, commitmentOf(config(p, 1)), uiTokenAmount(amount, decimals));
  },
  requestAirdrop: (p, c) => {
    const key = pubkey(p, 0);
    const lamports = u64Param(p, 1, 'lamports');
    return c.chain.airdrop(key, lamports);
  },
  getSignatureStatuses: (p, c) => {
    const sigs = p[0];
    if (!Array.isArray(sigs)) throw invalidParams('invalid type: expected an array of signatures');
    if (sigs.length > 256) throw invalidParams('Too many inputs provided; max 256');
    const search = config(p, 1).searchTransactionHistory === true;
    const statuses = sigs.map((s) => {
      if (typeof s !== 'string') throw invalidParams('invalid type: expected a signature string');
      return c.chain.signatureStatus(s, search);
    });
    return ctx(c.chain, 'processed', statuses);
  },
  getSignaturesForAddress: (p, c) => {
    const key = pubkey(p, 0);
    const cfg = config(p, 1);
    const commitment = commitmentOf(cfg);
    if (commitment === 'processed') throw invalidParams('Method does not support commitment below `confirmed`');
    const limit = cfg.limit ?? 1000;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalidParams('Invalid limit; max 1000');
    const sig = (k: string) => {
      const v = cfg[k];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'string' || !isSignature(v)) throw invalidParams('Invalid param: Invalid');
      return v;
    };
    return c.chain.signaturesForAddress(key, { limit, before: sig('before'), until: sig('until'), commitment }).map((t) => ({
      signature: t.signature,
      slot: t.slot,
      err: t.err,
      memo: null,
      blockTime: t.blockTime,
      confirmationStatus: c.chain.commitmentOf(t.slot),
    }));
  },
  getTransaction,
  getBlock,
  getBlocks: (p, c) => {
    const start = Number(u64Param(p, 0, 'the start slot'));
    const hasEnd = typeof p[1] === 'number';
    const cfg = config(p, hasEnd ? 2 : 1);
    const last = c.chain.slotAt(confirmedAtLeast(cfg));
    const end = Math.min(hasEnd ? Number(u64Param(p, 1, 'the end slot')) : last, last);
    if (end - start > MAX_GET_BLOCKS_RANGE) throw invalidParams(`Slot range too large; max ${MAX_GET_BLOCKS_RANGE}`);
    return slotRange(start, end);
  },
  getBlocksWithLimit: (p, c) => {
    const start = Number(u64Param(p, 0, 'the start slot'));
    const limit = Number(u64Param(p, 1, 'the limit'));
    if (limit > MAX_GET_BLOCKS_RANGE) throw invalidParams(`Limit too large; max ${MAX_GET_BLOCKS_RANGE}`);
    return slotRange(start, Math.min(start + limit - 1, c.chain.slotAt(confirmedAtLeast(config(p, 2)))));
  },
  getBlockTime: (p, c) => {
    const slot = Number(u64Param(p, 0, 'the slot'));
    const block = c.chain.getBlock(slot, 'confirmed');
    if (!block) throw new RpcError(-32004, `Block not available for slot ${slot}`);
    return block.blockTime;
  },
  getFirstAvailableBlock: () => 0,
  getTransactionCount: (p, c) => c.chain.epochInfo(commitmentOf(config(p, 0))).transactionCount,
  getRecentPerformanceSamples: (p, c) => {
    const limit = p[0] === undefined || p[0] === null ? MAX_PERFORMANCE_SAMPLES : Number(u64Param(p, 0, 'the limit'));
    if (limit > MAX_PERFORMANCE_SAMPLES) throw invalidParams(`Invalid limit; max ${MAX_PERFORMANCE_SAMPLES}`);
    return c.chain.performanceSamples(limit);
  },
  sendTransaction,
  simulateTransaction,
  localnet_getBlockCosts: getBlockCosts,
};

/** Serialise a JSON-RPC payload; bigints become bare JSON integers, without losing precision. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `__u64:${v}` : v)).replace(/"__u64:(\d+)"/g, '$1');
}
