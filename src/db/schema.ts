// The service's tables. Postgres is the source of truth: what the API accepted is a row here, and every
// state a reading passes through is a row change made by whoever holds its claim.
import { sql } from 'drizzle-orm';
import { bigint, check, customType, index, integer, jsonb, numeric, pgTable, pgView, text, timestamp, uuid } from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => 'bytea' });
// Millisecond precision, so that a timestamp survives a round trip through a JS Date (keyset cursors).
const stamp = (name: string) => timestamp(name, { withTimezone: true, precision: 3 }).notNull().defaultNow();

export const READING_STATUSES = ['pending', 'processing', 'completed', 'failed'] as const;
export type ReadingStatus = (typeof READING_STATUSES)[number];

export const readings = pgTable(
  'readings',
  {
    id: uuid().primaryKey(),
    meterId: text('meter_id').notNull(),
    userId: text('user_id').notNull(),
    walletAddress: text('wallet_address').notNull(),
    kwhAmount: numeric('kwh_amount', { precision: 30, scale: 12 }).notNull(),
    /** Token base units (u64), as an exact decimal. */
    tokensToMint: numeric('tokens_to_mint', { precision: 20, scale: 0 }).notNull(),
    readingTimestamp: timestamp('reading_timestamp', { withTimezone: true }).notNull(),
    status: text().$type<ReadingStatus>().notNull().default('pending'),
    attempts: integer().notNull().default(0),
    lastError: text('last_error'),
    txSignature: text('tx_signature'),
    batchId: uuid('batch_id'),
    claimToken: uuid('claim_token'),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true }),
    nextAttemptAt: stamp('next_attempt_at'),
    createdAt: stamp('created_at'),
    updatedAt: stamp('updated_at'),
  },
  (t) => [
    check('readings_status_check', sql`${t.status} in ('pending', 'processing', 'completed', 'failed')`),
    check('readings_tokens_positive', sql`${t.tokensToMint} > 0`),
    index('readings_claimable').on(t.status, t.nextAttemptAt, t.createdAt),
    index('readings_wallet').on(t.walletAddress),
    // Readings in flight, by the transaction that carries them: completion and the rescuer look here.
    index('readings_in_flight').on(t.txSignature).where(sql`${t.status} = 'processing'`),
  ],
);

export const mintTransactions = pgTable(
  'mint_transactions',
  {
    signature: text().primaryKey(),
    raw: bytea().notNull(),
    lastValidBlockHeight: bigint('last_valid_block_height', { mode: 'number' }).notNull(),
    status: text().$type<'signed' | 'sent' | 'confirmed' | 'expired' | 'failed'>().notNull().default('signed'),
    readingIds: uuid('reading_ids').array().notNull(),
    batchId: uuid('batch_id'),
    claimToken: uuid('claim_token'),
    error: text(),
    createdAt: stamp('created_at'),
    updatedAt: stamp('updated_at'),
  },
  (t) => [
    check('mint_transactions_status_check', sql`${t.status} in ('signed', 'sent', 'confirmed', 'expired', 'failed')`),
    index('mint_transactions_open').on(t.status),
  ],
);

export const batches = pgTable(
  'batches',
  {
    id: uuid().primaryKey(),
    source: text().$type<'poll' | 'operator'>().notNull(),
    requestedBy: text('requested_by'),
    state: text().$type<'pending' | 'running' | 'completed' | 'cancelled'>().notNull().default('pending'),
    totalReadings: integer('total_readings').notNull().default(0),
    successfulMints: integer('successful_mints').notNull().default(0),
    failedMints: integer('failed_mints').notNull().default(0),
    createdAt: stamp('created_at'),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [check('batches_state_check', sql`${t.state} in ('pending', 'running', 'completed', 'cancelled')`)],
);

/** Settings read again on every worker cycle (batch interval, max batch size, retry limits). */
export const systemSettings = pgTable('system_settings', {
  key: text().primaryKey(),
  value: jsonb().notNull(),
  updatedAt: stamp('updated_at'),
});

export const idempotencyKeys = pgTable('idempotency_keys', {
  key: text().primaryKey(),
  requestHash: text('request_hash').notNull(),
  responseStatus: integer('response_status').notNull(),
  responseBody: jsonb('response_body').notNull(),
  createdAt: stamp('created_at'),
});

/** The chain this database belongs to: signatures recorded on one chain are never judged on another. */
export const chainIdentity = pgTable('chain_identity', {
  genesisHash: text('genesis_hash').primaryKey(),
  createdAt: stamp('created_at'),
});

export const queueStats = pgView('queue_stats').as((qb) =>
  qb
    .select({
      status: readings.status,
      count: sql<number>`count(*)::int`.as('count'),
      oldest: sql<Date | null>`min(${readings.createdAt})`.as('oldest'),
      wallets: sql<number>`count(distinct ${readings.walletAddress})::int`.as('wallets'),
    })
    .from(readings)
    .groupBy(readings.status),
);
