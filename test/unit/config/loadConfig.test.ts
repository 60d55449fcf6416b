// Configuration is checked once at start, and a bad one says exactly which variable to fix.
import { deriveWsUrl, loadConfig } from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';
import { deployedProgram } from '../../../src/chain/energyToken.js';

describe('loadConfig', () => {
  it('runs on embedded defaults with an empty environment', () => {
    const c = loadConfig({});
    expect(c.embeddedChain).toBe(true);
    expect(c.PORT).toBe(8080);
    // The program and its interface come from the IDL (programs-idl/energy_token-0.1.1.json by default).
    expect(c.ENERGY_TOKEN_PROGRAM_ID).toBeUndefined();
    expect(c.ENERGY_TOKEN_IDL).toBeUndefined();
    const deployed = deployedProgram(c);
    expect(deployed.programId.toBase58()).toBe('6FZKcVKCLFSNLMxypFJGU4K14xUBnxNW9VAuKGhmqjGX');
    expect(deployed.program).toMatchObject({ version: '0.1.1', tokenInfoSize: 320, coSigned: true });
    expect(c.devCredentials).toBe(true);
  });

  it('takes the 0.1.0 interface from its IDL, and a program id over the IDL\'s address', () => {
    const v010 = deployedProgram(loadConfig({ ENERGY_TOKEN_IDL: 'programs-idl/energy_token-0.1.0.json' }));
    expect(v010.programId.toBase58()).toBe('5DJCWKo5cXt3PXRsrpH1xixra4wXWbNzxZ1p4FHqSxvi');
    expect(v010.program).toMatchObject({ version: '0.1.0', tokenInfoSize: 288, coSigned: false });
    expect(v010.program.mintAccounts.map((a) => a.name)).toEqual(['token_info', 'mint', 'user_token_account', 'authority', 'token_program']);
    const elsewhere = deployedProgram(loadConfig({ ENERGY_TOKEN_PROGRAM_ID: '11111111111111111111111111111111' }));
    expect(elsewhere.programId.toBase58()).toBe('11111111111111111111111111111111');
    expect(elsewhere.program.idl.address).toBe('11111111111111111111111111111111');
  });

  it('names ENERGY_TOKEN_IDL when the file is missing or is not an energy_token IDL', () => {
    expect(() => deployedProgram(loadConfig({ ENERGY_TOKEN_IDL: '/nonexistent/idl.json' }))).toThrow(/^ENERGY_TOKEN_IDL: cannot read the IDL \/nonexistent\/idl\.json \(ENOENT\)$/);
    expect(() => deployedProgram(loadConfig({ ENERGY_TOKEN_IDL: 'package.json' }))).toThrow(/^ENERGY_TOKEN_IDL: .*package\.json is not an energy_token IDL/);
  });

  it('asks each role only for what it uses: a worker apart no credentials, reconcile only the database and the chain', () => {
    const chain = { SOLANA_RPC_URL: 'http://127.0.0.1:8899', DATABASE_URL: 'postgres://db.internal/energy' };
    const worker = loadConfig({ ...chain, AUTHORITY_KEYPAIR_PATH: '/k.json' }, 'worker');
    // No development gateway or operator on a real chain: a worker has none, and syncs none into the registry.
    expect(worker.envGateways).toEqual([]);
    expect(worker.operators).toEqual([]);
    expect(worker.devCredentials).toBe(false);
    expect(() => loadConfig(chain, 'worker')).toThrow(/AUTHORITY_KEYPAIR_PATH: is required when SOLANA_RPC_URL is set/);
    expect(loadConfig(chain, 'reconcile').DATABASE_URL).toBe(chain.DATABASE_URL);
    expect(() => loadConfig({ SOLANA_RPC_URL: chain.SOLANA_RPC_URL }, 'reconcile')).toThrow(/DATABASE_URL: is required: reconcile compares the database with the chain/);
    // The API still wants its credentials.
    expect(() => loadConfig({ ...chain, AUTHORITY_KEYPAIR_PATH: '/k.json' }, 'api')).toThrow(/GATEWAY_API_KEYS: is required/);
  });

  it('never falls back to development credentials for a real chain', () => {
    expect(() => loadConfig({ SOLANA_RPC_URL: 'http://127.0.0.1:8899', AUTHORITY_KEYPAIR_PATH: '/k.json' })).toThrow(/GATEWAY_API_KEYS: is required[\s\S]*OPERATOR_TOKEN: is required/);
  });

  it('requires the authority keypair whenever a real RPC is configured', () => {
    expect(() => loadConfig({ SOLANA_RPC_URL: 'http://127.0.0.1:8899' })).toThrow(/AUTHORITY_KEYPAIR_PATH: is required when SOLANA_RPC_URL is set/);
    const c = loadConfig({ SOLANA_RPC_URL: 'http://127.0.0.1:8899', AUTHORITY_KEYPAIR_PATH: '/k.json', GATEWAY_API_KEYS: 'north:k1, k2', OPERATOR_TOKEN: 'op' });
    // A bare key is named by the first 8 hex digits of its SHA-256: stable across restarts, saying nothing of the key.
    expect(c.envGateways).toEqual([
      { gatewayId: 'north', key: 'k1' },
      { gatewayId: 'env-015f7e6b', key: 'k2' },
    ]);
    expect(c.devCredentials).toBe(false);
    expect(c.embeddedChain).toBe(false);
  });

  it('uses the development credentials only in embedded mode with neither GATEWAY_API_KEYS nor OPERATOR_TOKEN(S) set', () => {
    expect(loadConfig({}).operators).toEqual([{ name: 'operator', token: 'dev-operator-token' }]);
    // One set without the other: the other is required, named in the message (no development fallback).
    expect(() => loadConfig({ GATEWAY_API_KEYS: 'gw:k' })).toThrow(/OPERATOR_TOKEN: is required when GATEWAY_API_KEYS is set \(or OPERATOR_TOKENS/);
    expect(() => loadConfig({ OPERATOR_TOKEN: 'op' })).toThrow(/GATEWAY_API_KEYS: is required when OPERATOR_TOKEN or OPERATOR_TOKENS is set/);
    expect(() => loadConfig({ OPERATOR_TOKENS: 'alice:a' })).toThrow(/GATEWAY_API_KEYS: is required/);
    const both = loadConfig({ GATEWAY_API_KEYS: 'gw:k', OPERATOR_TOKENS: 'alice:a' });
    expect(both.devCredentials).toBe(false);
    expect(JSON.stringify(both.operators)).not.toContain('dev-operator-token');
    expect(both.envGateways).toEqual([{ gatewayId: 'gw', key: 'k' }]);
  });

  it('reads named operators: OPERATOR_TOKEN is the operator named `operator`, OPERATOR_TOKENS adds name:token pairs', () => {
    const c = loadConfig({ GATEWAY_API_KEYS: 'gw:k', OPERATOR_TOKEN: 't0', OPERATOR_TOKENS: 'alice:t1, bob:t2' });
    expect(c.operators).toEqual([
      { name: 'operator', token: 't0' },
      { name: 'alice', token: 't1' },
      { name: 'bob', token: 't2' },
    ]);
    expect(loadConfig({ GATEWAY_API_KEYS: 'gw:k', OPERATOR_TOKENS: 'alice:t1' }).operators).toEqual([{ name: 'alice', token: 't1' }]);
  });

  it.each([
    [{ OPERATOR_TOKENS: 'alice:a,alice:b' }, /OPERATOR_TOKENS: operator alice is named twice/],
    [{ OPERATOR_TOKENS: 'alice:a,bob:a' }, /OPERATOR_TOKENS: operator bob has the same token as operator alice/],
    [{ OPERATOR_TOKEN: 'a', OPERATOR_TOKENS: 'operator:b' }, /OPERATOR_TOKENS: operator operator is OPERATOR_TOKEN's name/],
    [{ OPERATOR_TOKEN: 'a', OPERATOR_TOKENS: 'bob:a' }, /OPERATOR_TOKENS: operator bob has the same token as operator operator/],
    [{ OPERATOR_TOKENS: 'justatoken' }, /OPERATOR_TOKENS: each entry must be name:token/],
    [{ OPERATOR_TOKENS: 'bad name:t' }, /OPERATOR_TOKENS: operator name "bad name" must be/],
    [{ OPERATOR_TOKENS: 'alice:' }, /OPERATOR_TOKENS: operator alice has an empty token/],
    [{ OPERATOR_TOKENS: ',' }, /OPERATOR_TOKENS: names no operator/],
    [{ OPERATOR_TOKEN: 'k' }, /OPERATOR_TOKEN: operator operator has the same token as a gateway key/],
    [{ OPERATOR_TOKEN: 'o', METRICS_TOKEN: 'k' }, /METRICS_TOKEN: is the same as a gateway key/],
    [{ OPERATOR_TOKEN: 'o', METRICS_TOKEN: 'o' }, /OPERATOR_TOKEN: operator operator has the same token as a gateway key or METRICS_TOKEN/],
  ])('refuses operator settings %j, saying why', (env, why) => {
    expect(() => loadConfig({ GATEWAY_API_KEYS: 'gw:k', ...env })).toThrow(why);
  });

  it('binds HOST: 127.0.0.1 by default, 0.0.0.0 for containers, anything else not an address refused', () => {
    expect(loadConfig({}).HOST).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '::' }).HOST).toBe('::');
    expect(loadConfig({ HOST: 'api.internal' }).HOST).toBe('api.internal');
    expect(() => loadConfig({ HOST: 'http://0.0.0.0' })).toThrow(/HOST: must be an IP address or a host name/);
    expect(() => loadConfig({ HOST: '0.0.0.0:8080' })).toThrow(/HOST: must be an IP address or a host name/);
  });

  it('runs the demo gateway on the development key in embedded mode', () => {
    expect(loadConfig({}).envGateways).toEqual([{ gatewayId: 'demo', key: 'dev-gateway-key' }]);
  });

  it.each([
    ['bad name:k', /gateway name "bad name"/],
    ['a:k,a:j', /gateway a is named twice/],
    ['a:k,b:k', /gateway b has the same key as gateway a/],
    ['a:', /gateway a has an empty key/],
    [',', /names no gateway/],
  ])('refuses GATEWAY_API_KEYS=%s, saying why', (value, why) => {
    expect(() => loadConfig({ GATEWAY_API_KEYS: value, OPERATOR_TOKEN: 'op' })).toThrow(why);
  });

  it('reads the registry settings', () => {
    const c = loadConfig({ MAX_NEW_TOKEN_ACCOUNTS_PER_DAY: '7', PLAUSIBILITY_TOLERANCE: '0.1', REQUIRE_SIGNED_READINGS: 'true' });
    expect([c.MAX_NEW_TOKEN_ACCOUNTS_PER_DAY, c.PLAUSIBILITY_TOLERANCE, c.REQUIRE_SIGNED_READINGS]).toEqual([7, '0.1', true]);
    expect(loadConfig({}).REQUIRE_SIGNED_READINGS).toBe(false);
    expect(() => loadConfig({ REQUIRE_SIGNED_READINGS: 'yes' })).toThrow(/REQUIRE_SIGNED_READINGS/);
  });

  it('names every bad variable in one message', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', SOLANA_RPC_URL: 'ftp://x', ENERGY_TOKEN_PROGRAM_ID: 'not base58!' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/PORT:/);
    expect(msg).toMatch(/SOLANA_RPC_URL:/);
    expect(msg).toMatch(/ENERGY_TOKEN_PROGRAM_ID: must be a base58 public key/);
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ SOLANA_RPC_URL: '', ENERGY_TOKEN_PROGRAM_ID: '' }).embeddedChain).toBe(true);
  });

  it('derives the WebSocket URL as a validator serves it', () => {
    expect(deriveWsUrl('http://127.0.0.1:8899')).toBe('ws://127.0.0.1:8900/');
    expect(deriveWsUrl('https://api.devnet.solana.com')).toBe('wss://api.devnet.solana.com/');
  });
});
