// RPC failures are classified by status and code, never by message text: timeouts, 429 and 5xx are
// retryable (and, for a send, mean "unknown"); JSON-RPC errors keep their code.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { makeRpcClient } from '../../../src/chain/rpcClient.js';
import { sendAndConfirm } from '../../../src/chain/sendAndConfirm.js';
import { RpcFailure } from '../../../src/errors.js';
import { makeLog } from '../../../src/log.js';

let server: Server;
let url: string;
let answer: (body: any) => { status: number; body: string } | 'reset' | null;
beforeAll(async () => {
  server = createServer(async (req, res) => {
    let raw = '';
    for await (const c of req) raw += c;
    const a = answer(JSON.parse(raw));
    if (!a) return; // never answer
    if (a === 'reset') return req.socket.destroy();
    res.writeHead(a.status, { 'content-type': 'application/json' });
    res.end(a.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));

const failureOf = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as RpcFailure);

it.each([
  [429, true],
  [503, true],
  [500, true],
  [404, false],
])('HTTP %i is an RpcFailure with that code (retryable: %s)', async (status, retryable) => {
  answer = () => ({ status, body: 'nope' });
  const f = await failureOf(makeRpcClient({ url, timeoutMs: 1000 }).call('getSlot'));
  expect(f).toBeInstanceOf(RpcFailure);
  expect(f?.rpcCode).toBe(status);
  expect(f?.retryable).toBe(retryable);
});

it('a JSON-RPC error keeps its code and data', async () => {
  answer = (b) => ({ status: 200, body: JSON.stringify({ jsonrpc: '2.0', id: b.id, error: { code: -32002, message: 'sim failed', data: { logs: ['x'] } } }) });
  const f = await failureOf(makeRpcClient({ url, timeoutMs: 1000 }).call('sendTransaction'));
  expect(f?.rpcCode).toBe(-32002);
  expect(f?.retryable).toBe(false);
  expect((f as unknown as { data: unknown }).data).toEqual({ logs: ['x'] });
});

it('no answer within the timeout is a retryable failure without a code', async () => {
  answer = () => null;
  const f = await failureOf(makeRpcClient({ url, timeoutMs: 100 }).call('getSlot'));
  expect(f?.rpcCode).toBeNull();
  expect(f?.retryable).toBe(true);
  expect(f?.message).toMatch(/no answer within 100 ms/);
});

it('abandonInFlight gives up calls still waiting, at once and as retryable; later calls are unaffected', async () => {
  answer = (b) => (b.method === 'getSlot' ? null : { status: 200, body: JSON.stringify({ jsonrpc: '2.0', id: b.id, result: 7 }) });
  const client = makeRpcClient({ url, timeoutMs: 60_000 });
  const hung = [failureOf(client.call('getSlot')), failureOf(client.call('getSlot'))];
  // Abandon only once both requests reached the server (the server never answers getSlot).
  await new Promise<void>((r) => server.once('request', () => server.once('request', () => r())));
  expect(client.abandonInFlight()).toBe(2);
  for (const f of await Promise.all(hung)) {
    expect(f).toBeInstanceOf(RpcFailure);
    expect(f?.retryable).toBe(true);
    expect(f?.message).toMatch(/abandoned/);
  }
  expect(client.abandonInFlight()).toBe(0);
  expect(await client.call('getBlockHeight')).toBe(7);
});

it('a connection closed under the request is tried once more on a new one, then reported', async () => {
  let calls = 0;
  answer = (b) => (++calls === 1 ? 'reset' : { status: 200, body: JSON.stringify({ jsonrpc: '2.0', id: b.id, result: 7 }) });
  expect(await makeRpcClient({ url, timeoutMs: 1000 }).call('getSlot')).toBe(7);
  expect(calls).toBe(2);
  calls = 0;
  answer = () => (calls++, 'reset');
  const f = await failureOf(makeRpcClient({ url, timeoutMs: 1000 }).call('getSlot'));
  expect(calls).toBe(2);
  expect(f?.message).toBe('getSlot: connection failed');
  expect(f?.retryable).toBe(true);
});

it('a body that is not JSON is retryable', async () => {
  answer = () => ({ status: 200, body: '<html>' });
  expect((await failureOf(makeRpcClient({ url, timeoutMs: 1000 }).call('getSlot')))?.retryable).toBe(true);
});

it('a transaction followed through an RPC that never answers ends "unknown", never "failed" or "expired"', async () => {
  answer = (b) => (b.method === 'sendTransaction' ? null : { status: 503, body: '' });
  const lines: string[] = [];
  const log = makeLog('warn', new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } }));
  const outcome = await sendAndConfirm(
    makeRpcClient({ url, timeoutMs: 50 }),
    { signature: 'sig1', wire: new Uint8Array([1, 2, 3]), lastValidBlockHeight: 10 },
    { pollMs: 10, rebroadcastMs: 50, followTimeoutMs: 300, log },
  );
  expect(outcome.status).toBe('unknown');
  expect(lines.join('')).toContain('"signature":"sig1"');
});
