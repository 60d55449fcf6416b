// A batch says how it ended: `completed` only when every reading it settled was minted,
// `completed_with_failures` when some were and some failed, `failed` when none was minted (a batch of 0
// minted and 1 failed said `completed`, with a green badge). The same word in the API's answer, GET
// /batches/:id, the stored summary event, the metrics and the console's badge (green for `completed` only).
import { eq } from 'drizzle-orm';
import { batches } from '../../../src/db/schema.js';
import { makeMetrics } from '../../../src/http/metrics.js';
import type { MintEngine } from '../../../src/minting/engine.js';
import { batchStateCounts, queueStats } from '../../../src/minting/repo.js';
import type { MintBatchData, MintResult } from '../../../src/minting/types.js';
import { consoleApp, seedStatus } from '../../support/console.js';
import { DATABASES, type TestDatabase, withDatabase } from '../../support/db.js';
import { mintApp, type MintApp } from '../../support/mintApp.js';

/** An engine that mints the readings whose id is in `minted` and fails the rest, without a chain. */
const fakeEngine = (minted: Set<string>): Partial<MintEngine> => ({
  async *mintGroups(all: MintBatchData[]) {
    yield all.map((r): MintResult => (minted.has(r.readingId) ? { readingId: r.readingId, success: true, error: null, txSignature: `sig-${r.readingId}`, outcome: 'minted' } : { readingId: r.readingId, success: false, error: 'boom', txSignature: null, outcome: 'failed' }));
  },
});

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  const minted = new Set<string>();
  let app: MintApp;
  let consoleRequest: (path: string, init?: RequestInit) => Promise<Response>;
  let cookie = '';
  withDatabase(kind, open, async (d) => {
    t = d;
    app = mintApp(d.database, { engine: fakeEngine(minted) });
    consoleRequest = (await consoleApp(d.database)).request;
    const res = await consoleRequest('/console/login', { method: 'POST', headers: { origin: 'http://console.test', 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=op' });
    cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  });

  const runBatch = async (mint: number, fail: number) => {
    const ids = await seedStatus(t!.database, mint + fail, 'pending');
    ids.slice(0, mint).forEach((id) => minted.add(id));
    const res = await app.request('/mint-batch', { method: 'POST', headers: { authorization: 'Bearer op' }, body: JSON.stringify({ reading_ids: ids }) });
    expect(res.status).toBe(200);
    return (await res.json()) as { batch_id: string; state: string; successful_mints: number; failed_mints: number };
  };

  it.each([
    [1, 0, 'completed', true],
    [2, 1, 'completed_with_failures', false],
    [0, 1, 'failed', false],
    [0, 3, 'failed', false],
  ] as const)('%i minted and %i failed: %s everywhere, green badge: %s', async (mint, fail, outcome, green) => {
    if (!t) return;
    const answer = await runBatch(mint, fail);
    expect([answer.state, answer.successful_mints, answer.failed_mints]).toEqual([outcome, mint, fail]);
    const [row] = await t.database.db.select().from(batches).where(eq(batches.id, answer.batch_id));
    expect(row!.state).toBe(outcome);
    const got = (await (await app.request(`/batches/${answer.batch_id}`, { headers: { authorization: 'Bearer op' } })).json()) as { state: string };
    expect(got.state).toBe(outcome);
    const events = await (await app.request(`/batches/${answer.batch_id}/events`, { headers: { authorization: 'Bearer op' } })).text();
    expect(events).toMatch(new RegExp(`event: summary\\ndata: \\{[^\\n]*"state":"${outcome}"`));
    const list = await (await consoleRequest('/console/fragments/batches', { headers: { cookie } })).text();
    const badge = new RegExp(`${answer.batch_id.slice(0, 8)}</a></td><td><span class="pill ([a-z_]+)">([a-z_]+)</span>`).exec(list)!;
    expect([badge[1], badge[2]]).toEqual([outcome, outcome]);
    // Only `completed` wears the green of .pill.completed.
    expect(badge[1] === 'completed').toBe(green);
  });

  it('the metrics count batches by how they ended', async () => {
    if (!t) return;
    const metrics = makeMetrics({ queueCounts: async () => (await queueStats(t!.database.db)).counts, feePayerLamports: async () => null, batchStates: () => batchStateCounts(t!.database.db) });
    const text = await metrics.text();
    expect(text).toMatch(/energy_batches\{state="completed"\} 1\n/);
    expect(text).toMatch(/energy_batches\{state="completed_with_failures"\} 1\n/);
    expect(text).toMatch(/energy_batches\{state="failed"\} 2\n/);
    expect(text).toMatch(/energy_batches\{state="cancelled"\} 0\n/);
  });
});
