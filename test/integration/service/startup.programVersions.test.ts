// The service speaks the energy_token interface its IDL describes (ENERGY_TOKEN_IDL: 0.1.1 by default, or
// 0.1.0) and refuses to start, naming what to fix, when the chain's program is not that interface (token_info's
// size tells 0.1.0 from 0.1.1), or when 0.1.1's co-signing REC validator key is missing, too open, or not
// registered in token_info.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Keypair } from '@solana/web3.js';
import { loadConfig } from '../../../src/config.js';
import { ChainSetupError, ConfigError } from '../../../src/errors.js';
import { makeLog } from '../../../src/log.js';
import { startService } from '../../../src/service.js';
import { startLocalnet, type Localnet } from '../../../anchor-localnet/server.js';
import { privateAuthorityKey, privateRecValidatorKey } from '../../support/localnet.js';

const log = makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const dir = mkdtempSync(join(tmpdir(), 'startup-versions-'));
const AUTHORITY_KEYPAIR_PATH = privateAuthorityKey();
const REC_VALIDATOR_KEYPAIR_PATH = privateRecValidatorKey();
const V010 = { ENERGY_TOKEN_IDL: 'programs-idl/energy_token-0.1.0.json' };
const PROGRAM_0_1_0 = '5DJCWKo5cXt3PXRsrpH1xixra4wXWbNzxZ1p4FHqSxvi';
const PROGRAM_0_1_1 = '6FZKcVKCLFSNLMxypFJGU4K14xUBnxNW9VAuKGhmqjGX';

describe.each(['0.1.1', '0.1.0'] as const)('a chain running energy_token %s', (version) => {
  let net: Localnet;
  beforeAll(async () => {
    net = await startLocalnet({ slotMs: 50, programVersion: version });
  });
  afterAll(() => net.stop());
  let n = 0;
  const start = (over: Record<string, string>) =>
    startService(
      loadConfig({
        PORT: '0',
        SOLANA_RPC_URL: net.url,
        SOLANA_WS_URL: net.wsUrl,
        AUTHORITY_KEYPAIR_PATH,
        REC_VALIDATOR_KEYPAIR_PATH,
        GATEWAY_API_KEYS: 'g',
        OPERATOR_TOKEN: 'o',
        WORKER: 'off',
        PGLITE_DIR: join(dir, `pglite-${version}-${n++}`),
        ...(version === '0.1.0' ? V010 : {}),
        ...over,
      }),
      log,
    );

  it('starts with the matching IDL, and /health/details names the version and the REC validator', async () => {
    const svc = await start({});
    try {
      const details = (await (await fetch(`${svc.apiUrl}/health/details`, { headers: { authorization: 'Bearer o' } })).json()) as any;
      expect(details.program).toMatchObject({ id: version === '0.1.1' ? PROGRAM_0_1_1 : PROGRAM_0_1_0, version });
      if (version === '0.1.1') {
        expect(details.rec_validator).toEqual({ address: Keypair.fromSecretKey(Uint8Array.from(JSON.parse(readFileSync(REC_VALIDATOR_KEYPAIR_PATH, 'utf8')) as number[])).publicKey.toBase58(), registered: true, age_ms: expect.any(Number) });
      } else {
        expect(details.rec_validator).toBeNull();
      }
      expect(details.status).toBe('ok');
    } finally {
      await svc.stop();
    }
  });

  it('refuses the other version\'s IDL at this program: token_info\'s size does not match, and the message names ENERGY_TOKEN_IDL', async () => {
    const other = version === '0.1.1' ? { ...V010, ENERGY_TOKEN_PROGRAM_ID: PROGRAM_0_1_1 } : { ENERGY_TOKEN_IDL: 'programs-idl/energy_token-0.1.1.json', ENERGY_TOKEN_PROGRAM_ID: PROGRAM_0_1_0 };
    const err = await start(other).catch((e) => e);
    expect(err).toBeInstanceOf(ChainSetupError);
    const [is, laid] = version === '0.1.1' ? [320, 288] : [288, 320];
    expect(err.message).toMatch(new RegExp(`token_info \\S+ is ${is} bytes, but ENERGY_TOKEN_IDL \\(.*\\) lays it out in ${laid}: point ENERGY_TOKEN_IDL at the IDL of the program deployed`));
  });
});

describe('on 0.1.1, the REC validator key', () => {
  let net: Localnet;
  beforeAll(async () => {
    net = await startLocalnet({ slotMs: 50, programVersion: '0.1.1' });
  });
  afterAll(() => net.stop());
  const cfg = (over: Record<string, string | undefined>) => {
    const env: Record<string, string | undefined> = { PORT: '0', SOLANA_RPC_URL: net.url, SOLANA_WS_URL: net.wsUrl, AUTHORITY_KEYPAIR_PATH, REC_VALIDATOR_KEYPAIR_PATH, GATEWAY_API_KEYS: 'g', OPERATOR_TOKEN: 'o', WORKER: 'off', PGLITE_DIR: join(dir, 'pglite-key'), ...over };
    return loadConfig(env);
  };

  it('missing: refused, naming REC_VALIDATOR_KEYPAIR_PATH', async () => {
    const err = await startService(cfg({ REC_VALIDATOR_KEYPAIR_PATH: undefined }), log).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/^REC_VALIDATOR_KEYPAIR_PATH is required: energy_token 0\.1\.1 mints only with a registered REC validator's co-signature/);
  });

  it('not registered in token_info: refused, naming the variable, the key and what is registered', async () => {
    const path = join(dir, 'stranger.json');
    const stranger = Keypair.generate();
    writeFileSync(path, JSON.stringify(Array.from(stranger.secretKey)), { mode: 0o600 });
    const err = await startService(cfg({ REC_VALIDATOR_KEYPAIR_PATH: path }), log).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(`REC_VALIDATOR_KEYPAIR_PATH: ${stranger.publicKey.toBase58()} is not a REC validator token_info registers`);
    expect(err.message).toMatch(/RecValidatorNotFound \(6008\)/);
  });

  it('readable by others: refused as the authority key is, naming REC_VALIDATOR_KEYPAIR_PATH, never its contents', async () => {
    const path = join(dir, 'open-validator.json');
    writeFileSync(path, JSON.stringify(Array.from(Keypair.generate().secretKey)));
    chmodSync(path, 0o644);
    const err = await startService(cfg({ REC_VALIDATOR_KEYPAIR_PATH: path }), log).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/^REC_VALIDATOR_KEYPAIR_PATH: permissions 0644 for .*open-validator\.json are too open.*chmod 600/);
  });
});
