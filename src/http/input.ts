// Request input shared by every route: JSON bodies and opaque keyset cursors, refused with a 400 naming the field.
import { ValidationError } from '../errors.js';

/** The body as JSON; `optional`: an empty body is `{}`. */
export async function jsonBody(req: { text(): Promise<string> }, opts: { optional?: boolean } = {}): Promise<unknown> {
  const raw = await req.text();
  if (opts.optional && raw.trim() === '') return {};
  try {
    return JSON.parse(raw);
  } catch {
    throw new ValidationError('the body is not valid JSON', 'body');
  }
}

/** A keyset cursor: the last row's key, opaque to clients (base64url JSON); `read` checks what comes back. */
export function pageCursor<T>(read: (v: unknown) => T | null) {
  return {
    encode: (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url'),
    decode(cursor: string): T {
      let v: T | null = null;
      try {
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
