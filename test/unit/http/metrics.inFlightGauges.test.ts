// /metrics shows the engine's in-flight limit and the transactions in flight, read at each scrape.
import { makeMetrics } from '../../../src/http/metrics.js';
import { makeInFlightLimiter } from '../../../src/minting/inFlight.js';

it('exports the adaptive limit and the transactions in flight as gauges', async () => {
  const inFlight = makeInFlightLimiter({ initial: 8, ceiling: 64 });
  const metrics = makeMetrics({ queueCounts: async () => ({}), feePayerLamports: async () => null, inFlight });
  const held = await Promise.all([inFlight.acquire(), inFlight.acquire(), inFlight.acquire()]);
  inFlight.rateLimited();
  const text = await metrics.text();
  expect(text).toMatch(/^energy_mint_in_flight_limit 4$/m);
  expect(text).toMatch(/^energy_mint_in_flight 3$/m);
  for (const t of held) t!.release();
  expect(await metrics.text()).toMatch(/^energy_mint_in_flight 0$/m);
});
