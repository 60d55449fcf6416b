// The chain every chain test stands on: the in-process localnet on free ports, or a real
// solana-test-validator named by TEST_SOLANA_RPC_URL (never SOLANA_RPC_URL, so a developer's devnet URL
// cannot leak into tests). Tests that need the in-process hooks skip against a real validator.
import { chmodSync, copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@solana/web3.js';
import { AUTHORITY_KEYPAIR_PATH, REC_VALIDATOR_KEYPAIR_PATH } from '../../anchor-localnet/paths.js';
import { startLocalnet, type Localnet, type LocalnetOptions } from '../../anchor-localnet/server.js';

export interface TestChain {
  connection: Connection;
  url: string;
  wsUrl: string;
  /** Present only for the in-process localnet. */
  localnet: Localnet | null;
  stop(): Promise<void>;
}

export const externalRpcUrl = (): string | undefined => process.env.TEST_SOLANA_RPC_URL || undefined;

/** Derives the PubSub URL a validator serves (HTTP port + 1). */
export function wsUrlFor(httpUrl: string): string {
  const u = new URL(httpUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  if (u.port) u.port = String(Number(u.port) + 1);
  return u.toString().replace(/\/$/, '');
}

export async function startTestChain(opts: LocalnetOptions = {}): Promise<TestChain> {
  const external = externalRpcUrl();
  if (external) {
    const wsUrl = process.env.TEST_SOLANA_WS_URL || wsUrlFor(external);
    return { connection: new Connection(external, { commitment: 'confirmed', wsEndpoint: wsUrl }), url: external, wsUrl, localnet: null, stop: async () => {} };
  }
  const localnet = await startLocalnet({ slotMs: 50, ...opts });
  const connection = new Connection(localnet.url, { commitment: 'confirmed', wsEndpoint: localnet.wsUrl });
  return { connection, url: localnet.url, wsUrl: localnet.wsUrl, localnet, stop: () => localnet.stop() };
}

/** For tests that need the in-process hooks: says why it skips against a real validator. */
export function hooksOrSkip(chain: TestChain, what: string): Localnet | null {
  if (!chain.localnet) {
    process.stdout.write(`skipped: "${what}" needs the in-process localnet's test hooks; TEST_SOLANA_RPC_URL points at a real validator\n`);
  }
  return chain.localnet;
}

/**
 * The committed localnet authority key, copied to a private file (mode 600): outside embedded mode the
 * service refuses a key file that others can read, and the committed one is checked out 644.
 */
export const privateAuthorityKey = (): string => privateCopy(AUTHORITY_KEYPAIR_PATH);

/** The committed localnet REC validator key (registered in the 0.1.1 genesis), copied to a private file. */
export const privateRecValidatorKey = (): string => privateCopy(REC_VALIDATOR_KEYPAIR_PATH);

/** A key file copied to a private file (mode 600), as the service wants its keys outside embedded mode. */
export function privateCopy(keyPath: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'key-')), 'key.json');
  copyFileSync(keyPath, path);
  chmodSync(path, 0o600);
  return path;
}
