// startLocalnet: the local chain behind a Solana JSON-RPC server on 127.0.0.1 (HTTP on a port, PubSub
// WebSocket on the next one, as a validator does), plus in-process test hooks that are not reachable
// over the network.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { type ChainOptions, LocalChain, type RawAccount } from './chain.js';
import { PubSub } from './pubsub.js';
import { methods, RpcError, type RpcContext, type SendFaults, toJson } from './rpc.js';

const MAX_BODY = 50 * 1024 * 1024;
const HOST = '127.0.0.1';

export interface LocalnetOptions extends ChainOptions {
  /** HTTP port; the WebSocket takes port + 1. 0 picks a free pair. */
  port?: number;
}

export interface LocalnetHooks {
  /** The next `n` sendTransaction calls answer with the signature and are never executed. */
  dropNextSends(n: number): void;
  /** The next `n` sendTransaction calls go into a block, but their answer is held until the client gives up. */
  holdNextSends(n: number): void;
  /** Forget pending drop and hold requests. */
  clearSendFaults(): void;
  pauseSlots(): void;
  resumeSlots(): void;
  /** Produce `n` blocks at once (with slots paused, time moves, and transactions land, only by this). */
  advanceSlots(n: number): void;
  setAccount(pubkey: string, account: RawAccount): void;
}

export interface Localnet {
  url: string;
  wsUrl: string;
  chain: LocalChain;
  hooks: LocalnetHooks;
  stop(): Promise<void>;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

const close = (s: Server) =>
  new Promise<void>((resolve) => {
    s.closeAllConnections();
    s.close(() => resolve());
  });

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new RpcError(-32600, 'Request too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startLocalnet(opts: LocalnetOptions = {}): Promise<Localnet> {
  const chain = new LocalChain(opts);
  const faults: SendFaults = { drop: 0, hold: 0 };
  const held = new Set<() => void>();
  const rpcContext: RpcContext = {
    chain,
    faults,
    // Never resolves: the response is simply not written. stop() releases the sockets.
    holdResponse: () => new Promise<never>((_resolve, reject) => held.add(() => reject(new Error('stopped')))),
  };

  const callOne = async (req: unknown): Promise<unknown> => {
    const r = req as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
    const id = r && typeof r === 'object' && 'id' in r ? r.id : null;
    if (!r || typeof r !== 'object' || r.jsonrpc !== '2.0' || typeof r.method !== 'string') {
      return { jsonrpc: '2.0', id, error: { code: -32600, message: 'Invalid request' } };
    }
    const handler = Object.hasOwn(methods, r.method) ? methods[r.method] : undefined;
    if (!handler) return { jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } };
    if (r.params !== undefined && !Array.isArray(r.params)) {
      return { jsonrpc: '2.0', id, error: { code: -32602, message: 'Invalid params: expected an array of parameters' } };
    }
    try {
      const result = await handler((r.params as unknown[] | undefined) ?? [], rpcContext);
      return { jsonrpc: '2.0', id, result };
    } catch (e) {
      if (e instanceof RpcError) {
        return { jsonrpc: '2.0', id, error: { code: e.code, message: e.message, ...(e.data !== undefined ? { data: e.data } : {}) } };
      }
      if ((e as Error).message === 'stopped') throw e;
      return { jsonrpc: '2.0', id, error: { code: -32603, message: `Internal error: ${(e as Error).message}` } };
    }
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const reply = (status: number, body: string, type = 'application/json') => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method === 'GET' && req.url === '/health') return reply(200, 'ok', 'text/plain');
    if (req.method !== 'POST') return reply(405, 'Used HTTP Method is not allowed. POST or OPTIONS is required', 'text/plain');
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (e) {
      const err = e instanceof RpcError ? e : new RpcError(-32700, 'Parse error');
      return reply(200, toJson({ jsonrpc: '2.0', id: null, error: { code: err.code, message: err.message } }));
    }
    try {
      if (Array.isArray(body)) {
        if (body.length === 0) return reply(200, toJson({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid request' } }));
        return reply(200, toJson(await Promise.all(body.map(callOne))));
      }
      return reply(200, toJson(await callOne(body)));
    } catch {
      // A held send: the server stopped before the client gave up.
      res.destroy();
    }
  };

  // Bind HTTP and WebSocket as a pair; with port 0, retry until both of a pair are free.
  for (let attempt = 0; ; attempt++) {
    const http = createServer((req, res) => void onRequest(req, res));
    const wsHttp = createServer();
    try {
      const port = await listen(http, opts.port ?? 0);
      try {
        await listen(wsHttp, port + 1);
      } catch (e) {
        await close(http);
        throw e;
      }
      const wss = new WebSocketServer({ server: wsHttp });
      const pubsub = new PubSub(chain);
      wss.on('connection', (socket) => pubsub.attach(socket));
      chain.start();
      const hooks: LocalnetHooks = {
        dropNextSends: (n) => void (faults.drop += n),
        holdNextSends: (n) => void (faults.hold += n),
        clearSendFaults: () => {
          faults.drop = 0;
          faults.hold = 0;
        },
        pauseSlots: () => chain.pause(),
        resumeSlots: () => chain.start(),
        advanceSlots: (n) => chain.advance(n),
        setAccount: (pubkey, account) => chain.setAccount(pubkey, account),
      };
      return {
        url: `http://${HOST}:${port}`,
        wsUrl: `ws://${HOST}:${port + 1}`,
        chain,
        hooks,
        stop: async () => {
          chain.stop();
          for (const release of held) release();
          held.clear();
          // A normal close (1000) tells web3.js clients not to reconnect, so test processes can exit.
          const closing = [...wss.clients].map(
            (client) =>
              new Promise<void>((resolve) => {
                client.once('close', () => resolve());
                client.close(1000, 'localnet stopped');
                setTimeout(() => {
                  client.terminate();
                  resolve();
                }, 500).unref();
              }),
          );
          await Promise.all(closing);
          wss.close();
          await Promise.all([close(http), close(wsHttp)]);
        },
      };
    } catch (e) {
      const inUse = (e as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (!inUse || (opts.port ?? 0) !== 0 || attempt >= 20) {
        chain.stop();
        if (inUse) throw new Error(`localnet: port ${opts.port} or ${(opts.port ?? 0) + 1} is already in use; pick another with --port or LOCALNET_PORT`);
        throw e;
      }
    }
  }
}
