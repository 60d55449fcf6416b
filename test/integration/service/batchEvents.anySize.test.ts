// Batch events fit any batch: NOTIFY carries only a reference, so 1,000 results and their summary reach a
// subscriber in another process (here: another connection pool on the same database) in the order written,
// even when the results were appended without waiting (as a batch does) and the summary last.
import { Writable } from 'node:stream';
import { makeBatchEvents } from '../../../src/minting/events.js';
import { openDatabase } from '../../../src/db/client.js';
import { makeLog } from '../../../src/log.js';
import { createBatch } from '../../../src/minting/repo.js';
import { DATABASES, postgresAvailable, waitFor, type TestDatabase } from '../../support/db.js';

const log = makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const BATCH = '44444444-4444-4444-8444-444444444444';

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  beforeAll(async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    t = await open();
  });
  afterAll(() => t?.drop());

  it('1,000 unawaited results then a summary arrive, all of them and in order, through the table', async () => {
    if (!t) return;
    // The "API process": its own pool (on Postgres), subscribed before anything is written.
    const other = t.url ? await openDatabase({ url: t.url, pgliteDir: '' }) : t.database;
    try {
      await createBatch(t.database.db, BATCH, 'poll', null, 60_000);
      const reader = makeBatchEvents(other);
      let notified = 0;
      const unsubscribe = await reader.subscribe(BATCH, () => notified++);

      const writer = makeBatchEvents(t.database).writer(BATCH, log);
      const written = Array.from({ length: 1_000 }, (_, i) => writer.append([{ event: 'result', data: { reading_id: String(i), padding: 'x'.repeat(40) } }]));
      await writer.append([{ event: 'summary', data: { batch_id: BATCH, total_readings: 1_000 } }]);
      await Promise.all(written);
      await waitFor(() => notified > 0, 30_000, 'a notification');

      const seen = [];
      for (let last = 0; ; ) {
        const page = await reader.read(BATCH, last, 300);
        if (page.length === 0) break;
        seen.push(...page);
        last = page[page.length - 1]!.seq;
      }
      expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: 1_001 }, (_, i) => i + 1));
      expect(seen.slice(0, 1_000).map((e) => (e.data as { reading_id: string }).reading_id)).toEqual(Array.from({ length: 1_000 }, (_, i) => String(i)));
      expect(seen[1_000]).toMatchObject({ event: 'summary', data: { total_readings: 1_000 } });
      // The writer coalesced: far fewer notifications than events (each is one INSERT of what was queued).
      expect(notified).toBeLessThan(1_001);
      await unsubscribe();
    } finally {
      if (other !== t.database) await other.close();
    }
  });
});
