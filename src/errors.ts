// The service's typed errors: a code to branch on, the HTTP status it maps to, whether retrying may help,
// the underlying cause, and the input field at fault where there is one. Nothing downstream parses messages.
export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus = 500,
    readonly retryable = false,
    options?: { cause?: unknown; field?: string },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.field = options?.field;
  }
  readonly field: string | undefined;
}

/** Bad input from a caller; `field` names the offending input. */
export class ValidationError extends AppError {
  constructor(message: string, field?: string) {
    super('VALIDATION_ERROR', message, 400, false, { field });
  }
}

/**
 * Several items of one request refused at once (a bulk import: every bad line, not only the first). The
 * code, status, field and message are the first error's; `errors` lists each (at most MAX_LISTED).
 */
export class ManyErrors extends AppError {
  static readonly MAX_LISTED = 100;
  readonly errors: { code: string; message: string; field?: string }[];
  constructor(all: AppError[]) {
    const first = all[0]!;
    super(first.code, all.length === 1 ? first.message : `${all.length} items refused; first: ${first.message}`, first.httpStatus, false, { field: first.field });
    this.errors = all.slice(0, ManyErrors.MAX_LISTED).map((e) => ({ code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) }));
  }
}

/** The configuration cannot start the service; the message says what to fix. */
export class ConfigError extends AppError {
  constructor(message: string) {
    super('CONFIG_ERROR', message, 500);
  }
}

/** The chain is not what the configuration promised (program, mint or authority missing or wrong). */
export class ChainSetupError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CHAIN_SETUP_ERROR', message, 503, false, options);
  }
}

/** The database named by DATABASE_URL cannot be used (unreachable, refused); the message says what to fix. */
export class DatabaseSetupError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATABASE_SETUP_ERROR', message, 503, true, options);
  }
}

// ---- minting ------------------------------------------------------------------------------------

export class EmptyBatch extends AppError {
  constructor() {
    super('EMPTY_BATCH', 'the batch has no readings', 400);
  }
}

export class BatchTooLarge extends AppError {
  constructor(readonly size: number, readonly maxSize: number) {
    super('BATCH_TOO_LARGE', `the batch has ${size} readings; at most ${maxSize} are allowed`, 413);
  }
}

export class InvalidBatchData extends AppError {
  constructor(readonly reason: string, readonly readingId?: string) {
    super('INVALID_BATCH_DATA', readingId ? `reading ${readingId}: ${reason}` : reason, 400);
  }
}

export class PartiallySuccessful extends AppError {
  constructor(readonly success: number, readonly total: number) {
    super('PARTIALLY_SUCCESSFUL', `${success} of ${total} readings minted`, 207);
  }
}

/** A claim's readings were taken back (its lease ran out and a rescuer acted): nothing of it may be sent. */
export class ClaimLost extends AppError {
  constructor(readonly lost: number) {
    super('CLAIM_LOST', `claim lost for ${lost} reading(s); not sending`, 409);
  }
}

/**
 * A signed transaction whose signature is already recorded for other readings: the same bytes (same mints,
 * compute limit and blockhash) were signed elsewhere, so one landing would count for both. Never sent.
 */
export class DuplicateTransaction extends AppError {
  constructor(readonly signature: string) {
    super('DUPLICATE_TRANSACTION', `transaction ${signature} is already recorded for other readings; not sending`, 409);
  }
}

/** The database cannot be reached or refused for a passing reason (by SQLSTATE): try again shortly. */
export class DatabaseUnavailable extends AppError {
  constructor(options?: { cause?: unknown }) {
    super('DATABASE_UNAVAILABLE', 'the database is not available right now; try again shortly', 503, true, options);
  }
}

/** A JSON-RPC or transport failure; `code` is the JSON-RPC error code or the HTTP status. */
export class RpcFailure extends AppError {
  constructor(readonly rpcCode: number | null, message: string, retryable: boolean, options?: { cause?: unknown }) {
    super('RPC_ERROR', message, 502, retryable, options);
  }
}

/** A program error decoded from a transaction error (IDL, Anchor, Token-2022 or a builtin). */
export class ProgramFailure extends AppError {
  constructor(readonly errorName: string, readonly errorCode: number | null, readonly programId: string, message: string) {
    super('PROGRAM_ERROR', message, 422);
  }
}

export class AuthError extends AppError {
  constructor(status: 401 | 403, message: string) {
    super(status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', message, status);
  }
}

/** A console change without its session's CSRF token, or from another origin (403). */
export class CsrfRefused extends AppError {
  constructor(message: string) {
    super('CSRF_REFUSED', message, 403);
  }
}

export class NotFound extends AppError {
  constructor(what: string) {
    super('NOT_FOUND', `${what} not found`, 404);
  }
}

/** A request that contradicts what is stored (same id, different content): nothing of it is stored. */
export class Conflict extends AppError {
  constructor(message: string, field?: string) {
    super('CONFLICT', message, 409, false, { field });
  }
}

export class PayloadTooLarge extends AppError {
  constructor(message: string) {
    super('PAYLOAD_TOO_LARGE', message, 413);
  }
}

// ---- meters, gateways, readings -------------------------------------------------------------------

/** A domain rule refused the request (422): the input is well formed, the registry says no. */
export class Refused extends AppError {
  constructor(code: string, message: string, field?: string) {
    super(code, message, 422, false, { field });
  }
}

/** The meter is not registered, or was disabled. */
export class UnknownMeter extends Refused {
  constructor(meterId: string, field: string, disabled = false) {
    super('UNKNOWN_METER', `meter ${meterId} ${disabled ? 'is disabled' : 'is not registered'}`, field);
  }
}

/** A reading's user_id or wallet_address disagrees with the meter's registry entry. */
export class WalletMismatch extends Refused {
  constructor(message: string, field: string) {
    super('WALLET_MISMATCH', message, field);
  }
}

/** More energy than the meter could have produced in the time the reading covers. */
export class ImplausibleEnergy extends Refused {
  constructor(message: string, field: string) {
    super('IMPLAUSIBLE_ENERGY', message, field);
  }
}

/** A reading that must be signed is not, or its signature does not verify. */
export class BadSignature extends Refused {
  constructor(message: string, field: string) {
    super('BAD_SIGNATURE', message, field);
  }
}

/** A gateway posting for a meter another gateway serves. */
export class MeterNotYours extends AppError {
  constructor(meterId: string, field: string) {
    super('METER_NOT_YOURS', `meter ${meterId} is served by another gateway`, 403, false, { field });
  }
}

/** The same (meter, time) was already accepted with other energy. */
export class ConflictingReading extends AppError {
  constructor(message: string, field: string) {
    super('CONFLICTING_READING', message, 409, false, { field });
  }
}

/** A register reading older than the meter's latest accepted one: the later register already covers it. */
export class StaleReading extends AppError {
  constructor(message: string, field: string) {
    super('STALE_READING', message, 409, false, { field });
  }
}

/** A register below the latest accepted one: only a new baseline (meter exchange or reset) explains it. */
export class RegisterWentBack extends AppError {
  constructor(message: string, field: string) {
    super('REGISTER_WENT_BACK', message, 409, false, { field });
  }
}

/** A state the request cannot change: a gateway managed by the environment, an existing id, a disabled meter. */
export class StateConflict extends AppError {
  constructor(code: string, message: string, field?: string) {
    super(code, message, 409, false, { field });
  }
}

// ---- traffic --------------------------------------------------------------------------------------

/** A caller over its rate limit, or over its open-stream cap: retry after `retryAfterSeconds`. */
export class RateLimited extends AppError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    /** Response headers that say the limit (RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset). */
    readonly headers: Record<string, string> = {},
  ) {
    super('RATE_LIMITED', message, 429);
  }
}

/**
 * Overload or a rate limit on a route whose clients retry 5xx and drop every 4xx (the GridTokenX routes):
 * 503 with Retry-After, so the reading is retried rather than lost.
 */
export class Overloaded extends AppError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    readonly headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super('OVERLOADED', message, 503, true, options);
  }
}

/** mint_generation: a window's readings changed between its claim and its freeze; its transaction is not sent. */
export class WindowChanged extends AppError {
  constructor(detail: string) {
    super('WINDOW_CHANGED', `${detail}; the window is minted later with every reading it holds`, 409, true);
  }
}

/**
 * mint_generation: a window can never be minted as its readings stand (a reading of it was settled another way, or
 * it was frozen with readings that are no longer all there): its readings fail, the attempt counted, saying why.
 */
export class WindowUnmintable extends AppError {
  constructor(detail: string) {
    super('WINDOW_UNMINTABLE', `${detail}: the window cannot be minted as it stands; an operator must settle it`, 409, false);
  }
}
