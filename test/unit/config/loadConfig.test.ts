// Configuration is checked once at start, and a bad one says exactly which variable to fix.
import { deriveWsUrl, loadConfig } from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';

describe('loadConfig', () => {
  it('runs on embedded defaults with an empty environment', () => {
    const c = loadConfig({});
    expect(c.embeddedChain).toBe(true);
    expect(c.PORT).toBe(8080);
    expect(c.ENERGY_TOKEN_PROGRAM_ID).toBe('5DJCWKo5cXt3PXRsrpH1xixra4wXWbNzxZ1p4FHqSxvi');
    expect(c.devCredentials).toBe(true);
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
    expect(() => loadConfig({ GATEWAY_API_KEYS: value })).toThrow(why);
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
