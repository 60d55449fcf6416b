// Shared field readers: what any text, id, amount or date-time a request sends may hold, for every parser
// (hand-written readers today, zod route schemas through `zodRefinement`). Each check runs in time linear in
// what was sent and the length check runs first, so a field of megabytes costs one comparison before any
// regular expression, BigInt or Date sees it. Messages quote at most QUOTE_CHARS of what was sent.
// Bottom floor of the source tree: it imports only errors.ts, never a domain folder.
import { ValidationError } from './errors.js';

/** Ids and names a client gives (meter_id, user_id, client_reading_id, a GridTokenX serial). */
export const MAX_ID_CHARS = 200;
/** A decimal amount: register values hold 18 digits before the point and 12 after; far more is never an amount. */
export const MAX_DECIMAL_CHARS = 64;
/** An ISO 8601 date-time: `2026-11-01T00:00:00.000000000+05:30` is 35 characters. */
export const MAX_INSTANT_CHARS = 40;
/** A free text an operator writes (a pause or void reason). */
export const MAX_REASON_CHARS = 500;
/** How much of a refused value a message repeats. */
export const QUOTE_CHARS = 40;

/** What was sent, as a message may repeat it: its first QUOTE_CHARS characters, then "…" when there was more. */
export function quote(v: unknown): string {
  const text = typeof v === 'string' ? v : String(v);
  return text.length <= QUOTE_CHARS ? text : `${text.slice(0, QUOTE_CHARS)}…`;
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one: one step per character.
const LONE = '[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]';
const HAS_LONE_SURROGATE = new RegExp(LONE);
const LONE_SURROGATE = new RegExp(LONE, 'g');

// ---- problems: a message, or null when the value is fine (for zod refinements and the readers below) -----

/** Longer than `max`: the message says so and how long it was. */
export function lengthProblem(v: string, max: number): string | null {
  return v.length > max ? `must be at most ${max} characters (got ${v.length})` : null;
}

/**
 * Text Postgres cannot store: NUL (text refuses it) and a lone UTF-16 surrogate (it has no UTF-8 form;
 * JSON can carry one as `\ud800`, and Postgres then fails the statement).
 */
export function storableProblem(v: string): string | null {
  return v.includes('\u0000') || HAS_LONE_SURROGATE.test(v) ? 'must not contain NUL or a lone UTF-16 surrogate (text the database cannot store)' : null;
}

/** The text without what Postgres cannot store (NUL, lone surrogates): for fields stripped rather than refused. */
export function stripUnstorable(v: string): string {
  return v.replaceAll('\u0000', '').replace(LONE_SURROGATE, '');
}

// ---- readers: the value, or a ValidationError naming the field -----------------------------------------

/** `v` as text of at most `max` characters that Postgres can store; length first. */
export function boundedText(v: string, field: string, max: number): string {
  const problem = lengthProblem(v, max) ?? storableProblem(v);
  if (problem) throw new ValidationError(`${field} ${problem}`, field);
  return v;
}

/** A required non-empty string field of at most `max` characters. */
export function textField(v: unknown, field: string, max = MAX_ID_CHARS): string {
  if (typeof v !== 'string' || v.trim() === '') throw new ValidationError(`${field} is required and must be a non-empty string`, field);
  return boundedText(v, field, max);
}

/** A decimal amount sent as text is refused by its length before it is parsed (numbers are short by nature). */
export function decimalLength(v: unknown, field: string): void {
  if (typeof v === 'string') {
    const problem = lengthProblem(v, MAX_DECIMAL_CHARS);
    if (problem) throw new ValidationError(`${field} ${problem}`, field);
  }
}

// ---- date-times ----------------------------------------------------------------------------------------

/**
 * The instants the service takes and stores: from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z, UTC.
 * Both a JS Date and a Postgres timestamptz hold every instant of it, and every one prints as a plain
 * four-digit ISO year (`toISOString` writes a year past 9999 as `+010000`, which no client expects).
 */
export const FIRST_INSTANT_MS = Date.UTC(1970, 0, 1);
export const LAST_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
export const INSTANT_RANGE_TEXT = '1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z';

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|([+-])(\d{2}):?(\d{2}))?$/;
const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

export interface InstantOptions {
  /** A date-time without a zone is UTC (the console's datetime-local fields say so); otherwise a zone is required. */
  zonelessIsUtc?: boolean;
}

/** Why `v` is not an instant the service takes, or the instant. */
export function instantOf(v: unknown, opts: InstantOptions = {}): { at: Date } | { problem: string } {
  if (typeof v !== 'string') return { problem: 'must be an ISO 8601 date-time string' };
  const long = lengthProblem(v, MAX_INSTANT_CHARS);
  if (long) return { problem: long };
  const m = ISO_INSTANT.exec(v);
  if (!m || (m[8] === undefined && !opts.zonelessIsUtc)) return { problem: `must be an ISO 8601 date-time with a time zone (e.g. 2026-11-01T00:00:00Z); got "${quote(v)}"` };
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  // Date.UTC would move 2026-02-30 to March 2 and T24:00 to the next day: a date that does not exist is refused.
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return { problem: `must be a date that exists; ${m[1]}-${m[2]}-${m[3]} does not` };
  if (hour > 23 || minute > 59 || second > 59) return { problem: `must be a time of day from 00:00:00 to 23:59:59; got ${m[4]}:${m[5]}${m[6] ? `:${m[6]}` : ''}` };
  const fraction = m[7] ?? '';
  if (/[1-9]/.test(fraction.slice(3))) return { problem: 'must not be finer than a millisecond' };
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const [oh, om] = [Number(m[10]), Number(m[11])];
    if (oh > 23 || om > 59) return { problem: `has a time zone offset that does not exist (${m[8]})` };
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, Number(fraction.slice(0, 3).padEnd(3, '0'))) - offsetMinutes * 60_000;
  // Date.UTC maps years 0..99 to 1900..1999; the range check below refuses them either way.
  if (!(ms >= FIRST_INSTANT_MS && ms <= LAST_INSTANT_MS) || year < 100) return { problem: `must be from ${INSTANT_RANGE_TEXT}` };
  return { at: new Date(ms) };
}

/** An ISO 8601 date-time within the service's range (see FIRST_INSTANT_MS), to the millisecond at most. */
export function instantField(v: unknown, field: string, opts: InstantOptions = {}): Date {
  const r = instantOf(v, opts);
  if ('problem' in r) throw new ValidationError(`${field} ${r.problem}`, field);
  return r.at;
}

/** A Date (from a cursor, say) within the service's range. */
export const inInstantRange = (d: Date) => {
  const t = d.getTime();
  return t >= FIRST_INSTANT_MS && t <= LAST_INSTANT_MS;
};

// ---- zod ------------------------------------------------------------------------------------------------

/**
 * A problem function as a zod refinement: `z.string().superRefine(zodRefinement((v) => lengthProblem(v, 200)))`.
 * Typed structurally, so this module needs no zod import.
 */
export const zodRefinement =
  <T>(problem: (v: T) => string | null) =>
  (v: T, ctx: { addIssue(issue: { code: 'custom'; message: string }): void }) => {
    const p = problem(v);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  };

/** Own properties only: a key sent by a client (`constructor`, `__proto__`) never finds Object.prototype's. */
export const ownValue = <V>(table: Readonly<Record<string, V>>, key: string): V | undefined => (Object.hasOwn(table, key) ? table[key] : undefined);
