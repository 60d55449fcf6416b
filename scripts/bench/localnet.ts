// `npm run bench:localnet [-- --tx 2000]`: how many simple Token-2022 MintTo transactions per second the
// local chain confirms over HTTP, against LiteSVM executing the very same signed bytes in-process (the
// ratio is the cost of the RPC layer and of block production), with the transactions per block and the
// per-account budget they used; then how many mint_tokens_direct recipients one block holds for one mint
// under the default budgets, with token accounts that exist and with token accounts created on the way,
// for each energy_token version (0.1.0 write-locks token_info in every mint; 0.1.1 does not, but still
// write-locks the mint, and adds the registry authority and a REC validator's co-signature).
import { parseArgs } from 'node:util';
import { address, getTransactionDecoder } from '@solana/kit';
import { LiteSVM } from 'litesvm';
import { Keypair, PublicKey, Transaction } from '@solana/web3.js';
import { ACCOUNT_SIZE, AccountLayout, MINT_SIZE, MintLayout, TOKEN_2022_PROGRAM_ID, createMintToInstruction } from '@solana/spl-token';
import bs58 from 'bs58';
import pLimit from 'p-limit';
import BN from 'bn.js';
import { AnchorProvider, Program, Wallet, type Idl } from '@coral-xyz/anchor';
import { ComputeBudgetProgram, Connection } from '@solana/web3.js';
import { createAssociatedTokenAccountIdempotentInstruction, getAssociatedTokenAddressSync } from '@solana/spl-token';
import { startLocalnet, type Localnet } from '../../anchor-localnet/server.js';
import type { RawAccount } from '../../anchor-localnet/chain.js';
import { DEFAULT_LIMITS } from '../../anchor-localnet/costModel.js';
import { localnetAuthority, localnetRecValidator, localnetRegistryAuthority, mintAddress, tokenInfoAddress } from '../../anchor-localnet/fixtures.js';
import { PROGRAM_VERSIONS, type ProgramVersion, readIdl } from '../../anchor-localnet/paths.js';
import { optimizeBatch, RUNTIME_LIMITS } from '../../src/minting/optimizeBatch.js';
import { hardware, progress, table } from './support.js';

const { values } = parseArgs({
  options: { tx: { type: 'string', default: '2000' }, 'slot-ms': { type: 'string', default: '400' }, concurrency: { type: 'string', default: '32' }, recipients: { type: 'string', default: '3000' } },
});
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

interface BlockStats {
  blocks: number;
  meanTx: number;
  maxTx: number;
  /** The most CU one write-locked account used in one block, and which account. */
  maxAccountCost: number;
  maxAccount: string;
}

function blockStats(net: Localnet, from: number, to: number): BlockStats {
  const out: BlockStats = { blocks: 0, meanTx: 0, maxTx: 0, maxAccountCost: 0, maxAccount: '-' };
  let txs = 0;
  for (let slot = from; slot <= to; slot++) {
    const b = net.chain.getBlock(slot, 'processed');
    if (!b || b.signatures.length === 0) continue;
    out.blocks++;
    txs += b.signatures.length;
    out.maxTx = Math.max(out.maxTx, b.signatures.length);
    if (b.cost && b.cost.costliestAccountCost > out.maxAccountCost) {
      out.maxAccountCost = b.cost.costliestAccountCost;
      out.maxAccount = b.cost.costliestAccount === mint.toBase58() ? 'the mint' : b.cost.costliestAccount === payer.publicKey.toBase58() ? 'the fee payer' : (b.cost.costliestAccount ?? '-');
    }
  }
  out.meanTx = out.blocks ? txs / out.blocks : 0;
  return out;
}

async function overRpc(): Promise<{ seconds: number; txs: Buffer[]; blocks: BlockStats }> {
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
    const firstSlot = net.chain.slot + 1;
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
    return { seconds: (performance.now() - start) / 1000, txs, blocks: blockStats(net, firstSlot, net.chain.slot) };
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

// ---- one full block of mint_tokens_direct for one mint ---------------------------------------------

interface FullBlock {
  version: ProgramVersion;
  atasExist: boolean;
  recipientsPerTx: number;
  cuLimit: number;
  txInBlock: number;
  recipientsInBlock: number;
  blockCu: number;
  costliest: string;
  costliestCu: number;
  waiting: number;
}

/**
 * Transactions shaped as the service's engine shapes them (optimizeBatch's packing, CreateIdempotent
 * where the token account is not known, the compute-unit limit sized from a simulation as the engine
 * does: units × 1.1 + 1,000), all sent within one slot; then one block is produced.
 */
async function fullBlock(version: ProgramVersion, atasExist: boolean): Promise<FullBlock> {
  const net = await startLocalnet({ slotMs: SLOT_MS, programVersion: version });
  net.hooks.pauseSlots();
  try {
    const authority = localnetAuthority();
    const recValidator = localnetRecValidator();
    const registryAuthority = localnetRegistryAuthority();
    const coSigned = version !== '0.1.0';
    const idl = readIdl(version) as unknown as Idl;
    const programId = new PublicKey(idl.address);
    const energyMint = mintAddress(programId);
    const tokenInfo = tokenInfoAddress(programId);
    const program = new Program(idl, new AnchorProvider(new Connection(net.url), new Wallet(authority), {}));
    const wallets = Array.from({ length: Number(values.recipients) }, () => Keypair.generate().publicKey);
    const ataOf = (w: PublicKey) => getAssociatedTokenAddressSync(energyMint, w, false, TOKEN_2022_PROGRAM_ID);
    if (atasExist) {
      for (const w of wallets) {
        const data = Buffer.alloc(ACCOUNT_SIZE);
        AccountLayout.encode({ mint: energyMint, owner: w, amount: 0n, delegateOption: 0, delegate: PublicKey.default, state: 1, isNativeOption: 0, isNative: 0n, delegatedAmount: 0n, closeAuthorityOption: 0, closeAuthority: PublicKey.default }, data);
        net.hooks.setAccount(ataOf(w).toBase58(), { lamports: 2_039_280n, data, owner: TOKEN_2022_PROGRAM_ID.toBase58(), executable: false });
      }
    }
    const batch = wallets.map((w, i) => ({ readingId: String(i), userId: w.toBase58(), walletAddress: w.toBase58(), kwhAmount: '1', tokensToMint: 1_000_000_000n, meterId: 'm' }));
    const blockhash = net.chain.latestBlockhash('processed').blockhash;
    let cuLimit = 0;
    let sent = 0;
    const recipientsOf = new Map<string, number>();
    const plan = await packFor(batch, atasExist, async (planned) => {
      const tx = new Transaction({ feePayer: authority.publicKey, recentBlockhash: blockhash });
      for (const m of planned.mints) {
        const wallet = new PublicKey(m.walletAddress);
        const accounts = { tokenInfo, mint: energyMint, userTokenAccount: ataOf(wallet), authority: authority.publicKey, tokenProgram: TOKEN_2022_PROGRAM_ID };
        if (m.createAta) tx.add(createAssociatedTokenAccountIdempotentInstruction(authority.publicKey, ataOf(wallet), wallet, energyMint, TOKEN_2022_PROGRAM_ID));
        tx.add(await program.methods.mintTokensDirect!(new BN(m.amount.toString())).accountsStrict(coSigned ? { ...accounts, registryAuthority: registryAuthority.publicKey, recValidator: recValidator.publicKey } : accounts).instruction());
      }
      tx.add(ComputeBudgetProgram.setComputeUnitLimit({ units: 1 }), ComputeBudgetProgram.setComputeUnitPrice({ microLamports: 0 }));
      return tx.serializeMessage().length + 1 + 64 * (coSigned ? 2 : 1);
    });
    for (const planned of plan) {
      const instructions = async (units: number) => [
        ComputeBudgetProgram.setComputeUnitLimit({ units }),
        ComputeBudgetProgram.setComputeUnitPrice({ microLamports: 0 }),
        ...(
          await Promise.all(
            planned.mints.map(async (m) => {
              const wallet = new PublicKey(m.walletAddress);
              const accounts = { tokenInfo, mint: energyMint, userTokenAccount: ataOf(wallet), authority: authority.publicKey, tokenProgram: TOKEN_2022_PROGRAM_ID };
              const mintIx = await program.methods.mintTokensDirect!(new BN(m.amount.toString()))
                .accountsStrict(coSigned ? { ...accounts, registryAuthority: registryAuthority.publicKey, recValidator: recValidator.publicKey } : accounts)
                .instruction();
              return m.createAta ? [createAssociatedTokenAccountIdempotentInstruction(authority.publicKey, ataOf(wallet), wallet, energyMint, TOKEN_2022_PROGRAM_ID), mintIx] : [mintIx];
            }),
          )
        ).flat(),
      ];
      const build = async (units: number) => net.chain.decode(await wire(units));
      const wire = async (units: number) => {
        const tx = new Transaction({ feePayer: authority.publicKey, recentBlockhash: blockhash }).add(...(await instructions(units)));
        if (coSigned) tx.sign(authority, recValidator);
        else tx.sign(authority);
        return tx.serialize({ verifySignatures: false });
      };
      const sim = net.chain.simulate(await build(1_400_000), { sigVerify: false, checkBlockhash: true });
      if (sim.err) throw new Error(`simulation failed: ${JSON.stringify(sim.err)}`);
      const units = Math.min(1_400_000, Math.ceil(sim.unitsConsumed * 1.1) + 1_000);
      cuLimit = Math.max(cuLimit, units);
      const d = await build(units);
      recipientsOf.set(d.signature, planned.mints.length);
      net.chain.submit(d);
      progress(`${version} full block, token accounts ${atasExist ? 'exist' : 'created'}`, ++sent, plan.length);
    }
    const slot = net.chain.slot + 1;
    net.hooks.advanceSlots(1);
    const block = net.chain.getBlock(slot, 'processed')!;
    const recipientsInBlock = block.signatures.reduce((n, sig) => n + recipientsOf.get(sig)!, 0);
    const who = block.cost?.costliestAccount;
    return {
      version,
      atasExist,
      recipientsPerTx: plan[0]!.mints.length,
      cuLimit,
      txInBlock: block.signatures.length,
      recipientsInBlock,
      blockCu: block.cost?.block ?? 0,
      // The accounts every transaction writes tie: the fee payer and the mint, and in 0.1.0 token_info.
      costliest: [energyMint, tokenInfo, authority.publicKey].some((k) => k.toBase58() === who) ? (coSigned ? 'mint, fee payer' : 'mint, token_info, fee payer') : (who ?? '-'),
      costliestCu: block.cost?.costliestAccountCost ?? 0,
      waiting: net.chain.pendingCount,
    };
  } finally {
    await net.stop();
  }
}

type Planned = ReturnType<typeof optimizeBatch>[number];

/**
 * The engine's packing (optimizeBatch, which measures 0.1.0's instruction shape) with the byte budget
 * lowered until the real transactions of this version fit in 1,232 bytes.
 */
async function packFor(batch: Parameters<typeof optimizeBatch>[0], atasExist: boolean, bytesOf: (p: Planned) => Promise<number>): Promise<Planned[]> {
  for (let budget = RUNTIME_LIMITS.maxTxBytes; budget > 200; budget -= 8) {
    const plan = optimizeBatch(batch, { ...RUNTIME_LIMITS, maxTxBytes: budget, maxTokensPerInstruction: 10n ** 12n, usersPerTx: 64 }, () => atasExist);
    if ((await bytesOf(plan[0]!)) <= RUNTIME_LIMITS.maxTxBytes) return plan;
  }
  throw new Error('no packing fits');
}

const rpcRun = await overRpc();
const svmSeconds = inProcess(rpcRun.txs);
const full: FullBlock[] = [];
for (const version of PROGRAM_VERSIONS) for (const atasExist of [true, false]) full.push(await fullBlock(version, atasExist));
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
process.stdout.write(`\nRPC layer and block cost: ${(svmTps / rpcTps).toFixed(1)}x (${bs58.encode(Buffer.from(rpcRun.txs[0]!.subarray(1, 65))).slice(0, 8)}… first signature)\n`);
const b = rpcRun.blocks;
const pct = (cu: number, of: number) => `${cu.toLocaleString('en-US')} (${((100 * cu) / of).toFixed(1)} %)`;
process.stdout.write(
  `blocks: ${b.blocks} with transactions, ${b.meanTx.toFixed(1)} transactions per block on average, ${b.maxTx} at most; ` +
    `per-account budget used at most: ${pct(b.maxAccountCost, DEFAULT_LIMITS.accountCuLimit)} CU by ${b.maxAccount}\n`,
);
process.stdout.write(
  `\nmint_tokens_direct, one mint, default budgets (${DEFAULT_LIMITS.blockCuLimit.toLocaleString('en-US')} CU per block, ` +
    `${DEFAULT_LIMITS.accountCuLimit.toLocaleString('en-US')} per writable account), ${values.recipients} recipients sent within one slot, legacy transactions as the engine packs them:\n\n`,
);
process.stdout.write(
  `${table(
    ['program', 'token accounts', 'recipients/tx', 'CU limit requested/tx', 'tx in the block', 'recipients in the block', 'most-used accounts: CU each', 'block CU', 'left waiting'],
    full.map((f) => [
      f.version,
      f.atasExist ? 'exist' : 'created in the tx',
      f.recipientsPerTx,
      f.cuLimit.toLocaleString('en-US'),
      f.txInBlock,
      f.recipientsInBlock,
      `${f.costliest}: ${pct(f.costliestCu, DEFAULT_LIMITS.accountCuLimit)}`,
      pct(f.blockCu, DEFAULT_LIMITS.blockCuLimit),
      f.waiting,
    ]),
  )}\n`,
);
