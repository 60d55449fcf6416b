// The in-process hooks the engine's exactly-once tests stand on: a dropped send never executes, a held
// send executes but its answer never comes, paused slots freeze expiry, and raw account state can be set.
import { Keypair, LAMPORTS_PER_SOL, SystemProgram, Transaction } from '@solana/web3.js';
import WebSocket from 'ws';
import { startLocalnet, type Localnet } from '../../../anchor-localnet/server.js';
import { Connection } from '@solana/web3.js';

let net: Localnet;
let connection: Connection;
const payer = Keypair.generate();

beforeAll(async () => {
  net = await startLocalnet({ slotMs: 50 });
  connection = new Connection(net.url, { commitment: 'confirmed', wsEndpoint: net.wsUrl });
  const sig = await connection.requestAirdrop(payer.publicKey, 10 * LAMPORTS_PER_SOL);
  await connection.confirmTransaction({ signature: sig, ...(await connection.getLatestBlockhash()) });
});
afterAll(() => net.stop());

async function transfer(lamports = 1_000_000) {
  const { blockhash, lastValidBlockHeight } = await connection.getLatestBlockhash('processed');
  const tx = new Transaction({ feePayer: payer.publicKey, blockhash, lastValidBlockHeight }).add(
    SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: Keypair.generate().publicKey, lamports }),
  );
  tx.sign(payer);
  return { wire: tx.serialize(), signature: tx.signatures[0]!.signature!, blockhash, lastValidBlockHeight };
}
const b58 = async (sig: Uint8Array) => (await import('bs58')).default.encode(sig);

it('a dropped send answers with the signature and never executes', async () => {
  const t = await transfer();
  net.hooks.dropNextSends(1);
  const answered = await connection.sendRawTransaction(t.wire, { skipPreflight: true, maxRetries: 0 });
  expect(answered).toBe(await b58(t.signature));
  net.hooks.advanceSlots(5);
  expect((await connection.getSignatureStatuses([answered], { searchTransactionHistory: true })).value[0]).toBeNull();
  // The same bytes sent again (a rebroadcast) do land, in the next block.
  await connection.sendRawTransaction(t.wire, { skipPreflight: true });
  net.hooks.advanceSlots(1);
  expect((await connection.getSignatureStatuses([answered])).value[0]?.err).toBeNull();
});

it('a held send goes into a block, but its answer never arrives', async () => {
  const t = await transfer();
  net.hooks.holdNextSends(1);
  const controller = new AbortController();
  const pending = fetch(net.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'sendTransaction', params: [t.wire.toString('base64'), { encoding: 'base64', skipPreflight: true }] }),
    signal: controller.signal,
  });
  const timedOut = await Promise.race([pending.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 300))]);
  expect(timedOut).toBe(true);
  controller.abort();
  await expect(pending).rejects.toThrow();
  net.hooks.advanceSlots(1);
  const status = (await connection.getSignatureStatuses([await b58(t.signature)])).value[0];
  expect(status).not.toBeNull();
  expect(status?.err).toBeNull();
});

it('paused slots freeze the block height; setAccount plants raw state', async () => {
  net.hooks.pauseSlots();
  try {
    const h = await connection.getBlockHeight('processed');
    await new Promise((r) => setTimeout(r, 200));
    expect(await connection.getBlockHeight('processed')).toBe(h);
    const key = Keypair.generate().publicKey;
    net.hooks.setAccount(key.toBase58(), { lamports: 1234n, data: Buffer.from([1, 2, 3]), owner: SystemProgram.programId.toBase58(), executable: false });
    const info = await connection.getAccountInfo(key, 'processed');
    expect(info?.lamports).toBe(1234);
    expect([...info!.data]).toEqual([1, 2, 3]);
  } finally {
    net.hooks.resumeSlots();
  }
});

it('signatureSubscribe notifies at the asked commitment, then ends the subscription', async () => {
  const t = await transfer();
  const sig = await b58(t.signature);
  const ws = new WebSocket(net.wsUrl);
  await new Promise((r) => ws.once('open', r));
  const messages: any[] = [];
  ws.on('message', (m) => messages.push(JSON.parse(String(m))));
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'signatureSubscribe', params: [sig, { commitment: 'finalized' }] }));
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'nonsenseSubscribe', params: [] }));
  net.hooks.pauseSlots();
  await connection.sendRawTransaction(t.wire, { skipPreflight: true });
  net.hooks.advanceSlots(1); // in a block: processed, not finalized
  await new Promise((r) => setTimeout(r, 100));
  expect(messages.filter((m) => m.method === 'signatureNotification')).toHaveLength(0);
  net.hooks.advanceSlots(net.chain.finalizeSlots);
  await new Promise((r) => setTimeout(r, 100));
  net.hooks.resumeSlots();
  const subId = messages.find((m) => m.id === 1).result;
  const note = messages.find((m) => m.method === 'signatureNotification');
  expect(note.params.subscription).toBe(subId);
  expect(note.params.result.value).toEqual({ err: null });
  expect(messages.find((m) => m.id === 2).error.code).toBe(-32601);
  // Ended with its notification: unsubscribing it now is an error, as on a validator.
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'signatureUnsubscribe', params: [subId] }));
  await new Promise((r) => setTimeout(r, 50));
  expect(messages.find((m) => m.id === 3).error.code).toBe(-32602);
  ws.close();
});

it('a transaction waits for the end of its slot: no status, then processed in the block, confirmed a block later', async () => {
  const fresh = await startLocalnet({ slotMs: 60_000 });
  try {
    const c = new Connection(fresh.url, { commitment: 'confirmed', wsEndpoint: fresh.wsUrl });
    const sig = await c.requestAirdrop(payer.publicKey, 1_000_000);
    expect((await c.getSignatureStatuses([sig])).value[0]).toBeNull();
    expect(fresh.chain.pendingCount).toBe(1);
    fresh.hooks.advanceSlots(1);
    expect((await c.getSignatureStatuses([sig])).value[0]?.confirmationStatus).toBe('processed');
    fresh.hooks.advanceSlots(1);
    expect((await c.getSignatureStatuses([sig])).value[0]?.confirmationStatus).toBe('confirmed');
  } finally {
    await fresh.stop();
  }
});

it('binds HTTP and WebSocket as a pair on free ports, and refuses a taken explicit port', async () => {
  const other = await startLocalnet({ port: 0 });
  try {
    const port = Number(new URL(other.url).port);
    expect(new URL(other.wsUrl).port).toBe(String(port + 1));
    await expect(startLocalnet({ port })).rejects.toThrow(/already in use/);
  } finally {
    await other.stop();
  }
});
