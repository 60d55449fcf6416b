// Whether the registry takes a request's readings, decided on the meters' locked rows and the readings
// around each one (no I/O here): the meter and its gateway, the owner and signature, then, per meter in
// timestamp order, the energy identity and whether the energy fits in time. The first refusal refuses
// the whole request; otherwise the answer is the rows to insert and the registers to advance.
import { verify } from 'node:crypto';
import {
  BadSignature,
  ConflictingReading,
  ImplausibleEnergy,
  MeterNotYours,
  Refused,
  RegisterWentBack,
  StaleReading,
  UnknownMeter,
  WalletMismatch,
} from '../errors.js';
import { at, ed25519Key } from '../meters/registry.js';
import type { MeterRow } from '../meters/repo.js';
import { compareDecimal, type Decimal, formatDecimal, parseDecimal, type Rate, subtractDecimal, tokensOf } from '../minting/amounts.js';
import type { ReadingStatus } from '../db/schema.js';
import { type ParsedReading, readingIdOf, signedMessage } from './parseReadings.js';

/** An accepted reading stored next to one of the request's (its predecessor, successor, or the same instant). */
export interface Neighbour {
  id: string;
  meterId: string;
  /** Milliseconds since the epoch. */
  at: number;
  kwhAmount: string;
  registerKwh: string | null;
  status: ReadingStatus;
  clientReadingId: string | null;
  /** The signed net kWh a GridTokenX reading carried (telemetry `kwh`); null for native readings. */
  netKwh?: string | null;
}

export interface NewRow {
  id: string;
  meterId: string;
  userId: string;
  walletAddress: string;
  kwhAmount: string;
  tokensToMint: bigint;
  readingTimestamp: Date;
  gatewayId: string;
  clientReadingId: string | null;
  registerKwh: string | null;
  status: 'pending' | 'recorded';
  telemetry?: Record<string, string | number | boolean | null> | null;
}

export interface Decision {
  rows: NewRow[];
  /** Per reading of the request, in its order. */
  results: { readingId: string; clientReadingId: string | null; status: ReadingStatus; duplicate: boolean }[];
  /** Register meters whose latest accepted register moved. */
  registers: { meterId: string; kwh: string; at: Date }[];
}

export interface AcceptPolicy {
  rate: Rate;
  /** PLAUSIBILITY_TOLERANCE: 0.05 = 5 % above max_kw × hours. */
  tolerance: string;
  requireSigned: boolean;
  /** The most base units one reading can carry (it is minted in one transaction). */
  maxTokensPerReading: bigint;
  /** MINT_INSTRUCTION=mint_generation: a reading for a window already frozen (signed) or minted is refused. */
  refuseSettledWindows?: boolean;
}

const HOUR_MS = 3_600_000n;

/** max_kw × hours × (1 + tolerance) as a fraction num/den of kWh. */
function bound(maxKw: Decimal, ms: number, tolerance: Decimal): { num: bigint; den: bigint } {
  const t = 10n ** BigInt(tolerance.scale);
  return { num: maxKw.digits * BigInt(Math.max(0, Math.floor(ms))) * (t + tolerance.digits), den: 10n ** BigInt(maxKw.scale) * t * HOUR_MS };
}

const fits = (energy: Decimal, b: { num: bigint; den: bigint }) => energy.digits * b.den <= b.num * 10n ** BigInt(energy.scale);
const boundText = (b: { num: bigint; den: bigint }) => formatDecimal({ digits: (b.num * 10n ** 6n) / b.den, scale: 6 });
const iso = (ms: number) => new Date(ms).toISOString();

/** Stage one, before anything stored is read: is each reading's meter known, this gateway's, signed as required? */
export function checkAgainstRegistry(parsed: ParsedReading[], gatewayId: string, meters: Map<string, MeterRow>, policy: Pick<AcceptPolicy, 'requireSigned'>): void {
  for (const r of parsed) {
    const f = (k: string) => at(r.path, k);
    const m = meters.get(r.meterId);
    if (!m || m.disabledAt) throw new UnknownMeter(r.meterId, f('meter_id'), !!m);
    if (m.gatewayId !== gatewayId) throw new MeterNotYours(r.meterId, f('meter_id'));
    const want = m.kind === 'interval' ? 'kwh_amount' : 'register_kwh';
    if (r.amount.field !== want) throw new Refused('WRONG_AMOUNT_FIELD', `meter ${r.meterId} is a ${m.kind} meter: send ${want}, not ${r.amount.field}`, f(r.amount.field));
    if (r.readingTimestamp.getTime() < m.activeFrom.getTime()) {
      throw new Refused('TIMESTAMP_OUT_OF_RANGE', `${f('reading_timestamp')} is before the meter's active_from (${m.activeFrom.toISOString()})`, f('reading_timestamp'));
    }
    if (r.claimed.userId !== undefined && r.claimed.userId !== m.userId) throw new WalletMismatch(`${f('user_id')} is not the owner the registry holds for meter ${r.meterId}`, f('user_id'));
    if (r.claimed.walletAddress !== undefined && r.claimed.walletAddress !== m.walletAddress) {
      throw new WalletMismatch(`${f('wallet_address')} is not the wallet the registry holds for meter ${r.meterId} (it need not be sent)`, f('wallet_address'));
    }
    if (m.publicKey || policy.requireSigned) {
      if (!m.publicKey) throw new BadSignature(`meter ${r.meterId} has no public_key registered, and REQUIRE_SIGNED_READINGS is on`, f('signature'));
      if (!r.signature) throw new BadSignature(`meter ${r.meterId} signs its readings: signature is required`, f('signature'));
      const key = ed25519Key(m.publicKey);
      if (!key || !verify(null, signedMessage(r.meterId, r.readingTimestamp, r.amount.value), key, r.signature)) {
        throw new BadSignature(`${f('signature')} does not verify with meter ${r.meterId}'s public_key`, f('signature'));
      }
    }
  }
}

/**
 * Stage two: the request's readings against the accepted readings around them, per meter in timestamp
 * order (each reading sees the request's earlier ones as accepted). `neighbours` must hold, for every
 * reading, the meter's accepted reading at the same instant and the nearest before and after it.
 */
export function decide(parsed: ParsedReading[], gatewayId: string, meters: Map<string, MeterRow>, neighbours: Neighbour[], policy: AcceptPolicy): Decision {
  const tolerance = parseDecimal(policy.tolerance);
  const results: Decision['results'] = new Array(parsed.length);
  const rows: NewRow[] = [];
  const registers = new Map<string, { kwh: string; at: Date }>();
  // Each meter's accepted readings known here, by time; the request's own join them as they are accepted.
  const timelines = new Map<string, Map<number, Neighbour>>();
  for (const n of neighbours) {
    const t = timelines.get(n.meterId) ?? new Map<number, Neighbour>();
    t.set(n.at, n);
    timelines.set(n.meterId, t);
  }
  const order = parsed.map((r, i) => ({ r, i })).sort((a, b) => (a.r.meterId < b.r.meterId ? -1 : a.r.meterId > b.r.meterId ? 1 : a.r.readingTimestamp.getTime() - b.r.readingTimestamp.getTime() || a.i - b.i));

  for (const { r, i } of order) {
    const m = meters.get(r.meterId)!;
    const f = (k: string) => at(r.path, k);
    const amountField = f(r.amount.field);
    const ts = r.readingTimestamp.getTime();
    const timeline = timelines.get(r.meterId) ?? new Map<number, Neighbour>();
    timelines.set(r.meterId, timeline);
    const maxKw = parseDecimal(m.maxKw);
    // The identity of energy: the same instant again is a duplicate with the same amount, else a conflict.
    const same = timeline.get(ts);
    if (same) {
      const stored = m.kind === 'interval' ? same.kwhAmount : same.registerKwh;
      // A GridTokenX reading's content is also its signed net (a consumption reading's energy is 0 whatever it consumed).
      const sameNet = r.netKwh === undefined || same.netKwh === undefined || same.netKwh === null || same.netKwh === r.netKwh;
      if (stored !== null && compareDecimal(parseDecimal(stored), r.amount.value) === 0 && sameNet) {
        results[i] = { readingId: same.id, clientReadingId: same.clientReadingId, status: same.status, duplicate: true };
        continue;
      }
      const was = same.netKwh && r.netKwh !== undefined ? `kwh ${same.netKwh}` : `${r.amount.field} ${stored === null ? '(none)' : formatDecimal(parseDecimal(stored))}`;
      throw new ConflictingReading(`meter ${r.meterId} at ${iso(ts)} was already accepted with ${was}`, amountField);
    }

    let energy: Decimal;
    if (m.kind === 'interval') {
      energy = r.amount.value;
      const times = [...timeline.keys()];
      const prev = Math.max(m.activeFrom.getTime(), ...times.filter((t) => t < ts));
      const later = times.filter((t) => t > ts);
      const intervalMs = m.intervalMinutes! * 60_000;
      const mine = bound(maxKw, Math.min(ts - prev, intervalMs), tolerance);
      if (!fits(energy, mine)) {
        throw new ImplausibleEnergy(
          `${amountField} ${formatDecimal(energy)} kWh is more than meter ${r.meterId} can produce since ${iso(prev)} (at most ${boundText(mine)} kWh: max_kw ${formatDecimal(maxKw)} × min(time since, interval_minutes) × (1 + ${policy.tolerance}))`,
          amountField,
        );
      }
      if (later.length) {
        const next = timeline.get(Math.min(...later))!;
        const theirs = bound(maxKw, Math.min(next.at - ts, intervalMs), tolerance);
        if (!fits(parseDecimal(next.kwhAmount), theirs)) {
          throw new ImplausibleEnergy(
            `${f('reading_timestamp')}: a reading at ${iso(ts)} would leave the accepted reading at ${iso(next.at)} (${formatDecimal(parseDecimal(next.kwhAmount))} kWh) above its bound of ${boundText(theirs)} kWh`,
            f('reading_timestamp'),
          );
        }
      }
    } else {
      const last = registers.get(r.meterId) ?? { kwh: m.lastRegisterKwh!, at: m.lastRegisterAt! };
      if (ts <= last.at.getTime()) {
        throw new StaleReading(`meter ${r.meterId}'s latest accepted register is at ${last.at.toISOString()}; a reading at ${iso(ts)} is covered by it`, f('reading_timestamp'));
      }
      const lastKwh = parseDecimal(last.kwh);
      if (compareDecimal(r.amount.value, lastKwh) < 0) {
        throw new RegisterWentBack(
          `${amountField} ${formatDecimal(r.amount.value)} is below meter ${r.meterId}'s latest register ${formatDecimal(lastKwh)} (at ${last.at.toISOString()}); after a meter exchange or reset the operator records a new register_baseline`,
          amountField,
        );
      }
      energy = subtractDecimal(r.amount.value, lastKwh);
      const mine = bound(maxKw, ts - last.at.getTime(), tolerance);
      if (!fits(energy, mine)) {
        throw new ImplausibleEnergy(
          `${amountField}: a delta of ${formatDecimal(energy)} kWh since ${last.at.toISOString()} is more than meter ${r.meterId} can produce (at most ${boundText(mine)} kWh: max_kw × hours × (1 + ${policy.tolerance}))`,
          amountField,
        );
      }
      registers.set(r.meterId, { kwh: formatDecimal(r.amount.value), at: r.readingTimestamp });
    }

    const tokens = tokensOf(energy, policy.rate, r.amount.field);
    if (tokens > policy.maxTokensPerReading) {
      throw new Refused(
        'READING_TOO_LARGE',
        `${amountField}: ${formatDecimal(energy)} kWh is more than one transaction can mint (${policy.maxTokensPerReading} base units); the operator records a new register_baseline`,
        amountField,
      );
    }
    const row: NewRow = {
      id: readingIdOf(r.meterId, r.readingTimestamp),
      meterId: r.meterId,
      // The registry's owner and wallet at acceptance: a later change to the meter does not move this reading.
      userId: m.userId,
      walletAddress: m.walletAddress,
      kwhAmount: formatDecimal(energy),
      tokensToMint: tokens,
      readingTimestamp: r.readingTimestamp,
      gatewayId,
      clientReadingId: r.clientReadingId,
      registerKwh: r.amount.field === 'register_kwh' ? formatDecimal(r.amount.value) : null,
      status: energy.digits === 0n ? 'recorded' : 'pending',
      telemetry: r.telemetry ?? null,
    };
    rows.push(row);
    timeline.set(ts, { ...row, at: ts, netKwh: r.netKwh ?? null });
    const { id, status } = row;
    results[i] = { readingId: id, clientReadingId: r.clientReadingId, status, duplicate: false };
  }
  return { rows, results, registers: [...registers].map(([meterId, v]) => ({ meterId, ...v })) };
}
