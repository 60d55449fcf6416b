// Where the local chain's committed artefacts live. The energy_token program exists in two versions
// (its interface as published, programs-idl/energy_token-<version>.json); each has its own C source,
// built program and genesis accounts:
//   anchor-localnet/program/energy_token-<version>.c
//   anchor-localnet/programs/<version>/<programId>.so
//   anchor-localnet/accounts/<version>/*.json
// The localnet keys (anchor-localnet/keys/) are shared by both versions.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LOCALNET_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(LOCALNET_DIR, '..');

export const PROGRAM_VERSIONS = ['0.1.0', '0.1.1'] as const;
export type ProgramVersion = (typeof PROGRAM_VERSIONS)[number];
/** The version GridTokenX deploys today. */
export const DEFAULT_PROGRAM_VERSION: ProgramVersion = '0.1.1';

export const isProgramVersion = (v: string): v is ProgramVersion => (PROGRAM_VERSIONS as readonly string[]).includes(v);

export const IDL_DIR = join(REPO_ROOT, 'programs-idl');
export const PROGRAM_SOURCE_DIR = join(LOCALNET_DIR, 'program');
export const PROGRAMS_DIR = join(LOCALNET_DIR, 'programs');
export const ACCOUNTS_DIR = join(LOCALNET_DIR, 'accounts');
export const KEYS_DIR = join(LOCALNET_DIR, 'keys');

/** The localnet authority: token_info.authority in both versions' genesis, and their fee payer. */
export const AUTHORITY_KEYPAIR_PATH = join(KEYS_DIR, 'authority.json');
/** 0.1.1: the REC validator registered in token_info.rec_validators[0]; co-signs mint_tokens_direct. */
export const REC_VALIDATOR_KEYPAIR_PATH = join(KEYS_DIR, 'rec_validator.json');
/** 0.1.1: the governance authority (governance_config bytes 8..40); adds and removes REC validators. */
export const GOVERNANCE_KEYPAIR_PATH = join(KEYS_DIR, 'governance.json');
/** 0.1.1: token_info.registry_authority (a mint signed by it needs no REC co-signature). */
export const REGISTRY_AUTHORITY_KEYPAIR_PATH = join(KEYS_DIR, 'registry_authority.json');

export const idlPath = (version: ProgramVersion = DEFAULT_PROGRAM_VERSION): string => join(IDL_DIR, `energy_token-${version}.json`);
export const programSourcePath = (version: ProgramVersion = DEFAULT_PROGRAM_VERSION): string => join(PROGRAM_SOURCE_DIR, `energy_token-${version}.c`);
export const programsDir = (version: ProgramVersion = DEFAULT_PROGRAM_VERSION): string => join(PROGRAMS_DIR, version);
export const accountsDir = (version: ProgramVersion = DEFAULT_PROGRAM_VERSION): string => join(ACCOUNTS_DIR, version);

export interface EnergyTokenIdl extends Record<string, unknown> {
  address: string;
  metadata: { name: string; version: string } & Record<string, unknown>;
}

export function readIdl(version: ProgramVersion = DEFAULT_PROGRAM_VERSION): EnergyTokenIdl {
  return JSON.parse(readFileSync(idlPath(version), 'utf8')) as EnergyTokenIdl;
}

/** The program id a version is deployed at (its IDL's address). */
export const programIdOf = (version: ProgramVersion = DEFAULT_PROGRAM_VERSION): string => readIdl(version).address;

/** The committed program binary of a version. */
export const programSoPath = (version: ProgramVersion = DEFAULT_PROGRAM_VERSION): string => join(programsDir(version), `${programIdOf(version)}.so`);

/** Which of the supported versions an IDL describes (its metadata.version); throws for any other. */
export function versionOfIdl(idl: { metadata?: { version?: unknown } }): ProgramVersion {
  const v = String(idl.metadata?.version);
  if (!isProgramVersion(v)) throw new Error(`energy_token IDL version ${v} is not one the local chain has (${PROGRAM_VERSIONS.join(', ')})`);
  return v;
}
