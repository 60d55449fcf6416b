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
    const c = loadConfig({ SOLANA_RPC_URL: 'http://127.0.0.1:8899', AUTHORITY_KEYPAIR_PATH: '/k.json', GATEWAY_API_KEYS: 'a, b', OPERATOR_TOKEN: 'op' });
    expect(c.gatewayKeys).toEqual(['a', 'b']);
    expect(c.devCredentials).toBe(false);
    expect(c.embeddedChain).toBe(false);
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
