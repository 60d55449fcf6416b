// The energy_token program as the service sees it: addresses, the TokenInfo account, and the start-up
// check that the chain holds what the configuration promises.
import { readFileSync, statSync } from 'node:fs';
import { BorshAccountsCoder, type Idl } from '@coral-xyz/anchor';
import { type Connection, Keypair, PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID } from '@solana/spl-token';
import { ChainSetupError, ConfigError } from '../errors.js';

export const IDL_URL = new URL('../../programs-idl/energy_token-0.1.0.json', import.meta.url);
export const loadIdl = (programId?: string): Idl => {
  const idl = JSON.parse(readFileSync(IDL_URL, 'utf8')) as Idl;
  return programId ? { ...idl, address: programId } : idl;
};

export const tokenInfoAddress = (programId: PublicKey): PublicKey =>
  PublicKey.findProgramAddressSync([Buffer.from('token_info_2022')], programId)[0];

export interface TokenInfo {
  authority: PublicKey;
  mint: PublicKey;
  totalSupply: bigint;
}

export interface ChainIdentity {
  programId: PublicKey;
  tokenInfo: PublicKey;
  mint: PublicKey;
  decimals: number;
  genesisHash: string;
}

/**
 * The authority key file must be private, as ssh requires of its keys: owned by the user running the service
 * and neither group- nor world-readable (nor writable). `uid` null: a platform without owners (Windows).
 */
export function checkKeyFileMode(path: string, st: { mode: number; uid: number }, uid: number | null): void {
  if (uid !== null && st.uid !== uid) {
    throw new ConfigError(`AUTHORITY_KEYPAIR_PATH: ${path} is owned by uid ${st.uid}, not by the user running the service (uid ${uid}): chown it to that user and chmod 600 it`);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new ConfigError(
      `AUTHORITY_KEYPAIR_PATH: permissions ${(st.mode & 0o777).toString(8).padStart(4, '0')} for ${path} are too open: the authority key must not be accessible by others; run chmod 600 ${path}`,
    );
  }
}

/**
 * Read a Solana CLI JSON keypair file; the error names the file, never its contents. `checkMode` false only for
 * the committed localnet key in embedded mode (README).
 */
export function readKeypairFile(path: string, opts: { checkMode?: boolean } = {}): Keypair {
  let raw: string;
  try {
    if (opts.checkMode ?? true) checkKeyFileMode(path, statSync(path), process.getuid?.() ?? null);
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`AUTHORITY_KEYPAIR_PATH: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const bytes = JSON.parse(raw) as unknown;
    if (!Array.isArray(bytes) || bytes.length !== 64) throw new Error();
    return Keypair.fromSecretKey(Uint8Array.from(bytes as number[]));
  } catch {
    throw new ConfigError(`AUTHORITY_KEYPAIR_PATH: ${path} is not a Solana CLI keypair file (a JSON array of 64 numbers)`);
  }
}

export function decodeTokenInfo(idl: Idl, data: Buffer): TokenInfo {
  // The raw coder keeps the IDL's snake_case field names.
  const decoded = new BorshAccountsCoder(idl).decode('TokenInfo', data) as { authority: PublicKey; mint: PublicKey; total_supply: { toString(): string } };
  return { authority: decoded.authority, mint: decoded.mint, totalSupply: BigInt(decoded.total_supply.toString()) };
}

/** The mint named by the program's token_info (for tools that need no authority). */
export async function readMintAddress(connection: Connection, programIdText: string): Promise<string> {
  const programId = new PublicKey(programIdText);
  const info = await connection.getAccountInfo(tokenInfoAddress(programId), 'confirmed');
  if (!info || !info.owner.equals(programId)) throw new ChainSetupError(`token_info of program ${programIdText} does not exist on this chain`);
  return decodeTokenInfo(loadIdl(programIdText), info.data).mint.toBase58();
}

/** Refuse to start unless the program, its token_info and mint exist and `authority` is token_info's authority. */
export async function checkChain(connection: Connection, programIdText: string, authority: PublicKey): Promise<ChainIdentity> {
  const programId = new PublicKey(programIdText);
  const idl = loadIdl(programIdText);
  const tokenInfo = tokenInfoAddress(programId);
  let program, info;
  try {
    [program, info] = await connection.getMultipleAccountsInfo([programId, tokenInfo], 'confirmed');
  } catch (e) {
    throw new ChainSetupError(`cannot reach the Solana RPC: ${(e as Error).message}`, { cause: e });
  }
  if (!program?.executable) throw new ChainSetupError(`program ${programId.toBase58()} is not deployed on this chain (ENERGY_TOKEN_PROGRAM_ID)`);
  if (!info || !info.owner.equals(programId)) {
    throw new ChainSetupError(`token_info ${tokenInfo.toBase58()} of program ${programId.toBase58()} does not exist; the program is not initialised`);
  }
  const decoded = decodeTokenInfo(idl, info.data);
  if (!decoded.authority.equals(authority)) {
    throw new ChainSetupError(
      `the authority keypair (${authority.toBase58()}) is not token_info's authority (${decoded.authority.toBase58()}); check AUTHORITY_KEYPAIR_PATH`,
    );
  }
  const mint = await connection.getAccountInfo(decoded.mint, 'confirmed');
  if (!mint || !mint.owner.equals(TOKEN_2022_PROGRAM_ID) || mint.data.length < 82) {
    throw new ChainSetupError(`mint ${decoded.mint.toBase58()} named by token_info is not a Token-2022 mint on this chain`);
  }
  return { programId, tokenInfo, mint: decoded.mint, decimals: mint.data[44]!, genesisHash: await connection.getGenesisHash() };
}
