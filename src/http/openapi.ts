// The OpenAPI document served at GET /openapi.json. A test checks it against the routes the app really has.
import { READING_STATUSES } from '../db/schema.js';
import { TELEMETRY_FIELDS } from '../readings/parseGridTokenX.js';
const errorRef = { $ref: '#/components/schemas/Error' };
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { description: 'error', ...json(errorRef) }]));
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const gateway = [{ bearer: [] }];
/** Operator-only routes (the bearer scheme; a gateway key gets 403). */
const operator = gateway;
const text = { type: 'string' };
const stamp = { type: 'string', format: 'date-time' };
const meterIdParam = { name: 'meter_id', in: 'path', required: true, schema: text };
const gatewayIdParam = { name: 'id', in: 'path', required: true, schema: text };
const decimal = (description: string) => ({ oneOf: [{ type: 'string' }, { type: 'number' }], description });

const pauseState = { type: 'object', properties: { paused: { type: 'boolean' }, reason: { type: 'string', nullable: true }, paused_by: { type: 'string', nullable: true }, paused_at: { ...stamp, nullable: true } } };
const settings = {
  type: 'object',
  properties: {
    batch_interval_ms: { type: 'integer', minimum: 10 },
    max_batch_size: { type: 'integer', minimum: 1, maximum: 10000 },
    max_attempts: { type: 'integer', minimum: 1 },
    retry_backoff_ms: { type: 'integer', minimum: 0 },
  },
};
const reading = {
  type: 'object',
  properties: {
    reading_id: { type: 'string', format: 'uuid' },
    meter_id: { type: 'string' },
    user_id: { type: 'string' },
    wallet_address: { type: 'string' },
    kwh_amount: { type: 'string' },
    tokens_to_mint: { type: 'string', description: 'base units' },
    client_reading_id: { type: 'string', nullable: true },
    gateway_id: { type: 'string', nullable: true, description: 'the gateway that posted it (null before gateways were identities)' },
    reading_timestamp: stamp,
    register_kwh: { type: 'string', nullable: true, description: 'register meters: the register reported; kwh_amount is its delta' },
    status: { type: 'string', enum: READING_STATUSES, description: 'recorded: a zero register delta or a GridTokenX consumption reading (kwh ≤ 0), never minted; voided: voided by an operator, never minted' },
    telemetry: { type: 'object', nullable: true, additionalProperties: true, description: 'GridTokenX readings: their telemetry, with kwh (as rounded) and kwh_raw (as sent); null for native readings' },
    attempts: { type: 'integer' },
    error: { type: 'string', nullable: true },
    tx_signature: { type: 'string', nullable: true },
    batch_id: { type: 'string', nullable: true },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
};
const readingInput = {
  type: 'object',
  required: ['meter_id', 'reading_timestamp'],
  description: 'kwh_amount for an interval meter, register_kwh for a register meter: exactly one',
  properties: {
    meter_id: text,
    reading_timestamp: { type: 'string', format: 'date-time', description: 'ISO 8601 with a zone, at most millisecond precision; not before active_from, at most 60 s ahead' },
    kwh_amount: decimal('interval meters: decimal string, or a number with at most 15 significant digits'),
    register_kwh: decimal('register meters: the cumulative export register'),
    signature: { type: 'string', description: 'ed25519 (base58) over "energy-token-reading:v1\\n<meter_id>\\n<timestamp, ms, Z>\\n<plain decimal amount>"; required when the meter has a public_key' },
    client_reading_id: { type: 'string', description: "the client's own id, stored and returned, never identity" },
    reading_id: { type: 'string', description: 'taken as client_reading_id (clients of the earlier API)' },
    user_id: { type: 'string', description: "optional: must agree with the meter's owner (422 WALLET_MISMATCH)" },
    wallet_address: { type: 'string', description: "optional: must agree with the meter's wallet (422 WALLET_MISMATCH)" },
  },
};
const TELEMETRY_TEXT = ['meter_type', 'user_type', 'weather_condition'];
/** A reading in the GridTokenX wire format (their CreateReadingRequest / simulator payloads). */
const gridTokenXReading = {
  type: 'object',
  required: ['kwh', 'timestamp'],
  additionalProperties: true,
  description:
    'GridTokenX reading. Unknown fields are ignored; the telemetry fields are kept with the reading (numbers, booleans, texts cut to 100 characters with control characters stripped) and shown by GET /readings/{id} as `telemetry`, with `kwh` (as rounded) and `kwh_raw` (as sent).',
  properties: {
    meter_serial: { type: 'string', description: 'batch routes: the meter (or meter_id); single route: optional, must be the path serial' },
    meter_id: { type: 'string', description: 'the meter, when meter_serial is absent' },
    kwh: { type: 'number', description: 'net kWh (surplus − deficit), rounded half-even to GRIDTOKENX_KWH_DECIMALS (default 6): > 0 an interval reading of that energy (interval meters only: a register meter is 422 REGISTER_METER); ≤ 0 stored as consumption, status recorded, nothing minted' },
    timestamp: { type: 'string', format: 'date-time', description: 'required (422 naming it): with the meter, the identity of the reading' },
    wallet_address: { type: 'string', description: "optional: must agree with the meter's wallet (422 WALLET_MISMATCH)" },
    meter_signature: { type: 'string', nullable: true, description: 'not verified: readings of a meter with a public_key are refused (422 BAD_SIGNATURE naming meter_signature); post them signed to /readings' },
    ...Object.fromEntries(
      TELEMETRY_FIELDS.map((k) => [k, TELEMETRY_TEXT.includes(k) ? { type: 'string' } : k === 'rec_eligible' ? { type: 'boolean' } : { type: 'number' }]),
    ),
  },
};
const gridTokenXErrors = {
  ...errors(400, 401, 403, 409, 413, 422),
  '404': { description: 'UNKNOWN_METER: not registered or disabled (their gateway\'s "Meter not found")', ...json(errorRef) },
  '503': { description: 'OVERLOADED (a rate limit: their clients drop 4xx and retry 5xx) or DATABASE_UNAVAILABLE; Retry-After says when', ...json(errorRef) },
};
const gridTokenXBatch = {
  post: {
    summary: 'GridTokenX gateways: a batch of readings, all or none (a bad one is a 4xx naming it; their client then sends them one by one)',
    security: gateway,
    requestBody: json({ type: 'object', required: ['readings'], properties: { readings: { type: 'array', items: gridTokenXReading } } }),
    responses: {
      '200': { description: 'every reading accepted or already accepted', ...json({ type: 'object', properties: { success_count: { type: 'integer' }, failed_count: { type: 'integer', description: 'always 0: a batch is all or none' }, message: text } }) },
      ...gridTokenXErrors,
    },
  },
};
/** What queue_position means, wherever it is given (POST /readings, GET /queue/item/{id}). */
const queuePosition = {
  type: 'integer',
  nullable: true,
  minimum: 1,
  description:
    'An estimate, not a promise: for a pending reading, 1 + the readings accepted before it that no claim in queue order had taken yet, when the answer was made (POST /readings: when it was accepted; GET /queue/item/{id}: now). Counted from sequence numbers, not by reading the queue: readings waiting on a retry back-off are not counted, readings an operator minted by id and refused requests may still be counted, readings accepted at the same moment may be claimed in another order, and a reading the claims have already passed (a retry) is at 1. No exact position is promised. Null when the reading is not pending (recorded, processing, completed, failed, voided).',
};
const accepted = {
  type: 'object',
  properties: {
    accepted: { type: 'integer' },
    duplicates: { type: 'integer' },
    readings: {
      type: 'array',
      items: { type: 'object', properties: { reading_id: { type: 'string', format: 'uuid' }, client_reading_id: { type: 'string', nullable: true }, status: text, queue_position: queuePosition } },
    },
  },
};
/** GET /readings/{id} and GET /queue/item/{id}: the reading and its queue position as of now. */
const queueItem = { ...reading, properties: { ...reading.properties, queue_position: queuePosition } };
const baseline = { type: 'object', required: ['kwh', 'at'], properties: { kwh: decimal('the register at `at`'), at: stamp } };
const meterInput = {
  type: 'object',
  description: 'PUT merges: only the fields given change. Registering needs gateway_id, user_id, wallet_address, kind, max_kw, active_from, and interval_minutes (interval) or register_baseline (register).',
  properties: {
    gateway_id: text,
    user_id: text,
    wallet_address: { type: 'string', description: 'base58, 32 bytes: receives the tokens' },
    kind: { type: 'string', enum: ['interval', 'register'], description: 'fixed once set' },
    interval_minutes: { type: 'integer', minimum: 1, maximum: 1440 },
    max_kw: decimal('rated power in kW, > 0'),
    active_from: stamp,
    public_key: { type: 'string', nullable: true, description: 'ed25519, base58; null removes it' },
    register_baseline: { ...baseline, description: 'register meters: at registration, and after a meter exchange or reset' },
    generation_meter_id: {
      type: 'string',
      description: "mint_generation's 16 bytes for this meter, a UUID or 32 hex digits (shown as 32 hex digits): for a meter GridTokenX already knows; default derived from meter_id as GridTokenX's aggregator derives it. Unique (409 GENERATION_METER_ID_TAKEN); fixed once a window of the meter was frozen (409 GENERATION_METER_ID_FIXED)",
    },
  },
};
const meter = {
  type: 'object',
  properties: {
    ...meterInput.properties,
    meter_id: text,
    register_baseline: { ...baseline, nullable: true },
    last_register: { ...baseline, nullable: true, description: 'the latest accepted register and its time' },
    disabled_at: { ...stamp, nullable: true },
    created_at: stamp,
    updated_at: stamp,
    totals: {
      type: 'object',
      description: 'GET /meters/{meter_id} only',
      properties: { readings_accepted: { type: 'integer' }, kwh_accepted: text, tokens_minted: { type: 'string', description: 'base units' }, readings_pending: { type: 'integer' } },
    },
  },
};
const gatewayJson = {
  type: 'object',
  properties: {
    gateway_id: text,
    source: { type: 'string', enum: ['api', 'env'] },
    created_at: stamp,
    disabled_at: { ...stamp, nullable: true },
    meters: { type: 'integer' },
    keys: { type: 'array', items: { type: 'object', properties: { created_at: stamp, expires_at: { ...stamp, nullable: true } } } },
  },
};
const newKey = { type: 'object', properties: { gateway_id: text, api_key: { type: 'string', description: 'egk_…: shown once, stored only as its SHA-256' }, old_keys_expire_at: { ...stamp, nullable: true } } };
const result = { type: 'object', properties: { reading_id: { type: 'string' }, success: { type: 'boolean' }, error: { type: 'string', nullable: true }, tx_signature: { type: 'string', nullable: true } } };
const summary = {
  type: 'object',
  properties: { batch_id: { type: 'string' }, state: { type: 'string' }, total_readings: { type: 'integer' }, successful_mints: { type: 'integer' }, failed_mints: { type: 'integer' }, results: { type: 'array', items: result } },
};
const readingIds = { type: 'object', properties: { reading_ids: { type: 'array', items: { type: 'string', format: 'uuid' } }, prefer_async: { type: 'boolean' } } };

export const openApiDocument = {
  openapi: '3.0.3',
  info: {
    title: 'energy-token-minter',
    version: '0.1.0',
    description:
      'Smart-meter readings to Solana tokens, in batches and exactly once. Error codes: 400 VALIDATION_ERROR; 401 UNAUTHORIZED; 403 FORBIDDEN, METER_NOT_YOURS; 404 NOT_FOUND; 409 CONFLICTING_READING, STALE_READING, REGISTER_WENT_BACK, GATEWAY_EXISTS, GATEWAY_MANAGED_BY_ENVIRONMENT, GATEWAY_DISABLED, METER_DISABLED, GENERATION_METER_ID_TAKEN, GENERATION_METER_ID_FIXED, CONFLICT; 413 PAYLOAD_TOO_LARGE; 503 OVERLOADED (GridTokenX routes), DATABASE_UNAVAILABLE; 404 UNKNOWN_METER (GridTokenX routes); 422 INVALID_FIELD, REGISTER_METER (GridTokenX routes), UNKNOWN_METER, WRONG_AMOUNT_FIELD, WALLET_MISMATCH, IMPLAUSIBLE_ENERGY, BAD_SIGNATURE, TIMESTAMP_OUT_OF_RANGE, READING_TOO_LARGE, UNKNOWN_GATEWAY, METER_KIND_FIXED, BASELINE_TOO_EARLY, WINDOW_SETTLED (MINT_INSTRUCTION=mint_generation: the reading\'s window is frozen or minted).',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' }, errors: { type: 'array', description: 'PUT /meters: every refused entry (at most 100), each { code, message, field }; code, message and field above are the first one', items: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } } } } } } } },
    },
  },
  paths: {
    '/health': { get: { summary: 'Open, for load balancers: {status} only; 503 while the database does not answer (the RPC never makes it 503)', responses: { '200': { description: 'ok' }, '503': { description: 'unavailable' } } } },
    '/health/details': {
      get: { summary: 'Database, RPC, program, mint, fee payer, rent budget and worker, each with the age of its last check (operator)', security: operator, responses: { '200': { description: 'details' }, ...errors(401, 403) } },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics (METRICS_TOKEN or an operator token): readings by status, fee payer lamports, mint results, energy_token_accounts_budget_left',
        security: operator,
        responses: { '200': { description: 'text/plain' }, ...errors(401, 403) },
      },
    },
    '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3' } } } },
    '/readings': {
      post: {
        summary: 'Accept readings of the meters this gateway serves (gateway): all or none',
        security: gateway,
        requestBody: json({ oneOf: [readingInput, { type: 'object', properties: { readings: { type: 'array', items: readingInput } } }] }),
        responses: { '202': { description: 'accepted (duplicates counted, changing nothing)', ...json(accepted) }, ...errors(400, 401, 403, 409, 413, 422, 429) },
      },
      get: {
        summary: 'Page through readings (a gateway: those it posted)',
        security: gateway,
        parameters: ['status', 'wallet', 'cursor', 'limit'].map((name) => ({ name, in: 'query', schema: { type: 'string' } })),
        responses: { '200': { description: 'a page', ...json({ type: 'object', properties: { readings: { type: 'array', items: reading }, next_cursor: { type: 'string', nullable: true } } }) }, ...errors(400, 401) },
      },
    },
    '/readings/{id}': { get: { summary: 'One reading (a gateway: only one it posted), with its queue position as of now', security: gateway, parameters: [idParam], responses: { '200': { description: 'the reading', ...json(queueItem) }, ...errors(400, 401, 404) } } },
    '/queue/item/{id}': { get: { summary: 'One queue item (a reading), with its queue position as of now', security: gateway, parameters: [idParam], responses: { '200': { description: 'the reading', ...json(queueItem) }, ...errors(400, 401, 404) } } },
    '/readings/{id}/retry': { post: { summary: 'A failed reading back to pending (operator)', security: gateway, parameters: [idParam], responses: { '200': { description: 'the reading', ...json(reading) }, ...errors(400, 401, 403, 404, 409) } } },
    '/mint-batch': {
      post: {
        summary: 'Mint pending readings (operator); Idempotency-Key honoured',
        security: gateway,
        parameters: [{ name: 'Idempotency-Key', in: 'header', schema: { type: 'string' } }],
        requestBody: json(readingIds),
        responses: { '200': { description: 'done within the window', ...json(summary) }, '202': { description: 'running', ...json({ type: 'object' }) }, ...errors(400, 401, 403, 422) },
      },
    },
    '/batches/{id}': { get: { summary: 'A batch and its results', security: operator, parameters: [idParam], responses: { '200': { description: 'the batch', ...json(summary) }, ...errors(400, 401, 404) } } },
    '/batches/{id}/events': {
      get: {
        summary:
          'Server-sent events: one "result" per reading as it lands, then "summary"; a heartbeat comment every SSE_HEARTBEAT_MS; a slow client gets a final "error" event and reconnects with Last-Event-ID. Credentials: the Authorization header or ?ticket= (POST /batches/{id}/stream-ticket)',
        security: operator,
        parameters: [idParam, { name: 'ticket', in: 'query', schema: { type: 'string' } }, { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } }],
        responses: { '200': { description: 'text/event-stream' }, ...errors(400, 401, 404, 429) },
      },
    },
    '/batches/{id}/stream-ticket': {
      post: {
        summary: "A ticket for this batch's event stream (operator), good for 60 s: EventSource cannot send headers, and no secret belongs in a URL",
        security: operator,
        parameters: [idParam],
        responses: {
          '201': { description: 'the ticket', ...json({ type: 'object', properties: { ticket: text, batch_id: text, expires_at: stamp, events_url: text } }) },
          ...errors(400, 401, 403, 404),
        },
      },
    },
    '/batches/{id}/cancel': { post: { summary: 'Stop signing new transactions (operator)', security: gateway, parameters: [idParam], responses: { '200': { description: 'state' }, ...errors(400, 401, 403, 404) } } },
    '/queue/status': { get: { summary: 'Counts per status, oldest pending, wallets, recent batches, settings', security: operator, responses: { '200': { description: 'status' }, ...errors(401) } } },
    '/queue/payer/{wallet}': { get: { summary: "A wallet's pending and processing readings", security: operator, parameters: [{ name: 'wallet', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'readings' }, ...errors(401) } } },
    '/gateways': {
      post: { summary: 'Create a gateway (operator): its key is shown once', security: operator, requestBody: json({ type: 'object', required: ['gateway_id'], properties: { gateway_id: text } }), responses: { '201': { description: 'the gateway and its key', ...json(newKey) }, ...errors(400, 401, 403, 409) } },
      get: { summary: 'Every gateway (operator)', security: operator, responses: { '200': { description: 'gateways', ...json({ type: 'object', properties: { gateways: { type: 'array', items: gatewayJson } } }) }, ...errors(401, 403) } },
    },
    '/gateways/{id}/rotate': {
      post: {
        summary: 'A new key; the old ones keep working for grace_seconds (default 86400, 0 = at once) (operator)',
        security: operator,
        parameters: [gatewayIdParam],
        requestBody: json({ type: 'object', properties: { grace_seconds: { type: 'integer', minimum: 0, maximum: 2592000 } } }),
        responses: { '201': { description: 'the new key', ...json(newKey) }, ...errors(400, 401, 403, 404, 409) },
      },
    },
    '/gateways/{id}': { delete: { summary: 'Disable a gateway: its keys get 401; its meters stay registered (operator)', security: operator, parameters: [gatewayIdParam], responses: { '200': { description: 'disabled' }, ...errors(400, 401, 403, 404, 409) } } },
    '/meters': {
      put: {
        summary: 'Register or change up to 1,000 meters, all or none (operator)',
        security: operator,
        requestBody: json({ type: 'array', items: { ...meterInput, required: ['meter_id'], properties: { ...meterInput.properties, meter_id: text } } }),
        responses: { '200': { description: 'the stored meters', ...json({ type: 'object', properties: { meters: { type: 'array', items: meter } } }) }, ...errors(400, 401, 403, 409, 413, 422) },
      },
      get: {
        summary: 'Page through meters by meter_id (a gateway: those it serves)',
        security: gateway,
        parameters: ['gateway', 'cursor', 'limit'].map((name) => ({ name, in: 'query', schema: text })),
        responses: { '200': { description: 'a page', ...json({ type: 'object', properties: { meters: { type: 'array', items: meter }, next_cursor: { type: 'string', nullable: true } } }) }, ...errors(400, 401) },
      },
    },
    '/meters/{meter_id}': {
      put: { summary: 'Register (201) or change (200) a meter: a merge (operator)', security: operator, parameters: [meterIdParam], requestBody: json(meterInput), responses: { '200': { description: 'changed', ...json(meter) }, '201': { description: 'registered', ...json(meter) }, ...errors(400, 401, 403, 409, 422) } },
      get: { summary: 'One meter with its totals (a gateway: one it serves)', security: gateway, parameters: [meterIdParam], responses: { '200': { description: 'the meter', ...json(meter) }, ...errors(401, 404) } },
      delete: { summary: 'Disable a meter: its readings get UNKNOWN_METER (operator)', security: operator, parameters: [meterIdParam], responses: { '200': { description: 'disabled', ...json(meter) }, ...errors(401, 403, 404) } },
    },
    '/api/v1/meters/{serial}/readings': {
      post: {
        summary: 'GridTokenX gateways: one reading of the meter `serial`',
        security: gateway,
        parameters: [{ name: 'serial', in: 'path', required: true, schema: text }],
        requestBody: json(gridTokenXReading),
        responses: {
          '200': {
            description: 'accepted, or already accepted (a resend): minted and tx_signature as known now',
            ...json({ type: 'object', properties: { id: { type: 'string', format: 'uuid', description: 'the reading id' }, serial_number: text, kwh: { type: 'number', description: 'as rounded' }, timestamp: stamp, minted: { type: 'boolean' }, tx_signature: { type: 'string', nullable: true }, message: text } }),
          },
          ...gridTokenXErrors,
        },
      },
    },
    '/api/v1/meters/batch/readings': gridTokenXBatch,
    '/api/v1/public/meters/batch/readings': gridTokenXBatch,
    '/readings/{id}/void': {
      post: {
        summary: 'Void a wrong pending or failed reading (operator): status voided, never minted, its (meter, time) stays taken; who and why are recorded',
        security: operator,
        parameters: [idParam],
        requestBody: json({ type: 'object', required: ['reason'], properties: { reason: { type: 'string', maxLength: 500 } } }),
        responses: { '200': { description: 'the voided reading', ...json({ ...reading, properties: { ...reading.properties, voided_by: text, void_reason: text } }) }, ...errors(400, 401, 403, 404, 409) },
      },
    },
    '/readings/retry': {
      post: {
        summary: 'Put every failed reading matching the filter back in the queue (operator); all given fields must match; {"all": true} for every failed reading',
        security: operator,
        requestBody: json({ type: 'object', properties: { error: { type: 'string', description: 'the exact error' }, meter_id: text, gateway_id: text, wallet_address: text, from: { ...stamp, description: 'failed at or after' }, to: { ...stamp, description: 'failed before' }, all: { type: 'boolean' } } }),
        responses: { '200': { description: 'how many moved', ...json({ type: 'object', properties: { moved: { type: 'integer' } } }) }, ...errors(400, 401, 403) },
      },
    },
    '/minting': { get: { summary: 'Whether minting is paused, by whom and why (operator)', security: operator, responses: { '200': { description: 'the state', ...json(pauseState) }, ...errors(401, 403) } } },
    '/minting/pause': {
      post: {
        summary: 'Pause minting (operator): stored in the database, so every worker process stops claiming, across restarts; signed transactions are still followed',
        security: operator,
        requestBody: json({ type: 'object', required: ['reason'], properties: { reason: { type: 'string', maxLength: 500 } } }),
        responses: { '200': { description: 'the state', ...json(pauseState) }, ...errors(400, 401, 403) },
      },
    },
    '/minting/resume': { post: { summary: 'Resume minting (operator)', security: operator, responses: { '200': { description: 'the state', ...json(pauseState) }, ...errors(401, 403) } } },
    '/settings': {
      get: { summary: "The worker's settings (system_settings over the environment's defaults)", security: operator, responses: { '200': { description: 'the settings', ...json(settings) }, ...errors(401, 403) } },
      put: { summary: 'Change some of the settings; the worker reads them on its next cycle (operator)', security: operator, requestBody: json(settings), responses: { '200': { description: 'the settings', ...json(settings) }, ...errors(400, 401, 403) } },
    },
    '/estimate-fee': { post: { summary: 'Fee of minting the given readings (operator)', security: gateway, requestBody: json(readingIds), responses: { '200': { description: 'lamports breakdown: transactions, signatures, token_accounts_created, mint_records_created (mint_generation: one per window, 1,183,200 lamports of rent each), base/priority/rent/total lamports' }, ...errors(400, 401, 403, 404) } } },
  },
} as const;
