// GET /batches/:id/events on a real Postgres server and on PGlite: a heartbeat comment on an idle stream; a
// cap on open streams per caller (429 beyond, a slot freed when a stream closes); a slow client whose queue of
// events passes the bound gets a final `error` event and is closed, and replays the rest from the database
// with Last-Event-ID; stream tickets (60 s, one batch) instead of any secret in the URL; ?access_token= is not
// a credential here.
import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { streamTickets } from '../../../src/db/schema.js';
import { makeLog } from '../../../src/log.js';
import { appendBatchEvents, createBatch, updateBatch } from '../../../src/minting/repo.js';
import { DATABASES, type TestDatabase, waitFor, withDatabase } from '../../support/db.js';
import { mintApp } from '../../support/mintApp.js';

const OP = { authorization: 'Bearer op' };

type Sse = { id?: string; event?: string; data?: string; comment?: string };
const parse = (text: string): Sse[] =>
  text
    .split('\n\n')
    .filter((b) => b.trim())
    .map((block) => {
      const e: Sse = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) e.comment = line.slice(1).trim();
        else {
          const i = line.indexOf(':');
          (e as Record<string, string>)[line.slice(0, i)] = line.slice(i + 1).trim();
        }
      }
      return e;
    });

/** Read a stream's body until `until` holds for what arrived (or it ends). */
async function readUntil(res: Response, until: (events: Sse[]) => boolean): Promise<Sse[]> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (value) text += dec.decode(value, { stream: true });
    if (done || until(parse(text))) {
      await reader.cancel().catch(() => undefined);
      return parse(text);
    }
  }
}

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  withDatabase(kind, open, (d) => {
    t = d;
  });

  /** A running batch with `n` stored events (n-1 results, then the summary), or none. */
  const batch = async (n = 0) => {
    const id = randomUUID();
    await createBatch(t!.database.db, id, 'operator', 'operator', 60_000);
    await updateBatch(t!.database.db, id, { state: 'running' });
    if (n > 0) {
      await appendBatchEvents(
        t!.database.db,
        id,
        Array.from({ length: n }, (_, i) => (i < n - 1 ? { seq: i + 1, event: 'result' as const, data: { reading_id: `r${i + 1}`, success: true } } : { seq: n, event: 'summary' as const, data: { state: 'completed' } })),
      );
    }
    return id;
  };

  it('an idle stream gets a heartbeat comment every heartbeat interval', async () => {
    if (!t) return;
    const m = mintApp(t.database, { sse: { heartbeatMs: 50 } });
    const res = await m.request(`/batches/${await batch()}/events`, { headers: OP });
    expect(res.status).toBe(200);
    const got = await readUntil(res, (es) => es.filter((e) => e.comment === 'heartbeat').length >= 2);
    expect(got.filter((e) => e.comment === 'heartbeat').length).toBeGreaterThanOrEqual(2);
  });

  it('open streams per caller are capped: one more is 429 with Retry-After; a closed stream frees its slot', async () => {
    if (!t) return;
    const m = mintApp(t.database, { sse: { maxStreamsPerCaller: 2, heartbeatMs: 50 } });
    const id = await batch();
    const a = await m.request(`/batches/${id}/events`, { headers: OP });
    const b = await m.request(`/batches/${id}/events`, { headers: OP });
    expect([a.status, b.status]).toEqual([200, 200]);
    const over = await m.request(`/batches/${id}/events`, { headers: OP });
    expect(over.status).toBe(429);
    expect(await over.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect(over.headers.get('Retry-After')).not.toBeNull();
    await b.body!.cancel();
    let again: Response | null = null;
    await waitFor(async () => {
      again = await m.request(`/batches/${id}/events`, { headers: OP });
      return again.status === 200;
    }, 10_000, 'a slot to be freed');
    await again!.body!.cancel();
    await a.body!.cancel();
  });

  it('a slow client is closed with a final error event once its queue passes the bound; it replays the rest with Last-Event-ID', async () => {
    if (!t) return;
    const lines: string[] = [];
    const log = makeLog('warn', new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    const m = mintApp(t.database, { sse: { maxQueuedEvents: 5, heartbeatMs: 100 }, log });
    const id = await batch(50);
    const res = await m.request(`/batches/${id}/events`, { headers: OP });
    // The client takes nothing until the server has given up on it.
    await waitFor(() => lines.some((l) => l.includes('slow event-stream client')), 10_000, 'the slow client to be closed');
    const first = await readUntil(res, () => false);
    // The bound (5 queued) plus what the stream itself holds (one chunk): far from the 50 stored.
    const ids = first.filter((e) => e.event === 'result').map((e) => Number(e.id));
    expect(ids.length).toBeGreaterThanOrEqual(5);
    expect(ids.length).toBeLessThanOrEqual(6);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
    const last = first[first.length - 1]!;
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data!)).toMatchObject({ code: 'SLOW_CONSUMER', last_event_id: ids.length });
    // Reconnecting (reading as it goes) replays the rest from the database, in order, to the summary.
    const rest = await readUntil(await m.request(`/batches/${id}/events`, { headers: { ...OP, 'last-event-id': String(ids.length) } }), (es) => es.some((e) => e.event === 'summary'));
    expect(rest.filter((e) => e.id).map((e) => Number(e.id))).toEqual(Array.from({ length: 50 - ids.length }, (_, i) => i + ids.length + 1));
  });

  it('a stream ticket opens its batch stream for 60 s without any secret in the URL; not another batch, not once expired', async () => {
    if (!t) return;
    const m = mintApp(t.database);
    const id = await batch(3);
    const other = await batch(2);
    expect((await m.request(`/batches/${randomUUID()}/stream-ticket`, { method: 'POST', headers: OP })).status).toBe(404);
    expect((await m.request(`/batches/${id}/stream-ticket`, { method: 'POST' })).status).toBe(401);
    const issued = await m.request(`/batches/${id}/stream-ticket`, { method: 'POST', headers: OP });
    expect(issued.status).toBe(201);
    const { ticket, events_url, expires_at } = (await issued.json()) as { ticket: string; events_url: string; expires_at: string };
    expect(new Date(expires_at).getTime() - Date.now()).toBeLessThanOrEqual(61_000);
    const res = await m.request(events_url);
    expect(res.status).toBe(200);
    expect((await readUntil(res, (es) => es.some((e) => e.event === 'summary'))).filter((e) => e.id)).toHaveLength(3);
    expect((await m.request(`/batches/${other}/events?ticket=${encodeURIComponent(ticket)}`)).status).toBe(401);
    expect((await m.request(`/batches/${id}/events?ticket=nope`)).status).toBe(401);
    // The token is stored only as a hash.
    expect(await t.database.db.select().from(streamTickets).where(eq(streamTickets.ticketHash, ticket))).toHaveLength(0);
    await t.database.db.update(streamTickets).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(streamTickets.batchId, id));
    expect((await m.request(events_url)).status).toBe(401);
  });

  it('?access_token= is not a credential for the event stream (401), even with the operator token', async () => {
    if (!t) return;
    const m = mintApp(t.database);
    const res = await m.request(`/batches/${await batch(1)}/events?access_token=op`);
    expect(res.status).toBe(401);
  });
});
