// Settlement windows of mint_generation: 15 minutes, (start, start + 15 min]. A reading stamps the end of the
// interval it measured, so it belongs to the window that holds that end: 00:15 belongs to 00:00–00:15, 00:15:00.001
// to 00:15–00:30. The program wants a window's start as a positive multiple of 900,000 ms.
import { v5 as uuidv5, parse as parseUuid, validate as isUuid } from 'uuid';

export const WINDOW_MS = 900_000;

/** The start (ms since the epoch) of the window that holds a reading stamped `atMs`. */
export function windowStartOf(atMs: number): number {
  return Math.ceil(atMs / WINDOW_MS) * WINDOW_MS - WINDOW_MS;
}

/** Whether a window is closed for minting at `nowMs`: its end, plus the grace for late readings, has passed. */
export function windowClosed(startMs: number, graceMs: number, nowMs: number): boolean {
  return startMs + WINDOW_MS + graceMs <= nowMs;
}

/** RFC 4122's OID namespace, which GridTokenX's aggregator derives a non-UUID serial's id in. */
const NAMESPACE_OID = '6ba7b812-9dad-11d1-80b4-00c04fd430c8';

/**
 * A meter's 16 bytes for the mint record's seeds, derived as GridTokenX's aggregator derives them from a meter's
 * serial: a serial that is a UUID is its 16 bytes; any other is the UUID v5 of its UTF-8 bytes in the OID
 * namespace. As 32 lowercase hex digits.
 */
export function generationMeterIdOf(serial: string): string {
  const bytes = isUuid(serial) ? parseUuid(serial) : parseUuid(uuidv5(Buffer.from(serial, 'utf8'), NAMESPACE_OID));
  return Buffer.from(bytes).toString('hex');
}

/** An operator's value for a meter's 16 bytes: a UUID or 32 hex digits, as 32 lowercase hex digits; null if neither. */
export function parseGenerationMeterId(text: string): string | null {
  if (isUuid(text)) return Buffer.from(parseUuid(text)).toString('hex');
  return /^[0-9a-fA-F]{32}$/.test(text) ? text.toLowerCase() : null;
}
