// kWh → token base units with exact decimal arithmetic: never a float, never rounded.
import { InvalidBatchData } from '../errors.js';
import { lengthProblem, MAX_DECIMAL_CHARS, quote } from '../fields.js';

/** A non-negative decimal as digits and a scale: value = digits / 10^scale. */
export interface Decimal {
  digits: bigint;
  scale: number;
}

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/**
 * Parse a kWh amount: a decimal string, or a JSON number only when it is exactly representable as
 * written (at most 15 significant digits, no exponent).
 */
export function parseDecimal(value: unknown, what = 'amount'): Decimal {
  let text: string;
  if (typeof value === 'string') {
    // Length before anything else: every later step (regex, BigInt, formatting) grows with the digits.
    const long = lengthProblem(value, MAX_DECIMAL_CHARS);
    if (long) throw new InvalidBatchData(`${what} ${long}`);
    text = value.trim();
  }
  else if (typeof value === 'number' && Number.isFinite(value)) {
    text = String(value);
    if (/e/i.test(text) || text.replace(/^0+\.?0*|\./g, '').replace(/^0+/, '').length > 15) {
      throw new InvalidBatchData(`${what} ${text} is not exactly representable as a JSON number; send it as a decimal string`);
    }
  } else throw new InvalidBatchData(`${what} must be a decimal string or a number`);
  const m = DECIMAL.exec(text);
  if (!m) throw new InvalidBatchData(`${what} "${quote(text)}" is not a non-negative decimal number`);
  const frac = m[2] ?? '';
  return { digits: BigInt(m[1]! + frac), scale: frac.length };
}

export interface Rate {
  /** Tokens per kWh, as a decimal string (e.g. "1", "0.5"). */
  tokensPerKwh: string;
  decimals: number;
  /** The largest kWh one reading may carry. */
  maxKwh: string;
}

/** Both decimals at one scale. */
const aligned = (a: Decimal, b: Decimal): [bigint, bigint, number] => {
  const s = Math.max(a.scale, b.scale);
  return [a.digits * 10n ** BigInt(s - a.scale), b.digits * 10n ** BigInt(s - b.scale), s];
};

/** Compare two decimals. */
export function compareDecimal(a: Decimal, b: Decimal): number {
  const [x, y] = aligned(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** a − b, for a ≥ b (a register delta). */
export function subtractDecimal(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = aligned(a, b);
  if (x < y) throw new RangeError('subtractDecimal: a < b');
  return { digits: x - y, scale };
}

/** tokens = kWh × rate × 10^decimals, exactly; finer than the token's precision is refused, not rounded. */
export function kwhToTokens(kwh: unknown, rate: Rate, what = 'kwh_amount'): { kwh: string; tokens: bigint } {
  const k = parseDecimal(kwh, what);
  if (k.digits === 0n) throw new InvalidBatchData(`${what} must be greater than 0`);
  if (compareDecimal(k, parseDecimal(rate.maxKwh)) > 0) throw new InvalidBatchData(`${what} exceeds the maximum of ${rate.maxKwh} kWh per reading`);
  return { kwh: formatDecimal(k), tokens: tokensOf(k, rate, what) };
}

/** Base units of an energy (any size, zero included); finer than the token's precision is refused. */
export function tokensOf(k: Decimal, rate: Pick<Rate, 'tokensPerKwh' | 'decimals'>, what = 'kwh_amount'): bigint {
  const r = parseDecimal(rate.tokensPerKwh);
  const numerator = k.digits * r.digits * 10n ** BigInt(rate.decimals);
  const denominator = 10n ** BigInt(k.scale + r.scale);
  if (numerator % denominator !== 0n) {
    throw new InvalidBatchData(`${what} ${quote(formatDecimal(k))} gives tokens finer than the token's ${rate.decimals} decimals`);
  }
  return numerator / denominator;
}

/** The largest tokens one reading can yield (max kWh × rate), for the start-up check against the cap. */
export function maxTokensPerReading(rate: Rate): bigint {
  const k = parseDecimal(rate.maxKwh);
  const r = parseDecimal(rate.tokensPerKwh);
  return (k.digits * r.digits * 10n ** BigInt(rate.decimals)) / 10n ** BigInt(k.scale + r.scale);
}

/** The decimal as plain text without trailing zeros. Linear in the digits (a `/\.?0+$/` is quadratic on `0.000…01`). */
export function formatDecimal(d: Decimal): string {
  if (d.scale === 0) return d.digits.toString();
  const s = d.digits.toString().padStart(d.scale + 1, '0');
  const whole = s.slice(0, -d.scale);
  const frac = s.slice(-d.scale);
  let end = frac.length;
  while (end > 0 && frac.charCodeAt(end - 1) === 48) end--;
  return end === 0 ? whole : `${whole}.${frac.slice(0, end)}`;
}

/**
 * A client's binary float (`0.24999999999999997`) as a signed decimal rounded half-even to `places`: the
 * shortest decimal that reads back as the float (what JSON carried), then rounded on its digits, exactly.
 * Only the GridTokenX routes round (their clients send kWh as a float); everywhere else amounts are exact.
 */
export function roundHalfEven(n: number, places: number): { negative: boolean; value: Decimal } {
  if (!Number.isFinite(n)) throw new RangeError('roundHalfEven: not a finite number');
  const [mantissa, exponent] = Math.abs(n).toString().toLowerCase().split('e') as [string, string | undefined];
  const [whole, frac = ''] = mantissa.split('.') as [string, string | undefined];
  let digits = BigInt(whole + frac);
  let scale = frac.length - Number(exponent ?? 0);
  if (scale < 0) {
    digits *= 10n ** BigInt(-scale);
    scale = 0;
  }
  if (scale > places) {
    const drop = 10n ** BigInt(scale - places);
    const rest = digits % drop;
    digits /= drop;
    if (rest * 2n > drop || (rest * 2n === drop && digits % 2n === 1n)) digits += 1n;
    scale = places;
  }
  return { negative: n < 0 && digits !== 0n, value: { digits, scale } };
}

/** A signed decimal as text: `-0.5`, `0`, `2.25`. */
export const formatSigned = (d: { negative: boolean; value: Decimal }) => (d.negative ? '-' : '') + formatDecimal(d.value);
