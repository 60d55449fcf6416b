// The chain's own record of the authority's mints, for reconciliation: every transaction that touched
// token_info (getSignaturesForAddress, newest first, paged), and the mint_tokens_direct instructions each one
// carried (getTransaction), decoded with the program's IDL.
import { BorshInstructionCoder, type Idl } from '@coral-xyz/anchor';
import type { PublicKey } from '@solana/web3.js';
import bs58 from 'bs58';
import { mintSupply } from './balances.js';
import type { RpcClient, TransactionErrorJson } from './rpcClient.js';
import { tokenAccounts } from './addresses.js';

export interface ChainMint {
  /** The token account credited (user_token_account). */
  tokenAccount: string;
  amount: bigint;
}

export interface ChainTransaction {
  signature: string;
  slot: number;
  err: TransactionErrorJson | null;
  /** Every mint_tokens_direct in it, top-level or called by another program. */
  mints: ChainMint[];
}

type RawInstruction = { programIdIndex: number; accounts: number[]; data: string };
interface RawTransaction {
  slot: number;
  transaction: { message: { accountKeys: string[]; instructions: RawInstruction[] } };
  meta: { err: TransactionErrorJson | null; loadedAddresses?: { writable: string[]; readonly: string[] }; innerInstructions?: { instructions: RawInstruction[] }[] } | null;
}

const PAGE = 1_000;

export function makeChainHistory(deps: { rpc: RpcClient; idl: Idl; programId: PublicKey; mint: PublicKey }) {
  const coder = new BorshInstructionCoder(deps.idl);
  const spec = deps.idl.instructions.find((i) => i.name === 'mint_tokens_direct');
  if (!spec) throw new Error('the IDL has no mint_tokens_direct');
  const accountAt = spec.accounts.findIndex((a) => a.name === 'user_token_account');
  const programId = deps.programId.toBase58();
  const tokenAccountOf = tokenAccounts(deps.mint);

  function mintsOf(raw: RawTransaction): ChainMint[] {
    // The runtime's account order: static keys, then looked-up writable, then looked-up readonly.
    const keys = [...raw.transaction.message.accountKeys, ...(raw.meta?.loadedAddresses?.writable ?? []), ...(raw.meta?.loadedAddresses?.readonly ?? [])];
    const all = [...raw.transaction.message.instructions, ...(raw.meta?.innerInstructions ?? []).flatMap((i) => i.instructions)];
    const out: ChainMint[] = [];
    for (const ix of all) {
      if (keys[ix.programIdIndex] !== programId) continue;
      const decoded = coder.decode(Buffer.from(bs58.decode(ix.data)));
      if (decoded?.name !== 'mint_tokens_direct') continue;
      const amount = (decoded.data as { amount: { toString(): string } }).amount;
      out.push({ tokenAccount: keys[ix.accounts[accountAt]!]!, amount: BigInt(amount.toString()) });
    }
    return out;
  }

  return {
    /** The associated Token-2022 account of a wallet for the mint (where its tokens are minted). */
    tokenAccountOf: (wallet: string) => tokenAccountOf(wallet).toBase58(),

    /** One transaction as the chain holds it (confirmed), or null when the chain does not know it. */
    async transaction(signature: string): Promise<ChainTransaction | null> {
      const raw = await deps.rpc.call<RawTransaction | null>('getTransaction', [signature, { encoding: 'json', commitment: 'confirmed', maxSupportedTransactionVersion: 0 }]);
      return raw && { signature, slot: raw.slot, err: raw.meta?.err ?? null, mints: mintsOf(raw) };
    },

    /** Signatures of the transactions that touched `address`, newest first, down to (not including) `until`. */
    async *signatures(address: string, until: string | null): AsyncGenerator<{ signature: string; slot: number; err: TransactionErrorJson | null }> {
      let before: string | undefined;
      for (;;) {
        const page = await deps.rpc.call<{ signature: string; slot: number; err: TransactionErrorJson | null }[]>('getSignaturesForAddress', [
          address,
          { limit: PAGE, commitment: 'confirmed', ...(before ? { before } : {}), ...(until ? { until } : {}) },
        ]);
        yield* page;
        if (page.length < PAGE) return;
        before = page[page.length - 1]!.signature;
      }
    },

    /** The newest transaction touching `address` now (null: none), and the mint's supply now: a baseline. */
    async baseline(address: string): Promise<{ newest: string | null; supply: bigint }> {
      const [newest] = await deps.rpc.call<{ signature: string }[]>('getSignaturesForAddress', [address, { limit: 1, commitment: 'confirmed' }]);
      return { newest: newest?.signature ?? null, supply: await mintSupply(deps.rpc, deps.mint.toBase58()) };
    },
  };
}

export type ChainHistory = ReturnType<typeof makeChainHistory>;
