// The service's configuration: one schema, parsed once at start. Nothing else reads process.env.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError } from './errors.js';

const base58Key = z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{32,44}$/, 'must be a base58 public key');
const optionalString = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

/** A rate: a number ≥ 0 (0 turns the limit off). */
const perSecond = (what: string) =>
  z.coerce
    .number({ error: `must be a number of ${what} per second (0: no limit)` })
    .min(0, `must be 0 or more ${what} per second (0: no limit)`)
    .max(1_000_000, `must be at most 1000000 ${what} per second`);
/** A whole count between `min` and `max`. */
const count = (what: string, max: number, min = 1) =>
  z.coerce
    .number({ error: `must be a whole number of ${what}` })
    .int(`must be a whole number of ${what}`)
    .min(min, `must be at least ${min} (${what})`)
    .max(max, `must be at most ${max} (${what})`);

const schema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    /** The address the HTTP server binds: 127.0.0.1 (this host only) or 0.0.0.0 (every interface: containers). */
    HOST: z
      .string()
      .regex(/^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$/, 'must be an IP address or a host name (127.0.0.1 for this host only, 0.0.0.0 for every interface, e.g. in a container)')
      .default('127.0.0.1'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    SOLANA_RPC_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^https?$/ }).optional()),
    SOLANA_WS_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^wss?$/ }).optional()),
    AUTHORITY_KEYPAIR_PATH: optionalString,
    /**
     * The REC validator's keypair file: it co-signs every mint on energy_token 0.1.1 (required there, unused on
     * 0.1.0). Same file rules as the authority's; in embedded mode the committed localnet validator's key.
     */
    REC_VALIDATOR_KEYPAIR_PATH: optionalString,
    /** The IDL of the energy_token program deployed (a path); default: programs-idl/energy_token-0.1.1.json. */
    ENERGY_TOKEN_IDL: optionalString,
    /** Where the program is deployed; default: the address its IDL names. */
    ENERGY_TOKEN_PROGRAM_ID: z.preprocess((v) => (v === '' ? undefined : v), base58Key.optional()),
    DATABASE_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^postgres(ql)?$/ }).optional()),
    PGLITE_DIR: z.string().min(1).default('./data/pglite'),
    GATEWAY_API_KEYS: optionalString,
    OPERATOR_TOKEN: optionalString,
    /** Named operators, `name:token,...`; the name is what the service records as who acted. */
    OPERATOR_TOKENS: optionalString,
    /** A bearer token for Prometheus (its `authorization` scrape setting); /metrics also takes an operator token. */
    METRICS_TOKEN: optionalString,
    MAX_READINGS_PER_REQUEST: z.coerce.number().int().min(1).max(10_000).default(1000),
    TOKENS_PER_KWH: z.string().regex(/^\d+(\.\d+)?$/, 'must be a decimal number').default('1'),
    MAX_KWH_PER_READING: z.string().regex(/^\d+(\.\d+)?$/, 'must be a decimal number').default('1000'),
    /** Base units one mint instruction may carry (10^12 = 1,000 tokens at 9 decimals). */
    BLOCKCHAIN_MAX_TOKENS_PER_TRANSACTION: z.string().regex(/^\d+$/, 'must be an integer number of base units').default('1000000000000'),
    BLOCKCHAIN_MAX_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
    BLOCKCHAIN_USERS_PER_TX: z.coerce.number().int().min(1).max(64).default(64),
    /**
     * v0 transactions with the service's address lookup tables: a recipient's accounts go into a table once it
     * has been minted to this many times (an entry's rent pays back only for recipients minted to often); 0: legacy only.
     */
    LOOKUP_TABLE_MIN_MINTS: count('mints', 1_000_000, 0).default(2),
    /** Mint transactions in flight at the start; the engine's limiter adapts it (see BLOCKCHAIN_MAX_IN_FLIGHT). */
    BLOCKCHAIN_CONCURRENT_BATCHES: z.coerce.number().int().min(1).max(64).default(8),
    /** The most mint transactions in flight the adaptive limiter grows to (≥ BLOCKCHAIN_CONCURRENT_BATCHES; equal: fixed). */
    BLOCKCHAIN_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(1024).default(64),
    /** Batches the worker keeps open: it claims the next once the last one's transactions all have room in flight (1: one at a time). */
    WORKER_PIPELINE_DEPTH: z.coerce.number().int().min(1).max(16).default(2),
    MAX_PRIORITY_FEE_MICROLAMPORTS: z.coerce.number().int().min(0).default(100_000),
    BATCH_INTERVAL_MS: z.coerce.number().int().min(10).default(5_000),
    MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
    RETRY_BACKOFF_MS: z.coerce.number().int().min(0).default(2_000),
    LEASE_MS: z.coerce.number().int().min(1_000).default(120_000),
    SYNC_WINDOW_MS: z.coerce.number().int().min(0).max(60_000).default(2_000),
    RPC_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    /** How often the background health checks (database, RPC, fee payer) run; /health shows their last result. */
    HEALTH_CHECK_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(2_000),
    /** Below this fee-payer balance the worker stops claiming (lamports). */
    MIN_FEE_PAYER_LAMPORTS: z.coerce.number().int().min(0).default(10_000_000),
    WORKER: z.enum(['on', 'off']).default('on'),
    /** Slot time of the embedded local chain (only without SOLANA_RPC_URL). */
    LOCALNET_SLOT_MS: z.coerce.number().int().min(1).max(10_000).default(400),
    /** Ledger directory of the embedded local chain: it resumes from it after a restart. */
    LOCALNET_LEDGER_DIR: z.string().min(1).default('./data/ledger'),
    /** New token accounts (rent paid by the authority) per UTC day. */
    MAX_NEW_TOKEN_ACCOUNTS_PER_DAY: z.coerce.number().int().min(0).default(1000),
    /**
     * Lamports of fees the authority may spend per UTC day (every signature and the priority fee, reserved before
     * each transaction is signed, shared by every worker); past it readings wait for the next day. 10 SOL.
     */
    MAX_FEE_LAMPORTS_PER_DAY: z
      .string()
      .regex(/^\d{1,19}$/, 'must be a whole number of lamports (e.g. 10000000000 for 10 SOL)')
      .default('10000000000')
      .transform((v) => BigInt(v)),
    /**
     * Tokens below which one mint instruction is not worth its fee: a wallet's readings summing to less wait to
     * be summed with later ones, at most MAX_MINT_WAIT_MINUTES. 0.01 tokens: readings of 0.01 kWh and more never wait.
     */
    MIN_MINT_TOKENS: z.string().regex(/^\d{1,12}(\.\d{1,9})?$/, 'must be a decimal number of tokens with at most 9 decimals (e.g. 0.01)').default('0.01'),
    /** The longest a reading waits to be summed under MIN_MINT_TOKENS before it is minted alone. */
    MAX_MINT_WAIT_MINUTES: count('minutes', 7 * 24 * 60, 0).default(60),
    /**
     * The instruction that mints: mint_tokens_direct (a wallet's readings summed, the service's ledger the only
     * record) or mint_generation (a meter's readings summed per 15-minute window, each window recorded on chain
     * once by the program; energy_token 0.1.1 on). Start-up refuses mint_generation with an IDL that lacks it.
     */
    MINT_INSTRUCTION: z.enum(['mint_tokens_direct', 'mint_generation']).default('mint_tokens_direct'),
    /** mint_generation: how long after a window closes its readings are summed and minted (a later reading of it is refused). */
    MINT_WINDOW_GRACE_MS: count('milliseconds', 24 * 3_600_000, 0).default(120_000),
    /** mint_generation: new mint records (1,183,200 lamports of rent each, never returned) per UTC day. */
    MAX_NEW_MINT_RECORDS_PER_DAY: count('mint records', 100_000_000, 0).default(10_000),
    /** Slack on the energy-fits-in-time bound (0.05 = 5 % above max_kw × hours). */
    PLAUSIBILITY_TOLERANCE: z.string().regex(/^\d+(\.\d+)?$/, 'must be a decimal number').default('0.05'),
    /** true: every reading must carry a valid ed25519 signature of its meter's public_key. */
    REQUIRE_SIGNED_READINGS: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
    /** Decimal places the GridTokenX routes round `kwh` (a binary float) to, half-even; the raw value is kept in telemetry. */
    GRIDTOKENX_KWH_DECIMALS: count('decimal places of kWh on the GridTokenX routes', 9, 0).default(6),
    /** Readings per second one gateway may post (sustained); 0 turns the readings limit off. */
    GATEWAY_READINGS_PER_SECOND: perSecond('readings').default(50),
    /** Readings one gateway may post at once; raised to the number of meters it serves (they post on the same boundaries). */
    GATEWAY_READINGS_BURST: count('readings one gateway may post at once', 10_000_000).default(1000),
    /** Requests per second one gateway may make (any route); 0 turns the request limit off. */
    GATEWAY_REQUESTS_PER_SECOND: perSecond('requests').default(20),
    GATEWAY_REQUESTS_BURST: count('requests one gateway may make at once', 1_000_000).default(50),
    /** How long an Idempotency-Key of POST /mint-batch is kept (hours), then purged. */
    IDEMPOTENCY_TTL_HOURS: z.coerce
      .number({ error: 'must be a number of hours (e.g. 24)' })
      .min(0.001, 'must be more than 0 hours')
      .max(24 * 365, 'must be at most a year (8760 hours)')
      .default(24),
    /** How long an operator console session lasts (hours) before signing in again. */
    CONSOLE_SESSION_HOURS: z.coerce
      .number({ error: 'must be a number of hours (e.g. 12)' })
      .min(0.001, 'must be more than 0 hours')
      .max(24 * 30, 'must be at most 30 days (720 hours)')
      .default(12),
    /** Interval of the SSE heartbeat comment (keeps proxies from closing an idle stream). */
    SSE_HEARTBEAT_MS: count('milliseconds between heartbeats', 600_000, 10).default(15_000),
    /** Open event streams per caller (operator name); one more is 429. */
    SSE_MAX_STREAMS_PER_CALLER: count('open event streams per caller', 10_000).default(10),
    /** Events written to a stream but not yet taken by its client; past it the stream ends with an `error` event. */
    SSE_MAX_QUEUED_EVENTS: count('events queued for one client', 1_000_000).default(1000),
    /**
     * The proxies in front of the API: unset (none: X-Forwarded-* are ignored), a hop count (`1`: one load
     * balancer), or their addresses (`10.0.0.1,10.0.0.2`, subnets as `10.0.0.0/8`). Trusted hops' X-Forwarded-For
     * names the client address logs see, X-Forwarded-Proto whether the console's cookie is Secure.
     */
    TRUST_PROXY: z.preprocess(
      (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
      z
        .string()
        .optional()
        .transform((v, ctx) => {
          if (v === undefined) return null;
          const parsed = parseTrustProxy(v);
          if (typeof parsed === 'string') {
            ctx.addIssue({ code: 'custom', message: parsed });
            return z.NEVER;
          }
          return parsed;
        }),
    ),
  });

/**
 * What a process runs as: the whole service (`all`), one of its roles apart, or a tool. Each asks only for what it
 * uses: credentials for the HTTP API (gateway keys, operator tokens) where the API is served; the authority key
 * where transactions are signed; nothing of either for `reconcile`, which only reads the database and the chain.
 */
export type ConfigRole = 'all' | 'api' | 'worker' | 'reconcile';

const checked = (role: ConfigRole) =>
  schema.superRefine((c, ctx) => {
    if (role === 'reconcile') {
      for (const name of ['DATABASE_URL', 'SOLANA_RPC_URL'] as const) {
        if (!c[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'is required: reconcile compares the database with the chain' });
      }
      return;
    }
    refineService(c, ctx, role);
  });

function refineService(c: z.infer<typeof schema>, ctx: z.RefinementCtx, role: ConfigRole): void {
    const hasOperators = Boolean(c.OPERATOR_TOKEN || c.OPERATOR_TOKENS);
    // A worker apart serves no HTTP: it authenticates nobody, so it asks for no credentials (and never syncs any).
    const servesApi = role !== 'worker';
    // Development credentials only in embedded mode and only when neither kind is set: set one, set both.
    const why = c.SOLANA_RPC_URL ? 'when SOLANA_RPC_URL is set' : hasOperators ? 'when OPERATOR_TOKEN or OPERATOR_TOKENS is set' : 'when GATEWAY_API_KEYS is set';
    if (servesApi && (c.SOLANA_RPC_URL || hasOperators) && !c.GATEWAY_API_KEYS) {
      ctx.addIssue({ code: 'custom', path: ['GATEWAY_API_KEYS'], message: `is required ${why} (name:key,... or bare keys)` });
    }
    let gateways: EnvGateway[] = [];
    if (c.GATEWAY_API_KEYS) {
      try {
        gateways = parseGatewayKeys(c.GATEWAY_API_KEYS);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['GATEWAY_API_KEYS'], message: (e as Error).message });
      }
    }
    if (servesApi && (c.SOLANA_RPC_URL || c.GATEWAY_API_KEYS) && !hasOperators) {
      ctx.addIssue({ code: 'custom', path: ['OPERATOR_TOKEN'], message: `is required ${why} (or OPERATOR_TOKENS=name:token,... for named operators)` });
    }
    if (hasOperators) {
      try {
        const operators = parseOperatorTokens(c.OPERATOR_TOKEN, c.OPERATOR_TOKENS);
        const clash = operators.find((o) => gateways.some((g) => g.key === o.token) || o.token === c.METRICS_TOKEN);
        if (clash) throw new Error(`operator ${clash.name} has the same token as a gateway key or METRICS_TOKEN: each credential must be its own`);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: [c.OPERATOR_TOKENS ? 'OPERATOR_TOKENS' : 'OPERATOR_TOKEN'], message: (e as Error).message });
      }
    }
    if (c.METRICS_TOKEN && gateways.some((g) => g.key === c.METRICS_TOKEN)) {
      ctx.addIssue({ code: 'custom', path: ['METRICS_TOKEN'], message: 'is the same as a gateway key: give Prometheus its own token' });
    }
    if (c.BLOCKCHAIN_MAX_IN_FLIGHT < c.BLOCKCHAIN_CONCURRENT_BATCHES) {
      ctx.addIssue({
        code: 'custom',
        path: ['BLOCKCHAIN_MAX_IN_FLIGHT'],
        message: `must be at least BLOCKCHAIN_CONCURRENT_BATCHES (${c.BLOCKCHAIN_CONCURRENT_BATCHES}), the limit it starts at`,
      });
    }
    if (c.SOLANA_RPC_URL && !c.AUTHORITY_KEYPAIR_PATH) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTHORITY_KEYPAIR_PATH'],
        message: 'is required when SOLANA_RPC_URL is set (a Solana CLI JSON keypair file of token_info\'s authority)',
      });
    }
}

export type Config = z.infer<typeof schema> & {
  /** True when no SOLANA_RPC_URL is set: the service starts its own local chain. */
  embeddedChain: boolean;
  /** Gateways from GATEWAY_API_KEYS (managed there), synced into the registry at start. */
  envGateways: EnvGateway[];
  /** OPERATOR_TOKEN (named `operator`) and OPERATOR_TOKENS; the development operator when neither is set. */
  operators: Operator[];
  /** True when the development credentials below are in use (embedded mode, none set). */
  devCredentials: boolean;
};

/** Development credentials, used and printed only in embedded mode when none are set (README). */
export const DEV_GATEWAY_KEY = 'dev-gateway-key';
export const DEV_OPERATOR_TOKEN = 'dev-operator-token';
/** The gateway the development key belongs to (the demo set's gateway). */
export const DEV_GATEWAY_ID = 'demo';

/** One operator: its name is what the service records as who acted (meter_changes, batches). */
export interface Operator {
  name: string;
  token: string;
}

/** The name OPERATOR_TOKEN's operator (and the development operator) goes by. */
export const DEFAULT_OPERATOR_NAME = 'operator';

/** OPERATOR_TOKEN as operator `operator`, then OPERATOR_TOKENS (`name:token,...`): names unique, tokens unique. */
export function parseOperatorTokens(single: string | undefined, named: string | undefined): Operator[] {
  const out: Operator[] = single ? [{ name: DEFAULT_OPERATOR_NAME, token: single }] : [];
  for (const entry of (named ?? '').split(',').map((k) => k.trim()).filter(Boolean)) {
    const colon = entry.indexOf(':');
    if (colon < 0) throw new Error('each entry must be name:token (e.g. alice:<token>,bob:<token>)');
    const name = entry.slice(0, colon).trim();
    const token = entry.slice(colon + 1).trim();
    if (!GATEWAY_ID.test(name)) throw new Error(`operator name "${name}" must be 1 to 64 letters, digits, '.', '_' or '-'`);
    if (!token) throw new Error(`operator ${name} has an empty token`);
    if (out.some((o) => o.name === name)) {
      throw new Error(name === DEFAULT_OPERATOR_NAME && single ? `operator ${name} is OPERATOR_TOKEN's name: name this one otherwise` : `operator ${name} is named twice`);
    }
    if (out.some((o) => o.token === token)) throw new Error(`operator ${name} has the same token as operator ${out.find((o) => o.token === token)!.name}`);
    out.push({ name, token });
  }
  if (named !== undefined && out.length === (single ? 1 : 0)) throw new Error('names no operator');
  return out;
}

export interface EnvGateway {
  gatewayId: string;
  key: string;
}

/** A gateway's id: what operators name it, what its meters point at. */
export const GATEWAY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * GATEWAY_API_KEYS: `name:key,...`; a bare key is named `env-<first 8 hex of its sha256>`, so its name
 * is stable across restarts and says nothing of the key.
 */
export function parseGatewayKeys(text: string): EnvGateway[] {
  const out: EnvGateway[] = [];
  for (const entry of text.split(',').map((k) => k.trim()).filter(Boolean)) {
    const colon = entry.indexOf(':');
    const gatewayId = colon < 0 ? `env-${createHash('sha256').update(entry).digest('hex').slice(0, 8)}` : entry.slice(0, colon).trim();
    const key = colon < 0 ? entry : entry.slice(colon + 1).trim();
    if (!GATEWAY_ID.test(gatewayId)) throw new Error(`gateway name "${gatewayId}" must be 1 to 64 letters, digits, '.', '_' or '-'`);
    if (!key) throw new Error(`gateway ${gatewayId} has an empty key`);
    if (out.some((g) => g.gatewayId === gatewayId)) throw new Error(`gateway ${gatewayId} is named twice`);
    if (out.some((g) => g.key === key)) throw new Error(`gateway ${gatewayId} has the same key as gateway ${out.find((g) => g.key === key)!.gatewayId}`);
    out.push({ gatewayId, key });
  }
  if (out.length === 0) throw new Error('names no gateway');
  return out;
}

/** Who may set X-Forwarded-For and X-Forwarded-Proto: the nearest `hops` proxies, or proxies at these addresses. */
export type TrustProxy = { hops: number } | { addresses: { address: string; prefix?: number; family: 'ipv4' | 'ipv6' }[] } | null;

/** TRUST_PROXY's value, or what is wrong with it. */
export function parseTrustProxy(text: string): Exclude<TrustProxy, null> | string {
  const v = text.trim();
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    return hops >= 1 && hops <= 32 ? { hops } : 'must be a hop count from 1 to 32, or the proxies\' IP addresses (e.g. 10.0.0.1,10.0.0.2 or 10.0.0.0/8)';
  }
  const addresses: { address: string; prefix?: number; family: 'ipv4' | 'ipv6' }[] = [];
  for (const entry of v.split(',').map((e) => e.trim())) {
    const [address = '', prefix, ...rest] = entry.split('/');
    const version = isIP(address);
    const bits = prefix === undefined ? undefined : Number(prefix);
    if (version === 0 || rest.length > 0 || (bits !== undefined && (!/^\d{1,3}$/.test(prefix!) || bits > (version === 4 ? 32 : 128)))) {
      return `"${entry}" is neither an IP address nor a subnet (address/prefix): give a hop count (e.g. 1) or the proxies' addresses, comma-separated`;
    }
    addresses.push({ address, ...(bits === undefined ? {} : { prefix: bits }), family: version === 4 ? 'ipv4' : 'ipv6' });
  }
  return { addresses };
}

/** Parse the environment; on failure, one message that names every variable to fix. */
export function loadConfig(env: Record<string, string | undefined>, role: ConfigRole = 'all'): Config {
  const parsed = checked(role).safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  return {
    ...c,
    embeddedChain: !c.SOLANA_RPC_URL,
    // The development gateway only in embedded mode: a process on a real chain without keys (a worker, a tool)
    // has none, and never syncs the registry's gateways.
    envGateways: c.GATEWAY_API_KEYS ? parseGatewayKeys(c.GATEWAY_API_KEYS) : c.SOLANA_RPC_URL ? [] : [{ gatewayId: DEV_GATEWAY_ID, key: DEV_GATEWAY_KEY }],
    operators: c.OPERATOR_TOKEN || c.OPERATOR_TOKENS ? parseOperatorTokens(c.OPERATOR_TOKEN, c.OPERATOR_TOKENS) : c.SOLANA_RPC_URL ? [] : [{ name: DEFAULT_OPERATOR_NAME, token: DEV_OPERATOR_TOKEN }],
    // The schema refuses one kind without the other, and both missing outside embedded mode.
    devCredentials: !c.GATEWAY_API_KEYS && !c.SOLANA_RPC_URL,
  };
}

/** The PubSub URL a validator serves for an RPC URL: ws(s), HTTP port + 1. */
export function deriveWsUrl(rpcUrl: string): string {
  const u = new URL(rpcUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  if (u.port) u.port = String(Number(u.port) + 1);
  return u.toString();
}
