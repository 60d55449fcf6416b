// The engine's in-flight ceiling and the worker's pipeline depth: defaults, and a ceiling below the
// starting limit refused at start, naming the variable.
import { loadConfig } from '../../../src/config.js';

it('defaults: 8 in flight at start, up to 64, two batches open', () => {
  const c = loadConfig({});
  expect([c.BLOCKCHAIN_CONCURRENT_BATCHES, c.BLOCKCHAIN_MAX_IN_FLIGHT, c.WORKER_PIPELINE_DEPTH]).toEqual([8, 64, 2]);
});

it('a ceiling equal to the start is a fixed limit; below it is refused', () => {
  expect(loadConfig({ BLOCKCHAIN_CONCURRENT_BATCHES: '16', BLOCKCHAIN_MAX_IN_FLIGHT: '16' }).BLOCKCHAIN_MAX_IN_FLIGHT).toBe(16);
  expect(() => loadConfig({ BLOCKCHAIN_CONCURRENT_BATCHES: '16', BLOCKCHAIN_MAX_IN_FLIGHT: '8' })).toThrow(/BLOCKCHAIN_MAX_IN_FLIGHT: must be at least BLOCKCHAIN_CONCURRENT_BATCHES \(16\)/);
  expect(() => loadConfig({ WORKER_PIPELINE_DEPTH: '0' })).toThrow(/WORKER_PIPELINE_DEPTH/);
});
