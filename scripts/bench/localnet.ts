// `npm run bench:localnet [-- --tx 2000]`: how many simple Token-2022 MintTo transactions per second the
// local chain confirms over HTTP, against LiteSVM executing the very same signed bytes in-process.
// The ratio is the cost of the RPC layer (JSON, HTTP, decoding, pre/post balances, the ledger).
import { parseArgs } from 'node:util';
import { address, getTransactionDecoder } from '@solana/kit';
import { LiteSVM } from 'litesvm';
import { Keypair, PublicKey, Transaction } from '@solana/web3.js';
import { ACCOUNT_SIZE, AccountLayout, MINT_SIZE, MintLayout, TOKEN_2022_PROGRAM_ID, createMintToInstruction } from '@solana/spl-token';
import bs58 from 'bs58';
import pLimit from 'p-limit';
import { startLocalnet } from '../../anchor-localnet/server.js';
import type { RawAccount } from '../../anchor-localnet/chain.js';
import { hardware, progress, table } from './support.js';

const { values } = parseArgs({ options: { tx: { type: 'string', default: '2000' }, 'slot-ms': { type: 'string', default: '400' }, concurrency: { type: 'string', default: '32' } } });
const N = Number(values.tx);
const SLOT_MS = Number(values['slot-ms']);
const CONCURRENCY = Number(values.concurrency);
const ACCOUNTS = 20;

const payer = Keypair.generate();
const mint = Keypair.generate().publicKey;
const holders = Array.from({ length: ACCOUNTS }, () => Keypair.generate().publicKey);

function plantedState(): [string, RawAccount][] {
  const mintData = Buffer.alloc(MINT_SIZE);
  MintLayout.encode({ mintAuthorityOption: 1, mintAuthority: payer.publicKey, supply: 0n, decimals: 9, isInitialized: true, freezeAuthorityOption: 0, freezeAuthority: PublicKey.default }, mintData);
  const out: [string, RawAccount][] = [[mint.toBase58(), { lamports: 10_000_000n, data: mintData, owner: TOKEN_2022_PROGRAM_ID.toBase58(), executable: false }]];
  for (const h of holders) {
    const data = Buffer.alloc(ACCOUNT_SIZE);
    AccountLayout.encode({ mint, owner: Keypair.generate().publicKey, amount: 0n, delegateOption: 0, delegate: PublicKey.default, state: 1, isNativeOption: 0, isNative: 0n, delegatedAmount: 0n, closeAuthorityOption: 0, closeAuthority: PublicKey.default }, data);
    out.push([h.toBase58(), { lamports: 10_000_000n, data, owner: TOKEN_2022_PROGRAM_ID.toBase58(), executable: false }]);
  }
  out.push([payer.publicKey.toBase58(), { lamports: 1_000_000_000_000n, data: new Uint8Array(0), owner: '11111111111111111111111111111111', executable: false }]);
  return out;
}

function signedTransactions(blockhash: string): Buffer[] {
  return Array.from({ length: N }, (_, i) => {
    const tx = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(
      createMintToInstruction(mint, holders[i % ACCOUNTS]!, payer.publicKey, BigInt(i + 1), [], TOKEN_2022_PROGRAM_ID),
    );
    tx.sign(payer);
    return tx.serialize({ verifySignatures: false });
  });
}

async function overRpc(): Promise<{ seconds: number; txs: Buffer[] }> {
  const net = await startLocalnet({ slotMs: SLOT_MS });
  try {
    for (const [k, a] of plantedState()) net.hooks.setAccount(k, a);
    const txs = signedTransactions(net.chain.latestBlockhash('processed').blockhash);
    const rpc = async (method: string, params: unknown[]) => {
      const res = await fetch(net.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
      const body = (await res.json()) as { result?: any; error?: { message: string } };
      if (body.error) throw new Error(body.error.message);
      return body.result;
    };
    const limit = pLimit(CONCURRENCY);
    const start = performance.now();
    let sent = 0;
    const sigs = await Promise.all(
      txs.map((wire) =>
        limit(async () => {
          const sig = await rpc('sendTransaction', [wire.toString('base64'), { encoding: 'base64', skipPreflight: true, maxRetries: 0 }]);
          progress('RPC send', ++sent, N);
          return sig as string;
        }),
      ),
    );
    // Confirmed means the validator's "confirmed" commitment, polled as a client would.
    let pending = sigs;
    while (pending.length) {
      const next: string[] = [];
      for (let i = 0; i < pending.length; i += 256) {
        const chunk = pending.slice(i, i + 256);
        const { value } = await rpc('getSignatureStatuses', [chunk]);
        chunk.forEach((s, j) => {
          const st = value[j];
          if (st?.err) throw new Error(`transaction ${s} failed: ${JSON.stringify(st.err)}`);
          if (!st || st.confirmationStatus === 'processed') next.push(s);
        });
      }
      pending = next;
      if (pending.length) await new Promise((r) => setTimeout(r, 20));
    }
    return { seconds: (performance.now() - start) / 1000, txs };
  } finally {
    await net.stop();
  }
}

function inProcess(txs: Buffer[]): number {
  const svm = new LiteSVM().withBlockhashCheck(false);
  for (const [k, a] of plantedState()) {
    svm.setAccount({ address: address(k), lamports: a.lamports, data: a.data, programAddress: address(a.owner), executable: false, space: BigInt(a.data.length) } as never);
  }
  const decoder = getTransactionDecoder();
  const start = performance.now();
  txs.forEach((wire, i) => {
    const r = svm.sendTransaction(decoder.decode(wire) as never);
    if ('err' in r) throw new Error(`in-process tx ${i} failed: ${String(r.err())}`);
    if (i % 200 === 0 || i === txs.length - 1) progress('LiteSVM in-process', i + 1, txs.length);
  });
  return (performance.now() - start) / 1000;
}

const rpcRun = await overRpc();
const svmSeconds = inProcess(rpcRun.txs);
const rpcTps = N / rpcRun.seconds;
const svmTps = N / svmSeconds;
process.stdout.write(`\nhardware: ${hardware()}\nworkload: ${N} Token-2022 MintTo transactions (1 signature each), ${CONCURRENCY} sends in flight, slot ${SLOT_MS} ms; "confirmed" commitment\n\n`);
process.stdout.write(
  `${table(
    ['path', 'transactions', 'seconds', 'tx/s', 'vs in-process'],
    [
      ['localnet over HTTP, to confirmed', N, rpcRun.seconds.toFixed(2), rpcTps.toFixed(0), (rpcTps / svmTps).toFixed(3)],
      ['LiteSVM in-process (same bytes)', N, svmSeconds.toFixed(2), svmTps.toFixed(0), '1.000'],
    ],
  )}\n`,
);
process.stdout.write(`\nRPC layer cost: ${(svmTps / rpcTps).toFixed(1)}x (${bs58.encode(Buffer.from(rpcRun.txs[0]!.subarray(1, 65))).slice(0, 8)}… first signature)\n`);
