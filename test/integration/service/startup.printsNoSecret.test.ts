// What `npm start` prints: the development credentials only in embedded mode with none set; with keys set,
// no key, token or development credential; one kind set without the other stops the start naming the
// missing variable; and the RPC URL (a provider's key in its path or query) as scheme, host and port only.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../anchor-localnet/paths.js';
import { startLocalnet, type Localnet } from '../../../anchor-localnet/server.js';
import { privateAuthorityKey, privateRecValidatorKey } from '../../support/localnet.js';

/** Run src/main.ts until it prints its API line (then stop it) or exits; its whole output. */
function run(env: Record<string, string>): Promise<{ out: string; code: number | null }> {
  const dir = mkdtempSync(join(tmpdir(), 'print-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, PORT: '0', LOG_LEVEL: 'warn', WORKER: 'off', LOCALNET_SLOT_MS: '50', PGLITE_DIR: join(dir, 'pg'), LOCALNET_LEDGER_DIR: join(dir, 'ledger'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`no start and no exit:\n${out}`))), 60_000);
    child.stderr!.on('data', (d) => (out += String(d)));
    child.stdout!.on('data', (d) => {
      out += String(d);
      // The last line main prints once ready (the worker is off; the database line follows the URLs).
      if (/Database: .*\n/.test(out)) setTimeout(() => child.kill('SIGTERM'), 200).unref();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ out, code });
    });
  });
}

let net: Localnet;
beforeAll(async () => {
  net = await startLocalnet({ slotMs: 50 });
}, 60_000);
afterAll(() => net?.stop());

it('embedded mode with nothing set prints the development credentials', async () => {
  const { out } = await run({});
  expect(out).toMatch(/Development credentials: gateway key "dev-gateway-key" \(gateway "demo"\), operator token "dev-operator-token"/);
}, 90_000);

it('embedded mode with both set prints no key, no token and no development credential', async () => {
  const { out } = await run({ GATEWAY_API_KEYS: 'north:GATEWAY-SECRET', OPERATOR_TOKENS: 'alice:OPERATOR-SECRET', METRICS_TOKEN: 'METRICS-SECRET' });
  expect(out).toMatch(/API: http:\/\/127\.0\.0\.1:\d+/);
  expect(out).toMatch(/Console: http:\/\/127\.0\.0\.1:\d+\/console /);
  expect(out).not.toMatch(/SECRET|Development credentials|dev-operator-token|dev-gateway-key/);
}, 90_000);

it.each([
  [{ GATEWAY_API_KEYS: 'north:GATEWAY-SECRET' }, /OPERATOR_TOKEN: is required when GATEWAY_API_KEYS is set/],
  [{ OPERATOR_TOKEN: 'OPERATOR-SECRET' }, /GATEWAY_API_KEYS: is required when OPERATOR_TOKEN or OPERATOR_TOKENS is set/],
])('embedded mode with one kind set (%j) refuses to start, naming the other', async (env, why) => {
  const { out, code } = await run(env);
  expect(code).toBe(1);
  expect(out).toMatch(why);
  expect(out).not.toMatch(/SECRET|Development credentials/);
}, 90_000);

it('a provider RPC URL is printed as scheme, host and port only', async () => {
  const { out, code } = await run({
    SOLANA_RPC_URL: `${net.url}/v2/RPC-SECRET?api-key=RPC-SECRET`,
    SOLANA_WS_URL: `${net.wsUrl}/?api-key=RPC-SECRET`,
    AUTHORITY_KEYPAIR_PATH: privateAuthorityKey(),
    REC_VALIDATOR_KEYPAIR_PATH: privateRecValidatorKey(),
    GATEWAY_API_KEYS: 'g:GATEWAY-SECRET',
    OPERATOR_TOKEN: 'OPERATOR-SECRET',
  });
  expect({ out, code }).toMatchObject({ out: expect.stringContaining(`Solana RPC: ${new URL(net.url).origin}\n`) });
  expect(out).not.toMatch(/SECRET/);
}, 90_000);
