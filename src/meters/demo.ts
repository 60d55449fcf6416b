// The demo set `npm start` registers on embedded defaults with the development credentials, when no
// meter exists: meters of each kind on the `demo` gateway, with generated wallets, active from 24 h ago.
import { generateKeyPairSync } from 'node:crypto';
import bs58 from 'bs58';
import { DEV_GATEWAY_ID } from '../config.js';
import type { Db } from '../db/client.js';
import { ConfigError } from '../errors.js';
import { mergeMeter, type MeterPatch } from './registry.js';
import { anyMeter, putMeters } from './repo.js';

/** A fresh ed25519 public key in base58: a wallet nobody needs the key of to receive tokens. */
const newWallet = () => {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  return bs58.encode(Buffer.from(jwk.x!, 'base64url'));
};

export interface DemoSet {
  meterIds: string[];
  /** A ready curl posting a reading of the first interval meter, timestamped when it is printed. */
  curl(apiUrl: string, devKey: string, now?: Date): string;
}

export async function registerDemoSet(db: Db, now = Date.now()): Promise<DemoSet | null> {
  if (await anyMeter(db)) return null;
  const activeFrom = new Date(now - 24 * 3_600_000);
  const base = { gatewayId: DEV_GATEWAY_ID, maxKw: '10', activeFrom };
  const demo: [string, MeterPatch][] = [
    ['demo-interval-1', { ...base, kind: 'interval', intervalMinutes: 15 }],
    ['demo-interval-2', { ...base, kind: 'interval', intervalMinutes: 15 }],
    ['demo-register-1', { ...base, kind: 'register', registerBaseline: { kwh: '1000', at: activeFrom } }],
    ['demo-register-2', { ...base, kind: 'register', registerBaseline: { kwh: '1000', at: activeFrom } }],
  ];
  const inputs = demo.map(([meterId, p], i) => ({ meterId, patch: { ...p, userId: `demo-user-${i + 1}`, walletAddress: newWallet() } }));
  await putMeters(db, 'demo', inputs, (existing, p, i) => mergeMeter(inputs[i]!.meterId, existing, p, ''), (_i, g) => new ConfigError(`demo gateway ${g} is missing`));
  return {
    meterIds: inputs.map((i) => i.meterId),
    curl: (apiUrl, devKey, at = new Date()) =>
      `curl -s -X POST ${apiUrl}/readings -H 'authorization: Bearer ${devKey}' -H 'content-type: application/json' ` +
      `-d '{"meter_id":"demo-interval-1","reading_timestamp":"${at.toISOString()}","kwh_amount":"1.5"}'`,
  };
}
