// The RPC connection the service uses: the configured validator, or the project's own local chain.
import { resolve } from 'node:path';
import { Connection } from '@solana/web3.js';
import { type Config, deriveWsUrl } from '../config.js';
import { ChainSetupError, ConfigError } from '../errors.js';
import { displayUrl } from '../log.js';

export interface ChainEndpoint {
  connection: Connection;
  rpcUrl: string;
  wsUrl: string;
  authorityKeypairPath: string;
  /** The REC validator's key file (null: none configured; the program's interface says whether one is needed). */
  recValidatorKeypairPath: string | null;
  /** The committed localnet keys in embedded mode: exempt from the key files' permission check (README). */
  committedLocalnetKey: { authority: boolean; recValidator: boolean };
  /** Set when the service started its own chain. */
  localnet: { createdFresh: boolean } | null;
  close(): Promise<void>;
}

/**
 * The configured RPC, or (without SOLANA_RPC_URL) the embedded local chain running `programVersion` of the
 * energy_token program, the version of the IDL the service was given. The local chain is loaded only here,
 * and only then: a deployment with SOLANA_RPC_URL never loads it.
 */
export async function connectChain(config: Config, programVersion: string): Promise<ChainEndpoint> {
  if (config.SOLANA_RPC_URL) {
    const wsUrl = config.SOLANA_WS_URL ?? deriveWsUrl(config.SOLANA_RPC_URL);
    return {
      connection: new Connection(config.SOLANA_RPC_URL, { commitment: 'confirmed', wsEndpoint: wsUrl }),
      rpcUrl: config.SOLANA_RPC_URL,
      wsUrl,
      authorityKeypairPath: config.AUTHORITY_KEYPAIR_PATH!,
      recValidatorKeypairPath: config.REC_VALIDATOR_KEYPAIR_PATH ?? null,
      committedLocalnetKey: { authority: false, recValidator: false },
      localnet: null,
      close: async () => {},
    };
  }
  const [{ startLocalnet }, paths] = await Promise.all([import('../../anchor-localnet/server.js'), import('../../anchor-localnet/paths.js')]);
  const version = paths.PROGRAM_VERSIONS.find((v) => v === programVersion);
  if (!version) {
    throw new ConfigError(
      `ENERGY_TOKEN_IDL: the embedded local chain runs energy_token ${paths.PROGRAM_VERSIONS.join(' or ')}, not ${programVersion}: use one of programs-idl/, or set SOLANA_RPC_URL to a chain that runs it`,
    );
  }
  const localnet = await startLocalnet({ port: 0, slotMs: config.LOCALNET_SLOT_MS, ledger: config.LOCALNET_LEDGER_DIR, programVersion: version });
  const authorityPath = config.AUTHORITY_KEYPAIR_PATH ?? paths.AUTHORITY_KEYPAIR_PATH;
  const recValidatorPath = config.REC_VALIDATOR_KEYPAIR_PATH ?? paths.REC_VALIDATOR_KEYPAIR_PATH;
  return {
    connection: new Connection(localnet.url, { commitment: 'confirmed', wsEndpoint: localnet.wsUrl }),
    rpcUrl: localnet.url,
    wsUrl: localnet.wsUrl,
    authorityKeypairPath: authorityPath,
    recValidatorKeypairPath: recValidatorPath,
    committedLocalnetKey: {
      authority: resolve(authorityPath) === resolve(paths.AUTHORITY_KEYPAIR_PATH),
      recValidator: resolve(recValidatorPath) === resolve(paths.REC_VALIDATOR_KEYPAIR_PATH),
    },
    localnet: localnet.chain,
    close: () => localnet.stop(),
  };
}

/** A bounded first contact, so a wrong or dead RPC URL fails start-up at once with a clear message. */
export async function probeRpc(rpcUrl: string, timeoutMs = 5000): Promise<string> {
  try {
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'getGenesisHash' }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json()) as { result?: unknown };
    if (typeof body.result !== 'string') throw new Error(`unexpected answer (HTTP ${res.status})`);
    return body.result;
  } catch (e) {
    // fetch's own messages may quote the URL (with its key): shown as displayUrl gives it.
    const why = (e as Error).message.split(rpcUrl).join(displayUrl(rpcUrl));
    throw new ChainSetupError(`cannot reach the Solana RPC at ${displayUrl(rpcUrl)}: ${why}`);
  }
}
