// Genesis accounts for the local chain, in the JSON format `solana-test-validator --account` reads,
// so the same files start LiteSVM here and a real validator elsewhere.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Keypair, PublicKey, SystemProgram } from '@solana/web3.js';
import { MINT_SIZE, MintLayout, TOKEN_2022_PROGRAM_ID } from '@solana/spl-token';
import { ACCOUNTS_DIR, AUTHORITY_KEYPAIR_PATH } from './paths.js';

export interface AccountFixture {
  pubkey: string;
  account: {
    lamports: number;
    data: [string, 'base64'];
    owner: string;
    executable: boolean;
    rentEpoch: number;
    space: number;
  };
}

export const TOKEN_INFO_SEED = 'token_info_2022';
export const MINT_SEED = 'mint_2022';
export const TOKEN_DECIMALS = 9;
export const TOKEN_INFO_DISCRIMINATOR = Uint8Array.from([109, 162, 52, 125, 77, 166, 37, 202]);
export const TOKEN_INFO_SIZE = 8 + 280;
/** 1,000,000 SOL: enough for any test or demo run. */
export const AUTHORITY_GENESIS_LAMPORTS = 1_000_000 * 1_000_000_000;
/** Fixed so that regenerating the fixtures gives the same bytes. */
const CREATED_AT = 1_767_225_600n; // 2026-01-01T00:00:00Z

/** Rent-exempt minimum with the default rent (3,480 lamports per byte-year, 2 years, 128 bytes overhead). */
export const rentExempt = (space: number): number => (space + 128) * 3480 * 2;

export const tokenInfoAddress = (programId: PublicKey): PublicKey =>
  PublicKey.findProgramAddressSync([Buffer.from(TOKEN_INFO_SEED)], programId)[0];
export const mintAddress = (programId: PublicKey): PublicKey =>
  PublicKey.findProgramAddressSync([Buffer.from(MINT_SEED)], programId)[0];

export function encodeTokenInfo(f: {
  authority: PublicKey;
  registryProgram: PublicKey;
  mint: PublicKey;
  totalSupply: bigint;
  createdAt: bigint;
}): Buffer {
  const data = Buffer.alloc(TOKEN_INFO_SIZE);
  data.set(TOKEN_INFO_DISCRIMINATOR, 0);
  f.authority.toBuffer().copy(data, 8);
  f.registryProgram.toBuffer().copy(data, 40);
  f.mint.toBuffer().copy(data, 72);
  data.writeBigUInt64LE(f.totalSupply, 104);
  data.writeBigInt64LE(f.createdAt, 112);
  return data; // rec_validators, their count and the padding stay zero
}

export function encodeMint(mintAuthority: PublicKey, supply = 0n): Buffer {
  const data = Buffer.alloc(MINT_SIZE);
  MintLayout.encode(
    {
      mintAuthorityOption: 1,
      mintAuthority,
      supply,
      decimals: TOKEN_DECIMALS,
      isInitialized: true,
      freezeAuthorityOption: 0,
      freezeAuthority: PublicKey.default,
    },
    data,
  );
  return data;
}

export function accountFixture(pubkey: PublicKey, owner: PublicKey, data: Uint8Array, lamports = rentExempt(data.length)): AccountFixture {
  return {
    pubkey: pubkey.toBase58(),
    account: {
      lamports,
      data: [Buffer.from(data).toString('base64'), 'base64'],
      owner: owner.toBase58(),
      executable: false,
      rentEpoch: 0,
      space: data.length,
    },
  };
}

export function readKeypair(path: string): Keypair {
  return Keypair.fromSecretKey(Uint8Array.from(JSON.parse(readFileSync(path, 'utf8')) as number[]));
}

/** The committed localnet-only authority; created once if missing. */
export function localnetAuthority(): Keypair {
  if (!existsSync(AUTHORITY_KEYPAIR_PATH)) {
    const kp = Keypair.generate();
    writeFileSync(AUTHORITY_KEYPAIR_PATH, `${JSON.stringify(Array.from(kp.secretKey))}\n`);
  }
  return readKeypair(AUTHORITY_KEYPAIR_PATH);
}

/** The genesis accounts for a program id: token_info, its mint, and the funded authority. */
export function genesisFixtures(programId: PublicKey, authority: PublicKey): Record<string, AccountFixture> {
  const tokenInfo = tokenInfoAddress(programId);
  const mint = mintAddress(programId);
  return {
    'token_info.json': accountFixture(
      tokenInfo,
      programId,
      encodeTokenInfo({ authority, registryProgram: PublicKey.default, mint, totalSupply: 0n, createdAt: CREATED_AT }),
    ),
    'mint.json': accountFixture(mint, TOKEN_2022_PROGRAM_ID, encodeMint(tokenInfo)),
    'authority.json': accountFixture(authority, SystemProgram.programId, new Uint8Array(0), AUTHORITY_GENESIS_LAMPORTS),
  };
}

export const fixtureJson = (f: AccountFixture): string => `${JSON.stringify(f, null, 2)}\n`;

export function writeFixtures(programId: string, dir = ACCOUNTS_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  const fixtures = genesisFixtures(new PublicKey(programId), localnetAuthority().publicKey);
  return Object.entries(fixtures).map(([name, f]) => {
    const path = join(dir, name);
    writeFileSync(path, fixtureJson(f));
    return path;
  });
}

export function readFixtures(dir = ACCOUNTS_DIR): AccountFixture[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as AccountFixture);
}
