// The RPC connection the service uses: the configured validator, or the project's own local chain.
import { resolve } from 'node:path';
import { Connection } from '@solana/web3.js';
import { startLocalnet, type Localnet } from '../../anchor-localnet/server.js';
import { AUTHORITY_KEYPAIR_PATH } from '../../anchor-localnet/paths.js';
import { type Config, deriveWsUrl } from '../config.js';
import { ChainSetupError } from '../errors.js';
import { displayUrl } from '../log.js';

export interface ChainEndpoint {
  connection: Connection;
  rpcUrl: string;
  wsUrl: string;
  authorityKeypairPath: string;
  /** The committed localnet key in embedded mode: exempt from the key file's permission check (README). */
  committedLocalnetKey: boolean;
  /** Set when the service started its own chain. */
  localnet: Localnet | null;
  close(): Promise<void>;
}

export async function connectChain(config: Config): Promise<ChainEndpoint> {
  if (config.SOLANA_RPC_URL) {
    const wsUrl = config.SOLANA_WS_URL ?? deriveWsUrl(config.SOLANA_RPC_URL);
    return {
      connection: new Connection(config.SOLANA_RPC_URL, { commitment: 'confirmed', wsEndpoint: wsUrl }),
      rpcUrl: config.SOLANA_RPC_URL,
      wsUrl,
      authorityKeypairPath: config.AUTHORITY_KEYPAIR_PATH!,
      committedLocalnetKey: false,
      localnet: null,
      close: async () => {},
    };
  }
  const localnet = await startLocalnet({ port: 0, slotMs: config.LOCALNET_SLOT_MS, ledger: config.LOCALNET_LEDGER_DIR });
  return {
    connection: new Connection(localnet.url, { commitment: 'confirmed', wsEndpoint: localnet.wsUrl }),
    rpcUrl: localnet.url,
    wsUrl: localnet.wsUrl,
    authorityKeypairPath: config.AUTHORITY_KEYPAIR_PATH ?? AUTHORITY_KEYPAIR_PATH,
    committedLocalnetKey: resolve(config.AUTHORITY_KEYPAIR_PATH ?? AUTHORITY_KEYPAIR_PATH) === resolve(AUTHORITY_KEYPAIR_PATH),
    localnet,
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
