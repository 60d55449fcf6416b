// A TCP proxy on 127.0.0.1 in front of a server (here Postgres), for fault tests, in the style of
// anchor-localnet/faultProxy.ts: `cut` resets every open connection and every new one until `restore` (a
// failover, a dropped link); `blackhole` holds every byte both ways, on open and new connections, until
// `restore`, then delivers it (a network partition that heals: TCP retransmits, nothing is lost).
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpFaultProxy {
  /** `base` with its host and port replaced by the proxy's. */
  urlFor(base: string): string;
  cut(): void;
  blackhole(): void;
  restore(): void;
  counts: { connections: number; refused: number; cut: number };
  /** Connections open through the proxy now. */
  open(): number;
  stop(): Promise<void>;
}

export async function startTcpFaultProxy(target: { host: string; port: number }): Promise<TcpFaultProxy> {
  let mode: 'open' | 'cut' | 'blackhole' = 'open';
  const pairs = new Set<[Socket, Socket]>();
  const counts = { connections: 0, refused: 0, cut: 0 };

  const server = createServer((client) => {
    client.on('error', () => undefined); // a reset peer is what this proxy is for
    if (mode === 'cut') {
      counts.refused++;
      return void client.resetAndDestroy();
    }
    counts.connections++;
    const upstream = connect(target.port, target.host).on('error', () => undefined);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
    if (mode === 'blackhole') hold(pair);
  });
  // Unpipe, then pause: a piped stream may be resumed by its destination, an unpiped paused one is not.
  const hold = ([a, b]: [Socket, Socket]) => {
    a.unpipe(b);
    b.unpipe(a);
    a.pause();
    b.pause();
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  return {
    urlFor(base) {
      const u = new URL(base);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut() {
      mode = 'cut';
      for (const [a, b] of [...pairs]) {
        counts.cut++;
        a.resetAndDestroy();
        b.destroy();
      }
      pairs.clear();
    },
    blackhole() {
      if (mode === 'blackhole') return;
      mode = 'blackhole';
      for (const pair of pairs) hold(pair);
    },
    restore() {
      const was = mode;
      mode = 'open';
      if (was !== 'blackhole') return;
      for (const [a, b] of pairs) {
        a.pipe(b);
        b.pipe(a);
      }
    },
    counts,
    open: () => pairs.size,
    stop: () =>
      new Promise<void>((r) => {
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => r());
      }),
  };
}
