// Gateways and meters in Postgres: keys by hash, the registry, its change log, and the per-meter totals.
import { randomUUID } from 'node:crypto';
import { and, asc, eq, gt, inArray, isNull, notInArray, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { textArray } from '../db/arrays.js';
import { gatewayKeys, gateways, meterChanges, meters, mintWindows, readings } from '../db/schema.js';
import { AppError, ConfigError, ManyErrors, StateConflict } from '../errors.js';

export type GatewayRow = typeof gateways.$inferSelect;
export type MeterRow = typeof meters.$inferSelect;
export type MeterValues = typeof meters.$inferInsert;

// ---- gateways -----------------------------------------------------------------------------------

/** The enabled gateway a key hash belongs to, if the key is current (not past its rotation grace). */
export async function gatewayOfKey(db: Db, keyHash: string): Promise<string | null> {
  const [row] = await db
    .select({ gatewayId: gateways.gatewayId })
    .from(gatewayKeys)
    .innerJoin(gateways, eq(gateways.gatewayId, gatewayKeys.gatewayId))
    .where(and(eq(gatewayKeys.keyHash, keyHash), isNull(gateways.disabledAt), or(isNull(gatewayKeys.expiresAt), gt(gatewayKeys.expiresAt, sql`now()`))));
  return row?.gatewayId ?? null;
}

/** A new gateway with its first key; false when the id is taken. */
export async function createGateway(db: Db, gatewayId: string, keyHash: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const made = await tx.insert(gateways).values({ gatewayId, source: 'api' }).onConflictDoNothing().returning({ id: gateways.gatewayId });
    if (made.length === 0) return false;
    await tx.insert(gatewayKeys).values({ keyHash, gatewayId });
    return true;
  });
}

export interface GatewayListing extends GatewayRow {
  keys: { createdAt: Date; expiresAt: Date | null }[];
  meters: number;
}

export async function listGateways(db: Db): Promise<GatewayListing[]> {
  const rows = await db.select().from(gateways).orderBy(asc(gateways.gatewayId));
  const keys = await db
    .select({ gatewayId: gatewayKeys.gatewayId, createdAt: gatewayKeys.createdAt, expiresAt: gatewayKeys.expiresAt })
    .from(gatewayKeys)
    .where(or(isNull(gatewayKeys.expiresAt), gt(gatewayKeys.expiresAt, sql`now()`)))
    .orderBy(asc(gatewayKeys.createdAt));
  const counts = await db.select({ gatewayId: meters.gatewayId, n: sql<number>`count(*)::int` }).from(meters).groupBy(meters.gatewayId);
  return rows.map((g) => ({
    ...g,
    keys: keys.filter((k) => k.gatewayId === g.gatewayId).map(({ createdAt, expiresAt }) => ({ createdAt, expiresAt })),
    meters: Number(counts.find((c) => c.gatewayId === g.gatewayId)?.n ?? 0),
  }));
}

/** The gateway, locked, and refused when the environment manages it or it is disabled. */
async function manageable(tx: Db, gatewayId: string): Promise<GatewayRow | null> {
  const [g] = await tx.select().from(gateways).where(eq(gateways.gatewayId, gatewayId)).for('update');
  if (!g) return null;
  if (g.source === 'env') throw new StateConflict('GATEWAY_MANAGED_BY_ENVIRONMENT', `gateway ${gatewayId} comes from GATEWAY_API_KEYS: change it there`, 'gateway_id');
  return g;
}

/**
 * A new key; the current ones keep working for `graceSeconds` (0: they stop at once). Answers when the
 * old keys stop, or null when there is no such gateway.
 */
export async function rotateGatewayKey(db: Db, gatewayId: string, keyHash: string, graceSeconds: number): Promise<{ oldKeysExpireAt: Date | null } | null> {
  return db.transaction(async (t) => {
    const tx = t as unknown as Db;
    const g = await manageable(tx, gatewayId);
    if (!g) return null;
    if (g.disabledAt) throw new StateConflict('GATEWAY_DISABLED', `gateway ${gatewayId} is disabled`, 'gateway_id');
    // A key already expiring sooner keeps its earlier end.
    const ending = await tx
      .update(gatewayKeys)
      .set({ expiresAt: sql`least(coalesce(${gatewayKeys.expiresAt}, 'infinity'), now() + ${graceSeconds} * interval '1 second')` })
      .where(and(eq(gatewayKeys.gatewayId, gatewayId), or(isNull(gatewayKeys.expiresAt), gt(gatewayKeys.expiresAt, sql`now()`))))
      .returning({ expiresAt: gatewayKeys.expiresAt });
    await tx.insert(gatewayKeys).values({ keyHash, gatewayId });
    const last = ending.map((k) => k.expiresAt!.getTime()).sort((a, b) => b - a)[0];
    return { oldKeysExpireAt: last === undefined ? null : new Date(last) };
  });
}

/** Disable a gateway: its keys get 401 from now on; its meters stay registered. Null when there is none. */
export async function disableGateway(db: Db, gatewayId: string): Promise<GatewayRow | null> {
  return db.transaction(async (t) => {
    const tx = t as unknown as Db;
    const g = await manageable(tx, gatewayId);
    if (!g || g.disabledAt) return g;
    const [row] = await tx.update(gateways).set({ disabledAt: sql`now()` }).where(eq(gateways.gatewayId, gatewayId)).returning();
    return row!;
  });
}

/**
 * Make the registry's `env` gateways exactly those of GATEWAY_API_KEYS: each listed one enabled with
 * only its listed key; env gateways no longer listed are disabled and lose their keys. Idempotent, so
 * processes starting together with the same environment agree.
 */
export async function syncEnvGateways(db: Db, list: { gatewayId: string; keyHash: string }[]): Promise<void> {
  await db.transaction(async (tx) => {
    const ids = list.map((g) => g.gatewayId);
    const clash = ids.length ? await tx.select({ id: gateways.gatewayId }).from(gateways).where(and(inArray(gateways.gatewayId, ids), eq(gateways.source, 'api'))) : [];
    if (clash.length) throw new ConfigError(`GATEWAY_API_KEYS names gateway ${clash[0]!.id}, which was created through the API; pick another name`);
    if (list.length) {
      await tx
        .insert(gateways)
        .values(list.map((g) => ({ gatewayId: g.gatewayId, source: 'env' as const })))
        .onConflictDoUpdate({ target: gateways.gatewayId, set: { disabledAt: null } });
      await tx.insert(gatewayKeys).values(list.map((g) => ({ keyHash: g.keyHash, gatewayId: g.gatewayId }))).onConflictDoNothing();
    }
    const envGateways = tx.select({ id: gateways.gatewayId }).from(gateways).where(eq(gateways.source, 'env'));
    const hashes = list.map((g) => g.keyHash);
    await tx.delete(gatewayKeys).where(and(inArray(gatewayKeys.gatewayId, envGateways), hashes.length ? notInArray(gatewayKeys.keyHash, hashes) : undefined));
    await tx
      .update(gateways)
      .set({ disabledAt: sql`now()` })
      .where(and(eq(gateways.source, 'env'), isNull(gateways.disabledAt), ids.length ? notInArray(gateways.gatewayId, ids) : undefined));
    const owned = hashes.length ? await tx.select().from(gatewayKeys).where(inArray(gatewayKeys.keyHash, hashes)) : [];
    for (const g of list) {
      if (owned.find((k) => k.keyHash === g.keyHash)?.gatewayId !== g.gatewayId) throw new ConfigError(`GATEWAY_API_KEYS: the key of ${g.gatewayId} belongs to another gateway`);
    }
  });
}

export async function gatewayExists(db: Db, gatewayIds: string[]): Promise<Set<string>> {
  if (gatewayIds.length === 0) return new Set();
  const rows = await db.select({ id: gateways.gatewayId }).from(gateways).where(inArray(gateways.gatewayId, gatewayIds));
  return new Set(rows.map((r) => r.id));
}

// ---- meters -------------------------------------------------------------------------------------

/**
 * Lock the given meters' rows, in meter_id order, until the transaction ends.
 *
 * Why this is safe: every request that checks or changes a meter's readings (or the meter) takes these
 * row locks first, in one statement, in sorted order. Two requests touching the same meters therefore
 * run their checks and writes one after the other (no overfilling together), and since every request
 * acquires its locks in the same order, none waits on another that waits on it (no deadlock).
 */
export async function lockMeters(tx: Db, meterIds: string[]): Promise<MeterRow[]> {
  if (meterIds.length === 0) return [];
  return tx.select().from(meters).where(sql`${meters.meterId} = any(${textArray(meterIds)})`).orderBy(asc(meters.meterId)).for('update');
}

export async function getMeter(db: Db, meterId: string): Promise<MeterRow | null> {
  const [row] = await db.select().from(meters).where(eq(meters.meterId, meterId));
  return row ?? null;
}

export async function anyMeter(db: Db): Promise<boolean> {
  return (await db.select({ id: meters.meterId }).from(meters).limit(1)).length > 0;
}

export async function listMeters(db: Db, f: { gatewayId?: string; after?: string; limit: number }): Promise<MeterRow[]> {
  return db
    .select()
    .from(meters)
    .where(and(f.gatewayId !== undefined ? eq(meters.gatewayId, f.gatewayId) : undefined, f.after !== undefined ? gt(meters.meterId, f.after) : undefined))
    .orderBy(asc(meters.meterId))
    .limit(f.limit);
}

/**
 * Create or change meters, all or none: `merge` turns each locked existing row (or null) and its input
 * into the full row to store, or throws; a row naming a gateway that does not exist is refused through
 * `unknownGateway`. Constant statements per request: lock, gateways, upsert, change log.
 */
export async function putMeters<P>(
  db: Db,
  actor: string,
  inputs: { meterId: string; patch: P }[],
  merge: (existing: MeterRow | null, patch: P, index: number) => MeterValues,
  unknownGateway: (index: number, gatewayId: string) => AppError,
): Promise<{ row: MeterRow; created: boolean }[]> {
  return db.transaction(async (t) => {
    const tx = t as unknown as Db;
    const existing = new Map((await lockMeters(tx, inputs.map((i) => i.meterId))).map((m) => [m.meterId, m]));
    // Every item is checked before any is refused, so a bulk import names each bad line at once (ManyErrors).
    const refused: AppError[] = [];
    const merged = inputs.map((i, n) => {
      try {
        return merge(existing.get(i.meterId) ?? null, i.patch, n);
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        refused.push(e);
        return null;
      }
    });
    const known = await gatewayExists(tx, [...new Set(merged.flatMap((m) => (m ? [m.gatewayId] : [])))]);
    merged.forEach((m, n) => {
      if (m && !known.has(m.gatewayId)) refused.push(unknownGateway(n, m.gatewayId));
    });
    // Where an entry's fields are named in errors ('' for one meter, `[i].` in a list), as its gateway_id is.
    const fieldOf = (n: number) => `${unknownGateway(n, '').field?.replace(/gateway_id$/, '') ?? `[${n}].`}generation_meter_id`;
    await checkGenerationMeterIds(tx, merged, existing, refused, fieldOf);
    if (refused.length === 1) throw refused[0];
    if (refused.length > 1) throw new ManyErrors(refused);
    const rows = merged.map((m) => ({ ...m!, updatedAt: sql`now()` }));
    const stored = await tx
      .insert(meters)
      .values(rows)
      .onConflictDoUpdate({
        target: meters.meterId,
        set: Object.fromEntries(
          (['gatewayId', 'userId', 'walletAddress', 'intervalMinutes', 'maxKw', 'activeFrom', 'publicKey', 'registerBaselineKwh', 'registerBaselineAt', 'lastRegisterKwh', 'lastRegisterAt', 'generationMeterId', 'updatedAt'] as const).map((k) => [
            k,
            sql.raw(`excluded.${meters[k].name}`),
          ]),
        ),
      })
      .returning();
    const byId = new Map(stored.map((r) => [r.meterId, r]));
    await tx.insert(meterChanges).values(
      inputs.map((i) => ({ id: randomUUID(), meterId: i.meterId, actor, oldValues: existing.get(i.meterId) ?? null, newValues: byId.get(i.meterId)! })),
    );
    return inputs.map((i) => ({ row: byId.get(i.meterId)!, created: !existing.has(i.meterId) }));
  });
}

/**
 * mint_generation's 16 bytes: never two meters' (each would find the other's windows minted), and fixed once a
 * window of the meter was frozen under them (a new value would make its windows mintable again under new records).
 * The unique index is the last word; this names the entry that breaks it. Runs under the meters' locks.
 */
async function checkGenerationMeterIds(tx: Db, merged: (MeterValues | null)[], existing: Map<string, MeterRow>, refused: AppError[], fieldOf: (n: number) => string): Promise<void> {
  const wanted = merged.flatMap((m, n) => (m?.generationMeterId ? [{ n, meterId: m.meterId, id: m.generationMeterId }] : []));
  if (wanted.length === 0) return;
  const seen = new Map<string, string>();
  for (const w of wanted) {
    const other = seen.get(w.id);
    if (other !== undefined && other !== w.meterId) refused.push(new StateConflict('GENERATION_METER_ID_TAKEN', `generation_meter_id ${w.id} is given to meters ${other} and ${w.meterId}: each meter needs its own`, fieldOf(w.n)));
    seen.set(w.id, w.meterId);
  }
  const holders = await tx
    .select({ meterId: meters.meterId, id: meters.generationMeterId })
    .from(meters)
    .where(sql`${meters.generationMeterId} = any(${textArray(wanted.map((w) => w.id))})`);
  for (const h of holders) {
    const w = wanted.find((x) => x.id === h.id && x.meterId !== h.meterId);
    if (w) refused.push(new StateConflict('GENERATION_METER_ID_TAKEN', `generation_meter_id ${w.id} belongs to meter ${h.meterId}: two meters never share it`, fieldOf(w.n)));
  }
  const changed = wanted.filter((w) => {
    const before = existing.get(w.meterId)?.generationMeterId;
    return before && before !== w.id;
  });
  if (changed.length === 0) return;
  const frozen = await tx
    .selectDistinct({ meterId: mintWindows.meterId })
    .from(mintWindows)
    .where(sql`${mintWindows.meterId} = any(${textArray(changed.map((w) => w.meterId))})`);
  for (const f of frozen) {
    const w = changed.find((x) => x.meterId === f.meterId)!;
    refused.push(new StateConflict('GENERATION_METER_ID_FIXED', `meter ${w.meterId} has windows minted under generation_meter_id ${existing.get(w.meterId)!.generationMeterId}: it cannot change`, fieldOf(w.n)));
  }
}

/** Meters stored before generation_meter_id existed get theirs derived (at start; a few rows, once). */
export async function fillGenerationMeterIds(db: Db, derive: (meterId: string) => string): Promise<number> {
  const missing = await db.select({ meterId: meters.meterId }).from(meters).where(isNull(meters.generationMeterId));
  for (const m of missing) {
    await db.update(meters).set({ generationMeterId: derive(m.meterId) }).where(and(eq(meters.meterId, m.meterId), isNull(meters.generationMeterId)));
  }
  return missing.length;
}

/** Disable a meter (its readings are refused from now on); null when there is none. */
export async function disableMeter(db: Db, actor: string, meterId: string): Promise<MeterRow | null> {
  return db.transaction(async (t) => {
    const tx = t as unknown as Db;
    const [old] = await lockMeters(tx, [meterId]);
    if (!old || old.disabledAt) return old ?? null;
    const [row] = await tx.update(meters).set({ disabledAt: sql`now()`, updatedAt: sql`now()` }).where(eq(meters.meterId, meterId)).returning();
    await tx.insert(meterChanges).values({ id: randomUUID(), meterId, actor, oldValues: old, newValues: row! });
    return row!;
  });
}

export async function meterChangesOf(db: Db, meterId: string) {
  return db.select().from(meterChanges).where(eq(meterChanges.meterId, meterId)).orderBy(asc(meterChanges.changedAt), asc(meterChanges.id));
}

export interface MeterTotals {
  readingsAccepted: number;
  kwhAccepted: string;
  tokensMinted: string;
  pending: number;
}

/** What a meter has delivered: accepted readings and their energy, tokens minted, readings still in the queue. */
export async function meterTotals(db: Db, meterId: string): Promise<MeterTotals> {
  const [row] = await db
    .select({
      accepted: sql<number>`count(*)::int`,
      kwh: sql<string>`coalesce(sum(${readings.kwhAmount}), 0)::text`,
      minted: sql<string>`coalesce(sum(${readings.tokensToMint}) filter (where ${readings.status} = 'completed'), 0)::text`,
      pending: sql<number>`(count(*) filter (where ${readings.status} in ('pending', 'processing')))::int`,
    })
    .from(readings)
    .where(and(eq(readings.meterId, meterId), isNull(readings.duplicateOf)));
  return { readingsAccepted: Number(row!.accepted), kwhAccepted: row!.kwh, tokensMinted: row!.minted, pending: Number(row!.pending) };
}
