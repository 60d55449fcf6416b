// pino with key material redacted wherever it could appear.
import { pino, type Logger } from 'pino';

export type Log = Logger;

export const REDACT_PATHS = ['secretKey', '*.secretKey', 'keypair', '*.keypair', 'authority.secretKey', 'headers.authorization', '*.headers.authorization', 'token', '*.token'];

export function makeLog(level: string, destination?: NodeJS.WritableStream): Log {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination as never);
}
