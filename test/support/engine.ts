// A minting engine wired to a test chain, with the localnet authority and the committed program.
import { Writable } from 'node:stream';
import { PublicKey } from '@solana/web3.js';
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
export type TestEngineOptions = Partial<Omit<MintEngineDeps, 'chain'>> & Partial<Pick<MintChainDeps, 'rpc' | 'readRetries'>> & { concurrency?: number };

export function testEngine(chain: TestChain, over: TestEngineOptions = {}) {
  const signed: SignedRecord[] = [];
  const { rpc, readRetries, concurrency = 8, ...engineOver } = over;
  const inFlight = engineOver.inFlight ?? makeInFlightLimiter({ initial: concurrency, ceiling: concurrency });
  const engine = makeMintEngine({
    chain: makeMintChain({
      rpc: rpc ?? makeRpcClient({ url: chain.url, timeoutMs: 2_000 }),
      authority: authority(),
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
