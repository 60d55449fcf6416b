// Recording a signed transaction refuses a signature already recorded for other readings: the same bytes
// signed elsewhere (another process, an earlier batch) have one signature, so one landing would count for
// both. The refusal rolls the whole write back (the readings keep no signature) and nothing is sent. Recording
// the same transaction again (a write retried after its commit's answer was lost) is accepted as it was.
import { randomUUID } from 'node:crypto';
import { Keypair } from '@solana/web3.js';
import { inArray } from 'drizzle-orm';
import { mintTransactions, readings } from '../../../src/db/schema.js';
import { DuplicateTransaction } from '../../../src/errors.js';
import { claimReadings, recordSigned } from '../../../src/minting/repo.js';
import { DATABASES, seedReadings, withDatabase, type TestDatabase } from '../../support/db.js';

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  withDatabase(kind, open, (d) => {
    t = d;
  });

  it('the same signature for other readings is refused and rolled back; for the same readings, accepted again', async () => {
    if (!t) return;
    const db = t.database.db;
    const wallet = Keypair.generate().publicKey.toBase58();
    const rows = [0, 1].map((i) => ({ id: randomUUID(), meterId: `m-${i}`, userId: 'u', walletAddress: wallet, kwhAmount: '1', tokensToMint: 1_000_000_000n, readingTimestamp: new Date(Date.UTC(2026, 0, 1, i)) }));
    await seedReadings(db, rows);
    const claim = (id: string) => claimReadings(db, { token: randomUUID(), limit: 1, leaseMs: 60_000, batchId: randomUUID(), ids: [id] }).then((c) => ({ token: c.token, batchId: randomUUID() }));
    const a = await claim(rows[0]!.id);
    const b = await claim(rows[1]!.id);
    const tx = { signature: 'same-bytes-signature', wire: new Uint8Array([1, 2, 3]), lastValidBlockHeight: 150 };

    await recordSigned(db, a.token, a.batchId, { ...tx, readingIds: [rows[0]!.id] });
    // Retried after a lost answer: the same readings, accepted.
    await recordSigned(db, a.token, a.batchId, { ...tx, readingIds: [rows[0]!.id] });
    // Other readings under the same signature: refused.
    await expect(recordSigned(db, b.token, b.batchId, { ...tx, readingIds: [rows[1]!.id] })).rejects.toBeInstanceOf(DuplicateTransaction);

    const stored = await db.select({ id: readings.id, sig: readings.txSignature }).from(readings).where(inArray(readings.id, rows.map((r) => r.id)));
    expect(new Map(stored.map((r) => [r.id, r.sig]))).toEqual(new Map([[rows[0]!.id, tx.signature], [rows[1]!.id, null]]));
    const ledger = await db.select({ readingIds: mintTransactions.readingIds }).from(mintTransactions).where(inArray(mintTransactions.signature, [tx.signature]));
    expect(ledger).toEqual([{ readingIds: [rows[0]!.id] }]);
  });
});
