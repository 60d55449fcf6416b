// Every URL the service shows or logs goes through displayUrl: scheme, host and port only, so a provider's
// key in the userinfo, path or query never reaches /health/details, the start-up lines or an error message.
import { displayUrl } from '../../../src/log.js';

describe('displayUrl', () => {
  it.each([
    ['https://mainnet.helius-rpc.com/?api-key=SECRET', 'https://mainnet.helius-rpc.com'],
    ['https://user:SECRET@rpc.example.com:8443/v1/SECRET?x=SECRET#SECRET', 'https://rpc.example.com:8443'],
    ['https://solana-mainnet.g.alchemy.com/v2/SECRET', 'https://solana-mainnet.g.alchemy.com'],
    ['wss://rpc.example.com/ws/SECRET', 'wss://rpc.example.com'],
    ['http://127.0.0.1:8899', 'http://127.0.0.1:8899'],
    ['http://[::1]:8899/', 'http://[::1]:8899'],
    ['not a url SECRET', '(invalid URL)'],
  ])('%s shows as %s', (url, shown) => {
    expect(displayUrl(url)).toBe(shown);
    expect(displayUrl(url)).not.toContain('SECRET');
  });
});
