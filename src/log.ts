// pino with key material redacted wherever it could appear.
import { pino, type Logger } from 'pino';

export type Log = Logger;

export const REDACT_PATHS = ['secretKey', '*.secretKey', 'keypair', '*.keypair', 'authority.secretKey', 'headers.authorization', '*.headers.authorization', 'token', '*.token'];

export function makeLog(level: string, destination?: NodeJS.WritableStream): Log {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination as never);
}

/**
 * A URL as it may be shown or logged: scheme, host and port only. A provider's URL often carries its key
 * in the userinfo, path or query (`?api-key=...`); none of those leave the process. Not a URL: `(invalid URL)`.
 */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(invalid URL)';
  }
}
