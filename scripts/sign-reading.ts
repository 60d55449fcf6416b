// Sign a reading as a meter does: an ed25519 signature (base58) over the message the service verifies.
//
//   npx tsx scripts/sign-reading.ts --new-key meter-key.json            # a new key file; prints its public key
//   npx tsx scripts/sign-reading.ts --key meter-key.json --meter m1 \
//     --timestamp 2026-11-01T00:15:00.000Z --amount 2.5                  # prints the signature
//
// The key file is a Solana CLI JSON keypair (64 numbers: the 32-byte seed, then the public key).
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import bs58 from 'bs58';
import { decimal, instant } from '../src/meters/registry.js';
import { signedMessage } from '../src/readings/parseReadings.js';

const { values } = parseArgs({
  options: { key: { type: 'string' }, 'new-key': { type: 'string' }, meter: { type: 'string' }, timestamp: { type: 'string' }, amount: { type: 'string' }, message: { type: 'boolean' } },
});

/** The private key of a Solana CLI keypair file (seed first). */
function readKey(path: string) {
  const bytes = Uint8Array.from(JSON.parse(readFileSync(path, 'utf8')) as number[]);
  if (bytes.length !== 64) throw new Error(`${path} is not a 64-byte keypair file`);
  const pub = Buffer.from(bytes.subarray(32)).toString('base64url');
  return createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(bytes.subarray(0, 32)).toString('base64url'), x: pub }, format: 'jwk' });
}

const publicKeyOf = (k: ReturnType<typeof createPrivateKey>) => bs58.encode(Buffer.from(createPublicKey(k).export({ format: 'jwk' }).x!, 'base64url'));

try {
  if (values['new-key']) {
    const { privateKey } = generateKeyPairSync('ed25519');
    const jwk = privateKey.export({ format: 'jwk' });
    const bytes = [...Buffer.from(jwk.d!, 'base64url'), ...Buffer.from(jwk.x!, 'base64url')];
    writeFileSync(values['new-key'], JSON.stringify(bytes), { mode: 0o600 });
    process.stdout.write(`${publicKeyOf(privateKey)}\n`);
  } else {
    if (!values.key || !values.meter || !values.timestamp || values.amount === undefined) {
      throw new Error('usage: sign-reading --key <keypair.json> --meter <meter_id> --timestamp <ISO 8601> --amount <kWh> [--message]');
    }
    const at = instant(values.timestamp, '--timestamp');
    // The message carries the amount's plain form (2.50 → 2.5), as the service writes it.
    const amount = decimal(values.amount, '--amount');
    const message = signedMessage(values.meter, at, amount);
    if (values.message) process.stdout.write(`${JSON.stringify(message.toString('utf8'))}\n`);
    process.stdout.write(`${bs58.encode(sign(null, message, readKey(values.key)))}\n`);
  }
} catch (e) {
  process.stderr.write(`sign-reading: ${(e as Error).message}\n`);
  process.exit(2);
}
