// A gateway's POST /readings body → validated readings, or a ValidationError naming the offending field.
import { v5 as uuidv5, validate as isUuid } from 'uuid';
import { isWalletAddress } from '../chain/addresses.js';
import { InvalidBatchData, PayloadTooLarge, ValidationError } from '../errors.js';
import { kwhToTokens, type Rate } from '../minting/amounts.js';

/** Namespace of reading ids derived from (meter_id, reading_timestamp), so a resent reading is the same reading. */
export const READING_ID_NAMESPACE = '6f1d6c1e-3f0a-5b8e-9a57-2d7c8e5b4a10';
const CLOCK_SKEW_MS = 60_000;
const MAX_TEXT = 200;

export interface NewReading {
  id: string;
  meterId: string;
  userId: string;
  walletAddress: string;
  kwhAmount: string;
  tokensToMint: bigint;
  readingTimestamp: Date;
}

function text(o: Record<string, unknown>, key: string, field: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.trim() === '') throw new ValidationError(`${field} is required and must be a non-empty string`, field);
  if (v.length > MAX_TEXT) throw new ValidationError(`${field} must be at most ${MAX_TEXT} characters`, field);
  return v;
}

export function parseReading(raw: unknown, rate: Rate, path: string, now = Date.now()): NewReading {
  const at = (k: string) => (path ? `${path}.${k}` : k);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ValidationError(`${path || 'body'} must be a JSON object`, path || 'body');
  const o = raw as Record<string, unknown>;
  const meterId = text(o, 'meter_id', at('meter_id'));
  const userId = text(o, 'user_id', at('user_id'));
  const walletAddress = text(o, 'wallet_address', at('wallet_address'));
  if (!isWalletAddress(walletAddress)) throw new ValidationError(`${at('wallet_address')} must be a base58 wallet public key (32 bytes)`, at('wallet_address'));

  const ts = text(o, 'reading_timestamp', at('reading_timestamp'));
  const when = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(ts) ? new Date(ts) : new Date(NaN);
  if (Number.isNaN(when.getTime())) throw new ValidationError(`${at('reading_timestamp')} must be an ISO 8601 date-time with a time zone`, at('reading_timestamp'));
  if (when.getTime() > now + CLOCK_SKEW_MS) throw new ValidationError(`${at('reading_timestamp')} is in the future`, at('reading_timestamp'));

  let amounts;
  try {
    amounts = kwhToTokens(o.kwh_amount, rate);
  } catch (e) {
    if (e instanceof InvalidBatchData) throw new ValidationError(`${at('kwh_amount')}: ${e.reason.replace(/^kwh_amount:? ?/, '')}`, at('kwh_amount'));
    throw e;
  }

  let id: string;
  if (o.reading_id === undefined || o.reading_id === null) id = uuidv5(`${meterId}\u0000${when.toISOString()}`, READING_ID_NAMESPACE);
  else if (typeof o.reading_id === 'string' && isUuid(o.reading_id)) id = o.reading_id.toLowerCase();
  else throw new ValidationError(`${at('reading_id')} must be a UUID`, at('reading_id'));

  return { id, meterId, userId, walletAddress, kwhAmount: amounts.kwh, tokensToMint: amounts.tokens, readingTimestamp: when };
}

/** One reading, or { readings: [...] }; more than `max` is 413. */
export function parseReadingsBody(body: unknown, rate: Rate, max: number, now = Date.now()): NewReading[] {
  if (body && typeof body === 'object' && !Array.isArray(body) && 'readings' in body) {
    const list = (body as { readings: unknown }).readings;
    if (!Array.isArray(list)) throw new ValidationError('readings must be an array', 'readings');
    if (list.length === 0) throw new ValidationError('readings must not be empty', 'readings');
    if (list.length > max) throw new PayloadTooLarge(`at most ${max} readings per request; got ${list.length}`);
    return list.map((r, i) => parseReading(r, rate, `readings[${i}]`, now));
  }
  return [parseReading(body, rate, '', now)];
}

export const sameContent = (a: NewReading, b: NewReading): boolean =>
  a.meterId === b.meterId &&
  a.userId === b.userId &&
  a.walletAddress === b.walletAddress &&
  a.kwhAmount === b.kwhAmount &&
  a.tokensToMint === b.tokensToMint &&
  a.readingTimestamp.getTime() === b.readingTimestamp.getTime();
