// One blockhash read serves the transactions built within a second of it (makeMintChain.latestBlockhash):
// a batch of 35 transactions asked 35 times before. A rebuild after a proven expiry must read anew (the shared
// hash could be the expired one's), a failed read must not be handed to the next caller, and one caller's
// cancel must not fail the others' shared read. A scripted RPC answers and counts.
import { Writable } from 'node:stream';
import { makeMintChain } from '../../../src/chain/mintTransaction.js';
import { loadIdl } from '../../../src/chain/energyToken.js';
import type { RpcClient } from '../../../src/chain/rpcClient.js';
import { RpcFailure } from '../../../src/errors.js';
import { makeLog } from '../../../src/log.js';
import { authority, MINT, PROGRAM_ID } from '../../support/energyToken.js';
import { coSigning } from '../../support/engine.js';

function chainWith(answer: (n: number) => unknown) {
  let n = 0;
  // The clock stands still unless a test moves it: nothing here depends on how fast the machine is.
  const clock = { t: 0 };
  const rpc: RpcClient = {
    url: 'scripted',
    call: async <T>(method: string) => {
      if (method !== 'getLatestBlockhash') throw new Error(`unexpected ${method}`);
      return answer(++n) as T;
    },
    abandonInFlight: () => 0,
  };
  const chain = makeMintChain({ rpc, authority: authority(), ...coSigning(), programId: PROGRAM_ID, mint: MINT, idl: loadIdl(), log: makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() })), readRetries: 0, now: () => clock.t });
  return { chain, reads: () => n, clock };
}
const hash = (n: number) => ({ context: { slot: n }, value: { blockhash: `hash-${n}`, lastValidBlockHeight: 150 + n } });

it('transactions built within a second share one read; a rebuild after an expiry reads its own', async () => {
  const { chain, reads, clock } = chainWith(hash);
  const got = await Promise.all(Array.from({ length: 35 }, () => chain.latestBlockhash()));
  expect(new Set(got.map((b) => b.blockhash))).toEqual(new Set(['hash-1']));
  expect(reads()).toBe(1);
  expect((await chain.latestBlockhash(undefined, true)).blockhash).toBe('hash-2');
  // The fresh read is not what the others share.
  expect((await chain.latestBlockhash()).blockhash).toBe('hash-1');
  expect(reads()).toBe(2);
  // A second on, the next transaction reads anew.
  clock.t = 1_001;
  expect((await chain.latestBlockhash()).blockhash).toBe('hash-3');
});

it('a failed read fails its callers only; the next caller reads again', async () => {
  const { chain, reads } = chainWith((n) => {
    if (n === 1) throw new RpcFailure(-32005, 'getLatestBlockhash: node is behind', false);
    return hash(n);
  });
  await expect(Promise.all([chain.latestBlockhash(), chain.latestBlockhash()])).rejects.toThrow('node is behind');
  expect((await chain.latestBlockhash()).blockhash).toBe('hash-2');
  expect(reads()).toBe(2);
});

it("one caller's cancel does not fail the shared read", async () => {
  const { chain } = chainWith(hash);
  const cancelled = new AbortController();
  cancelled.abort();
  await expect(chain.latestBlockhash(cancelled.signal)).resolves.toMatchObject({ blockhash: 'hash-1' });
  await expect(chain.latestBlockhash()).resolves.toMatchObject({ blockhash: 'hash-1' });
});
