// Request input shared by every route: JSON bodies and opaque keyset cursors, refused with a 400 naming the field.
import { ValidationError } from '../errors.js';
import { quote, storableProblem } from '../fields.js';
import { validate as isUuid } from 'uuid';

/**
 * The body as JSON; `optional`: an empty body is `{}`. `keepControlCharacters`: the caller strips or refuses
 * them field by field (the GridTokenX routes strip them from telemetry rather than lose a reading).
 */
export async function jsonBody(req: { text(): Promise<string> }, opts: { optional?: boolean; keepControlCharacters?: boolean } = {}): Promise<unknown> {
  const raw = await req.text();
  if (opts.optional && raw.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new ValidationError('the body is not valid JSON', 'body');
  }
  // JSON text holds a control character in a string only as an escape (\n, \u0000, ...) or as a literal DEL,
  // and a lone UTF-16 surrogate only as an escape (\ud800: decoded UTF-8 has none): without any of them,
  // there is none to find and the walk is skipped (most bodies).
  if (!opts.keepControlCharacters && MAY_HOLD_REFUSED.test(raw)) refuseControlCharactersIn(body, '');
  return body;
}

// C0 controls (NUL included) and DEL: no text field of this API holds them (ids, addresses, keys, instants).
const CONTROL = /[\u0000-\u001f\u007f]/;
const MAY_HOLD_REFUSED = /\\(?:[bfnrt]|u00[01]|u007f|ud[89a-f])|\u007f/i;

/**
 * 400 naming the field when a text holds a control character, or a lone UTF-16 surrogate (Postgres cannot
 * store either: NUL and a surrogate with no UTF-8 form fail the statement, a 500 before this check).
 */
export function refuseControlCharacters(text: string, field: string): void {
  if (CONTROL.test(text)) throw new ValidationError(`${field} must not contain control characters`, field);
  const unstorable = storableProblem(text);
  if (unstorable) throw new ValidationError(`${field} ${unstorable}`, field);
}

/**
 * Every string (and key) of a parsed JSON value; the field is named as the routes name it (`[0].meter_id`).
 * Iterative: a deeply nested body must not overflow the stack (a 500).
 */
function refuseControlCharactersIn(root: unknown, rootPath: string): void {
  const stack: [unknown, string][] = [[root, rootPath]];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') refuseControlCharacters(v, path || 'body');
    else if (Array.isArray(v)) v.forEach((x, i) => stack.push([x, `${path}[${i}]`]));
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        refuseControlCharacters(k, path || 'body');
        // A key is named by its first characters only: a field name of a megabyte is not repeated back.
        stack.push([x, path ? `${path}.${quote(k)}` : quote(k)]);
      }
    }
  }
}

/**
 * A form body (urlencoded or multipart), or a 400: a body that does not parse as the form its Content-Type
 * announces (a multipart type without its parts) made hono's parseBody throw, a 500.
 */
export async function formBody(req: { parseBody(): Promise<Record<string, string | File | (string | File)[]>> }): Promise<Record<string, unknown>> {
  try {
    return await req.parseBody();
  } catch {
    throw new ValidationError('the body is not the form its Content-Type says', 'body');
  }
}

/** A path's UUID (`/batches/:id`), lower-cased; 400 naming the field otherwise. */
export function uuidParam(value: string | undefined, field = 'id'): string {
  if (value === undefined || !isUuid(value)) throw new ValidationError(`${field} must be a UUID`, field);
  return value.toLowerCase();
}

/** Longer than any cursor the API writes (a key of a 200-character id and an instant, in base64url). */
const MAX_CURSOR_CHARS = 1000;

/** A keyset cursor: the last row's key, opaque to clients (base64url JSON); `read` checks what comes back. */
export function pageCursor<T>(read: (v: unknown) => T | null) {
  return {
    encode: (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url'),
    decode(cursor: string): T {
      let v: T | null = null;
      try {
        if (cursor.length > MAX_CURSOR_CHARS) throw new RangeError('too long');
        v = read(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
      } catch {
        v = null;
      }
      if (v === null) throw new ValidationError('cursor is not a cursor this API returned', 'cursor');
      return v;
    },
  };
}

/** `?limit=`: 1 to `max`, 100 when absent. */
export function limitOf(text: string | undefined, max = 500): number {
  const limit = Number(text ?? '100');
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw new ValidationError(`limit must be an integer from 1 to ${max}`, 'limit');
  return limit;
}
