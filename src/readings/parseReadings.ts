// A gateway's POST /readings body → well-formed readings, or a 400 naming the offending field. Whether
// the registry takes them (the meter, its gateway, its signature, its energy) is decided in accept.ts.
import bs58 from 'bs58';
import { v5 as uuidv5 } from 'uuid';
import { InvalidBatchData, PayloadTooLarge, Refused, ValidationError } from '../errors.js';
import { boundedText, decimalLength, MAX_ID_CHARS } from '../fields.js';
import { CLOCK_SKEW_MS, at, decimal, instant, object, registerValue, text } from '../meters/registry.js';
import { type Decimal, formatDecimal, kwhToTokens, type Rate } from '../minting/amounts.js';

/** Namespace of reading ids derived from (meter_id, reading_timestamp): the identity of energy. */
export const READING_ID_NAMESPACE = '6f1d6c1e-3f0a-5b8e-9a57-2d7c8e5b4a10';
const MAX_CLIENT_ID = MAX_ID_CHARS;
/** An ed25519 signature in base58 is at most 88 characters; longer is refused before it is decoded. */
const MAX_SIGNATURE_CHARS = 100;

/** The API's id of a meter's reading at an instant (UUID v5), whatever id the client gave it. */
export const readingIdOf = (meterId: string, at: Date) => uuidv5(`${meterId}\u0000${at.toISOString()}`, READING_ID_NAMESPACE);

export interface ParsedReading {
  /** Where it stands in the request, for error fields: `readings[3]`, or '' for a single reading. */
  path: string;
  meterId: string;
  readingTimestamp: Date;
  /** kwh_amount (interval meters) or register_kwh (register meters), as sent. */
  amount: { field: 'kwh_amount' | 'register_kwh'; value: Decimal };
  signature: Uint8Array | null;
  clientReadingId: string | null;
  /** What the body claims, if anything: it must agree with the registry. */
  claimed: { userId?: string; walletAddress?: string };
  /** GridTokenX readings: what their gateway sent beside the energy, stored with the reading. */
  telemetry?: Record<string, string | number | boolean | null>;
  /**
   * GridTokenX readings: the signed net kWh as rounded (`-0.5` for a consumption reading, whose energy is 0).
   * Part of the reading's content: a resend with another net is a conflict, not a duplicate.
   */
  netKwh?: string;
}

export function parseReading(raw: unknown, rate: Rate, path: string, now = Date.now()): ParsedReading {
  const f = (k: string) => at(path, k);
  const o = object(raw, path || 'body');
  const meterId = text(o, 'meter_id', f('meter_id'));
  const readingTimestamp = instant(o.reading_timestamp, f('reading_timestamp'));
  if (readingTimestamp.getTime() > now + CLOCK_SKEW_MS) {
    throw new Refused('TIMESTAMP_OUT_OF_RANGE', `${f('reading_timestamp')} is more than ${CLOCK_SKEW_MS / 1000} s in the future`, f('reading_timestamp'));
  }

  const hasKwh = o.kwh_amount !== undefined;
  const hasRegister = o.register_kwh !== undefined;
  if (hasKwh === hasRegister) {
    throw new ValidationError(`${f('kwh_amount')}: send kwh_amount (interval meters) or register_kwh (register meters), one of them`, hasKwh ? f('register_kwh') : f('kwh_amount'));
  }
  let amount: ParsedReading['amount'];
  if (hasKwh) {
    decimalLength(o.kwh_amount, f('kwh_amount'));
    try {
      amount = { field: 'kwh_amount', value: decimal(kwhToTokens(o.kwh_amount, rate).kwh, f('kwh_amount')) };
    } catch (e) {
      if (e instanceof InvalidBatchData) throw new ValidationError(`${f('kwh_amount')}: ${e.reason.replace(/^kwh_amount:? ?/, '')}`, f('kwh_amount'));
      throw e;
    }
  } else amount = { field: 'register_kwh', value: registerValue(o.register_kwh, f('register_kwh'), rate) };

  let signature: Uint8Array | null = null;
  if (o.signature !== undefined && o.signature !== null) {
    try {
      if (typeof o.signature !== 'string') throw new Error();
      boundedText(o.signature, f('signature'), MAX_SIGNATURE_CHARS);
      signature = bs58.decode(o.signature);
    } catch (e) {
      if (e instanceof ValidationError) throw e;
      signature = null;
    }
    if (!signature || signature.length !== 64) throw new ValidationError(`${f('signature')} must be an ed25519 signature in base58 (64 bytes)`, f('signature'));
  }

  // `reading_id` is today's clients' name for their own id: taken as client_reading_id, never as identity.
  const idKey = o.client_reading_id !== undefined ? 'client_reading_id' : 'reading_id';
  const clientId = o[idKey];
  if (clientId !== undefined && clientId !== null) {
    if (typeof clientId !== 'string' || clientId.length === 0) throw new ValidationError(`${f(idKey)} must be a string of 1 to ${MAX_CLIENT_ID} characters`, f(idKey));
    boundedText(clientId, f(idKey), MAX_CLIENT_ID);
  }
  const claimed: ParsedReading['claimed'] = {};
  if (o.user_id !== undefined) claimed.userId = text(o, 'user_id', f('user_id'));
  if (o.wallet_address !== undefined) claimed.walletAddress = text(o, 'wallet_address', f('wallet_address'));

  return { path, meterId, readingTimestamp, amount, signature, clientReadingId: (clientId as string | null | undefined) ?? null, claimed };
}

/** One reading, or { readings: [...] }; more than `max` is 413. */
export function parseReadingsBody(body: unknown, rate: Rate, max: number, now = Date.now()): ParsedReading[] {
  if (body && typeof body === 'object' && !Array.isArray(body) && 'readings' in body) {
    const list = (body as { readings: unknown }).readings;
    if (!Array.isArray(list)) throw new ValidationError('readings must be an array', 'readings');
    if (list.length === 0) throw new ValidationError('readings must not be empty', 'readings');
    if (list.length > max) throw new PayloadTooLarge(`at most ${max} readings per request; got ${list.length}`);
    return list.map((r, i) => parseReading(r, rate, `readings[${i}]`, now));
  }
  return [parseReading(body, rate, '', now)];
}

/**
 * The message a meter signs: UTF-8 `energy-token-reading:v1\n<meter_id>\n<timestamp>\n<amount>`, the
 * timestamp as ISO 8601 UTC with exactly three fractional digits and `Z`, the amount as a plain decimal
 * (no exponent, sign, trailing zeros or trailing point).
 */
export const signedMessage = (meterId: string, timestamp: Date, amount: Decimal) =>
  Buffer.from(`energy-token-reading:v1\n${meterId}\n${timestamp.toISOString()}\n${formatDecimal(amount)}`, 'utf8');
