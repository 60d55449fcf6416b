// The meter registry's rules: what a meter's fields may hold, and how a PUT merges into what is stored
// (only the fields given change; a register meter's baseline only through `register_baseline`).
import { generationMeterIdOf, parseGenerationMeterId } from '../minting/windows.js';
import { createPublicKey } from 'node:crypto';
import bs58 from 'bs58';
import { isWalletAddress } from '../chain/addresses.js';
import { GATEWAY_ID } from '../config.js';
import { InvalidBatchData, Refused, StateConflict, ValidationError } from '../errors.js';
import { decimalLength, instantField, MAX_ID_CHARS, quote, textField } from '../fields.js';
import { formatDecimal, parseDecimal, type Rate, tokensOf } from '../minting/amounts.js';
import { METER_KINDS, type MeterKind } from '../db/schema.js';
import type { MeterRow, MeterTotals, MeterValues } from './repo.js';

/** How far ahead of the server's clock a timestamp may be. */
export const CLOCK_SKEW_MS = 60_000;

export const at = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** A required text field: at most MAX_ID_CHARS (checked first), storable (no NUL, no lone surrogate). */
export function text(o: Record<string, unknown>, key: string, field: string): string {
  return textField(o[key], field, MAX_ID_CHARS);
}

export function object(raw: unknown, field: string): Record<string, unknown> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ValidationError(`${field} must be a JSON object`, field);
  return raw as Record<string, unknown>;
}

/**
 * An ISO 8601 date-time with a zone, to the millisecond at most (the energy identity's precision), on a date
 * that exists and within the service's range (fields.ts).
 */
export const instant = (v: unknown, field: string): Date => instantField(v, field);

/** A decimal amount; `what` names it in messages. Its length is checked before it is parsed. */
export function decimal(v: unknown, field: string) {
  decimalLength(v, field);
  try {
    return parseDecimal(v, field);
  } catch (e) {
    if (e instanceof InvalidBatchData) throw new ValidationError(e.reason, field);
    throw e;
  }
}

/** A register value: a decimal whose tokens at the rate are whole base units (so every delta is too). */
export function registerValue(v: unknown, field: string, rate: Rate) {
  const d = decimal(v, field);
  if (d.scale > 12 || d.digits.toString().length - d.scale > 18) throw new ValidationError(`${field} must have at most 18 digits before the point and 12 after it`, field);
  try {
    tokensOf(d, rate, field);
  } catch (e) {
    if (e instanceof InvalidBatchData) throw new ValidationError(e.reason, field);
    throw e;
  }
  return d;
}

/** An ed25519 public key, base58; null when it is not one. */
export function ed25519Key(text: string) {
  try {
    const raw = bs58.decode(text);
    if (raw.length !== 32) return null;
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
  } catch {
    return null;
  }
}

/** A PUT body's fields, parsed; absent fields are undefined (unchanged), `public_key: null` removes it. */
export interface MeterPatch {
  gatewayId?: string;
  userId?: string;
  walletAddress?: string;
  kind?: MeterKind;
  intervalMinutes?: number;
  maxKw?: string;
  activeFrom?: Date;
  publicKey?: string | null;
  registerBaseline?: { kwh: string; at: Date };
  /** mint_generation's 16 bytes for this meter (32 hex digits); absent: derived from meter_id (minting/windows.ts). */
  generationMeterId?: string;
}

const FIELDS = ['meter_id', 'gateway_id', 'user_id', 'wallet_address', 'kind', 'interval_minutes', 'max_kw', 'active_from', 'public_key', 'register_baseline', 'generation_meter_id'];

export function parseMeterPatch(raw: unknown, path: string, rate: Rate): MeterPatch {
  const o = object(raw, path || 'body');
  const unknown = Object.keys(o).find((k) => !FIELDS.includes(k));
  if (unknown !== undefined) throw new ValidationError(`${at(path, quote(unknown))} is not a meter field (${FIELDS.join(', ')})`, at(path, quote(unknown)));
  const p: MeterPatch = {};
  const has = (k: string) => o[k] !== undefined;
  if (has('gateway_id')) {
    p.gatewayId = text(o, 'gateway_id', at(path, 'gateway_id'));
    if (!GATEWAY_ID.test(p.gatewayId)) throw new ValidationError(`${at(path, 'gateway_id')} must be 1 to 64 letters, digits, '.', '_' or '-'`, at(path, 'gateway_id'));
  }
  if (has('user_id')) p.userId = text(o, 'user_id', at(path, 'user_id'));
  if (has('wallet_address')) {
    p.walletAddress = text(o, 'wallet_address', at(path, 'wallet_address'));
    if (!isWalletAddress(p.walletAddress)) throw new ValidationError(`${at(path, 'wallet_address')} must be a base58 wallet public key (32 bytes)`, at(path, 'wallet_address'));
  }
  if (has('kind')) {
    if (!METER_KINDS.includes(o.kind as MeterKind)) throw new ValidationError(`${at(path, 'kind')} must be one of ${METER_KINDS.join(', ')}`, at(path, 'kind'));
    p.kind = o.kind as MeterKind;
  }
  if (has('interval_minutes')) {
    const v = o.interval_minutes;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1440) throw new ValidationError(`${at(path, 'interval_minutes')} must be an integer from 1 to 1440`, at(path, 'interval_minutes'));
    p.intervalMinutes = v;
  }
  if (has('max_kw')) {
    const d = decimal(o.max_kw, at(path, 'max_kw'));
    if (d.digits === 0n || d.scale > 6 || d.digits.toString().length - d.scale > 14) {
      throw new ValidationError(`${at(path, 'max_kw')} must be greater than 0, with at most 14 digits before the point and 6 after it`, at(path, 'max_kw'));
    }
    p.maxKw = formatDecimal(d);
  }
  if (has('active_from')) p.activeFrom = instant(o.active_from, at(path, 'active_from'));
  if (o.public_key === null) p.publicKey = null;
  else if (has('public_key')) {
    p.publicKey = text(o, 'public_key', at(path, 'public_key'));
    if (!ed25519Key(p.publicKey)) throw new ValidationError(`${at(path, 'public_key')} must be an ed25519 public key in base58 (32 bytes)`, at(path, 'public_key'));
  }
  if (has('generation_meter_id')) {
    const field = at(path, 'generation_meter_id');
    const id = parseGenerationMeterId(text(o, 'generation_meter_id', field));
    if (id === null) throw new ValidationError(`${field} must be 16 bytes as a UUID or 32 hex digits (the meter id GridTokenX mints its windows under)`, field);
    p.generationMeterId = id;
  }
  if (has('register_baseline')) {
    const field = at(path, 'register_baseline');
    const b = object(o.register_baseline, field);
    p.registerBaseline = { kwh: formatDecimal(registerValue(b.kwh, `${field}.kwh`, rate)), at: instant(b.at, `${field}.at`) };
  }
  return p;
}

/** The row to store: the existing meter with the patch's fields, or a new meter (every field required). */
export function mergeMeter(meterId: string, existing: MeterRow | null, p: MeterPatch, path: string, now = Date.now()): MeterValues {
  const f = (k: string) => at(path, k);
  if (existing?.disabledAt) throw new StateConflict('METER_DISABLED', `meter ${meterId} is disabled; register the new meter under its own meter_id`, f('meter_id'));
  if (existing && p.kind && p.kind !== existing.kind) throw new Refused('METER_KIND_FIXED', `meter ${meterId} is a ${existing.kind} meter; a meter's kind cannot change (register the new meter under its own meter_id)`, f('kind'));
  if (!existing) {
    for (const [k, v] of [['gateway_id', p.gatewayId], ['user_id', p.userId], ['wallet_address', p.walletAddress], ['kind', p.kind], ['max_kw', p.maxKw], ['active_from', p.activeFrom]] as const) {
      if (v === undefined) throw new ValidationError(`${f(k)} is required to register a meter`, f(k));
    }
  }
  const kind = existing?.kind ?? p.kind!;
  if (kind === 'interval' && p.registerBaseline) throw new ValidationError(`${f('register_baseline')} is for register meters; ${meterId} is an interval meter`, f('register_baseline'));
  if (kind === 'register' && p.intervalMinutes !== undefined) throw new ValidationError(`${f('interval_minutes')} is for interval meters; ${meterId} is a register meter`, f('interval_minutes'));
  if (!existing && kind === 'interval' && p.intervalMinutes === undefined) throw new ValidationError(`${f('interval_minutes')} is required to register an interval meter`, f('interval_minutes'));
  if (!existing && kind === 'register' && !p.registerBaseline) throw new ValidationError(`${f('register_baseline')} ({ kwh, at }) is required to register a register meter`, f('register_baseline'));

  const activeFrom = p.activeFrom ?? existing!.activeFrom;
  const b = p.registerBaseline;
  if (b) {
    if (b.at.getTime() < activeFrom.getTime()) throw new Refused('BASELINE_TOO_EARLY', `${f('register_baseline.at')} must not be earlier than active_from (${activeFrom.toISOString()})`, f('register_baseline.at'));
    if (b.at.getTime() > now + CLOCK_SKEW_MS) throw new Refused('BASELINE_TOO_EARLY', `${f('register_baseline.at')} is in the future`, f('register_baseline.at'));
    // Energy up to the latest accepted reading is counted already: a baseline before it would count it again.
    if (existing?.lastRegisterAt && b.at.getTime() < existing.lastRegisterAt.getTime()) {
      throw new Refused('BASELINE_TOO_EARLY', `${f('register_baseline.at')} must not be earlier than the meter's latest accepted reading (${existing.lastRegisterAt.toISOString()})`, f('register_baseline.at'));
    }
  }
  return {
    meterId,
    gatewayId: p.gatewayId ?? existing!.gatewayId,
    userId: p.userId ?? existing!.userId,
    walletAddress: p.walletAddress ?? existing!.walletAddress,
    kind,
    intervalMinutes: kind === 'interval' ? (p.intervalMinutes ?? existing!.intervalMinutes) : null,
    maxKw: p.maxKw ?? existing!.maxKw,
    activeFrom,
    publicKey: p.publicKey === undefined ? (existing?.publicKey ?? null) : p.publicKey,
    registerBaselineKwh: b ? b.kwh : (existing?.registerBaselineKwh ?? null),
    registerBaselineAt: b ? b.at : (existing?.registerBaselineAt ?? null),
    // A new baseline (meter exchange or reset) is where the next delta starts.
    lastRegisterKwh: b ? b.kwh : (existing?.lastRegisterKwh ?? null),
    lastRegisterAt: b ? b.at : (existing?.lastRegisterAt ?? null),
    // Derived once, when first stored: a later derivation rule could otherwise move a meter's windows to new records.
    generationMeterId: p.generationMeterId ?? existing?.generationMeterId ?? generationMeterIdOf(meterId),
  };
}

/** A stored decimal as the API shows it: no exponent, no trailing zeros. */
export const kwhText = (v: string | null) => (v === null ? null : formatDecimal(parseDecimal(v)));

export const meterJson = (m: MeterRow, totals?: MeterTotals) => ({
  meter_id: m.meterId,
  gateway_id: m.gatewayId,
  user_id: m.userId,
  wallet_address: m.walletAddress,
  kind: m.kind,
  interval_minutes: m.intervalMinutes,
  max_kw: kwhText(m.maxKw),
  active_from: m.activeFrom.toISOString(),
  public_key: m.publicKey,
  register_baseline: m.registerBaselineKwh === null ? null : { kwh: kwhText(m.registerBaselineKwh), at: m.registerBaselineAt!.toISOString() },
  last_register: m.lastRegisterKwh === null ? null : { kwh: kwhText(m.lastRegisterKwh), at: m.lastRegisterAt!.toISOString() },
  generation_meter_id: m.generationMeterId,
  disabled_at: m.disabledAt?.toISOString() ?? null,
  created_at: m.createdAt.toISOString(),
  updated_at: m.updatedAt.toISOString(),
  ...(totals
    ? { totals: { readings_accepted: totals.readingsAccepted, kwh_accepted: kwhText(totals.kwhAccepted), tokens_minted: totals.tokensMinted, readings_pending: totals.pending } }
    : {}),
});
