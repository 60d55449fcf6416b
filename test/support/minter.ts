// A minter wired to a test chain, with the localnet authority and the committed program.
import { Writable } from 'node:stream';
import { PublicKey } from '@solana/web3.js';
import { makeMinter, type MinterDeps, type SignedRecord } from '../../src/chain/minter.js';
import { loadIdl } from '../../src/chain/energyToken.js';
import { makeRpcClient } from '../../src/chain/rpcClient.js';
import { makeLog } from '../../src/log.js';
import { RUNTIME_LIMITS } from '../../src/minting/optimizeBatch.js';
import type { MintBatchData } from '../../src/minting/types.js';
import { authority, MINT, PROGRAM_ID } from './energyToken.js';
import type { TestChain } from './localnet.js';

export const logLines: string[] = [];
export const testLog = makeLog('info', new Writable({ write(c, _e, cb) { logLines.push(String(c)); cb(); } }));

export function testMinter(chain: TestChain, over: Partial<MinterDeps> = {}) {
  const signed: SignedRecord[] = [];
  const minter = makeMinter({
    rpc: makeRpcClient({ url: chain.url, timeoutMs: 2_000 }),
    authority: authority(),
    programId: PROGRAM_ID,
    mint: MINT,
    idl: loadIdl(),
    log: testLog,
    limits: { ...RUNTIME_LIMITS, maxTokensPerInstruction: 10n ** 12n, usersPerTx: 64 },
    maxBatchSize: () => 1000,
    concurrency: 8,
    maxPriorityMicroLamports: 100_000n,
    send: { pollMs: 25, rebroadcastMs: 500, followTimeoutMs: 60_000 },
    onSigned: async (r) => void signed.push(r),
    ...over,
  });
  return { minter, signed };
}

let n = 0;
export function reading(wallet: PublicKey, tokens: bigint, userId = wallet.toBase58()): MintBatchData {
  n++;
  return { readingId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, userId, walletAddress: wallet.toBase58(), kwhAmount: '1', tokensToMint: tokens, meterId: `meter-${n % 7}` };
}
