// The energy_token program as a test sees it: its IDL, addresses and an Anchor client.
import { readFileSync } from 'node:fs';
import { AnchorProvider, Program, Wallet, type Idl } from '@coral-xyz/anchor';
import { type Connection, Keypair, PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAssociatedTokenAddressSync } from '@solana/spl-token';
import { localnetAuthority, mintAddress, tokenInfoAddress } from '../../anchor-localnet/fixtures.js';
import { IDL_PATH } from '../../anchor-localnet/paths.js';

export const idl = (): Idl => JSON.parse(readFileSync(IDL_PATH, 'utf8')) as Idl;
export const PROGRAM_ID = new PublicKey(idl().address);
export const TOKEN_INFO = tokenInfoAddress(PROGRAM_ID);
export const MINT = mintAddress(PROGRAM_ID);
export const authority = (): Keypair => localnetAuthority();

export function anchorProgram(connection: Connection, signer: Keypair = authority()): Program {
  const provider = new AnchorProvider(connection, new Wallet(signer), { commitment: 'confirmed', preflightCommitment: 'confirmed' });
  return new Program(idl(), provider);
}

export const ataOf = (owner: PublicKey, mint = MINT): PublicKey => getAssociatedTokenAddressSync(mint, owner, false, TOKEN_2022_PROGRAM_ID);
