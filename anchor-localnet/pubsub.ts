// The PubSub WebSocket a validator serves on its RPC port + 1: signature, slot and account
// subscriptions, notified at the commitment each subscriber asked for, once per block.
import type { WebSocket } from 'ws';
import type { BlockEvent, Commitment, LocalChain } from './chain.js';
import { commitmentOf, encodeAccount, parsePubkey, RpcError, toJson } from './rpc.js';

type Subscription =
  | { kind: 'signature'; signature: string; commitment: Commitment; received: boolean }
  | { kind: 'slot' }
  | { kind: 'account'; pubkey: string; commitment: Commitment; encoding: Record<string, unknown>; changedAt: number | null };

const UNSUBSCRIBE: Record<string, Subscription['kind']> = {
  signatureUnsubscribe: 'signature',
  slotUnsubscribe: 'slot',
  accountUnsubscribe: 'account',
};

export class PubSub {
  private nextId = 0;
  private subs = new Map<number, { socket: WebSocket; sub: Subscription }>();

  constructor(private chain: LocalChain) {
    chain.events.on('block', (b: BlockEvent) => this.markChanged(b.writtenAccounts, b.slot));
    chain.events.on('slot', () => this.onSlot());
    chain.events.on('received', (signature: string) => this.onReceived(signature));
    chain.events.on('account', (pubkey: string) => {
      this.markChanged([pubkey], this.chain.slot);
      this.checkAccounts();
    });
  }

  attach(socket: WebSocket): void {
    socket.on('message', (raw) => {
      let req: { id?: unknown; method?: unknown; params?: unknown };
      try {
        req = JSON.parse(String(raw));
      } catch {
        socket.send(toJson({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }));
        return;
      }
      if (req.id === undefined) return; // a notification, e.g. web3's keep-alive "ping"
      try {
        const result = this.handle(socket, String(req.method), Array.isArray(req.params) ? req.params : []);
        socket.send(toJson({ jsonrpc: '2.0', id: req.id, result }));
      } catch (e) {
        const err = e instanceof RpcError ? e : new RpcError(-32603, 'Internal error');
        socket.send(toJson({ jsonrpc: '2.0', id: req.id, error: { code: err.code, message: err.message } }));
      }
    });
    socket.on('close', () => {
      for (const [id, s] of this.subs) if (s.socket === socket) this.subs.delete(id);
    });
  }

  private handle(socket: WebSocket, method: string, params: unknown[]): unknown {
    const cfg = (params[1] ?? params[0] ?? {}) as Record<string, unknown>;
    const add = (sub: Subscription) => {
      const id = this.nextId++;
      this.subs.set(id, { socket, sub });
      return id;
    };
    switch (method) {
      case 'signatureSubscribe': {
        if (typeof params[0] !== 'string') throw new RpcError(-32602, 'Invalid params: expected a signature');
        // enableReceivedNotification: a "receivedSignature" notification when the transaction arrives.
        const id = add({ kind: 'signature', signature: params[0], commitment: commitmentOf(cfg), received: cfg.enableReceivedNotification === true });
        // A signature that already reached the commitment is notified right after the acknowledgement.
        setImmediate(() => this.checkSignatures());
        return id;
      }
      case 'slotSubscribe':
        return add({ kind: 'slot' });
      case 'accountSubscribe': {
        const pubkey = parsePubkey(String(params[0]));
        return add({ kind: 'account', pubkey, commitment: commitmentOf(cfg), encoding: { encoding: cfg.encoding ?? 'base64' }, changedAt: null });
      }
      default: {
        const kind = UNSUBSCRIBE[method];
        if (!kind) throw new RpcError(-32601, 'Method not found');
        const id = params[0];
        const entry = typeof id === 'number' ? this.subs.get(id) : undefined;
        if (!entry || entry.sub.kind !== kind || entry.socket !== socket) throw new RpcError(-32602, 'Invalid subscription id.');
        this.subs.delete(id as number);
        return true;
      }
    }
  }

  private notify(socket: WebSocket, method: string, subscription: number, result: unknown): void {
    if (socket.readyState === socket.OPEN) socket.send(toJson({ jsonrpc: '2.0', method, params: { result, subscription } }));
  }

  private onSlot(): void {
    const slot = this.chain.slot;
    for (const [id, { socket, sub }] of this.subs) {
      if (sub.kind === 'slot') this.notify(socket, 'slotNotification', id, { parent: slot - 1, root: this.chain.slotAt('finalized'), slot });
    }
    this.checkSignatures();
    this.checkAccounts();
  }

  private checkSignatures(): void {
    for (const [id, { socket, sub }] of this.subs) {
      if (sub.kind !== 'signature') continue;
      const status = this.chain.signatureStatus(sub.signature, true);
      if (!status || !reached(status.confirmationStatus, sub.commitment)) continue;
      this.subs.delete(id); // a signature subscription ends with its notification, as on a validator
      this.notify(socket, 'signatureNotification', id, { context: { slot: status.slot }, value: { err: status.err } });
    }
  }

  private onReceived(signature: string): void {
    for (const [id, { socket, sub }] of this.subs) {
      if (sub.kind === 'signature' && sub.received && sub.signature === signature) {
        this.notify(socket, 'signatureNotification', id, { context: { slot: this.chain.slot }, value: 'receivedSignature' });
      }
    }
  }

  private markChanged(pubkeys: Iterable<string>, slot: number): void {
    const changed = new Set(pubkeys);
    if (changed.size === 0) return;
    for (const { sub } of this.subs.values()) {
      if (sub.kind === 'account' && sub.changedAt === null && changed.has(sub.pubkey)) sub.changedAt = slot;
    }
  }

  private checkAccounts(): void {
    for (const [id, { socket, sub }] of this.subs) {
      if (sub.kind !== 'account' || sub.changedAt === null) continue;
      if (!reached(this.chain.commitmentOf(sub.changedAt), sub.commitment)) continue;
      sub.changedAt = null;
      const value = encodeAccount(this.chain, this.chain.getAccount(sub.pubkey), sub.encoding);
      this.notify(socket, 'accountNotification', id, { context: { slot: this.chain.slot }, value });
    }
  }
}

const RANK: Record<Commitment, number> = { processed: 0, confirmed: 1, finalized: 2 };
const reached = (have: Commitment, want: Commitment) => RANK[have] >= RANK[want];
