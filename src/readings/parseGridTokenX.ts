// A GridTokenX gateway's reading (their simulator's and gateway's JSON: `kwh`, `timestamp`, `meter_serial`,
// telemetry) → the native ParsedReading that accept.ts judges. Only the shape is translated here: identity,
// plausibility and scope stay the native rules. Malformed fields throw ValidationError naming their field
// (the routes answer them 422, as their gateway does); whether the registry takes the reading is accept.ts's.
import { InvalidBatchData, Refused, ValidationError } from '../errors.js';
import { boundedText, MAX_ID_CHARS, stripUnstorable } from '../fields.js';
import { CLOCK_SKEW_MS, at, instant, object } from '../meters/registry.js';
import { compareDecimal, formatSigned, parseDecimal, type Rate, roundHalfEven, tokensOf } from '../minting/amounts.js';
import type { ParsedReading } from './parseReadings.js';

/**
 * Telemetry kept with a reading: the fields of their published reading model (the simulator's
 * EnergyReading payloads and the gateway's CreateReadingRequest) beside the energy. Anything else is ignored.
 */
export const TELEMETRY_FIELDS = [
  'energy_generated',
  'energy_consumed',
  'total_energy_generated',
  'total_energy_consumed',
  'surplus_energy',
  'deficit_energy',
  'voltage',
  'current',
  'power',
  'power_generated',
  'power_consumed',
  'power_factor',
  'frequency',
  'temperature',
  'thd_voltage',
  'thd_current',
  'battery_level',
  'zone_id',
  'latitude',
  'longitude',
  'meter_type',
  'user_type',
  'weather_condition',
  'rec_eligible',
  'carbon_offset',
  'net_emission',
  'max_sell_price',
  'max_buy_price',
] as const;

/** A telemetry text is cut to this many characters: with the fixed field list a reading's telemetry stays under 4 KB. */
export const MAX_TELEMETRY_TEXT = 100;
const MAX_IDENTITY_TEXT = MAX_ID_CHARS;
const CONTROL = /[\u0000-\u001f\u007f]/g;

export type Telemetry = Record<string, string | number | boolean | null>;

export interface GridTokenXOptions {
  rate: Rate;
  /** GRIDTOKENX_KWH_DECIMALS: `kwh` is rounded half-even to this many places. */
  kwhDecimals: number;
}

/** Which key named the meter in a batch reading (`meter_serial`, else `meter_id`), for error fields. */
export const meterKeyOf = (o: Record<string, unknown>): 'meter_serial' | 'meter_id' => (o.meter_serial === undefined && o.meter_id !== undefined ? 'meter_id' : 'meter_serial');

function identityText(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new ValidationError(`${field} is required and must be a non-empty string`, field);
  // Identity is never altered: a control character or unstorable text here is a bad field, not something to strip.
  boundedText(v, field, MAX_IDENTITY_TEXT);
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new ValidationError(`${field} must not contain control characters`, field);
  return v;
}

/**
 * Their telemetry fields, bounded: numbers, booleans and null as sent; texts with control characters and what
 * Postgres cannot store (lone UTF-16 surrogates) stripped, then cut.
 */
export function telemetryOf(o: Record<string, unknown>): Telemetry {
  const out: Telemetry = {};
  for (const k of TELEMETRY_FIELDS) {
    const v = o[k];
    if (v === null || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) out[k] = v;
    else if (typeof v === 'string') out[k] = stripUnstorable(v.replace(CONTROL, '').slice(0, MAX_TELEMETRY_TEXT)); // after the cut, which may split a pair
    // Objects, arrays: not part of their model's scalar fields; dropped rather than refusing the energy.
  }
  return out;
}

/**
 * One reading. `serial`: the path's meter (the single route), or null (a batch reading names its meter in
 * `meter_serial` or `meter_id`). `path`: `readings[3]` in a batch, '' for the single route.
 */
export function parseGridTokenXReading(raw: unknown, serial: string | null, path: string, opts: GridTokenXOptions, now = Date.now()): ParsedReading {
  const f = (k: string) => at(path, k);
  const o = object(raw, path || 'body');

  let meterId: string;
  if (serial !== null) {
    meterId = identityText(serial, f('meter_id'));
    // Their gateway takes the path's serial; a body naming another meter is a client bug, not a reading to file elsewhere.
    for (const k of ['meter_serial', 'meter_id'] as const) {
      if (o[k] !== undefined && o[k] !== null && o[k] !== serial) throw new ValidationError(`${f(k)} names another meter than the path's ${serial}`, f(k));
    }
  } else {
    const key = meterKeyOf(o);
    meterId = identityText(o[key], f(key));
  }

  // Required here: a reading without its own time could not be recognised when it is sent again.
  if (o.timestamp === undefined || o.timestamp === null) {
    throw new ValidationError(`${f('timestamp')} is required (ISO 8601): without it a resent reading could not be recognised as the same one`, f('timestamp'));
  }
  const readingTimestamp = instant(o.timestamp, f('timestamp'));
  if (readingTimestamp.getTime() > now + CLOCK_SKEW_MS) {
    throw new Refused('TIMESTAMP_OUT_OF_RANGE', `${f('timestamp')} is more than ${CLOCK_SKEW_MS / 1000} s in the future`, f('timestamp'));
  }

  if (typeof o.kwh !== 'number' || !Number.isFinite(o.kwh)) throw new ValidationError(`${f('kwh')} is required and must be a number (the net kWh of the reading)`, f('kwh'));
  const net = roundHalfEven(o.kwh, opts.kwhDecimals);
  // > 0: interval energy to mint; ≤ 0: consumption, stored with energy 0 (status recorded, nothing minted).
  const energy = net.negative ? { digits: 0n, scale: 0 } : net.value;
  if (compareDecimal(energy, parseDecimal(opts.rate.maxKwh)) > 0) {
    throw new ValidationError(`${f('kwh')} ${formatSigned(net)} exceeds the maximum of ${opts.rate.maxKwh} kWh per reading`, f('kwh'));
  }
  try {
    tokensOf(energy, opts.rate, f('kwh'));
  } catch (e) {
    if (e instanceof InvalidBatchData) throw new ValidationError(e.reason, f('kwh'));
    throw e;
  }

  const claimed: ParsedReading['claimed'] = {};
  if (o.wallet_address !== undefined && o.wallet_address !== null) claimed.walletAddress = identityText(o.wallet_address, f('wallet_address'));

  const netKwh = formatSigned(net);
  return {
    path,
    meterId,
    readingTimestamp,
    amount: { field: 'kwh_amount', value: energy },
    // meter_signature is never taken as a native signature (another scheme): a meter with a public_key is refused.
    signature: null,
    clientReadingId: null,
    claimed,
    telemetry: { ...telemetryOf(o), kwh: netKwh, kwh_raw: o.kwh },
    netKwh,
  };
}
