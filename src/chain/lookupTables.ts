// Address lookup tables the service keeps, so that a v0 mint transaction names the accounts it mints to
// by a one-byte index instead of 32 bytes: about twice as many mints fit one transaction (one signature,
// 5,000 lamports) when every account is looked up.
//
// What an entry costs, and when it pays back: a table is rent-exempt at 6,960 lamports per byte, so each
// 32-byte entry locks up 222,720 lamports of rent (refunded only when the table is deactivated and closed),
// and an extend transaction (5,000 lamports) carries up to 30 entries: ≈ 167 lamports of fee per entry. A mint
// with every account looked up shares a transaction with 30 others (the instruction trace binds: 31 mints)
// instead of 15 (legacy: 16), so it pays 161 lamports of base fee instead of 313: ~151 saved per mint. The fee
// is paid back by the recipient's second mint from the table; the rent deposit, counted as spent, after
// ~1,500. Hence entries only for recipients minted to often (LOOKUP_TABLE_MIN_MINTS), and the planner uses a
// table only when it needs fewer transactions than the legacy plan (optimizeBatch).
//
// Exactly once here too: every create or extend is signed once, recorded in the store before its first
// send, sent and followed with sendAndConfirm (the same bytes rebroadcast), and a recorded transaction
// whose outcome is not known yet is settled before anything else is signed for its table. Entries are
// never added twice on purpose: what to add is computed from the table as the chain holds it, after the
// pending transaction (if any) settled. All of it runs under the store's lock, so two processes never
// create or extend at once.
import { AddressLookupTableAccount, AddressLookupTableProgram, type Keypair, PublicKey, SystemProgram, Transaction, type TransactionInstruction } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID } from '@solana/spl-token';
import bs58 from 'bs58';
import { RpcFailure } from '../errors.js';
import type { Log } from '../log.js';
import type { Context, RpcClient } from './rpcClient.js';
import { sendAndConfirm, type SendOptions, type SignedTransaction } from './sendAndConfirm.js';
import { tokenAccounts } from './addresses.js';

/** A lookup table as loaded from the chain (what a v0 transaction is built with). */
export type LookupTable = AddressLookupTableAccount;

/** A table the service created, and the transaction that creates or extends it when it is not settled yet. */
export interface StoredLookupTable {
  address: string;
  pending: SignedTransaction | null;
}

/** Where the service's tables are remembered (src/db/lookupTables.ts). */
export interface LookupTableStore {
  /** Every table recorded, oldest first. */
  list(): Promise<StoredLookupTable[]>;
  /** Records a new table with the signed transaction that creates it, before that transaction's first send. */
  add(address: string, pending: SignedTransaction): Promise<void>;
  /** Records a table's signed extension before its first send, or (null) says its transaction settled. */
  setPending(address: string, pending: SignedTransaction | null): Promise<void>;
  /** Forgets a table whose creation provably did not land. */
  remove(address: string): Promise<void>;
  /** Runs `fn` while no other process (nor call in this one) holds the lock. */
  lock<T>(fn: () => Promise<T>): Promise<T>;
}

/** A table holds at most 256 addresses (u8 indexes). */
export const MAX_TABLE_ENTRIES = 256;
/**
 * Addresses one extend transaction carries: a legacy transaction with one signature and four keys
 * (authority, table, System, the lookup-table program) is 249 bytes plus 32 per address, ≤ 1,232.
 */
export const MAX_ADDRESSES_PER_EXTEND = 30;

export interface LookupTablesDeps {
  rpc: RpcClient;
  /** The tables' authority and payer. */
  authority: Keypair;
  log: Log;
  store: LookupTableStore;
  send: Omit<SendOptions, 'log'>;
  /** The program's token_info and its mint: the shared accounts every mint transaction names. */
  shared: { tokenInfo: PublicKey; mint: PublicKey };
  /** The daily fee budget (MAX_FEE_LAMPORTS_PER_DAY), reserved before each create or extend is signed. */
  reserveFee?: (lamports: bigint) => Promise<boolean>;
}

/**
 * The addresses a mint transaction names that may be looked up: the shared accounts that are not invoked
 * programs (invoked program ids must stay static keys: token_info, the mint, Token-2022 and System as
 * accounts), each recipient's token account, and the wallet of a recipient whose token account is still to
 * be created (its creation names the wallet).
 */
export function lookupAddresses(shared: { tokenInfo: PublicKey; mint: PublicKey }, recipients: { wallet: string; createAta: boolean }[], tokenAccountOf = tokenAccounts(shared.mint)): string[] {
  const out = [shared.tokenInfo, shared.mint, TOKEN_2022_PROGRAM_ID, SystemProgram.programId].map((k) => k.toBase58());
  for (const r of recipients) {
    out.push(tokenAccountOf(r.wallet).toBase58());
    if (r.createAta) out.push(r.wallet);
  }
  return [...new Set(out)];
}

/** The shared accounts of a mint transaction that may be looked up (lookupAddresses' first four). */
export type SharedAccount = 'tokenInfo' | 'mint' | 'token2022' | 'system';

/** What a batch plans with: where its accounts are looked up, and the tables a plan names. */
export interface TableView {
  lookupsFor(wallets: string[]): Lookups;
  tablesNamed(addresses: string[]): AddressLookupTableAccount[];
}

/** Which table holds each account of a mint transaction: what the planner (optimizeBatch) packs with. */
export interface Lookups {
  shared: Partial<Record<SharedAccount, string>>;
  /** By wallet: the table holding its token account. */
  ata: ReadonlyMap<string, string>;
  /** By wallet: the table holding the wallet itself (named only when its token account is created). */
  wallet: ReadonlyMap<string, string>;
}

export function makeLookupTables(deps: LookupTablesDeps) {
  const tokenAccountOf = tokenAccounts(deps.shared.mint);
  const log = deps.log.child({ component: 'lookupTables' });
  /** The tables as last read from the chain, by address. */
  let tables = new Map<string, AddressLookupTableAccount>();

  /** The tables at these addresses as the chain holds them (one read per 100), and the slot they were read at. */
  async function fetchTables(addresses: string[]): Promise<{ slot: number; found: Map<string, AddressLookupTableAccount> }> {
    const found = new Map<string, AddressLookupTableAccount>();
    let slot = 0;
    for (let i = 0; i < addresses.length; i += 100) {
      const chunk = addresses.slice(i, i + 100);
      const res = await deps.rpc.call<Context<({ data: [string, string]; owner: string } | null)[]>>('getMultipleAccounts', [chunk, { encoding: 'base64', commitment: 'confirmed' }]);
      slot = Math.max(slot, res.context.slot);
      res.value.forEach((acc, j) => {
        if (!acc || acc.owner !== AddressLookupTableProgram.programId.toBase58()) return;
        found.set(chunk[j]!, new AddressLookupTableAccount({ key: new PublicKey(chunk[j]!), state: AddressLookupTableAccount.deserialize(Buffer.from(acc.data[0], 'base64')) }));
      });
    }
    return { slot, found };
  }
  const fetchTable = async (address: string) => (await fetchTables([address])).found.get(address) ?? null;
  /** Every table the store records, as the chain holds them now. */
  const fetchRecorded = async () => fetchTables((await deps.store.list()).map((t) => t.address));

  /**
   * Reads every recorded table from the chain (a table whose creation is still pending is left out), and waits
   * until entries another process just added are usable.
   */
  async function load(): Promise<AddressLookupTableAccount[]> {
    tables = (await fetchRecorded()).found;
    await untilUsable();
    return [...tables.values()];
  }

  /**
   * What a mint transaction built now can look up, read without waiting (what a batch plans with): every
   * table as the chain holds it, except that a table extended in the very slot it was read at offers only
   * the entries it held before that extension, which is the runtime's rule (entries added in slot S resolve
   * from S + 1): the transaction lands after that slot, but its simulation at `confirmed` may run in it.
   * Upkeep extends tables while batches mint; waiting for the slot to pass instead cost a batch half a
   * second in the scale benchmark. A snapshot of its own, so that a batch's plan and its transactions use the
   * same tables whatever upkeep does meanwhile (chunks read at different slots are all cut at the latest).
   */
  async function usableView(): Promise<TableView> {
    const { slot, found } = await fetchRecorded();
    const view = new Map(
      [...found].map(([address, t]) => [
        address,
        t.state.lastExtendedSlot < slot
          ? t
          : new AddressLookupTableAccount({ key: t.key, state: { ...t.state, addresses: t.state.addresses.slice(0, t.state.lastExtendedSlotStartIndex) } }),
      ]),
    );
    return { lookupsFor: (wallets) => lookupsIn(view, wallets), tablesNamed: (addresses) => namedIn(view, addresses) };
  }

  /** Signs once, with a fresh blockhash; nothing is sent here. */
  async function sign(ix: TransactionInstruction): Promise<SignedTransaction> {
    // The daily fee budget covers these transactions too (one signature, no priority fee): refused, nothing is
    // signed, and the recipients wait for a later batch's upkeep.
    if (deps.reserveFee && !(await deps.reserveFee(5_000n))) {
      throw new RpcFailure(null, 'lookup table upkeep waits: the fee budget for today (MAX_FEE_LAMPORTS_PER_DAY) is spent', false);
    }
    const latest = await deps.rpc.call<Context<{ blockhash: string; lastValidBlockHeight: number }>>('getLatestBlockhash', [{ commitment: 'confirmed' }]);
    const tx = new Transaction({ feePayer: deps.authority.publicKey, ...latest.value }).add(ix);
    tx.sign(deps.authority);
    return { signature: bs58.encode(tx.signature!), wire: tx.serialize(), lastValidBlockHeight: latest.value.lastValidBlockHeight };
  }

  /**
   * Sends (or sends again: the same bytes) a recorded transaction and follows it until it landed or provably
   * expired; then the record is cleared, or the table forgotten when its creation did not land. An outcome
   * still unknown keeps the record and throws: nothing more is signed for that table until it settles. A
   * transaction that landed and failed throws too (it would fail again); an expired one is for the caller to
   * redo from what the chain now holds.
   */
  async function settle(address: string, pending: SignedTransaction): Promise<void> {
    const outcome = await sendAndConfirm(deps.rpc, pending, { ...deps.send, log });
    if (outcome.status === 'unknown') {
      throw new RpcFailure(null, `lookup table ${address}: transaction ${pending.signature} outcome unknown (${outcome.reason})`, true);
    }
    // Landed or provably not: the chain now says what the table holds, and whether it exists.
    const table = await fetchTable(address);
    if (table) {
      await deps.store.setPending(address, null);
      tables.set(address, table);
    } else {
      await deps.store.remove(address);
      tables.delete(address);
    }
    if (outcome.status === 'failed') {
      throw new RpcFailure(null, `lookup table ${address}: transaction ${pending.signature} failed (${JSON.stringify(outcome.err)})`, false);
    }
  }

  async function create(): Promise<void> {
    // The table's address derives from the authority and this slot, so two creates need two slots: the
    // confirmed slot has moved past the one the previous create (confirmed before this) used. Confirmed, not
    // processed: the slot must be in the SlotHashes of the block that runs the create.
    const recentSlot = await deps.rpc.call<number>('getSlot', [{ commitment: 'confirmed' }]);
    const [ix, table] = AddressLookupTableProgram.createLookupTable({ authority: deps.authority.publicKey, payer: deps.authority.publicKey, recentSlot });
    const signed = await sign(ix);
    await deps.store.add(table.toBase58(), signed);
    log.info({ table: table.toBase58(), signature: signed.signature }, 'creating a lookup table');
    await settle(table.toBase58(), signed);
  }

  async function extend(address: string, addresses: string[]): Promise<void> {
    const ix = AddressLookupTableProgram.extendLookupTable({
      lookupTable: new PublicKey(address),
      authority: deps.authority.publicKey,
      payer: deps.authority.publicKey,
      addresses: addresses.map((a) => new PublicKey(a)),
    });
    const signed = await sign(ix);
    await deps.store.setPending(address, signed);
    log.info({ table: address, signature: signed.signature, added: addresses.length }, 'extending a lookup table');
    await settle(address, signed);
  }

  /** Entries added in slot S are usable from slot S + 1: wait until the chain is past every table's last extension. */
  async function untilUsable(): Promise<void> {
    const last = Math.max(0, ...[...tables.values()].map((t) => t.state.lastExtendedSlot));
    const sleep = deps.send.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    while ((await deps.rpc.call<number>('getSlot', [{ commitment: 'confirmed' }])) <= last) await sleep(deps.send.pollMs);
  }

  /**
   * Makes every address resolvable through one of the service's tables: pending transactions are settled
   * first, then the missing addresses are added to the newest table this authority can still extend (a new
   * table once it holds 256), as many per transaction as fit. Answers the tables, usable at once.
   */
  async function ensure(addresses: string[]): Promise<AddressLookupTableAccount[]> {
    return deps.store.lock(async () => {
      for (const t of await deps.store.list()) if (t.pending) await settle(t.address, t.pending);
      await load();
      const mine = (t: AddressLookupTableAccount) => t.isActive() && !!t.state.authority?.equals(deps.authority.publicKey);
      let touched = false;
      // Each round reads what the chain holds now, so an extension that expired is simply redone.
      for (;;) {
        const held = new Set([...tables.values()].flatMap((t) => t.state.addresses.map((a) => a.toBase58())));
        const missing = [...new Set(addresses)].filter((a) => !held.has(a));
        if (missing.length === 0) break;
        touched = true;
        const target = [...tables.values()].filter(mine).at(-1);
        const room = target ? MAX_TABLE_ENTRIES - target.state.addresses.length : 0;
        if (!target || room === 0) await create();
        else await extend(target.key.toBase58(), missing.slice(0, Math.min(room, MAX_ADDRESSES_PER_EXTEND)));
      }
      if (touched) await untilUsable();
      return [...tables.values()];
    });
  }

  /** For each address, the table (of `among`) that holds it; an address in none is left out. */
  function locate(addresses: string[], among: ReadonlyMap<string, AddressLookupTableAccount> = tables): Map<string, string> {
    const where = new Map<string, string>();
    for (const t of among.values()) for (const a of t.state.addresses) where.has(a.toBase58()) || where.set(a.toBase58(), t.key.toBase58());
    return new Map(addresses.filter((a) => where.has(a)).map((a) => [a, where.get(a)!]));
  }

  /** The Lookups of a mint transaction's accounts for these wallets, in `among`. */
  function lookupsIn(among: ReadonlyMap<string, AddressLookupTableAccount>, wallets: string[]): Lookups {
    const { shared } = deps;
    const ataOf = (w: string) => tokenAccountOf(w).toBase58();
    const sharedKeys: Record<SharedAccount, string> = {
      tokenInfo: shared.tokenInfo.toBase58(),
      mint: shared.mint.toBase58(),
      token2022: TOKEN_2022_PROGRAM_ID.toBase58(),
      system: SystemProgram.programId.toBase58(),
    };
    const where = locate([...Object.values(sharedKeys), ...wallets, ...wallets.map(ataOf)], among);
    const byWallet = (key: (w: string) => string) => new Map(wallets.filter((w) => where.has(key(w))).map((w) => [w, where.get(key(w))!]));
    return {
      shared: Object.fromEntries(Object.entries(sharedKeys).filter(([, a]) => where.has(a)).map(([k, a]) => [k, where.get(a)!])),
      ata: byWallet(ataOf),
      wallet: byWallet((w) => w),
    };
  }

  /** The tables of `among` with these addresses (a plan's lookupTables), in the order the chain's list has them. */
  function namedIn(among: ReadonlyMap<string, AddressLookupTableAccount>, addresses: string[]): AddressLookupTableAccount[] {
    return [...among.values()].filter((t) => addresses.includes(t.key.toBase58()));
  }

  /** Puts the shared accounts and these recipients' token accounts (which exist) into the tables. */
  function addRecipients(wallets: string[]): Promise<AddressLookupTableAccount[]> {
    return ensure(lookupAddresses(deps.shared, wallets.map((wallet) => ({ wallet, createAta: false })), tokenAccountOf));
  }

  return {
    load,
    usableView,
    ensure,
    addRecipients,
    locate,
    /** From the tables last loaded, all they hold (upkeep's view; a batch plans with usableView). */
    lookupsFor: (wallets: string[]) => lookupsIn(tables, wallets),
    tablesNamed: (addresses: string[]) => namedIn(tables, addresses),
    tables: () => [...tables.values()],
  };
}

export type LookupTables = ReturnType<typeof makeLookupTables>;
