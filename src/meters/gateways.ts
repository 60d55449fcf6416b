// Gateway keys: made here, shown once, stored only as hashes.
import { createHash, randomBytes } from 'node:crypto';
import type { EnvGateway } from '../config.js';
import type { Db } from '../db/client.js';
import { syncEnvGateways } from './repo.js';

/** Keys start with this, so a leaked one is recognisable (secret scanners, logs). */
export const GATEWAY_KEY_PREFIX = 'egk_';

/** 32 random bytes, base64url: 256 bits of entropy. */
export const newGatewayKey = (): string => `${GATEWAY_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;

/**
 * SHA-256, hex. A slow password hash (scrypt, bcrypt) protects guessable secrets; a key with 256 random
 * bits cannot be guessed from its hash at any hashing speed, and a fast hash lets every request look its
 * key up by index. Keys from GATEWAY_API_KEYS are the operator's own choice and live in the environment.
 */
export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** GATEWAY_API_KEYS → the registry's `env` gateways (at start). */
export const syncGatewaysFromEnv = (db: Db, list: EnvGateway[]) => syncEnvGateways(db, list.map((g) => ({ gatewayId: g.gatewayId, keyHash: hashKey(g.key) })));
