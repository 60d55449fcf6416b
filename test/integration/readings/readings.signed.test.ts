// Signed readings: a meter with a public_key must sign every reading (ed25519 over
// `energy-token-reading:v1\n<meter_id>\n<timestamp>\n<amount>`); missing, from another key, or over other
// content is 422 BAD_SIGNATURE. REQUIRE_SIGNED_READINGS asks it of every meter. The README's worked example
// and scripts/sign-reading.ts agree with the service. Postgres and PGlite.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import bs58 from 'bs58';
import { REPO_ROOT } from '../../../anchor-localnet/paths.js';
import { parseDecimal } from '../../../src/minting/amounts.js';
import { signedMessage } from '../../../src/readings/parseReadings.js';
import { DATABASES } from '../../support/db.js';
import { client, registerMeters, registryApp, type Request, useRegistry } from '../../support/meters.js';

const meterKey = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey: bs58.encode(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url')) };
};
const signer = meterKey();
const stranger = meterKey();
const T0 = Date.UTC(2026, 9, 1);
let seq = 0;

/** The README's worked example, read from the README itself. */
function readmeExample() {
  const text = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const pick = (re: RegExp) => {
    const m = re.exec(text);
    if (!m) throw new Error(`the README has no ${re}`);
    return m;
  };
  const [, meterId, timestamp, amount] = pick(/reading: meter `([^`]+)`, reading_timestamp `([^`]+)`, kwh_amount `([^`]+)`/);
  return {
    keyFile: pick(/key file: `(\[[\d,]+\])`/)[1]!,
    publicKey: pick(/public_key: `([1-9A-HJ-NP-Za-km-z]+)`/)[1]!,
    meterId: meterId!,
    timestamp: timestamp!,
    amount: amount!,
    message: pick(/message \(UTF-8[^)]*\): `([^`]+)`/)[1]!,
    signature: pick(/signature: `([1-9A-HJ-NP-Za-km-z]+)`/)[1]!,
  };
}

describe.each(DATABASES)('on %s', (kind, open) => {
  let strict: Request;
  const fx = useRegistry(kind, open, async (f) => {
    ({ request: strict } = await registryApp(f.t!.database, { requireSigned: true }));
    const example = readmeExample();
    await registerMeters(f.request, 'op', [
      { meter_id: 'signed', public_key: signer.publicKey },
      { meter_id: 'unsigned' },
      { meter_id: example.meterId, public_key: example.publicKey, active_from: '2026-11-01T00:00:00.000Z' },
    ]);
  });
  const request: Request = (path, init) => fx.request(path, init);
  const next = () => new Date(T0 + ++seq * 3_600_000);
  const signed = (over: Record<string, unknown> = {}, key = signer.privateKey) => {
    const at = next();
    const signature = bs58.encode(sign(null, signedMessage('signed', at, parseDecimal('2.5')), key));
    return { meter_id: 'signed', reading_timestamp: at.toISOString(), kwh_amount: '2.50', signature, ...over };
  };
  const post = (body: unknown, via = request) => client(via).post('gw-key')('/readings', body);
  const refused = async (res: Response) => ({ status: res.status, ...(((await res.json()) as any).error ?? {}) });
  const ready = fx.ready;

  it('a reading signed by its meter is accepted (the amount signed in its plain form: 2.50 as 2.5)', async () => {
    if (!ready()) return;
    expect((await post(signed())).status).toBe(202);
  });

  it.each([
    ['missing', () => signed({ signature: undefined })],
    ['from another key', () => signed({}, stranger.privateKey)],
    ['over another amount', () => signed({ kwh_amount: '2.6' })],
    ['over another time', () => ({ ...signed(), reading_timestamp: next().toISOString() })],
  ])('a signature %s is 422 BAD_SIGNATURE naming it, and nothing is stored', async (_what, body) => {
    if (!ready()) return;
    expect(await refused(await post({ readings: [signed(), body()] }))).toMatchObject({ status: 422, code: 'BAD_SIGNATURE', field: 'readings[1].signature' });
  });

  it('REQUIRE_SIGNED_READINGS refuses every reading of a meter without a public_key', async () => {
    if (!ready()) return;
    const plain = { meter_id: 'unsigned', reading_timestamp: next().toISOString(), kwh_amount: '1' };
    expect((await post(plain)).status).toBe(202);
    const res = await refused(await post({ ...plain, reading_timestamp: next().toISOString() }, strict));
    expect(res).toMatchObject({ status: 422, code: 'BAD_SIGNATURE', field: 'signature' });
    expect(res.message).toMatch(/no public_key registered/);
    expect((await post(signed(), strict)).status).toBe(202);
  });

  it("the README's worked example: its message is the service's, sign-reading prints its signature, and the service takes it", async () => {
    if (!ready()) return;
    const ex = readmeExample();
    expect(signedMessage(ex.meterId, new Date(ex.timestamp), parseDecimal(ex.amount)).toString('utf8')).toBe(ex.message.replace(/\\n/g, '\n'));
    const dir = mkdtempSync(join(tmpdir(), 'sign-'));
    writeFileSync(join(dir, 'key.json'), ex.keyFile);
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/sign-reading.ts', '--key', join(dir, 'key.json'), '--meter', ex.meterId, '--timestamp', ex.timestamp, '--amount', ex.amount], { cwd: REPO_ROOT });
    expect(stdout.trim()).toBe(ex.signature);
    const res = await post({ meter_id: ex.meterId, reading_timestamp: ex.timestamp, kwh_amount: ex.amount, signature: ex.signature });
    expect(res.status).toBe(202);
  });
});
