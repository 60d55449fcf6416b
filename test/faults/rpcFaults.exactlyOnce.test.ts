// The service behind an RPC fault proxy: under dropped sends, sends that are executed but never answered,
// 429s, 503s, slow answers, closed connections and a mix of all of them, every reading ends minted
// exactly once: 0 minted twice, 0 lost, and on-chain balances equal to the sums of the readings.
// `npm test` runs FAULTS_READINGS=300 per scenario; `npm run test:faults` runs 2,000.
import { Writable } from 'node:stream';
import { startFaultProxy, NO_FAULTS, type FaultProxy, type Faults } from '../../anchor-localnet/faultProxy.js';
import { makeLog } from '../../src/log.js';
import { startTestChain, type TestChain } from '../support/localnet.js';
import { seedReadings, waitCompleted } from '../support/db.js';
import { EXACTLY_ONCE, exactlyOnceVerdict } from '../support/ledger.js';
import { queueRows, startFaultService } from '../support/faultService.js';

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
  const svc = await startFaultService(
    { SOLANA_RPC_URL: proxy.url, SOLANA_WS_URL: chain.wsUrl, BLOCKCHAIN_MAX_BATCH_SIZE: '150', LEASE_MS: '2000', RPC_TIMEOUT_MS: '700', MAX_ATTEMPTS: '100', RETRY_BACKOFF_MS: '20' },
    log,
  );
  try {
    Object.assign(proxy.faults, NO_FAULTS, faults);
    const rows = queueRows(N, Math.max(10, Math.floor(N / 5)));
    await seedReadings(svc.database.db, rows);
    await waitCompleted(svc.database.db, rows.map((r) => r.id), 240_000, () => `(proxy counts ${JSON.stringify(proxy.counts)})`);
    Object.assign(proxy.faults, NO_FAULTS);
    expect(await exactlyOnceVerdict(svc.database.db, chain.url, rows.map((r) => r.id))).toEqual(EXACTLY_ONCE);
  } finally {
    Object.assign(proxy.faults, NO_FAULTS);
    await svc.stop();
  }
}, 300_000);
