// The traffic settings (rate limits, idempotency TTL, event streams): defaults, and a bad value names its
// variable and says what to fix.
import { loadConfig } from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';

const messageOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('loadConfig accepted it');
};

describe('loadConfig: traffic settings', () => {
  it('has defaults: 50 readings/s (burst 1000), 20 requests/s (burst 50), keys kept 24 h, 15 s heartbeats', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      GATEWAY_READINGS_PER_SECOND: 50,
      GATEWAY_READINGS_BURST: 1000,
      GATEWAY_REQUESTS_PER_SECOND: 20,
      GATEWAY_REQUESTS_BURST: 50,
      IDEMPOTENCY_TTL_HOURS: 24,
      SSE_HEARTBEAT_MS: 15_000,
      SSE_MAX_STREAMS_PER_CALLER: 10,
      SSE_MAX_QUEUED_EVENTS: 1000,
    });
  });

  it('takes 0 as "no limit" and fractional rates', () => {
    expect(loadConfig({ GATEWAY_READINGS_PER_SECOND: '0', GATEWAY_REQUESTS_PER_SECOND: '0.5' })).toMatchObject({ GATEWAY_READINGS_PER_SECOND: 0, GATEWAY_REQUESTS_PER_SECOND: 0.5 });
  });

  it('names each bad variable and what to fix', () => {
    const msg = messageOf({ GATEWAY_READINGS_PER_SECOND: '-1', GATEWAY_READINGS_BURST: 'lots', IDEMPOTENCY_TTL_HOURS: '0', SSE_MAX_STREAMS_PER_CALLER: '1.5' });
    expect(msg).toMatch(/GATEWAY_READINGS_PER_SECOND: must be 0 or more readings per second/);
    expect(msg).toMatch(/GATEWAY_READINGS_BURST: must be a whole number of readings one gateway may post at once/);
    expect(msg).toMatch(/IDEMPOTENCY_TTL_HOURS: must be more than 0 hours/);
    expect(msg).toMatch(/SSE_MAX_STREAMS_PER_CALLER: must be a whole number of open event streams per caller/);
  });
});
