// How many mint transactions one engine keeps in flight, shared by all its batches: additive increase,
// multiplicative decrease (AIMD, as TCP's congestion window).
//
// The signal is how long a transaction waited to land, in slots: from the slot the node was at when it was
// first asked about the signature after the first send (sendAndConfirm's sentSlot) to the slot it landed in.
// Slots, not milliseconds, so the rule holds for any slot time. Landing within `fastSlots` (2) slots means the
// leader had room: after every `growEvery` such confirmations the limit grows by one, up to `ceiling`
// (BLOCKCHAIN_MAX_IN_FLIGHT). Waiting longer means blocks are full or the RPC's queue is long, and an HTTP 429
// means the RPC is refusing us: the limit halves, never below 1. Only one halving per round trip: a slow
// transaction sent before the last halving says nothing about the new limit (it was already waiting), and a
// 429 halves again only once a transaction has been started under the new limit.
// ceiling == initial gives a fixed limit (the behaviour before this limiter).

export interface InFlightOptions {
  /** The starting limit (BLOCKCHAIN_CONCURRENT_BATCHES). */
  initial: number;
  /** The highest limit (BLOCKCHAIN_MAX_IN_FLIGHT), ≥ initial. */
  ceiling: number;
  /** A transaction that lands within this many slots of its send is fast; default 2. */
  fastSlots?: number;
  /** Fast confirmations per +1; default 4. */
  growEvery?: number;
}

/** One transaction's place in flight. Exactly one of its methods ends it; later calls do nothing. */
export interface InFlightTicket {
  /** It landed `slots` slots after it was sent (null: not measured; counts as neither fast nor slow). */
  landed(slots: number | null): void;
  /** It ended otherwise (failed before sending, expired, unknown, cancelled): no signal either way. */
  release(): void;
}

export interface InFlightLimiter {
  /** Wait for room; null when `signal` aborts first (nothing is held then). */
  acquire(signal?: AbortSignal): Promise<InFlightTicket | null>;
  /** The RPC answered 429. */
  rateLimited(): void;
  limit(): number;
  inFlight(): number;
}

export function makeInFlightLimiter(opts: InFlightOptions): InFlightLimiter {
  if (opts.initial < 1 || opts.ceiling < opts.initial) throw new Error(`in-flight limits: need 1 ≤ initial (${opts.initial}) ≤ ceiling (${opts.ceiling})`);
  const fastSlots = opts.fastSlots ?? 2;
  const growEvery = opts.growEvery ?? 4;
  let limit = opts.initial;
  let active = 0;
  let fast = 0;
  // Bumped by every halving; a ticket remembers the epoch it started in.
  let epoch = 0;
  let startedSinceHalving = true;
  const waiting: { grant: () => void }[] = [];

  const halve = () => {
    limit = Math.max(1, Math.floor(limit / 2));
    fast = 0;
    epoch++;
    startedSinceHalving = false;
  };

  /** Hand free places to the waiters, oldest first (batches share the budget in claim order). */
  const admit = () => {
    while (active < limit && waiting.length) {
      active++;
      waiting.shift()!.grant();
    }
  };

  const ticket = (): InFlightTicket => {
    const startedIn = epoch;
    startedSinceHalving = true;
    let open = true;
    const end = () => {
      if (!open) return false;
      open = false;
      active--;
      return true;
    };
    return {
      landed(slots) {
        if (!end()) return;
        if (slots !== null && slots <= fastSlots) {
          if (++fast >= growEvery) {
            fast = 0;
            limit = Math.min(opts.ceiling, limit + 1);
          }
        } else if (slots !== null && startedIn === epoch) {
          halve();
        }
        admit();
      },
      release() {
        if (end()) admit();
      },
    };
  };

  return {
    acquire(signal) {
      if (signal?.aborted) return Promise.resolve(null);
      if (active < limit && waiting.length === 0) {
        active++;
        return Promise.resolve(ticket());
      }
      return new Promise((resolve) => {
        const waiter = {
          grant: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve(ticket());
          },
        };
        const onAbort = () => {
          const i = waiting.indexOf(waiter);
          if (i >= 0) waiting.splice(i, 1);
          resolve(null);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiting.push(waiter);
      });
    },
    rateLimited() {
      if (startedSinceHalving) halve();
    },
    limit: () => limit,
    inFlight: () => active,
  };
}
