// A minting engine wired to a test chain, with the localnet authority and the committed program (0.1.1: the
// committed REC validator co-signs, and every mint names the genesis registry authority).
import { Writable } from 'node:stream';
import type { Keypair, PublicKey } from '@solana/web3.js';
import { localnetRecValidator, localnetRegistryAuthority } from '../../anchor-localnet/fixtures.js';
import { makeMintChain, type MintChainDeps } from '../../src/chain/mintTransaction.js';
import { loadIdl } from '../../src/chain/energyToken.js';
import { makeRpcClient } from '../../src/chain/rpcClient.js';
import { makeLog } from '../../src/log.js';
import { makeMintEngine, type MintEngineDeps, type SignedRecord } from '../../src/minting/engine.js';
import { makeInFlightLimiter } from '../../src/minting/inFlight.js';
import { RUNTIME_LIMITS } from '../../src/minting/optimizeBatch.js';
import type { MintBatchData } from '../../src/minting/types.js';
import { authority, MINT, PROGRAM_ID } from './energyToken.js';
import type { TestChain } from './localnet.js';

export const logLines: string[] = [];
export const testLog = makeLog('info', new Writable({ write(c, _e, cb) { logLines.push(String(c)); cb(); } }));

/** Overrides of the engine's or its chain primitives' dependencies; `concurrency`: a fixed in-flight limit. */
export type TestEngineOptions = Partial<Omit<MintEngineDeps, 'chain'>> & Partial<Pick<MintChainDeps, 'rpc' | 'readRetries' | 'recValidator'>> & { concurrency?: number };

/** The REC validator the 0.1.1 genesis registers, and token_info's registry authority there. */
export const recValidator = (): Keypair => localnetRecValidator();
export const registryAuthority = (): PublicKey => localnetRegistryAuthority().publicKey;
/** What makeMintChain needs to sign and name the co-signed mints of the local chain's 0.1.1. */
export const coSigning = () => ({ recValidator: recValidator(), registryAuthority: registryAuthority() });

export function testEngine(chain: TestChain, over: TestEngineOptions = {}) {
  const signed: SignedRecord[] = [];
  const { rpc, readRetries, recValidator: validator, concurrency = 8, ...engineOver } = over;
  const inFlight = engineOver.inFlight ?? makeInFlightLimiter({ initial: concurrency, ceiling: concurrency });
  const engine = makeMintEngine({
    chain: makeMintChain({
      rpc: rpc ?? makeRpcClient({ url: chain.url, timeoutMs: 2_000 }),
      authority: authority(),
      ...coSigning(),
      ...(validator !== undefined ? { recValidator: validator } : {}),
      programId: PROGRAM_ID,
      mint: MINT,
      idl: loadIdl(),
      log: testLog,
      readRetries,
      onRateLimited: inFlight.rateLimited,
    }),
    log: testLog,
    limits: { ...RUNTIME_LIMITS, maxTokensPerInstruction: 10n ** 12n, usersPerTx: 64 },
    maxBatchSize: () => 1000,
    inFlight,
    maxPriorityMicroLamports: 100_000n,
    send: { pollMs: 25, rebroadcastMs: 500, followTimeoutMs: 60_000 },
    onSigned: async (r) => void signed.push(r),
    ...engineOver,
  });
  return { engine, signed };
}

let n = 0;
export function reading(wallet: PublicKey, tokens: bigint, userId = wallet.toBase58()): MintBatchData {
  n++;
  return { readingId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, userId, walletAddress: wallet.toBase58(), kwhAmount: '1', tokensToMint: tokens, meterId: `meter-${n % 7}` };
}
