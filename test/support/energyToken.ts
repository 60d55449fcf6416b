// The energy_token program as a test sees it: its IDL, addresses and an Anchor client, per version
// (default: the version GridTokenX deploys, 0.1.1; the chain must run the same one).
import { AnchorProvider, Program, Wallet, type Idl } from '@coral-xyz/anchor';
import { type Connection, Keypair, PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAssociatedTokenAddressSync } from '@solana/spl-token';
import {
  localnetAuthority,
  localnetGovernance,
  localnetRecValidator,
  localnetRegistryAuthority,
  mintAddress,
  tokenInfoAddress,
} from '../../anchor-localnet/fixtures.js';
import { DEFAULT_PROGRAM_VERSION, type ProgramVersion, readIdl } from '../../anchor-localnet/paths.js';

export const idl = (version: ProgramVersion = DEFAULT_PROGRAM_VERSION): Idl => readIdl(version) as unknown as Idl;
export const programIdOf = (version: ProgramVersion = DEFAULT_PROGRAM_VERSION): PublicKey => new PublicKey(idl(version).address);

/** The program id, token_info and mint of a version's deployment. */
export function addresses(version: ProgramVersion = DEFAULT_PROGRAM_VERSION): { programId: PublicKey; tokenInfo: PublicKey; mint: PublicKey } {
  const programId = programIdOf(version);
  return { programId, tokenInfo: tokenInfoAddress(programId), mint: mintAddress(programId) };
}

export const PROGRAM_ID = programIdOf();
export const TOKEN_INFO = tokenInfoAddress(PROGRAM_ID);
export const MINT = mintAddress(PROGRAM_ID);
export const authority = (): Keypair => localnetAuthority();
export const recValidator = (): Keypair => localnetRecValidator();
export const governance = (): Keypair => localnetGovernance();
export const registryAuthority = (): Keypair => localnetRegistryAuthority();

export function anchorProgram(connection: Connection, signer: Keypair = authority(), version: ProgramVersion = DEFAULT_PROGRAM_VERSION): Program {
  const provider = new AnchorProvider(connection, new Wallet(signer), { commitment: 'confirmed', preflightCommitment: 'confirmed' });
  return new Program(idl(version), provider);
}

export const ataOf = (owner: PublicKey, mint = MINT): PublicKey => getAssociatedTokenAddressSync(mint, owner, false, TOKEN_2022_PROGRAM_ID);
