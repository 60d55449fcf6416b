// A DATABASE_URL nobody answers at stops the start with one line that names the server (without its
// credentials) and why, and the variable to fix: not a failed migration statement and a stack trace.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { REPO_ROOT } from '../../../anchor-localnet/paths.js';
import { startLocalnet, type Localnet } from '../../../anchor-localnet/server.js';
import { privateAuthorityKey, privateRecValidatorKey } from '../../support/localnet.js';

/** A loopback port that was free a moment ago: nothing listens there. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

let net: Localnet;
beforeAll(async () => {
  net = await startLocalnet({ slotMs: 50 });
});
afterAll(() => net.stop());

it('a closed port: "cannot reach Postgres at postgres://127.0.0.1:<port>: connection refused (DATABASE_URL)", exit 1, no stack, no secret', async () => {
  const port = await closedPort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      DATABASE_URL: `postgres://minter:SECRET-PASSWORD@127.0.0.1:${port}/energy`,
      SOLANA_RPC_URL: net.url,
      SOLANA_WS_URL: net.wsUrl,
      AUTHORITY_KEYPAIR_PATH: privateAuthorityKey(),
      REC_VALIDATOR_KEYPAIR_PATH: privateRecValidatorKey(),
      GATEWAY_API_KEYS: 'g:g',
      OPERATOR_TOKEN: 'o',
    },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (err += String(d)));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  expect(code).toBe(1);
  expect(err.trim().split('\n')).toEqual([`cannot start: cannot reach Postgres at postgres://127.0.0.1:${port}: connection refused (DATABASE_URL)`]);
  expect(out + err).not.toContain('SECRET-PASSWORD');
  expect(out + err).not.toMatch(/\n\s+at /);
});
