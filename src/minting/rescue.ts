// The rescuer, at start and every worker cycle: settles the readings whose claimers are gone (a crash, a
// killed process): by how their transaction ended if that was recorded, else by asking the chain for its
// signature; takes back leases that ran out with nothing signed; and closes the batches of dead processes
// (state `interrupted`, their readings' final states, a summary) once nothing of them is in flight, so
// their event streams end.
import type { GenerationRecord, GenerationWindow } from '../chain/mintTransaction.js';
import type { RpcClient, TransactionErrorJson } from '../chain/rpcClient.js';
import { fateOf } from '../chain/sendAndConfirm.js';
import type { Db } from '../db/client.js';
import { describeError } from '../db/errors.js';
import type { Log } from '../log.js';
import type { ReadingRow } from '../readings/repo.js';
import type { BatchEvents } from './events.js';
import {
  abandonedTransactions,
  closeInterruptedBatches,
  completeTransaction,
  markTransaction,
  type MintTransactionRow,
  releaseFailed,
  type RetryPolicy,
  takeBackExpiredLeases,
  windowsOfTransaction,
} from './repo.js';
import type { ResultJson } from './runBatch.js';

export interface RescueReport {
  confirmed: number;
  failed: number;
  expired: number;
  pending: number;
  leasesTakenBack: number;
  batchesClosed: number;
}

export interface RescueDeps {
  db: Db;
  rpc: RpcClient;
  /** A transaction error as a person can act on it (src/chain/programErrors). */
  explain: (err: TransactionErrorJson) => string;
  log: Log;
  policy: RetryPolicy;
  /** Wakes the event streams of the batches it closes. */
  events?: Pick<BatchEvents, 'notify'>;
  /** mint_generation: reads the windows' records on chain (chain/mintTransaction.ts readGenerationRecords). */
  records?: (windows: GenerationWindow[]) => Promise<(GenerationRecord | null)[]>;
}

/**
 * mint_generation's second proof of landing, besides the signature: every window the transaction carries has its
 * record on chain saying minted, with the window's frozen sum. Frozen windows are minted by no other transaction of
 * the service (a window is frozen once, with its readings), so such records are this transaction's work, or an
 * earlier signature's for the same readings, which was never proven not to land: either way, minted once.
 */
async function provenByRecords(deps: RescueDeps, signature: string): Promise<boolean> {
  if (!deps.records) return false;
  const windows = await windowsOfTransaction(deps.db, signature);
  if (windows.length === 0) return false;
  const records = await deps.records(windows.map(({ meterId, startMs }) => ({ meterId, startMs })));
  return windows.every((w, i) => records[i]?.minted === true && records[i]!.amount === w.amount);
}

/** How an abandoned transaction ended: as recorded, if its claimer lived to see it, or else as the chain says. */
async function settledFate(deps: RescueDeps, tx: MintTransactionRow): Promise<Fate> {
  switch (tx.status) {
    case 'confirmed':
    case 'expired':
      return { status: tx.status };
    case 'failed':
      return { status: 'failed', reason: tx.error ?? 'transaction failed' };
    default: {
      const fate = await fateOf(deps.rpc, { signature: tx.signature, wire: tx.raw, lastValidBlockHeight: tx.lastValidBlockHeight });
      return fate.status === 'failed' ? { status: 'failed', reason: deps.explain(fate.err) } : fate;
    }
  }
}

type Fate = { status: 'confirmed' | 'expired' | 'pending' } | { status: 'failed'; reason: string };

/** A reading of an interrupted batch that never had its result published: what became of it. */
export function finalResult(r: ReadingRow): ResultJson {
  switch (r.status) {
    case 'completed':
      return { reading_id: r.id, success: true, error: null, tx_signature: r.txSignature };
    case 'failed':
      return { reading_id: r.id, success: false, error: r.lastError, tx_signature: r.txSignature };
    default:
      return { reading_id: r.id, success: false, error: `not minted in this batch: its process stopped (${r.lastError ?? 'nothing was signed'}); back in the queue`, tx_signature: null };
  }
}

export async function rescue(deps: RescueDeps): Promise<RescueReport> {
  const report: RescueReport = { confirmed: 0, failed: 0, expired: 0, pending: 0, leasesTakenBack: 0, batchesClosed: 0 };
  for (const tx of await abandonedTransactions(deps.db)) {
    const log = deps.log.child({ signature: tx.signature });
    // Only while its fate is open: a transaction recorded failed or expired did not land, so its windows' records
    // (minted, say, by an earlier signature the rescuer settles on its own) are no proof of its landing.
    const open = tx.status === 'signed' || tx.status === 'sent';
    const byRecord = open && (await provenByRecords(deps, tx.signature).catch(() => false));
    if (byRecord) log.info('rescue: its windows\' records on chain say minted with their frozen sums');
    const fate = byRecord ? ({ status: 'confirmed' } as const) : await settledFate(deps, tx).catch((e: unknown): Fate => {
      log.warn({ err: describeError(e) }, 'rescue: chain not reachable; will look again');
      return { status: 'pending' };
    });
    switch (fate.status) {
      case 'confirmed':
        await completeTransaction(deps.db, null, tx.signature);
        log.info({ readings: tx.readingIds.length }, 'rescue: transaction had landed; readings completed');
        break;
      case 'failed':
        await markTransaction(deps.db, tx.signature, 'failed', fate.reason);
        await releaseFailed(deps.db, null, tx.readingIds, fate.reason, deps.policy, tx.signature);
        log.info({ reason: fate.reason }, 'rescue: transaction had failed; readings released');
        break;
      case 'expired':
        await markTransaction(deps.db, tx.signature, 'expired');
        await releaseFailed(deps.db, null, tx.readingIds, `transaction ${tx.signature} expired without landing`, deps.policy, tx.signature);
        log.info('rescue: blockhash expired without the transaction; readings back to pending');
        break;
      case 'pending':
        break;
    }
    report[fate.status]++;
  }
  report.leasesTakenBack = await takeBackExpiredLeases(deps.db);
  const closed = await closeInterruptedBatches(deps.db, finalResult);
  for (const batchId of closed) {
    deps.log.info({ batchId }, 'rescue: closed the batch of a stopped process (interrupted)');
    await deps.events?.notify(batchId).catch(() => undefined);
  }
  report.batchesClosed = closed.length;
  return report;
}
