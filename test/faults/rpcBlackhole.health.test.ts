// An RPC that black-holes every call (accepted, never answered) while readings are queued: GET /health keeps
// answering from its last background checks, 200 {status: ok} (the RPC never makes it 503: the API still
// works), and /health/details says the RPC is unreachable; nothing is lost or minted twice, and minting resumes when the RPC answers again.
// Answer times are printed (a figure for the README), never asserted; the one bound checked is that /health
// answers before the service's own RPC timeout could have expired (it does not wait on the RPC).
import { Writable } from 'node:stream';
import { NO_FAULTS, startFaultProxy, type FaultProxy } from '../../anchor-localnet/faultProxy.js';
import { makeLog } from '../../src/log.js';
import { completedCount, seedReadings, waitCompleted, waitFor } from '../support/db.js';
import { EXACTLY_ONCE, exactlyOnceVerdict } from '../support/ledger.js';
import { queueRows, startFaultService } from '../support/faultService.js';
import { startTestChain, type TestChain } from '../support/localnet.js';

const N = Number(process.env.FAULTS_READINGS ?? 300);
// Longer than the service's default (10 s): /health must not wait on it; minting must not wait it out either
// once the RPC is back (calls left hanging in the black hole are abandoned when the health check sees it return).
const RPC_TIMEOUT_MS = Number(process.env.BLACKHOLE_RPC_TIMEOUT_MS ?? 20_000);
const log = makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() }));
let chain: TestChain;
let proxy: FaultProxy;
beforeAll(async () => {
  chain = await startTestChain({ slotMs: 50 });
  proxy = await startFaultProxy(chain.url, { seed: 3 });
});
afterAll(async () => {
  await proxy?.stop();
  await chain?.stop();
});

it(`/health answers through an RPC black hole, and ${N} readings are minted exactly once after it`, async () => {
  const svc = await startFaultService(
    { SOLANA_RPC_URL: proxy.url, SOLANA_WS_URL: chain.wsUrl, BLOCKCHAIN_MAX_BATCH_SIZE: '100', RPC_TIMEOUT_MS: String(RPC_TIMEOUT_MS), HEALTH_CHECK_INTERVAL_MS: '200' },
    log,
  );
  const probe = async () => {
    const started = Date.now();
    const res = await fetch(`${svc.apiUrl}/health`, { signal: AbortSignal.timeout(RPC_TIMEOUT_MS / 2) });
    const open = (await res.json()) as { status: string };
    const details = await fetch(`${svc.apiUrl}/health/details`, { headers: { authorization: 'Bearer o' }, signal: AbortSignal.timeout(RPC_TIMEOUT_MS / 2) });
    return { status: res.status, open, body: (await details.json()) as { status: string; rpc: { status: string; age_ms: number } }, ms: Date.now() - started };
  };
  try {
    const rows = queueRows(N, 20);
    const ids = rows.map((r) => r.id);
    proxy.faults.blackhole = 1;
    await seedReadings(svc.database.db, rows);
    // The health check's own RPC call times out (2 s), and /health says so, answering all along.
    const answers: Awaited<ReturnType<typeof probe>>[] = [];
    await waitFor(async () => {
      const a = await probe();
      answers.push(a);
      return a.body.rpc.status === 'unreachable';
    }, 60_000, '/health to report the RPC unreachable');
    // Keep probing through the black hole: 4 probes, or for BLACKHOLE_HOLD_MS (the README's 20 s figure).
    const holdUntil = Date.now() + Number(process.env.BLACKHOLE_HOLD_MS ?? 0);
    for (let i = 0; i < 4 || Date.now() < holdUntil; i++) {
      answers.push(await probe());
      if (i >= 3) await new Promise((r) => setTimeout(r, 500)); // probe pacing, not a race
    }
    // The RPC never makes the open /health 503: a load balancer keeps API processes that only need Postgres.
    for (const a of answers) expect([a.status, a.open]).toEqual([200, { status: 'ok' }]);
    expect(answers[answers.length - 1]!.body).toMatchObject({ status: 'degraded', rpc: { status: 'unreachable' } });
    process.stdout.write(`/health during the RPC black hole: ${answers.length} probes, answer times ${answers.map((a) => a.ms).join(', ')} ms\n`);

    const during = await completedCount(svc.database.db, ids);
    Object.assign(proxy.faults, NO_FAULTS);
    const restoredAt = Date.now();
    await waitFor(async () => (await completedCount(svc.database.db, ids)) > during, 120_000, 'minting to resume after the black hole');
    process.stdout.write(`after the RPC black hole: ${during} done before, next confirmation recorded ${Date.now() - restoredAt} ms after it ended\n`);
    await waitCompleted(svc.database.db, ids, 240_000);
    process.stdout.write(`after the RPC black hole: all ${N} readings completed ${Date.now() - restoredAt} ms after it ended\n`);
    await waitFor(async () => (await probe()).body.status === 'ok', 60_000, '/health to report ok again');
    expect(await exactlyOnceVerdict(svc.database.db, chain.url, rows.map((r) => r.id))).toEqual(EXACTLY_ONCE);
  } finally {
    Object.assign(proxy.faults, NO_FAULTS);
    await svc.stop();
  }
}, 600_000);
