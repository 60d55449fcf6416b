// The service's lookup tables on the local chain, recorded in Postgres and PGlite: a table is created and
// extended 30 addresses per transaction, 256 per table and then a new one; asking again for addresses already
// held signs nothing; an extension recorded but never answered is rebroadcast as the same bytes (never signed
// anew) before anything else; two stores extending at once (two processes) add each address once; a batch
// plans only with the entries the runtime resolves in the slot it read the tables at.
import { AddressLookupTableAccount, Keypair, PublicKey } from '@solana/web3.js';
import { makeLookupTables, MAX_ADDRESSES_PER_EXTEND, MAX_TABLE_ENTRIES, type LookupTableStore } from '../../../src/chain/lookupTables.js';
import { makeRpcClient, type RpcClient } from '../../../src/chain/rpcClient.js';
import { makeLookupTableStore } from '../../../src/db/lookupTables.js';
import { RpcFailure } from '../../../src/errors.js';
import { DATABASES, withChainAndDatabase, type TestDatabase } from '../../support/db.js';
import { authority, MINT, TOKEN_INFO } from '../../support/energyToken.js';
import { testLog } from '../../support/engine.js';
import type { TestChain } from '../../support/localnet.js';

const send = { pollMs: 25, rebroadcastMs: 500, followTimeoutMs: 30_000 };
const addresses = (n: number) => Array.from({ length: n }, () => Keypair.generate().publicKey.toBase58());

/** An RPC client that counts sendTransaction calls by method, and can swallow them (a black-holed send). */
function countingRpc(url: string, opts: { dropSends?: boolean } = {}) {
  const inner = makeRpcClient({ url, timeoutMs: 2_000 });
  const sent: string[] = [];
  const rpc: RpcClient = {
    ...inner,
    call: <T>(method: string, params: unknown[] = []) => {
      if (method === 'sendTransaction') {
        sent.push(params[0] as string);
        if (opts.dropSends) return Promise.reject(new RpcFailure(null, 'sendTransaction: no answer within 2000 ms', true));
      }
      return inner.call<T>(method, params);
    },
  };
  return { rpc, sent };
}

async function onChain(chain: TestChain, address: string): Promise<string[]> {
  const info = await chain.connection.getAccountInfo(new PublicKey(address), 'confirmed');
  return AddressLookupTableAccount.deserialize(info!.data).addresses.map((a) => a.toBase58());
}

describe.each(DATABASES)('on %s', (kind, open) => {
  let chain: TestChain;
  let t: TestDatabase | null = null;
  // 100 ms slots: a blockhash stays valid 15 s, longer than a black-holed send is followed here.
  withChainAndDatabase(kind, open, { slotMs: 100 }, (c, d) => {
    chain = c;
    t = d;
  });
  const tables = (store: LookupTableStore, rpc: RpcClient = makeRpcClient({ url: chain.url, timeoutMs: 2_000 }), over = {}) =>
    makeLookupTables({ rpc, authority: authority(), log: testLog, store, send: { ...send, ...over }, shared: { tokenInfo: TOKEN_INFO, mint: MINT } });

  it('creates a table, extends it 30 addresses per transaction, a new table past 256; asking again signs nothing', async () => {
    if (!t) return;
    const store = makeLookupTableStore(t.database);
    const wanted = addresses(MAX_TABLE_ENTRIES + 20);
    const { rpc, sent } = countingRpc(chain.url);
    const got = await tables(store, rpc).ensure(wanted);

    expect(got).toHaveLength(2);
    const held = [...(await onChain(chain, got[0]!.key.toBase58())), ...(await onChain(chain, got[1]!.key.toBase58()))];
    expect(held.sort()).toEqual([...wanted].sort()); // each address exactly once
    // Two creates, then ceil(256 / 30) extends of the first table and one of the second: each sent once.
    expect(new Set(sent).size).toBe(2 + Math.ceil(MAX_TABLE_ENTRIES / MAX_ADDRESSES_PER_EXTEND) + 1);
    expect((await store.list()).map((s) => [s.address, s.pending])).toEqual(got.map((g) => [g.key.toBase58(), null]));
    // Usable at once: the chain is past the slot of the last extension.
    expect(await chain.connection.getSlot('confirmed')).toBeGreaterThan(Math.max(...got.map((g) => g.state.lastExtendedSlot)));

    const again = countingRpc(chain.url);
    const lookups = tables(store, again.rpc);
    await lookups.ensure(wanted.slice(0, 50));
    expect(again.sent).toEqual([]);
    expect(lookups.locate([wanted[0]!, wanted[MAX_TABLE_ENTRIES + 5]!, 'nowhere'])).toEqual(
      new Map([
        [wanted[0]!, got[0]!.key.toBase58()],
        [wanted[MAX_TABLE_ENTRIES + 5]!, got[1]!.key.toBase58()],
      ]),
    );
  });

  it('an extension recorded but never answered is rebroadcast as the same bytes before anything else, and lands once', async () => {
    if (!t) return;
    const store = makeLookupTableStore(t.database);
    // The newest table is the one extended (the first test left room in it).
    const table = (await tables(store).ensure(addresses(1))).at(-1);
    const first = addresses(10);
    // Every send swallowed: the extension is signed and recorded, its outcome stays unknown.
    const dark = countingRpc(chain.url, { dropSends: true });
    await expect(tables(store, dark.rpc, { followTimeoutMs: 1_500 }).ensure(first)).rejects.toThrow(/outcome unknown/);
    const recorded = (await store.list()).find((s) => s.address === table!.key.toBase58())!.pending!;
    expect(recorded).not.toBeNull();
    expect(await onChain(chain, table!.key.toBase58())).not.toContain(first[0]);

    // A restart: the recorded bytes go first; the next addresses are added after, each once.
    const next = addresses(5);
    const live = countingRpc(chain.url);
    await tables(store, live.rpc).ensure([...first, ...next]);
    expect(live.sent[0]).toBe(Buffer.from(recorded.wire).toString('base64'));
    const status = await chain.connection.getSignatureStatuses([recorded.signature], { searchTransactionHistory: true });
    expect(status.value[0]?.err).toBeNull();
    const held = await onChain(chain, table!.key.toBase58());
    for (const a of [...first, ...next]) expect(held.filter((h) => h === a)).toHaveLength(1);
    expect((await store.list()).every((s) => s.pending === null)).toBe(true);
  });

  // A PGlite database belongs to one process, which makes one store: the advisory lock is Postgres' case.
  (kind === 'postgres' ? it : it.skip)('two stores extending at once (two processes) add each address once', async () => {
    if (!t) return;
    const wanted = addresses(45);
    const [a, b] = [tables(makeLookupTableStore(t.database)), tables(makeLookupTableStore(t.database))];
    await Promise.all([a.ensure(wanted), b.ensure(wanted)]);
    const all = (await Promise.all((await makeLookupTableStore(t.database).list()).map((s) => onChain(chain, s.address)))).flat();
    for (const w of wanted) expect(all.filter((h) => h === w)).toHaveLength(1);
  });
  it('a batch plans only with entries usable now: read in the slot of its last extension, a table offers what it held before it', async () => {
    if (!t) return;
    const store = makeLookupTableStore(t.database);
    const wallets = (n: number) => Array.from({ length: n }, () => Keypair.generate().publicKey.toBase58());
    const earlier = wallets(3);
    const latest = wallets(3);
    await tables(store).addRecipients(earlier);
    const [table] = (await tables(store).addRecipients(latest)).slice(-1);
    // The same chain, read as if in the slot of that last extension (its entries resolve only from the next).
    const inner = makeRpcClient({ url: chain.url, timeoutMs: 2_000 });
    const inThatSlot: RpcClient = {
      ...inner,
      call: async <T>(method: string, params: unknown[] = []) => {
        const answer = await inner.call<T>(method, params);
        return (method === 'getMultipleAccounts' ? { ...(answer as object), context: { slot: table!.state.lastExtendedSlot } } : answer) as T;
      },
    };
    const then = (await tables(store, inThatSlot).usableView()).lookupsFor([...earlier, ...latest]);
    expect(earlier.filter((w) => then.ata.has(w))).toEqual(earlier);
    expect(latest.filter((w) => then.ata.has(w))).toEqual([]);
    // Read now (the chain has moved on), all of them, without waiting for anything.
    const now = (await tables(store).usableView()).lookupsFor([...earlier, ...latest]);
    expect([...earlier, ...latest].filter((w) => now.ata.has(w))).toEqual([...earlier, ...latest]);
  });
});
