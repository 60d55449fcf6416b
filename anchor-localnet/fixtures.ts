// Genesis accounts for the local chain, in the JSON format `solana-test-validator --account` reads,
// so the same files start LiteSVM here and a real validator elsewhere.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Keypair, PublicKey, SystemProgram } from '@solana/web3.js';
import { MINT_SIZE, MintLayout, TOKEN_2022_PROGRAM_ID } from '@solana/spl-token';
import {
  accountsDir,
  AUTHORITY_KEYPAIR_PATH,
  DEFAULT_PROGRAM_VERSION,
  GOVERNANCE_KEYPAIR_PATH,
  type ProgramVersion,
  programIdOf,
  REC_VALIDATOR_KEYPAIR_PATH,
  REGISTRY_AUTHORITY_KEYPAIR_PATH,
} from './paths.js';

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
/** TokenInfo with its discriminator: 0.1.0 has no registry_authority; the discriminator is the same. */
export const TOKEN_INFO_SIZE_0_1_0 = 8 + 280;
export const TOKEN_INFO_SIZE_0_1_1 = 8 + 312;
export const tokenInfoSize = (version: ProgramVersion): number => (version === '0.1.0' ? TOKEN_INFO_SIZE_0_1_0 : TOKEN_INFO_SIZE_0_1_1);
export const MAX_REC_VALIDATORS = 5;
/** 1,000,000 SOL: enough for any test or demo run. */
export const AUTHORITY_GENESIS_LAMPORTS = 1_000_000 * 1_000_000_000;
/** Fixed so that regenerating the fixtures gives the same bytes. */
const CREATED_AT = 1_767_225_600n; // 2026-01-01T00:00:00Z

/** GridTokenX's governance program: owner of the governance_config PDA that 0.1.1 reads. */
export const GOVERNANCE_PROGRAM_ID = new PublicKey('FokVuBSPXP11aeL7VZWd8n8aVAhWqVpyPZETToSxdvTS');
export const GOVERNANCE_CONFIG_SEED = 'governance_config';
/** sha256("account:GovernanceConfig")[0..8]. */
export const GOVERNANCE_CONFIG_DISCRIMINATOR = Uint8Array.from([81, 63, 124, 107, 210, 100, 145, 70]);
/** The governance program's GovernanceConfig (Borsh): 8 + GovernanceConfig::LEN (405). */
export const GOVERNANCE_CONFIG_SIZE = 8 + 405;

/** Rent-exempt minimum with the default rent (3,480 lamports per byte-year, 2 years, 128 bytes overhead). */
export const rentExempt = (space: number): number => (space + 128) * 3480 * 2;

export const tokenInfoAddress = (programId: PublicKey): PublicKey =>
  PublicKey.findProgramAddressSync([Buffer.from(TOKEN_INFO_SEED)], programId)[0];
export const mintAddress = (programId: PublicKey): PublicKey =>
  PublicKey.findProgramAddressSync([Buffer.from(MINT_SEED)], programId)[0];
export const governanceConfigAddress = (governanceProgram: PublicKey = GOVERNANCE_PROGRAM_ID): PublicKey =>
  PublicKey.findProgramAddressSync([Buffer.from(GOVERNANCE_CONFIG_SEED)], governanceProgram)[0];

export interface TokenInfoFields {
  authority: PublicKey;
  /** 0.1.1 only (0.1.0 has no such field). */
  registryAuthority?: PublicKey;
  registryProgram: PublicKey;
  mint: PublicKey;
  totalSupply: bigint;
  createdAt: bigint;
  /** 0.1.1: at most MAX_REC_VALIDATORS (0.1.0 has the array too, unused by its mint). */
  recValidators?: PublicKey[];
}

/** TokenInfo as the given version lays it out (zero-copy, repr C, after the 8-byte discriminator). */
export function encodeTokenInfo(f: TokenInfoFields, version: ProgramVersion = DEFAULT_PROGRAM_VERSION): Buffer {
  const data = Buffer.alloc(tokenInfoSize(version));
  const validators = f.recValidators ?? [];
  if (validators.length > MAX_REC_VALIDATORS) throw new Error(`TokenInfo holds at most ${MAX_REC_VALIDATORS} REC validators`);
  data.set(TOKEN_INFO_DISCRIMINATOR, 0);
  let at = 8;
  const key = (k: PublicKey) => {
    k.toBuffer().copy(data, at);
    at += 32;
  };
  key(f.authority);
  if (version !== '0.1.0') key(f.registryAuthority ?? PublicKey.default);
  key(f.registryProgram);
  key(f.mint);
  data.writeBigUInt64LE(f.totalSupply, at);
  data.writeBigInt64LE(f.createdAt, at + 8);
  at += 16;
  validators.forEach((v, i) => v.toBuffer().copy(data, at + 32 * i));
  data[at + 32 * MAX_REC_VALIDATORS] = validators.length;
  return data; // the padding stays zero
}

/** Reads a TokenInfo of either version (told apart by size, as the discriminator is shared). */
export function decodeTokenInfo(data: Uint8Array): TokenInfoFields & { version: ProgramVersion; recValidators: PublicKey[] } {
  const b = Buffer.from(data);
  const version: ProgramVersion = b.length >= TOKEN_INFO_SIZE_0_1_1 ? '0.1.1' : '0.1.0';
  let at = 8;
  const key = () => {
    const k = new PublicKey(b.subarray(at, at + 32));
    at += 32;
    return k;
  };
  const authority = key();
  const registryAuthority = version === '0.1.0' ? undefined : key();
  const registryProgram = key();
  const mint = key();
  const totalSupply = b.readBigUInt64LE(at);
  const createdAt = b.readBigInt64LE(at + 8);
  at += 16;
  const count = b[at + 32 * MAX_REC_VALIDATORS]!;
  const recValidators = Array.from({ length: Math.min(count, MAX_REC_VALIDATORS) }, (_, i) => new PublicKey(b.subarray(at + 32 * i, at + 32 * i + 32)));
  return { version, authority, registryAuthority, registryProgram, mint, totalSupply, createdAt, recValidators };
}

/**
 * The governance program's GovernanceConfig with `authority` at bytes 8..40 (all 0.1.1 reads) and the
 * rest set as an initialized governance would have it.
 */
export function encodeGovernanceConfig(authority: PublicKey, createdAt = CREATED_AT): Buffer {
  const data = Buffer.alloc(GOVERNANCE_CONFIG_SIZE);
  data.set(GOVERNANCE_CONFIG_DISCRIMINATOR, 0);
  authority.toBuffer().copy(data, 8);
  data.write('REC', 40, 'latin1'); // authority_name [u8; 64]
  data[104] = 3; // name_len
  data[234] = 1; // version
  data[236] = 1; // erc_validation_enabled
  data.writeBigUInt64LE(1n, 237); // min_energy_amount (kWh)
  data.writeBigUInt64LE(1_000_000n, 245); // max_erc_amount (kWh)
  data.writeBigInt64LE(31_536_000n, 253); // erc_validity_period: one year
  data.writeBigInt64LE(createdAt, 336); // created_at
  data.writeBigInt64LE(createdAt, 344); // last_updated
  return data;
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

/** A committed localnet-only key, created once if missing. */
function committedKey(path: string): Keypair {
  if (!existsSync(path)) {
    const kp = Keypair.generate();
    writeFileSync(path, `${JSON.stringify(Array.from(kp.secretKey))}\n`);
  }
  return readKeypair(path);
}

/** token_info.authority of both versions' genesis, and the fee payer of tests and the service. */
export const localnetAuthority = (): Keypair => committedKey(AUTHORITY_KEYPAIR_PATH);
/** 0.1.1: the REC validator registered at genesis (co-signs mint_tokens_direct). */
export const localnetRecValidator = (): Keypair => committedKey(REC_VALIDATOR_KEYPAIR_PATH);
/** 0.1.1: the governance_config authority (adds and removes REC validators). */
export const localnetGovernance = (): Keypair => committedKey(GOVERNANCE_KEYPAIR_PATH);
/** 0.1.1: token_info.registry_authority (stands in for the registry program's signer). */
export const localnetRegistryAuthority = (): Keypair => committedKey(REGISTRY_AUTHORITY_KEYPAIR_PATH);

export interface GenesisKeys {
  recValidator: PublicKey;
  registryAuthority: PublicKey;
  governance: PublicKey;
}

const committedGenesisKeys = (): GenesisKeys => ({
  recValidator: localnetRecValidator().publicKey,
  registryAuthority: localnetRegistryAuthority().publicKey,
  governance: localnetGovernance().publicKey,
});

/**
 * The genesis accounts of a version for a program id: token_info, its mint and the funded authority;
 * for 0.1.1 token_info also names the registry authority and one registered REC validator, and the
 * governance program's governance_config names the governance authority.
 */
export function genesisFixtures(
  programId: PublicKey,
  authority: PublicKey,
  version: ProgramVersion = DEFAULT_PROGRAM_VERSION,
  keys: GenesisKeys = version === '0.1.0' ? { recValidator: PublicKey.default, registryAuthority: PublicKey.default, governance: PublicKey.default } : committedGenesisKeys(),
): Record<string, AccountFixture> {
  const tokenInfo = tokenInfoAddress(programId);
  const mint = mintAddress(programId);
  const fields: TokenInfoFields = { authority, registryProgram: PublicKey.default, mint, totalSupply: 0n, createdAt: CREATED_AT };
  const fixtures: Record<string, AccountFixture> = {
    'token_info.json': accountFixture(
      tokenInfo,
      programId,
      encodeTokenInfo(version === '0.1.0' ? fields : { ...fields, registryAuthority: keys.registryAuthority, recValidators: [keys.recValidator] }, version),
    ),
    'mint.json': accountFixture(mint, TOKEN_2022_PROGRAM_ID, encodeMint(tokenInfo)),
    'authority.json': accountFixture(authority, SystemProgram.programId, new Uint8Array(0), AUTHORITY_GENESIS_LAMPORTS),
  };
  if (version !== '0.1.0') {
    fixtures['governance_config.json'] = accountFixture(governanceConfigAddress(), GOVERNANCE_PROGRAM_ID, encodeGovernanceConfig(keys.governance));
  }
  return fixtures;
}

export const fixtureJson = (f: AccountFixture): string => `${JSON.stringify(f, null, 2)}\n`;

/** Writes a version's genesis fixtures (at its IDL's program id, with the committed keys). */
export function writeFixtures(version: ProgramVersion, dir = accountsDir(version)): string[] {
  mkdirSync(dir, { recursive: true });
  const fixtures = genesisFixtures(new PublicKey(programIdOf(version)), localnetAuthority().publicKey, version);
  return Object.entries(fixtures).map(([name, f]) => {
    const path = join(dir, name);
    writeFileSync(path, fixtureJson(f));
    return path;
  });
}

/** The genesis accounts in a directory (default: the default version's). */
export function readFixtures(dir = accountsDir(DEFAULT_PROGRAM_VERSION)): AccountFixture[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as AccountFixture);
}
