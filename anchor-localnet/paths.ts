// Where the local chain's committed artefacts live.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LOCALNET_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(LOCALNET_DIR, '..');
export const PROGRAM_SOURCE = join(LOCALNET_DIR, 'program', 'energy_token.c');
export const PROGRAMS_DIR = join(LOCALNET_DIR, 'programs');
export const ACCOUNTS_DIR = join(LOCALNET_DIR, 'accounts');
export const AUTHORITY_KEYPAIR_PATH = join(LOCALNET_DIR, 'keys', 'authority.json');
export const IDL_PATH = join(REPO_ROOT, 'programs-idl', 'energy_token-0.1.0.json');

export const programSoPath = (programId: string): string => join(PROGRAMS_DIR, `${programId}.so`);

export function readIdl(): { address: string } & Record<string, unknown> {
  return JSON.parse(readFileSync(IDL_PATH, 'utf8'));
}
