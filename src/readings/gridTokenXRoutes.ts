// The GridTokenX wire format on their paths, for gateways already in the field: a thin adapter. Their shape
// is parsed (parseGridTokenX.ts), the readings go through the native acceptance (repo.ts acceptReadings:
// identity, plausibility, scope, all or nothing), and the answers are shaped as their clients read them.
// Their transport treats 200/201 as delivered, retries 5xx (three tries, 2 s and 4 s apart) and drops 4xx,
// so a rate limit or overload here is 503 with Retry-After, never 429.
import type { Context, Next } from 'hono';
import { Hono } from 'hono';
import type { Db } from '../db/client.js';
import { AppError, BadSignature, Overloaded, PayloadTooLarge, RateLimited, Refused, UnknownMeter, ValidationError } from '../errors.js';
import { type Auth, principal } from '../http/auth.js';
import { jsonBody } from '../http/input.js';
import { clientOf } from '../http/client.js';
import { ownValue } from '../fields.js';
import type { RateLimiter } from '../http/rateLimit.js';
import type { Log } from '../log.js';
import type { AcceptPolicy } from './accept.js';
import { meterKeyOf, parseGridTokenXReading } from './parseGridTokenX.js';
import type { ParsedReading } from './parseReadings.js';
import { acceptReadings, getReading } from './repo.js';

export interface GridTokenXRoutesDeps {
  db: Db;
  policy: AcceptPolicy;
  maxReadingsPerRequest: number;
  /** GRIDTOKENX_KWH_DECIMALS. */
  kwhDecimals: number;
  /** The gateway auth (with the request limit when the service has one). */
  auth: Auth;
  log?: Log;
  limiter?: Pick<RateLimiter, 'readings'>;
}

export const GRIDTOKENX_BATCH_PATHS = ['/api/v1/meters/batch/readings', '/api/v1/public/meters/batch/readings'] as const;
export const GRIDTOKENX_SINGLE_PATH = '/api/v1/meters/:serial/readings';

/** How the request named things, to say a native error in their field names. */
interface Naming {
  /** The single route's path serial, or null for a batch. */
  serial: string | null;
  /** Per reading path (`readings[3]`): the key that named its meter. */
  meterKeys: Map<string, 'meter_serial' | 'meter_id'>;
  parsed: Map<string, ParsedReading>;
}

const NATIVE_TO_THEIRS: Record<string, string> = { kwh_amount: 'kwh', register_kwh: 'kwh', reading_timestamp: 'timestamp', signature: 'meter_signature' };

function theirField(field: string, n: Naming): string {
  const dot = field.lastIndexOf('.');
  const prefix = dot < 0 ? '' : field.slice(0, dot);
  const key = dot < 0 ? field : field.slice(dot + 1);
  const mapped = key === 'meter_id' ? (n.serial !== null ? 'serial' : (n.meterKeys.get(prefix) ?? 'meter_serial')) : (ownValue(NATIVE_TO_THEIRS, key) ?? key);
  return prefix ? `${prefix}.${mapped}` : mapped;
}

const theirWords = (message: string) => message.replace(/\bkwh_amount\b/g, 'kwh').replace(/\breading_timestamp\b/g, 'timestamp');

/** A native error as these routes answer it: their field names, 404 for an unknown meter, 422 for a bad field, 503 for a limit. */
function theirs(e: unknown, n: Naming): unknown {
  if (!(e instanceof AppError)) return e;
  if (e instanceof RateLimited) return new Overloaded(`${e.message} (GridTokenX clients retry 5xx, so this is 503)`, e.retryAfterSeconds, e.headers, { cause: e });
  if (e instanceof PayloadTooLarge || e.field === undefined) return e;
  const field = theirField(e.field, n);
  const prefix = field.includes('.') ? field.slice(0, field.lastIndexOf('.')) : '';
  const meter = n.parsed.get(prefix)?.meterId ?? n.serial ?? '';
  if (e instanceof UnknownMeter) return new AppError('UNKNOWN_METER', `Meter not found: ${theirWords(e.message)}`, 404, false, { cause: e, field });
  if (e.code === 'WRONG_AMOUNT_FIELD') {
    return new Refused('REGISTER_METER', `meter ${meter} is a register meter: GridTokenX readings (kwh, the net energy of an interval) are taken for interval meters only; post its register to POST /readings as register_kwh`, field);
  }
  if (e instanceof BadSignature) {
    return new Refused(
      'BAD_SIGNATURE',
      `meter ${meter} signs its readings (it has a public_key, or REQUIRE_SIGNED_READINGS is on): GridTokenX's meter_signature is not verified here, so its readings are refused on this route; post them signed to POST /readings`,
      prefix ? `${prefix}.meter_signature` : 'meter_signature',
    );
  }
  // A malformed field is 422 on these routes, as their gateway answers it; a body that is not JSON stays 400.
  if (e instanceof ValidationError && field !== 'body') return new Refused('INVALID_FIELD', theirWords(e.message), field);
  return new AppError(e.code, theirWords(e.message), e.httpStatus, e.retryable, { cause: e, field });
}

export function gridTokenXRoutes(d: GridTokenXRoutesDeps): Hono {
  const app = new Hono();
  const opts = { rate: d.policy.rate, kwhDecimals: d.kwhDecimals };
  const noNames: Naming = { serial: null, meterKeys: new Map(), parsed: new Map() };

  // The gateway auth and its request limit, run here so that a limit becomes their 503.
  const gateway = d.auth('gateway');
  const guard = async (c: Context, next: Next) => {
    try {
      await gateway(c, async () => {});
    } catch (e) {
      throw theirs(e, noNames);
    }
    await next();
  };
  const gatewayOf = (c: Context) => {
    const p = principal(c);
    return p.role === 'gateway' ? p.gatewayId : '';
  };
  const accept = async (c: Context, parsed: ParsedReading[]) => {
    const gatewayId = gatewayOf(c);
    await d.limiter?.readings(c, gatewayId, parsed.length);
    const outcome = await acceptReadings(d.db, gatewayId, parsed, d.policy);
    d.log?.info({ gatewayId, client: clientOf(c).address, format: 'gridtokenx', meters: [...new Set(parsed.map((r) => r.meterId))].slice(0, 20), accepted: outcome.accepted, duplicates: outcome.duplicates }, 'readings accepted');
    return outcome;
  };

  // Registered before the single route, whose `:serial` would otherwise take `batch`.
  for (const path of GRIDTOKENX_BATCH_PATHS) {
    app.post(path, guard, async (c) => {
      const names: Naming = { serial: null, meterKeys: new Map(), parsed: new Map() };
      try {
        const body = await jsonBody(c.req, { keepControlCharacters: true });
        const list = body && typeof body === 'object' && !Array.isArray(body) ? (body as { readings?: unknown }).readings : undefined;
        if (!Array.isArray(list)) throw new ValidationError('readings must be an array of readings', 'readings');
        if (list.length === 0) throw new ValidationError('readings must not be empty', 'readings');
        if (list.length > d.maxReadingsPerRequest) throw new PayloadTooLarge(`at most ${d.maxReadingsPerRequest} readings per request; got ${list.length}`);
        const now = Date.now();
        const parsed = list.map((raw, i) => {
          const path = `readings[${i}]`;
          if (raw && typeof raw === 'object' && !Array.isArray(raw)) names.meterKeys.set(path, meterKeyOf(raw as Record<string, unknown>));
          const r = parseGridTokenXReading(raw, null, path, opts, now);
          names.parsed.set(path, r);
          return r;
        });
        const outcome = await accept(c, parsed);
        const n = parsed.length;
        return c.json({ success_count: n, failed_count: 0, message: `Processed ${n} readings (0 failed): ${outcome.accepted} accepted, ${outcome.duplicates} already accepted` }, 200);
      } catch (e) {
        throw theirs(e, names);
      }
    });
  }

  app.post(GRIDTOKENX_SINGLE_PATH, guard, async (c) => {
    const serial = c.req.param('serial')!;
    const names: Naming = { serial, meterKeys: new Map(), parsed: new Map() };
    try {
      const body = await jsonBody(c.req, { keepControlCharacters: true });
      const r = parseGridTokenXReading(body, serial, '', opts);
      names.parsed.set('', r);
      const outcome = await accept(c, [r]);
      const result = outcome.readings[0]!;
      const duplicate = outcome.duplicates > 0;
      // minted and tx_signature as known now: normally not yet (the worker mints in batches), unless this resends a minted reading.
      const row = await getReading(d.db, result.reading_id);
      const message = duplicate
        ? `Reading already accepted (${row?.status ?? result.status}); not stored again`
        : result.status === 'recorded'
          ? 'Consumption reading recorded (kwh ≤ 0 mints nothing)'
          : 'Reading queued for minting';
      return c.json(
        {
          id: result.reading_id,
          serial_number: serial,
          kwh: Number(r.netKwh),
          timestamp: r.readingTimestamp.toISOString(),
          minted: row?.status === 'completed',
          tx_signature: row?.txSignature ?? null,
          message,
        },
        200,
      );
    } catch (e) {
      throw theirs(e, names);
    }
  });

  return app;
}
