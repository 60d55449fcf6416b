// The service behind an RPC fault proxy: under dropped sends, sends that are executed but never answered,
// 429s, 503s, slow answers, closed connections and a mix of all of them, every reading ends minted
// exactly once: 0 minted twice, 0 lost, and on-chain balances equal to the sums of the readings.
// `npm test` runs FAULTS_READINGS=300 per scenario; `npm run test:faults` runs 2,000.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Keypair } from '@solana/web3.js';
import { and, count, eq, inArray } from 'drizzle-orm';
import { startFaultProxy, NO_FAULTS, type FaultProxy, type Faults } from '../../anchor-localnet/faultProxy.js';
import { loadConfig } from '../../src/config.js';
import { readings } from '../../src/db/schema.js';
import { makeLog } from '../../src/log.js';
import { insertReadings } from '../../src/readings/repo.js';
import { reconcile } from '../../src/minting/reconcile.js';
import { makeRpcClient } from '../../src/chain/rpcClient.js';
import { startService } from '../../src/service.js';
import { startTestChain, type TestChain } from '../support/localnet.js';
import { waitCompleted } from '../support/db.js';
import { MINT } from '../support/energyToken.js';
import { AUTHORITY_KEYPAIR_PATH } from '../../anchor-localnet/paths.js';

const N = Number(process.env.FAULTS_READINGS ?? 300);
const log = makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() }));
let chain: TestChain;
let proxy: FaultProxy;
beforeAll(async () => {
  chain = await startTestChain({ slotMs: 50 });
  proxy = await startFaultProxy(chain.url, { seed: Number(process.env.FAULTS_SEED ?? 42) });
});
afterAll(async () => {
  await proxy?.stop();
  await chain?.stop();
});

const scenarios: [string, Partial<Faults>][] = [
  ['30% of sends dropped without forwarding', { dropSend: 0.3 }],
  ['20% of sends executed but never answered', { timeoutSend: 0.2 }],
  ['20% of calls answered 429', { http429: 0.2 }],
  ['20% of calls answered 503', { http503: 0.2 }],
  ['every answer delayed 150 ms', { delayMs: 150 }],
  ['10% of connections closed', { close: 0.1 }],
  ['a mix of all of them', { dropSend: 0.1, timeoutSend: 0.05, http429: 0.05, http503: 0.05, close: 0.05, delayMs: 20 }],
];

it.each(scenarios)(`${N} readings with %s: 0 minted twice, 0 lost, balances equal the sums`, async (_name, faults) => {
  const svc = await startService(
    loadConfig({
      PORT: '0',
      SOLANA_RPC_URL: proxy.url,
      SOLANA_WS_URL: chain.wsUrl,
      AUTHORITY_KEYPAIR_PATH,
      GATEWAY_API_KEYS: 'g',
      OPERATOR_TOKEN: 'o',
      PGLITE_DIR: join(mkdtempSync(join(tmpdir(), 'faults-')), 'pg'),
      BATCH_INTERVAL_MS: '100',
      BLOCKCHAIN_MAX_BATCH_SIZE: '150',
      LEASE_MS: '2000',
      RPC_TIMEOUT_MS: '700',
      MAX_ATTEMPTS: '100',
      RETRY_BACKOFF_MS: '20',
    }),
    log,
  );
  const rpc = makeRpcClient({ url: chain.url, timeoutMs: 5000 });
  try {
    const supplyBefore = (await reconcile(svc.database.db, rpc, MINT.toBase58())).supply;
    Object.assign(proxy.faults, NO_FAULTS, faults);
    const users = Array.from({ length: Math.max(10, Math.floor(N / 5)) }, () => Keypair.generate().publicKey.toBase58());
    const rows = Array.from({ length: N }, (_, i) => ({
      id: crypto.randomUUID(),
      meterId: 'm',
      userId: `u${i % users.length}`,
      walletAddress: users[i % users.length]!,
      kwhAmount: '1',
      tokensToMint: BigInt(1 + ((i * 7919) % 1_000_000)),
      readingTimestamp: new Date(Date.UTC(2026, 0, 1) + i),
    }));
    await insertReadings(svc.database.db, rows);
    await waitCompleted(svc.database.db, rows.map((r) => r.id), 240_000, () => `(proxy counts ${JSON.stringify(proxy.counts)})`);
    Object.assign(proxy.faults, NO_FAULTS);
    const r = await reconcile(svc.database.db, rpc, MINT.toBase58());
    const [done] = await svc.database.db.select({ n: count() }).from(readings).where(and(eq(readings.status, 'completed'), inArray(readings.id, rows.map((r) => r.id))));
    const lost = N - done!.n;
    expect({ mintedTwiceOrMissing: r.differences.length, lost }).toEqual({ mintedTwiceOrMissing: 0, lost: 0 });
    expect(r.supply - supplyBefore).toBe(r.completedTotal); // the mint grew by exactly what the readings carry
  } finally {
    Object.assign(proxy.faults, NO_FAULTS);
    await svc.stop();
  }
}, 300_000);
