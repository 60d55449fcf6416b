// Operator routes of the registry: gateways (create, list, rotate a key, disable) and meters (register or
// change, list, one with its totals, disable). A gateway may read the meters it serves, nothing else.
import { Hono } from 'hono';
import { GATEWAY_ID } from '../config.js';
import type { Db } from '../db/client.js';
import { AppError, ManyErrors, NotFound, PayloadTooLarge, Refused, StateConflict, ValidationError } from '../errors.js';
import { actorOf, type Auth, gatewayScope } from '../http/auth.js';
import { jsonBody, limitOf, pageCursor } from '../http/input.js';
import { MAX_ID_CHARS, quote, textField } from '../fields.js';
import type { Log } from '../log.js';
import type { Rate } from '../minting/amounts.js';
import { newGatewayKey, hashKey } from './gateways.js';
import { meterJson, mergeMeter, object, parseMeterPatch } from './registry.js';
import { createGateway, disableGateway, disableMeter, getMeter, listGateways, listMeters, meterTotals, putMeters, rotateGatewayKey } from './repo.js';

export interface MeterRoutesDeps {
  db: Db;
  rate: Rate;
  auth: Auth;
  /** Registry changes are logged with who made them (never a key). */
  log?: Log;
}

/** At most this many meters in one PUT /meters. */
export const MAX_METERS_PER_REQUEST = 1000;
const DEFAULT_GRACE_SECONDS = 86_400;
const meterCursor = pageCursor<string>((id) => (typeof id === 'string' && id.length <= MAX_ID_CHARS ? id : null));

const meterIdOf = (v: unknown, field: string): string => textField(v, field, MAX_ID_CHARS);

function gatewayIdOf(v: unknown, field: string): string {
  if (typeof v !== 'string' || !GATEWAY_ID.test(v)) throw new ValidationError(`${field} must be 1 to 64 letters, digits, '.', '_' or '-'`, field);
  return v;
}

export function meterRoutes(d: MeterRoutesDeps): Hono {
  const app = new Hono();
  const unknownGateway = (path: string) => (_i: number, gatewayId: string) =>
    new Refused('UNKNOWN_GATEWAY', `gateway ${gatewayId} does not exist (POST /gateways makes one)`, path ? `${path}.gateway_id` : 'gateway_id');

  app.put('/meters/:meter_id', d.auth('operator'), async (c) => {
    const meterId = meterIdOf(c.req.param('meter_id'), 'meter_id');
    const body = await jsonBody(c.req);
    const named = (body as { meter_id?: unknown } | null)?.meter_id;
    if (named !== undefined && named !== meterId) throw new ValidationError(`meter_id in the body (${quote(named)}) is not the meter of the path (${quote(meterId)})`, 'meter_id');
    const patch = parseMeterPatch(body, '', d.rate);
    const [r] = await putMeters(d.db, actorOf(c), [{ meterId, patch }], (existing, p) => mergeMeter(meterId, existing, p, ''), unknownGateway(''));
    d.log?.info({ meterId, actor: actorOf(c), created: r!.created, fields: Object.keys(patch) }, 'meter registered or changed');
    return c.json(meterJson(r!.row), r!.created ? 201 : 200);
  });

  app.put('/meters', d.auth('operator'), async (c) => {
    const body = await jsonBody(c.req);
    if (!Array.isArray(body)) throw new ValidationError('the body must be an array of meters, each with its meter_id', 'body');
    if (body.length === 0) throw new ValidationError('the body must not be empty', 'body');
    if (body.length > MAX_METERS_PER_REQUEST) throw new PayloadTooLarge(`at most ${MAX_METERS_PER_REQUEST} meters per request; got ${body.length}`);
    // Every item is parsed before any is refused: a bulk import's answer names each bad line (ManyErrors).
    const refused: AppError[] = [];
    const seen = new Set<string>();
    const inputs = body.flatMap((raw, i) => {
      try {
        const meterId = meterIdOf(object(raw, `[${i}]`).meter_id, `[${i}].meter_id`);
        const patch = parseMeterPatch(raw, `[${i}]`, d.rate);
        if (seen.has(meterId)) throw new ValidationError(`[${i}].meter_id repeats a meter of this request`, `[${i}].meter_id`);
        seen.add(meterId);
        return [{ meterId, patch }];
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        refused.push(e);
        return [];
      }
    });
    if (refused.length === 1) throw refused[0];
    if (refused.length > 1) throw new ManyErrors(refused);
    const results = await putMeters(d.db, actorOf(c), inputs, (existing, p, i) => mergeMeter(inputs[i]!.meterId, existing, p, `[${i}]`), (i, g) => unknownGateway(`[${i}]`)(i, g));
    d.log?.info({ actor: actorOf(c), meters: results.length, created: results.filter((r) => r.created).length }, 'meters registered or changed');
    return c.json({ meters: results.map((r) => ({ ...meterJson(r.row), created: r.created })) });
  });

  app.get('/meters', d.auth('operator', 'gateway'), async (c) => {
    const scope = gatewayScope(c);
    const asked = c.req.query('gateway');
    const limit = limitOf(c.req.query('limit'));
    const cursor = c.req.query('cursor');
    // A gateway sees the meters it serves; asking for another gateway's finds none.
    const gatewayId = scope ?? asked;
    const rows = scope !== undefined && asked !== undefined && asked !== scope ? [] : await listMeters(d.db, { gatewayId, after: cursor ? meterCursor.decode(cursor) : undefined, limit });
    return c.json({ meters: rows.map((m) => meterJson(m)), next_cursor: rows.length === limit ? meterCursor.encode(rows[rows.length - 1]!.meterId) : null });
  });

  app.get('/meters/:meter_id', d.auth('operator', 'gateway'), async (c) => {
    const meterId = meterIdOf(c.req.param('meter_id'), 'meter_id');
    const row = await getMeter(d.db, meterId);
    const scope = gatewayScope(c);
    if (!row || (scope !== undefined && row.gatewayId !== scope)) throw new NotFound(`meter ${meterId}`);
    return c.json(meterJson(row, await meterTotals(d.db, meterId)));
  });

  app.delete('/meters/:meter_id', d.auth('operator'), async (c) => {
    const meterId = meterIdOf(c.req.param('meter_id'), 'meter_id');
    const row = await disableMeter(d.db, actorOf(c), meterId);
    if (!row) throw new NotFound(`meter ${meterId}`);
    d.log?.info({ meterId, actor: actorOf(c) }, 'meter disabled');
    return c.json(meterJson(row));
  });

  return app;
}

export function gatewayRoutes(d: Omit<MeterRoutesDeps, 'rate'>): Hono {
  const app = new Hono();

  app.post('/gateways', d.auth('operator'), async (c) => {
    const body = object(await jsonBody(c.req), 'body');
    const gatewayId = gatewayIdOf(body.gateway_id, 'gateway_id');
    const key = newGatewayKey();
    if (!(await createGateway(d.db, gatewayId, hashKey(key)))) throw new StateConflict('GATEWAY_EXISTS', `gateway ${gatewayId} exists already`, 'gateway_id');
    d.log?.info({ gatewayId, actor: actorOf(c) }, 'gateway created');
    // The key is shown here once and never again: only its hash is stored.
    return c.json({ gateway_id: gatewayId, api_key: key }, 201);
  });

  app.get('/gateways', d.auth('operator'), async (c) => {
    const rows = await listGateways(d.db);
    return c.json({
      gateways: rows.map((g) => ({
        gateway_id: g.gatewayId,
        source: g.source,
        created_at: g.createdAt.toISOString(),
        disabled_at: g.disabledAt?.toISOString() ?? null,
        meters: g.meters,
        keys: g.keys.map((k) => ({ created_at: k.createdAt.toISOString(), expires_at: k.expiresAt?.toISOString() ?? null })),
      })),
    });
  });

  app.post('/gateways/:id/rotate', d.auth('operator'), async (c) => {
    const gatewayId = gatewayIdOf(c.req.param('id'), 'id');
    const body = object(await jsonBody(c.req, { optional: true }), 'body');
    const grace = body.grace_seconds ?? DEFAULT_GRACE_SECONDS;
    if (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0 || grace > 30 * 86_400) {
      throw new ValidationError('grace_seconds must be an integer from 0 to 2592000 (30 days)', 'grace_seconds');
    }
    const key = newGatewayKey();
    const rotated = await rotateGatewayKey(d.db, gatewayId, hashKey(key), grace);
    if (!rotated) throw new NotFound(`gateway ${gatewayId}`);
    d.log?.info({ gatewayId, actor: actorOf(c), graceSeconds: grace }, 'gateway key rotated');
    return c.json({ gateway_id: gatewayId, api_key: key, old_keys_expire_at: rotated.oldKeysExpireAt?.toISOString() ?? null }, 201);
  });

  app.delete('/gateways/:id', d.auth('operator'), async (c) => {
    const gatewayId = gatewayIdOf(c.req.param('id'), 'id');
    const row = await disableGateway(d.db, gatewayId);
    if (!row) throw new NotFound(`gateway ${gatewayId}`);
    d.log?.info({ gatewayId, actor: actorOf(c) }, 'gateway disabled');
    return c.json({ gateway_id: gatewayId, disabled_at: row.disabledAt!.toISOString() });
  });

  return app;
}
