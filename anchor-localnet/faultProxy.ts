// An RPC fault proxy on 127.0.0.1 between a client and the local chain, for the fault-injection suite:
// per request it may hold it for ever (a black hole), close the connection, answer 429 or 503, delay, and for sendTransaction drop the call
// without forwarding it (answering with the signature) or forward it and never answer. Seeded, so a
// failing run can be replayed.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import bs58 from 'bs58';

export interface Faults {
  /** Shares in [0, 1]. */
  close: number;
  http429: number;
  http503: number;
  dropSend: number;
  timeoutSend: number;
  /** Added before forwarding, ms. */
  delayMs: number;
  /** Share of calls held without an answer and never forwarded (1: the RPC is a black hole). */
  blackhole: number;
}

export const NO_FAULTS: Faults = { close: 0, http429: 0, http503: 0, dropSend: 0, timeoutSend: 0, delayMs: 0, blackhole: 0 };

export interface FaultProxy {
  url: string;
  faults: Faults;
  counts: Record<keyof Faults | 'forwarded', number>;
  stop(): Promise<void>;
}

/** mulberry32: small, seeded, good enough to pick faults. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function signatureOf(params: unknown): string | null {
  try {
    const [encoded, cfg] = params as [string, { encoding?: string } | undefined];
    const wire = cfg?.encoding === 'base64' ? Buffer.from(encoded, 'base64') : Buffer.from(bs58.decode(encoded));
    return bs58.encode(wire.subarray(1, 65));
  } catch {
    return null;
  }
}

export async function startFaultProxy(target: string, opts: { seed?: number; faults?: Partial<Faults> } = {}): Promise<FaultProxy> {
  const random = rng(opts.seed ?? 1);
  const faults: Faults = { ...NO_FAULTS, ...opts.faults };
  const counts = { close: 0, http429: 0, http503: 0, dropSend: 0, timeoutSend: 0, delayMs: 0, blackhole: 0, forwarded: 0 };
  const hit = (share: number) => share > 0 && random() < share;

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let call: { id?: unknown; method?: string; params?: unknown } = {};
    try {
      call = JSON.parse(raw);
    } catch {
      // forwarded as is; the chain answers the parse error
    }
    if (hit(faults.blackhole)) {
      counts.blackhole++;
      return; // never answered, never forwarded: the client's own timeout is all it gets
    }
    if (hit(faults.close)) {
      counts.close++;
      return void res.socket?.destroy();
    }
    for (const [key, status] of [['http429', 429], ['http503', 503]] as const) {
      if (hit(faults[key])) {
        counts[key]++;
        res.writeHead(status, { 'content-type': 'text/plain' });
        return void res.end(status === 429 ? 'Too Many Requests' : 'Service Unavailable');
      }
    }
    const isSend = call.method === 'sendTransaction';
    if (isSend && hit(faults.dropSend)) {
      const signature = signatureOf(call.params);
      if (signature) {
        counts.dropSend++;
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ jsonrpc: '2.0', id: call.id ?? null, result: signature }));
      }
    }
    const swallow = isSend && hit(faults.timeoutSend);
    if (faults.delayMs > 0) {
      counts.delayMs++;
      await new Promise((r) => setTimeout(r, faults.delayMs));
    }
    const upstream = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw }).catch(() => null);
    counts.forwarded++;
    if (swallow) {
      counts.timeoutSend++;
      return; // executed upstream, never answered: the client times out
    }
    if (!upstream) {
      res.writeHead(502);
      return void res.end();
    }
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(await upstream.text());
  };

  const server = createServer((req, res) => void onRequest(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    faults,
    counts,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
