// The service's configuration: one schema, parsed once at start. Nothing else reads process.env.
import { z } from 'zod';
import { ConfigError } from './errors.js';

const DEFAULT_PROGRAM_ID = '5DJCWKo5cXt3PXRsrpH1xixra4wXWbNzxZ1p4FHqSxvi';
const base58Key = z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{32,44}$/, 'must be a base58 public key');
const optionalString = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

const schema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    SOLANA_RPC_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^https?$/ }).optional()),
    SOLANA_WS_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^wss?$/ }).optional()),
    AUTHORITY_KEYPAIR_PATH: optionalString,
    ENERGY_TOKEN_PROGRAM_ID: z.preprocess((v) => (v === '' ? undefined : v), base58Key.default(DEFAULT_PROGRAM_ID)),
    DATABASE_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^postgres(ql)?$/ }).optional()),
    PGLITE_DIR: z.string().min(1).default('./data/pglite'),
    GATEWAY_API_KEYS: optionalString,
    OPERATOR_TOKEN: optionalString,
    MAX_READINGS_PER_REQUEST: z.coerce.number().int().min(1).max(10_000).default(1000),
    TOKENS_PER_KWH: z.string().regex(/^\d+(\.\d+)?$/, 'must be a decimal number').default('1'),
    MAX_KWH_PER_READING: z.string().regex(/^\d+(\.\d+)?$/, 'must be a decimal number').default('1000'),
    /** Base units one mint instruction may carry (10^12 = 1,000 tokens at 9 decimals). */
    BLOCKCHAIN_MAX_TOKENS_PER_TRANSACTION: z.string().regex(/^\d+$/, 'must be an integer number of base units').default('1000000000000'),
    BLOCKCHAIN_MAX_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
    BLOCKCHAIN_USERS_PER_TX: z.coerce.number().int().min(1).max(64).default(64),
    BLOCKCHAIN_CONCURRENT_BATCHES: z.coerce.number().int().min(1).max(64).default(8),
    MAX_PRIORITY_FEE_MICROLAMPORTS: z.coerce.number().int().min(0).default(100_000),
    BATCH_INTERVAL_MS: z.coerce.number().int().min(10).default(5_000),
    MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
    RETRY_BACKOFF_MS: z.coerce.number().int().min(0).default(2_000),
    LEASE_MS: z.coerce.number().int().min(1_000).default(120_000),
    SYNC_WINDOW_MS: z.coerce.number().int().min(0).max(60_000).default(2_000),
    RPC_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    /** Below this fee-payer balance the worker stops claiming (lamports). */
    MIN_FEE_PAYER_LAMPORTS: z.coerce.number().int().min(0).default(10_000_000),
    WORKER: z.enum(['on', 'off']).default('on'),
    /** Slot time of the embedded local chain (only without SOLANA_RPC_URL). */
    LOCALNET_SLOT_MS: z.coerce.number().int().min(1).max(10_000).default(400),
  })
  .superRefine((c, ctx) => {
    if (c.SOLANA_RPC_URL && !c.GATEWAY_API_KEYS) {
      ctx.addIssue({ code: 'custom', path: ['GATEWAY_API_KEYS'], message: 'is required when SOLANA_RPC_URL is set (comma-separated gateway keys)' });
    }
    if (c.SOLANA_RPC_URL && !c.OPERATOR_TOKEN) {
      ctx.addIssue({ code: 'custom', path: ['OPERATOR_TOKEN'], message: 'is required when SOLANA_RPC_URL is set' });
    }
    if (c.SOLANA_RPC_URL && !c.AUTHORITY_KEYPAIR_PATH) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTHORITY_KEYPAIR_PATH'],
        message: 'is required when SOLANA_RPC_URL is set (a Solana CLI JSON keypair file of token_info\'s authority)',
      });
    }
  });

export type Config = z.infer<typeof schema> & {
  /** True when no SOLANA_RPC_URL is set: the service starts its own local chain. */
  embeddedChain: boolean;
  gatewayKeys: string[];
  operatorToken: string;
  /** True when the development credentials below are in use (embedded mode only). */
  devCredentials: boolean;
};

/** Development credentials, used and printed only in embedded mode when none are set (README). */
export const DEV_GATEWAY_KEY = 'dev-gateway-key';
export const DEV_OPERATOR_TOKEN = 'dev-operator-token';

/** Parse the environment; on failure, one message that names every variable to fix. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  const gatewayKeys = (c.GATEWAY_API_KEYS ?? DEV_GATEWAY_KEY).split(',').map((k) => k.trim()).filter(Boolean);
  return {
    ...c,
    embeddedChain: !c.SOLANA_RPC_URL,
    gatewayKeys,
    operatorToken: c.OPERATOR_TOKEN ?? DEV_OPERATOR_TOKEN,
    devCredentials: !c.GATEWAY_API_KEYS || !c.OPERATOR_TOKEN,
  };
}

/** The PubSub URL a validator serves for an RPC URL: ws(s), HTTP port + 1. */
export function deriveWsUrl(rpcUrl: string): string {
  const u = new URL(rpcUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  if (u.port) u.port = String(Number(u.port) + 1);
  return u.toString();
}
