// The service's tables. Postgres is the source of truth: what the API accepted is a row here, and every
// state a reading passes through is a row change made by whoever holds its claim.
import { sql } from 'drizzle-orm';
import { bigint, boolean, check, customType, date, index, integer, jsonb, numeric, pgSequence, pgTable, pgView, primaryKey, smallint, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => 'bytea' });
// Millisecond precision, so that a timestamp survives a round trip through a JS Date (keyset cursors).
const stamp = (name: string) => timestamp(name, { withTimezone: true, precision: 3 }).notNull().defaultNow();

/**
 * Every status a reading can have. `recorded`: accepted energy that mints nothing (a zero register delta).
 * `voided`: an operator voided a wrong pending or failed reading (reading_voids says who and why): never
 * minted, and its (meter, time) stays taken.
 */
export const READING_STATUSES = ['pending', 'processing', 'completed', 'failed', 'recorded', 'voided'] as const;
export type ReadingStatus = (typeof READING_STATUSES)[number];
/** The statuses of readings in the mint queue: every status but `recorded` and `voided`, which are never claimed. */
export const QUEUE_STATUSES = READING_STATUSES.filter((s): s is Exclude<ReadingStatus, 'recorded' | 'voided'> => s !== 'recorded' && s !== 'voided');
const inList = (list: readonly string[]) => sql.raw(list.map((s) => `'${s}'`).join(', '));

/** Acceptance order of queued readings: readings.queue_seq takes the next value at insert. */
export const readingsQueueSeq = pgSequence('readings_queue_seq');

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
    /** The gateway that posted it (null for readings from before gateways were identities). */
    gatewayId: text('gateway_id'),
    /** The client's own id for the reading: stored and returned, never used for identity. */
    clientReadingId: text('client_reading_id'),
    /** Register meters: the cumulative register this reading reported (kwh_amount is its delta). */
    registerKwh: numeric('register_kwh', { precision: 30, scale: 12 }),
    /**
     * Set only on rows from before the energy identity existed that repeat an earlier row's (meter_id,
     * reading_timestamp): they are kept, and the earliest row holds the identity (see the unique index).
     */
    duplicateOf: uuid('duplicate_of'),
    status: text().$type<ReadingStatus>().notNull().default('pending'),
    /**
     * What a GridTokenX gateway sent beside the energy (voltage, weather_condition, ..., and `kwh_raw`, the
     * float as sent before rounding): bounded, control characters stripped. Null for native readings.
     */
    telemetry: jsonb('telemetry').$type<Record<string, string | number | boolean | null>>(),
    attempts: integer().notNull().default(0),
    lastError: text('last_error'),
    txSignature: text('tx_signature'),
    batchId: uuid('batch_id'),
    claimToken: uuid('claim_token'),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true }),
    nextAttemptAt: stamp('next_attempt_at'),
    createdAt: stamp('created_at'),
    updatedAt: stamp('updated_at'),
    /**
     * Where the reading joined the queue: the next value of readings_queue_seq at insert, null for a reading
     * that never joins it (`recorded`). Its queue position is queue_seq − queue_watermark.claimed_seq, an
     * O(1) estimate (see readings/repo.ts queuePosition); nothing orders or claims by it.
     */
    queueSeq: bigint('queue_seq', { mode: 'number' }).default(sql`nextval('readings_queue_seq')`),
    /**
     * The start of the 15-minute window, (start, start + 15 min], that holds the reading's timestamp
     * (minting/windows.ts): what MINT_INSTRUCTION=mint_generation sums and mints once per meter.
     */
    windowStart: timestamp('window_start', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    check('readings_status_check', sql`${t.status} in (${inList(READING_STATUSES)})`),
    check('readings_tokens_positive', sql`${t.tokensToMint} > 0 or ${t.status} = 'recorded'`),
    // The identity of energy: one accepted reading per meter and instant. Rows kept from before it
    // (duplicate_of set) stand outside it; every new row is inside.
    uniqueIndex('readings_energy_identity').on(t.meterId, t.readingTimestamp).where(sql`${t.duplicateOf} is null`),
    index('readings_claimable').on(t.status, t.nextAttemptAt, t.createdAt),
    index('readings_wallet').on(t.walletAddress),
    // Readings in flight, by the transaction that carries them: completion and the rescuer look here.
    index('readings_in_flight').on(t.txSignature).where(sql`${t.status} = 'processing'`),
    // A batch's readings (its page, its stream's replay, and the rescuer closing an interrupted batch).
    index('readings_batch').on(t.batchId),
    // Pages of readings by (created_at, id), either way (GET /readings, the console's readings page): a
    // keyset page reads 50 index entries, not every reading.
    index('readings_created').on(t.createdAt, t.id),
    // A meter's readings of one window (mint_generation claims and freezes whole windows).
    index('readings_window').on(t.meterId, t.windowStart),
  ],
);

/**
 * One row: the greatest queue_seq any claim in queue order has taken (minting/repo.ts claimReadings raises
 * it in the claim's own statement). A pending reading's queue position is its queue_seq minus this.
 */
export const queueWatermark = pgTable(
  'queue_watermark',
  {
    id: smallint().primaryKey().default(1),
    claimedSeq: bigint('claimed_seq', { mode: 'number' }).notNull(),
  },
  (t) => [check('queue_watermark_one_row', sql`${t.id} = 1`)],
);

// ---- gateways and meters --------------------------------------------------------------------------

/** A gateway is an identity: it posts readings for the meters it serves, with keys stored as hashes. */
export const gateways = pgTable(
  'gateways',
  {
    gatewayId: text('gateway_id').primaryKey(),
    /** `api`: made by POST /gateways; `env`: synced from GATEWAY_API_KEYS at start (managed there). */
    source: text().$type<'api' | 'env'>().notNull(),
    createdAt: stamp('created_at'),
    disabledAt: timestamp('disabled_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [check('gateways_source_check', sql`${t.source} in ('api', 'env')`)],
);

/** A gateway's keys, as SHA-256 hashes; an old key keeps working until expires_at after a rotation. */
export const gatewayKeys = pgTable(
  'gateway_keys',
  {
    keyHash: text('key_hash').primaryKey(),
    gatewayId: text('gateway_id')
      .notNull()
      .references(() => gateways.gatewayId),
    createdAt: stamp('created_at'),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [index('gateway_keys_gateway').on(t.gatewayId)],
);

export const METER_KINDS = ['interval', 'register'] as const;
export type MeterKind = (typeof METER_KINDS)[number];

/** The registry: which gateway may post for a meter, whose energy it is, and what it can produce. */
export const meters = pgTable(
  'meters',
  {
    meterId: text('meter_id').primaryKey(),
    gatewayId: text('gateway_id')
      .notNull()
      .references(() => gateways.gatewayId),
    userId: text('user_id').notNull(),
    walletAddress: text('wallet_address').notNull(),
    kind: text().$type<MeterKind>().notNull(),
    /** Interval meters: the minutes one reading covers. */
    intervalMinutes: integer('interval_minutes'),
    /** Rated power in kW: the bound on energy per unit of time. */
    maxKw: numeric('max_kw', { precision: 20, scale: 6 }).notNull(),
    activeFrom: timestamp('active_from', { withTimezone: true, precision: 3 }).notNull(),
    /** ed25519, base58: when set, every reading must be signed with it. */
    publicKey: text('public_key'),
    /** Register meters: the register at a meter exchange or reset, the point deltas start from. */
    registerBaselineKwh: numeric('register_baseline_kwh', { precision: 30, scale: 12 }),
    registerBaselineAt: timestamp('register_baseline_at', { withTimezone: true, precision: 3 }),
    /** Register meters: the latest accepted register and its time (the baseline until a reading comes). */
    lastRegisterKwh: numeric('last_register_kwh', { precision: 30, scale: 12 }),
    lastRegisterAt: timestamp('last_register_at', { withTimezone: true, precision: 3 }),
    disabledAt: timestamp('disabled_at', { withTimezone: true, precision: 3 }),
    /**
     * The meter's 16 bytes in mint_generation's record seeds, as 32 lowercase hex digits: derived from meter_id as
     * GridTokenX's aggregator derives them, or set by the operator for a meter GridTokenX already knows.
     */
    generationMeterId: text('generation_meter_id'),
    createdAt: stamp('created_at'),
    updatedAt: stamp('updated_at'),
  },
  (t) => [
    // Two meters sharing them would share every window's record: the second's energy would never be minted.
    uniqueIndex('meters_generation_meter_id').on(t.generationMeterId),
    check('meters_generation_meter_id_hex', sql`${t.generationMeterId} ~ '^[0-9a-f]{32}$'`),
    check('meters_kind_check', sql`${t.kind} in (${inList(METER_KINDS)})`),
    check('meters_interval_check', sql`(${t.kind} = 'interval') = (${t.intervalMinutes} is not null) and (${t.intervalMinutes} is null or ${t.intervalMinutes} between 1 and 1440)`),
    check('meters_register_check', sql`(${t.kind} = 'register') = (${t.lastRegisterKwh} is not null and ${t.lastRegisterAt} is not null)`),
    check('meters_max_kw_positive', sql`${t.maxKw} > 0`),
    index('meters_gateway').on(t.gatewayId, t.meterId),
  ],
);

/** Every change to a meter: who, when, the values before (null at creation) and after. */
export const meterChanges = pgTable(
  'meter_changes',
  {
    id: uuid().primaryKey(),
    meterId: text('meter_id').notNull(),
    actor: text().notNull(),
    changedAt: stamp('changed_at'),
    oldValues: jsonb('old_values'),
    newValues: jsonb('new_values').notNull(),
  },
  (t) => [index('meter_changes_meter').on(t.meterId, t.changedAt)],
);

/** New token accounts reserved per UTC day (MAX_NEW_TOKEN_ACCOUNTS_PER_DAY): their rent is the authority's. */
export const tokenAccountBudget = pgTable('token_account_budget', {
  day: date().primaryKey(),
  reserved: integer().notNull(),
  /** What the last reservation granted (read back by that same statement). */
  lastGranted: integer('last_granted').notNull(),
});

/** Lamports of fees reserved per UTC day (MAX_FEE_LAMPORTS_PER_DAY), before each transaction is signed. */
export const feeBudget = pgTable('fee_budget', {
  day: date().primaryKey(),
  reserved: bigint({ mode: 'bigint' }).notNull(),
  /** Whether the last reservation was granted (read back by that same statement). */
  lastGranted: boolean('last_granted').notNull(),
});

/** New mint_generation records reserved per UTC day (MAX_NEW_MINT_RECORDS_PER_DAY): 1,183,200 lamports of rent each. */
export const mintRecordBudget = pgTable('mint_record_budget', {
  day: date().primaryKey(),
  reserved: integer().notNull(),
  /** What the last reservation granted (read back by that same statement). */
  lastGranted: integer('last_granted').notNull(),
});

/**
 * A meter's window as mint_generation settles it: frozen when its transaction is first recorded as signed (its
 * readings and their sum fixed from then on: a reading for it that comes later is refused), minted once it landed.
 */
export const mintWindows = pgTable(
  'mint_windows',
  {
    meterId: text('meter_id').notNull(),
    windowStart: timestamp('window_start', { withTimezone: true, precision: 3 }).notNull(),
    generationMeterId: text('generation_meter_id').notNull(),
    walletAddress: text('wallet_address').notNull(),
    /** Base units: the frozen sum of its readings, the amount its record on chain must hold. */
    amount: numeric({ precision: 20, scale: 0 }).notNull(),
    readingIds: uuid('reading_ids').array().notNull(),
    /** The latest transaction signed for it. */
    txSignature: text('tx_signature'),
    status: text().$type<'frozen' | 'minted'>().notNull().default('frozen'),
    frozenAt: stamp('frozen_at'),
    mintedAt: timestamp('minted_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [primaryKey({ columns: [t.meterId, t.windowStart] }), check('mint_windows_status_check', sql`${t.status} in ('frozen', 'minted')`), index('mint_windows_signature').on(t.txSignature)],
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

export const BATCH_STATES = ['pending', 'running', 'completed', 'completed_with_failures', 'failed', 'cancelled', 'interrupted'] as const;
export type BatchState = (typeof BATCH_STATES)[number];
/**
 * A batch that ended, and how: `completed` (every reading it settled was minted), `completed_with_failures`
 * (some minted, some failed), `failed` (none minted), `cancelled`, `interrupted` (its process died; the rescuer
 * closed it). Its event stream has its summary. Readings deferred to the next day's rent budget are not failures.
 */
export const ENDED_BATCH_STATES: readonly BatchState[] = ['completed', 'completed_with_failures', 'failed', 'cancelled', 'interrupted'];

export const batches = pgTable(
  'batches',
  {
    id: uuid().primaryKey(),
    source: text().$type<'poll' | 'operator'>().notNull(),
    requestedBy: text('requested_by'),
    state: text().$type<BatchState>().notNull().default('pending'),
    totalReadings: integer('total_readings').notNull().default(0),
    successfulMints: integer('successful_mints').notNull().default(0),
    failedMints: integer('failed_mints').notNull().default(0),
    /** Renewed with its readings' leases while its process runs it; past it, the rescuer may close it. */
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true }).notNull().defaultNow(),
    createdAt: stamp('created_at'),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    check('batches_state_check', sql`${t.state} in ('pending', 'running', 'completed', 'completed_with_failures', 'failed', 'cancelled', 'interrupted')`),
    index('batches_open').on(t.leaseExpiresAt).where(sql`${t.state} in ('pending', 'running')`),
  ],
);

/**
 * What a batch's event stream carries, in order: one `result` per reading as it settles, then one `summary`.
 * NOTIFY carries only (batch id, seq); listeners read the events here, so a batch of any size fits, and a
 * client that reconnects replays from its last seq.
 */
export const batchEvents = pgTable(
  'batch_events',
  {
    batchId: uuid('batch_id').notNull(),
    seq: integer().notNull(),
    event: text().$type<'result' | 'summary'>().notNull(),
    data: jsonb().notNull(),
    createdAt: stamp('created_at'),
  },
  (t) => [primaryKey({ columns: [t.batchId, t.seq] }), check('batch_events_event_check', sql`${t.event} in ('result', 'summary')`)],
);

/** Settings read again on every worker cycle (batch interval, max batch size, retry limits). */
export const systemSettings = pgTable('system_settings', {
  key: text().primaryKey(),
  value: jsonb().notNull(),
  updatedAt: stamp('updated_at'),
});

/**
 * POST /mint-batch's Idempotency-Key, per operator: reserved (with the batch id it will start) before the
 * batch starts, so a second request with the key finds the batch instead of starting another; the first
 * answer is stored once given. Purged IDEMPOTENCY_TTL_HOURS after created_at.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    operator: text().notNull().default('operator'),
    key: text().notNull(),
    requestHash: text('request_hash').notNull(),
    batchId: uuid('batch_id'),
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body'),
    createdAt: stamp('created_at'),
  },
  (t) => [primaryKey({ columns: [t.operator, t.key] }), index('idempotency_keys_created').on(t.createdAt)],
);

/** Per-gateway rate limits (GCRA): the theoretical arrival time of the next unit, one row per limit key. */
export const rateLimits = pgTable('rate_limits', {
  key: text().primaryKey(),
  tat: timestamp({ withTimezone: true, precision: 6 }).notNull(),
});

/** Stream tickets (POST /batches/:id/stream-ticket): the SHA-256 of a random ticket, for one batch, until expires_at. */
export const streamTickets = pgTable(
  'stream_tickets',
  {
    ticketHash: text('ticket_hash').primaryKey(),
    batchId: uuid('batch_id').notNull(),
    operator: text().notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [index('stream_tickets_expires').on(t.expiresAt)],
);

/** Who voided a reading, when and why (POST /readings/:id/void): the status before it is kept too. */
export const readingVoids = pgTable('reading_voids', {
  readingId: uuid('reading_id').primaryKey(),
  actor: text().notNull(),
  reason: text().notNull(),
  previousStatus: text('previous_status').notNull(),
  voidedAt: stamp('voided_at'),
});

/**
 * Operator console sessions, shared by every API process: the SHA-256 of the cookie's random value, the
 * operator, the per-session CSRF token, until expires_at (CONSOLE_SESSION_HOURS) or sign-out (revoked_at).
 */
export const consoleSessions = pgTable(
  'console_sessions',
  {
    sessionHash: text('session_hash').primaryKey(),
    operator: text().notNull(),
    csrfToken: text('csrf_token').notNull(),
    createdAt: stamp('created_at'),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [index('console_sessions_expires').on(t.expiresAt)],
);

/** The chain this database belongs to: signatures recorded on one chain are never judged on another. */
export const chainIdentity = pgTable('chain_identity', {
  genesisHash: text('genesis_hash').primaryKey(),
  /**
   * The chain as this database found it, so that reconciliation judges only what came after: the newest
   * transaction touching token_info at that moment (null: none yet) and the mint's supply then.
   */
  historyUntil: text('history_until'),
  initialSupply: numeric('initial_supply', { precision: 20, scale: 0 }),
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

/**
 * The address lookup tables the service created (src/chain/lookupTables.ts), oldest first by created_at. The
 * pending_* columns hold the signed transaction that creates or extends the table, recorded before its first
 * send and cleared once it settled, so a restart follows or rebroadcasts those same bytes and never signs anew.
 */
export const lookupTables = pgTable('lookup_tables', {
  address: text().primaryKey(),
  pendingSignature: text('pending_signature'),
  pendingRaw: bytea('pending_raw'),
  pendingLastValidBlockHeight: bigint('pending_last_valid_block_height', { mode: 'number' }),
  createdAt: stamp('created_at'),
  updatedAt: stamp('updated_at'),
});
