// The energy_token program as the service sees it: the interface its IDL describes (0.1.0 or 0.1.1), addresses,
// the TokenInfo account, the key files, and the start-up check that the chain holds what the configuration
// promises.
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { BorshAccountsCoder, type Idl } from '@coral-xyz/anchor';
import { type Connection, Keypair, PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID } from '@solana/spl-token';
import { ChainSetupError, ConfigError } from '../errors.js';

/** The IDL of the program as GridTokenX deploys it today (ENERGY_TOKEN_IDL's default). */
export const DEFAULT_IDL_PATH = new URL('../../programs-idl/energy_token-0.1.1.json', import.meta.url).pathname;

/** Read an IDL file; `programId` overrides the address it names (a deployment at another address). */
export function loadIdl(path: string = DEFAULT_IDL_PATH, programId?: string): Idl {
  let idl: Idl;
  try {
    idl = JSON.parse(readFileSync(path, 'utf8')) as Idl;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? 'not JSON';
    throw new ConfigError(`ENERGY_TOKEN_IDL: cannot read the IDL ${path} (${why})`);
  }
  if (!Array.isArray(idl.instructions) || !idl.instructions.some((i) => i.name === 'mint_tokens_direct')) {
    throw new ConfigError(`ENERGY_TOKEN_IDL: ${path} is not an energy_token IDL (it has no mint_tokens_direct instruction)`);
  }
  return programId ? { ...idl, address: programId } : idl;
}

/** The program a configuration names: its IDL (ENERGY_TOKEN_IDL), read once, and its address. */
export interface DeployedProgram {
  idlPath: string;
  programId: PublicKey;
  program: ProgramInterface;
}

export function deployedProgram(c: { ENERGY_TOKEN_IDL?: string; ENERGY_TOKEN_PROGRAM_ID?: string }): DeployedProgram {
  const idlPath = c.ENERGY_TOKEN_IDL ? resolve(c.ENERGY_TOKEN_IDL) : DEFAULT_IDL_PATH;
  const idl = loadIdl(idlPath, c.ENERGY_TOKEN_PROGRAM_ID);
  let programId: PublicKey;
  try {
    programId = new PublicKey(idl.address);
  } catch {
    throw new ConfigError(`ENERGY_TOKEN_IDL: ${idlPath} names no valid program address; set ENERGY_TOKEN_PROGRAM_ID`);
  }
  return { idlPath, programId, program: programInterface(idl) };
}

/** What the service builds and checks against, read from the IDL: nothing about a version is hard-coded. */
export interface ProgramInterface {
  idl: Idl;
  /** The IDL's metadata.version (0.1.0, 0.1.1, ...). */
  version: string;
  /** TokenInfo's size with its discriminator, from the IDL's layout (0.1.0: 288 bytes, 0.1.1: 320). */
  tokenInfoSize: number;
  /** mint_tokens_direct's accounts in order, as the IDL names and flags them. */
  mintAccounts: { name: string; writable: boolean; signer: boolean }[];
  /** mint_tokens_direct takes a REC validator's co-signature (0.1.1 on). */
  coSigned: boolean;
}

export function programInterface(idl: Idl): ProgramInterface {
  const ix = idl.instructions.find((i) => i.name === 'mint_tokens_direct')!;
  const mintAccounts = ix.accounts.map((a) => {
    if ('accounts' in a) throw new ConfigError(`ENERGY_TOKEN_IDL: mint_tokens_direct has a nested account group (${a.name}) this service does not know`);
    return { name: a.name, writable: !!a.writable, signer: !!a.signer };
  });
  return {
    idl,
    version: (idl.metadata as { version?: string } | undefined)?.version ?? 'unknown',
    tokenInfoSize: new BorshAccountsCoder(idl).size('TokenInfo'),
    mintAccounts,
    coSigned: mintAccounts.some((a) => a.name === 'rec_validator'),
  };
}

export const tokenInfoAddress = (programId: PublicKey): PublicKey =>
  PublicKey.findProgramAddressSync([Buffer.from('token_info_2022')], programId)[0];

export interface TokenInfo {
  authority: PublicKey;
  mint: PublicKey;
  totalSupply: bigint;
  /** 0.1.1 on: who may mint without a REC validator (the registry program's authority). Null on 0.1.0. */
  registryAuthority: PublicKey | null;
  /** The registered REC validators (the first rec_validators_count entries). */
  recValidators: PublicKey[];
}

export interface ChainIdentity {
  programId: PublicKey;
  tokenInfo: PublicKey;
  mint: PublicKey;
  decimals: number;
  genesisHash: string;
  /** token_info's registry authority (0.1.1 on): an account every mint_tokens_direct names. */
  registryAuthority: PublicKey | null;
}

/** The variable a key file is configured by: its errors name it. */
export type KeyVariable = 'AUTHORITY_KEYPAIR_PATH' | 'REC_VALIDATOR_KEYPAIR_PATH';

/**
 * A key file must be private, as ssh requires of its keys: owned by the user running the service and neither
 * group- nor world-readable (nor writable). `uid` null: a platform without owners (Windows).
 */
export function checkKeyFileMode(path: string, st: { mode: number; uid: number }, uid: number | null, variable: KeyVariable = 'AUTHORITY_KEYPAIR_PATH'): void {
  if (uid !== null && st.uid !== uid) {
    throw new ConfigError(`${variable}: ${path} is owned by uid ${st.uid}, not by the user running the service (uid ${uid}): chown it to that user and chmod 600 it`);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new ConfigError(
      `${variable}: permissions ${(st.mode & 0o777).toString(8).padStart(4, '0')} for ${path} are too open: the key must not be accessible by others; run chmod 600 ${path}`,
    );
  }
}

/**
 * Read a Solana CLI JSON keypair file; the error names the variable and the file, never its contents.
 * `checkMode` false only for the committed localnet keys in embedded mode (README).
 */
export function readKeypairFile(path: string, opts: { checkMode?: boolean; variable?: KeyVariable } = {}): Keypair {
  const variable = opts.variable ?? 'AUTHORITY_KEYPAIR_PATH';
  let raw: string;
  try {
    if (opts.checkMode ?? true) checkKeyFileMode(path, statSync(path), process.getuid?.() ?? null, variable);
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${variable}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const bytes = JSON.parse(raw) as unknown;
    if (!Array.isArray(bytes) || bytes.length !== 64) throw new Error();
    return Keypair.fromSecretKey(Uint8Array.from(bytes as number[]));
  } catch {
    throw new ConfigError(`${variable}: ${path} is not a Solana CLI keypair file (a JSON array of 64 numbers)`);
  }
}

type RawTokenInfo = {
  authority: PublicKey;
  mint: PublicKey;
  total_supply: { toString(): string };
  registry_authority?: PublicKey;
  rec_validators?: PublicKey[];
  rec_validators_count?: number;
};

export function decodeTokenInfo(idl: Idl, data: Buffer): TokenInfo {
  // The raw coder keeps the IDL's snake_case field names.
  const d = new BorshAccountsCoder(idl).decode('TokenInfo', data) as RawTokenInfo;
  return {
    authority: d.authority,
    mint: d.mint,
    totalSupply: BigInt(d.total_supply.toString()),
    registryAuthority: d.registry_authority ?? null,
    recValidators: (d.rec_validators ?? []).slice(0, d.rec_validators_count ?? 0),
  };
}

/** Whether `key` may co-sign mints: registered in token_info, or not needed (the authority is the registry's). */
export function coSignerAccepted(info: TokenInfo, authority: PublicKey, key: PublicKey): boolean {
  if (info.registryAuthority?.equals(authority)) return true;
  return info.recValidators.some((v) => v.equals(key));
}

/** The mint named by the program's token_info (for tools that need no authority). */
export async function readMintAddress(connection: Connection, programIdText: string, idl: Idl = loadIdl(undefined, programIdText)): Promise<string> {
  const programId = new PublicKey(programIdText);
  const info = await connection.getAccountInfo(tokenInfoAddress(programId), 'confirmed');
  if (!info || !info.owner.equals(programId)) throw new ChainSetupError(`token_info of program ${programIdText} does not exist on this chain`);
  return decodeTokenInfo(idl, info.data).mint.toBase58();
}

export interface ChainExpectation {
  programId: PublicKey;
  program: ProgramInterface;
  /** Where the IDL came from (named in a mismatch). */
  idlPath: string;
  authority: PublicKey;
  /** The REC validator's key (required when the program's mints are co-signed). */
  recValidator: PublicKey | null;
}

/**
 * Refuse to start unless the program, its token_info and mint exist, token_info has the size the IDL lays out
 * (0.1.0 and 0.1.1 share the discriminator: only the size tells them apart), `authority` is token_info's
 * authority and, where mints are co-signed, the REC validator is one token_info registers.
 */
export async function checkChain(connection: Connection, want: ChainExpectation): Promise<ChainIdentity> {
  const { programId, program } = want;
  const tokenInfo = tokenInfoAddress(programId);
  let deployed, info;
  try {
    [deployed, info] = await connection.getMultipleAccountsInfo([programId, tokenInfo], 'confirmed');
  } catch (e) {
    throw new ChainSetupError(`cannot reach the Solana RPC: ${(e as Error).message}`, { cause: e });
  }
  if (!deployed?.executable) throw new ChainSetupError(`program ${programId.toBase58()} is not deployed on this chain (ENERGY_TOKEN_PROGRAM_ID)`);
  if (!info || !info.owner.equals(programId)) {
    throw new ChainSetupError(`token_info ${tokenInfo.toBase58()} of program ${programId.toBase58()} does not exist; the program is not initialised`);
  }
  if (info.data.length !== program.tokenInfoSize) {
    throw new ChainSetupError(
      `token_info ${tokenInfo.toBase58()} is ${info.data.length} bytes, but ENERGY_TOKEN_IDL (${want.idlPath}, energy_token ${program.version}) lays it out in ${program.tokenInfoSize}: point ENERGY_TOKEN_IDL at the IDL of the program deployed at ${programId.toBase58()} (programs-idl/ holds 0.1.0: 288 bytes, 0.1.1: 320 bytes)`,
    );
  }
  const decoded = decodeTokenInfo(program.idl, info.data);
  if (!decoded.authority.equals(want.authority)) {
    throw new ChainSetupError(
      `the authority keypair (${want.authority.toBase58()}) is not token_info's authority (${decoded.authority.toBase58()}); check AUTHORITY_KEYPAIR_PATH`,
    );
  }
  if (program.coSigned) {
    if (!want.recValidator) {
      throw new ConfigError(`REC_VALIDATOR_KEYPAIR_PATH is required: energy_token ${program.version} mints only with a registered REC validator's co-signature`);
    }
    if (!coSignerAccepted(decoded, want.authority, want.recValidator)) {
      const registered = decoded.recValidators.map((k) => k.toBase58()).join(', ') || 'none';
      throw new ConfigError(
        `REC_VALIDATOR_KEYPAIR_PATH: ${want.recValidator.toBase58()} is not a REC validator token_info registers (registered: ${registered}); mints would fail with RecValidatorNotFound (6008): configure a registered validator's key, or have the governance authority add this one (add_rec_validator)`,
      );
    }
  }
  const mint = await connection.getAccountInfo(decoded.mint, 'confirmed');
  if (!mint || !mint.owner.equals(TOKEN_2022_PROGRAM_ID) || mint.data.length < 82) {
    throw new ChainSetupError(`mint ${decoded.mint.toBase58()} named by token_info is not a Token-2022 mint on this chain`);
  }
  return { programId, tokenInfo, mint: decoded.mint, decimals: mint.data[44]!, genesisHash: await connection.getGenesisHash(), registryAuthority: decoded.registryAuthority };
}
