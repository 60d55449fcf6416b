// The engine's in-flight limiter (AIMD), driven by scripted landing distances in slots: it grows by one per
// `growEvery` fast landings up to its ceiling, halves on a slow landing or a 429 (once per round trip, never
// below 1), stays fixed when ceiling == initial, and hands places out oldest waiter first.
import { makeInFlightLimiter, type InFlightLimiter } from '../../../src/minting/inFlight.js';

/** Start `n` transactions at once and land them all `slots` after their send, one after another. */
async function round(l: InFlightLimiter, n: number, slots: number | null) {
  const tickets = await Promise.all(Array.from({ length: n }, () => l.acquire()));
  for (const t of tickets) t!.landed(slots);
}

it('grows by one per window of fast landings, up to the ceiling', async () => {
  const l = makeInFlightLimiter({ initial: 8, ceiling: 10, growEvery: 4 });
  await round(l, 8, 1);
  expect(l.limit()).toBe(10);
  await round(l, 10, 2); // two slots still counts as fast
  expect(l.limit()).toBe(10);
  expect(l.inFlight()).toBe(0);
});

it('halves on a slow landing, once for the transactions of one round trip', async () => {
  const l = makeInFlightLimiter({ initial: 16, ceiling: 64, growEvery: 4 });
  // 16 in flight when the chain gets slow: all land late, but only the first halves.
  await round(l, 16, 10);
  expect(l.limit()).toBe(8);
  // Transactions started under the new limit that land late halve it again.
  await round(l, 8, 10);
  expect(l.limit()).toBe(4);
  // Not measured: neither grows nor shrinks.
  await round(l, 4, null);
  expect(l.limit()).toBe(4);
});

it('halves on a 429, again only after a transaction started under the new limit, and never below 1', async () => {
  const l = makeInFlightLimiter({ initial: 8, ceiling: 64 });
  l.rateLimited();
  l.rateLimited(); // the same burst of 429s: nothing was started under 4 yet
  expect(l.limit()).toBe(4);
  for (let i = 0; i < 5; i++) {
    (await l.acquire())!.release();
    l.rateLimited();
  }
  expect(l.limit()).toBe(1);
});

it('ceiling == initial is a fixed limit: the ninth waits until one of eight ends', async () => {
  const l = makeInFlightLimiter({ initial: 8, ceiling: 8 });
  const eight = await Promise.all(Array.from({ length: 8 }, () => l.acquire()));
  let ninth = false;
  const waiting = l.acquire().then((t) => ((ninth = true), t));
  await Promise.resolve();
  expect(ninth).toBe(false);
  expect(l.inFlight()).toBe(8);
  for (const t of eight.slice(0, 4)) t!.landed(1);
  eight[4]!.landed(1); // a fifth fast landing would grow a limiter with room above
  expect(l.limit()).toBe(8);
  const t9 = await waiting;
  expect(ninth).toBe(true);
  t9!.release();
  t9!.landed(100); // a ticket ends once: the late call does nothing
  expect(l.limit()).toBe(8);
});

it('hands places to waiters in order and drops one whose signal aborts', async () => {
  const l = makeInFlightLimiter({ initial: 1, ceiling: 1 });
  const first = await l.acquire();
  const order: string[] = [];
  const controller = new AbortController();
  const a = l.acquire(controller.signal).then((t) => (order.push(t ? 'a' : 'a cancelled'), t));
  const b = l.acquire().then((t) => (order.push('b'), t));
  controller.abort();
  expect(await a).toBeNull();
  first!.release();
  (await b)!.release();
  expect(order).toEqual(['a cancelled', 'b']);
  expect(l.inFlight()).toBe(0);
  expect(await l.acquire(controller.signal)).toBeNull();
});

it('refuses a ceiling below the start', () => {
  expect(() => makeInFlightLimiter({ initial: 8, ceiling: 4 })).toThrow(/ceiling/);
});
