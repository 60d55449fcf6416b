// The OpenAPI document served at GET /openapi.json. A test checks it against the routes the app really has.
const errorRef = { $ref: '#/components/schemas/Error' };
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { description: 'error', ...json(errorRef) }]));
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const gateway = [{ bearer: [] }];

const reading = {
  type: 'object',
  properties: {
    reading_id: { type: 'string', format: 'uuid' },
    meter_id: { type: 'string' },
    user_id: { type: 'string' },
    wallet_address: { type: 'string' },
    kwh_amount: { type: 'string' },
    tokens_to_mint: { type: 'string', description: 'base units' },
    status: { type: 'string', enum: ['pending', 'processing', 'completed', 'failed'] },
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
  required: ['meter_id', 'user_id', 'wallet_address', 'kwh_amount', 'reading_timestamp'],
  properties: {
    reading_id: { type: 'string', format: 'uuid', description: 'defaults to a UUID v5 of meter_id and reading_timestamp' },
    meter_id: { type: 'string' },
    user_id: { type: 'string' },
    wallet_address: { type: 'string', description: 'base58, 32 bytes' },
    kwh_amount: { oneOf: [{ type: 'string' }, { type: 'number' }], description: 'decimal string, or a number with at most 15 significant digits' },
    reading_timestamp: { type: 'string', format: 'date-time' },
  },
};
const result = { type: 'object', properties: { reading_id: { type: 'string' }, success: { type: 'boolean' }, error: { type: 'string', nullable: true }, tx_signature: { type: 'string', nullable: true } } };
const summary = {
  type: 'object',
  properties: { batch_id: { type: 'string' }, state: { type: 'string' }, total_readings: { type: 'integer' }, successful_mints: { type: 'integer' }, failed_mints: { type: 'integer' }, results: { type: 'array', items: result } },
};
const readingIds = { type: 'object', properties: { reading_ids: { type: 'array', items: { type: 'string', format: 'uuid' } }, prefer_async: { type: 'boolean' } } };

export const openApiDocument = {
  openapi: '3.0.3',
  info: { title: 'energy-token-minter', version: '0.1.0', description: 'Smart-meter readings to Solana tokens, in batches and exactly once.' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } } } } },
    },
  },
  paths: {
    '/health': { get: { summary: 'Database, RPC, program, mint and fee payer status', responses: { '200': { description: 'ok' }, '503': { description: 'degraded' } } } },
    '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text/plain' } } } },
    '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3' } } } },
    '/readings': {
      post: {
        summary: 'Accept readings (gateway)',
        security: gateway,
        requestBody: json({ oneOf: [readingInput, { type: 'object', properties: { readings: { type: 'array', items: readingInput } } }] }),
        responses: { '202': { description: 'accepted', ...json({ type: 'object' }) }, ...errors(400, 401, 403, 409, 413) },
      },
      get: {
        summary: 'Page through readings',
        security: gateway,
        parameters: ['status', 'wallet', 'cursor', 'limit'].map((name) => ({ name, in: 'query', schema: { type: 'string' } })),
        responses: { '200': { description: 'a page', ...json({ type: 'object', properties: { readings: { type: 'array', items: reading }, next_cursor: { type: 'string', nullable: true } } }) }, ...errors(400, 401) },
      },
    },
    '/readings/{id}': { get: { summary: 'One reading', security: gateway, parameters: [idParam], responses: { '200': { description: 'the reading', ...json(reading) }, ...errors(400, 401, 404) } } },
    '/queue/item/{id}': { get: { summary: 'One queue item (a reading)', security: gateway, parameters: [idParam], responses: { '200': { description: 'the reading', ...json(reading) }, ...errors(400, 401, 404) } } },
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
    '/batches/{id}': { get: { summary: 'A batch and its results', security: gateway, parameters: [idParam], responses: { '200': { description: 'the batch', ...json(summary) }, ...errors(400, 401, 404) } } },
    '/batches/{id}/events': {
      get: {
        summary: 'Server-sent events: one "result" per reading as it lands, then "summary"; also ?access_token=',
        security: gateway,
        parameters: [idParam, { name: 'access_token', in: 'query', schema: { type: 'string' } }],
        responses: { '200': { description: 'text/event-stream' }, ...errors(400, 401, 404) },
      },
    },
    '/batches/{id}/cancel': { post: { summary: 'Stop signing new transactions (operator)', security: gateway, parameters: [idParam], responses: { '200': { description: 'state' }, ...errors(400, 401, 403, 404) } } },
    '/queue/status': { get: { summary: 'Counts per status, oldest pending, wallets, recent batches, settings', security: gateway, responses: { '200': { description: 'status' }, ...errors(401) } } },
    '/queue/payer/{wallet}': { get: { summary: "A wallet's pending and processing readings", security: gateway, parameters: [{ name: 'wallet', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'readings' }, ...errors(401) } } },
    '/estimate-fee': { post: { summary: 'Fee of minting the given readings (operator)', security: gateway, requestBody: json(readingIds), responses: { '200': { description: 'lamports breakdown' }, ...errors(400, 401, 403, 404) } } },
  },
} as const;
