// Following many transactions at once costs a few RPC calls per poll beat, not two per transaction
// (followReads): status reads asked in the same turn go as one getSignatureStatuses, and the finalized block
// height is shared for a while. Each follower must still get its own status, a failure must reach every
// follower of the merged call, and nothing else may be merged. A scripted RPC records what is asked.
import type { RpcClient } from '../../../src/chain/rpcClient.js';
import { followReads } from '../../../src/chain/sendAndConfirm.js';
import { RpcFailure } from '../../../src/errors.js';

function scripted(answer: (method: string, params: unknown[]) => unknown) {
  const calls: { method: string; params: unknown[] }[] = [];
  const rpc: RpcClient = {
    url: 'scripted',
    call: async <T>(method: string, params: unknown[] = []) => {
      calls.push({ method, params });
      return answer(method, params) as T;
    },
    abandonInFlight: () => 0,
  };
  return { rpc, calls };
}

const statusOf = (sig: string) => (sig.startsWith('landed') ? { slot: 7, confirmations: 0, err: null, confirmationStatus: 'confirmed' } : null);
const statuses = (method: string, params: unknown[]) => {
  if (method === 'getSignatureStatuses') return { context: { slot: 42 }, value: (params[0] as string[]).map(statusOf) };
  if (method === 'getBlockHeight') return 1000;
  return `passed:${method}`;
};
const ask = (rpc: RpcClient, sig: string, history = false) =>
  rpc.call<{ context: { slot: number }; value: unknown[] }>('getSignatureStatuses', [[sig], { searchTransactionHistory: history }]);

it('status reads of one turn go as one call, and each caller gets its own status', async () => {
  const { rpc, calls } = scripted(statuses);
  const merged = followReads(rpc, { heightMaxAgeMs: 200 });
  const sigs = ['landed-a', 'pending-b', 'landed-c'];
  const answers = await Promise.all(sigs.map((s) => ask(merged, s)));
  expect(calls).toEqual([{ method: 'getSignatureStatuses', params: [sigs, { searchTransactionHistory: false }] }]);
  expect(answers.map((a) => a.value)).toEqual(sigs.map((s) => [statusOf(s)]));
  expect(answers.every((a) => a.context.slot === 42)).toBe(true);
});

it('at most 256 signatures per call, and history searches apart from the others', async () => {
  const { rpc, calls } = scripted(statuses);
  const merged = followReads(rpc, { heightMaxAgeMs: 200 });
  const sigs = Array.from({ length: 300 }, (_, i) => `landed-${i}`);
  const answers = await Promise.all([...sigs.map((s) => ask(merged, s)), ask(merged, 'pending-old', true)]);
  expect(calls.map((c) => [(c.params[0] as string[]).length, (c.params[1] as { searchTransactionHistory: boolean }).searchTransactionHistory])).toEqual([
    [256, false],
    [44, false],
    [1, true],
  ]);
  expect(answers.slice(0, 300).every((a) => (a.value[0] as { slot: number }).slot === 7)).toBe(true);
  expect(answers[300]!.value).toEqual([null]);
});

it('a failed merged call fails every caller in it; the next turn asks again', async () => {
  let fail = true;
  const { rpc, calls } = scripted((m, p) => {
    if (m === 'getSignatureStatuses' && fail) throw new RpcFailure(503, 'getSignatureStatuses: HTTP 503', true);
    return statuses(m, p);
  });
  const merged = followReads(rpc, { heightMaxAgeMs: 200 });
  const outcomes = await Promise.allSettled([ask(merged, 'landed-a'), ask(merged, 'landed-b')]);
  expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
  fail = false;
  expect((await ask(merged, 'landed-a')).value[0]).toEqual(statusOf('landed-a'));
  expect(calls).toHaveLength(2);
});

it('the finalized height is shared for heightMaxAgeMs; a failed read is not; other calls pass through', async () => {
  let t = 0;
  let height = 1000;
  let fail = false;
  const { rpc, calls } = scripted((m, p) => {
    if (m === 'getBlockHeight' && fail) throw new RpcFailure(null, 'getBlockHeight: no answer', true);
    return m === 'getBlockHeight' ? height++ : statuses(m, p);
  });
  const merged = followReads(rpc, { heightMaxAgeMs: 200, now: () => t });
  const finalized = () => merged.call<number>('getBlockHeight', [{ commitment: 'finalized' }]);
  expect(await Promise.all([finalized(), finalized()])).toEqual([1000, 1000]);
  t = 150;
  expect(await finalized()).toBe(1000);
  t = 201;
  expect(await finalized()).toBe(1001);
  // Another commitment is not the finalized height: asked every time.
  expect(await merged.call('getBlockHeight', [{ commitment: 'confirmed' }])).toBe(1002);
  expect(await merged.call('getBlockHeight', [{ commitment: 'confirmed' }])).toBe(1003);
  fail = true;
  t = 500;
  await expect(finalized()).rejects.toThrow('no answer');
  fail = false;
  expect(await finalized()).toBe(1004);
  expect(await merged.call('sendTransaction', ['wire'])).toBe('passed:sendTransaction');
  expect(calls.filter((c) => c.method === 'getBlockHeight')).toHaveLength(6);
});

it('an answer of the wrong shape, or a call that throws, fails every caller instead of leaving one waiting', async () => {
  let shape: 'short' | 'null' | 'throws' = 'short';
  const { rpc } = scripted((m, p) => {
    if (m !== 'getSignatureStatuses') return statuses(m, p);
    if (shape === 'throws') throw new TypeError('boom');
    // A short list would otherwise read as "not found", which in a history search proves an expiry.
    return shape === 'short' ? { context: { slot: 1 }, value: [null] } : { context: { slot: 1 }, value: null };
  });
  const merged = followReads(rpc, { heightMaxAgeMs: 200 });
  for (const s of ['short', 'null', 'throws'] as const) {
    shape = s;
    const outcomes = await Promise.allSettled([ask(merged, 'landed-a', true), ask(merged, 'landed-b', true)]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
  }
});
