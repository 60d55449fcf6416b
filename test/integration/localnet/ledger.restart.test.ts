// A ledger that survives a restart (--ledger DIR): accounts, blocks and transactions come back with the
// same genesis hash; a copy taken mid-run (as a crash leaves it) replays its journal; one ledger is open
// in one process at a time; and the service on its embedded chain keeps its database across restarts,
// starting it fresh only when the ledger itself was removed.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Connection, Keypair, LAMPORTS_PER_SOL, PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, createAssociatedTokenAccountIdempotent, createMint, getAccount, mintTo } from '@solana/spl-token';
import { startLocalnet, type Localnet } from '../../../anchor-localnet/server.js';
import { loadConfig } from '../../../src/config.js';
import { registerMeters } from '../../support/meters.js';
import { makeLog } from '../../../src/log.js';
import { startService } from '../../../src/service.js';

const dir = mkdtempSync(join(tmpdir(), 'ledger-'));
const connect = (net: Localnet) => new Connection(net.url, { commitment: 'confirmed', wsEndpoint: net.wsUrl });

describe('the local chain on a ledger directory', () => {
  const ledger = join(dir, 'chain');
  const payer = Keypair.generate();
  const owner = Keypair.generate();
  let genesis: string;
  let mint: PublicKey;
  let ata: PublicKey;
  let airdrop: string;
  let lastSlot: number;

  it('keeps accounts, blocks and transactions across a restart, with the same genesis hash', async () => {
    const first = await startLocalnet({ slotMs: 20, ledger });
    expect(first.chain.createdFresh).toBe(true);
    let c = connect(first);
    genesis = await c.getGenesisHash();
    airdrop = await c.requestAirdrop(payer.publicKey, 10 * LAMPORTS_PER_SOL);
    await c.confirmTransaction({ signature: airdrop, ...(await c.getLatestBlockhash()) });
    mint = await createMint(c, payer, payer.publicKey, null, 6, Keypair.generate(), undefined, TOKEN_2022_PROGRAM_ID);
    ata = await createAssociatedTokenAccountIdempotent(c, payer, mint, owner.publicKey, undefined, TOKEN_2022_PROGRAM_ID);
    await mintTo(c, payer, mint, ata, payer, 1_000n, [], undefined, TOKEN_2022_PROGRAM_ID);
    const airdropSlot = (await c.getSignatureStatuses([airdrop])).value[0]!.slot;
    lastSlot = first.chain.slot;
    await first.stop();

    const again = await startLocalnet({ slotMs: 20, ledger });
    try {
      expect(again.chain.createdFresh).toBe(false);
      expect(again.chain.slot).toBeGreaterThanOrEqual(lastSlot);
      c = connect(again);
      expect(await c.getGenesisHash()).toBe(genesis);
      expect((await getAccount(c, ata, 'confirmed', TOKEN_2022_PROGRAM_ID)).amount).toBe(1_000n);
      const tx = await c.getTransaction(airdrop, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
      expect(tx?.slot).toBe(airdropSlot);
      expect((await c.getSignaturesForAddress(payer.publicKey, {}, 'confirmed')).map((s) => s.signature)).toContain(airdrop);
      const block = await c.getBlock(airdropSlot, { commitment: 'confirmed', transactionDetails: 'full', maxSupportedTransactionVersion: 0 });
      expect(block?.transactions.map((t) => t.transaction.signatures[0])).toContain(airdrop);
      // Programs run after the restore: Token-2022 mints again.
      await mintTo(c, payer, mint, ata, payer, 1n, [], undefined, TOKEN_2022_PROGRAM_ID);
      expect((await getAccount(c, ata, 'confirmed', TOKEN_2022_PROGRAM_ID)).amount).toBe(1_001n);

      // One process at a time.
      await expect(startLocalnet({ ledger })).rejects.toThrow(/is in use by process/);

      // A copy taken while it runs, with the journal ahead of the snapshot (as a crash leaves it).
      await mintTo(c, payer, mint, ata, payer, 10n, [], undefined, TOKEN_2022_PROGRAM_ID);
      const crashed = join(dir, 'crashed');
      cpSync(ledger, crashed, { recursive: true });
      rmSync(join(crashed, 'lock')); // its process is gone
      const recovered = await startLocalnet({ slotMs: 20, ledger: crashed });
      try {
        const r = connect(recovered);
        expect(await r.getGenesisHash()).toBe(genesis);
        expect((await getAccount(r, ata, 'processed', TOKEN_2022_PROGRAM_ID)).amount).toBe(1_011n);
      } finally {
        await recovered.stop();
      }
    } finally {
      await again.stop();
    }
  });
});

describe('the service on its embedded chain', () => {
  const lines: string[] = [];
  const log = makeLog('info', new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } }));
  const env = {
    PORT: '0',
    LOCALNET_SLOT_MS: '20',
    PGLITE_DIR: join(dir, 'svc', 'pglite'),
    LOCALNET_LEDGER_DIR: join(dir, 'svc', 'ledger'),
    WORKER: 'off',
    GATEWAY_API_KEYS: 'gw:gw',
    OPERATOR_TOKEN: 'op',
  };
  const wallet = Keypair.generate().publicKey.toBase58();
  const call = (url: string, path: string, token: string, body?: unknown) =>
    fetch(`${url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it('keeps its readings and their minted tokens across restarts; a removed ledger starts both fresh', async () => {
    let svc = await startService(loadConfig(env), log);
    let readingId: string;
    let signature: string;
    try {
      await registerMeters((path, init) => fetch(`${svc.apiUrl}${path}`, init), 'op', [{ meter_id: 'm1', user_id: 'u1', wallet_address: wallet }]);
      const posted = (await (await call(svc.apiUrl!, '/readings', 'gw', { meter_id: 'm1', kwh_amount: '2', reading_timestamp: '2026-11-01T00:00:00Z' })).json()) as any;
      readingId = posted.readings[0].reading_id;
      const batch = (await (await call(svc.apiUrl!, '/mint-batch', 'op', {})).json()) as any;
      expect(batch.successful_mints).toBe(1);
      signature = ((await (await call(svc.apiUrl!, `/readings/${readingId}`, 'gw')).json()) as any).tx_signature;
    } finally {
      await svc.stop();
    }

    svc = await startService(loadConfig(env), log);
    try {
      const got = (await (await call(svc.apiUrl!, `/readings/${readingId}`, 'gw')).json()) as any;
      expect(got).toMatchObject({ status: 'completed', tx_signature: signature });
      const tx = await new Connection(svc.rpcUrl, 'confirmed').getTransaction(signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
      expect(tx?.meta?.err).toBeNull();
    } finally {
      await svc.stop();
    }
    expect(lines.some((l) => l.includes('starting its PGlite database fresh'))).toBe(false);

    rmSync(env.LOCALNET_LEDGER_DIR, { recursive: true });
    svc = await startService(loadConfig(env), log);
    try {
      expect((await call(svc.apiUrl!, `/readings/${readingId}`, 'gw')).status).toBe(404);
      expect(lines.some((l) => l.includes('starting its PGlite database fresh'))).toBe(true);
    } finally {
      await svc.stop();
    }
  });
});
