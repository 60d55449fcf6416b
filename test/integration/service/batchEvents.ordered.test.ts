// Batch events reach subscribers in the order one process published them: a summary published after its
// results never overtakes them, even when the results were published without waiting (as a batch does).
import { makeBatchEvents, type BatchEvent } from '../../../src/minting/events.js';
import { DATABASES, postgresAvailable, type TestDatabase } from '../../support/db.js';

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  beforeAll(async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    t = await open();
  });
  afterAll(() => t?.drop());

  it('a summary published after 50 unawaited results arrives after all of them', async () => {
    if (!t) return;
    const events = makeBatchEvents(t.database);
    const seen: BatchEvent[] = [];
    const got = new Promise<void>((resolve) =>
      void events.subscribe('b1', (e) => {
        seen.push(e);
        if (e.event === 'summary') resolve();
      }),
    );
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 50; i++) void events.publish({ batch_id: 'b1', event: 'result', data: { reading_id: String(i) } });
    await events.publish({ batch_id: 'b1', event: 'summary', data: {} });
    await got;
    expect(seen.map((e) => (e.event === 'result' ? (e.data as { reading_id: string }).reading_id : 'summary'))).toEqual([...Array.from({ length: 50 }, (_, i) => String(i)), 'summary']);
  });
});
