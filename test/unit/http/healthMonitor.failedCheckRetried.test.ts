// A failed health check runs again soon (retryMs), not only at the next interval: the service sees the
// database or the RPC return within about half a second, and minting resumes (the RPC's return also gives
// up the calls the outage swallowed). The interval here is a minute, so only the retry can turn it ok.
import { makeHealthMonitor } from '../../../src/http/health.js';
import { waitFor } from '../../support/db.js';

it('a check that failed is retried after retryMs until it answers, while a passing one waits for the interval', async () => {
  let failuresLeft = 3;
  let flakyRuns = 0;
  let steadyRuns = 0;
  const monitor = makeHealthMonitor(
    {
      flaky: {
        run: async () => {
          flakyRuns++;
          if (failuresLeft-- > 0) throw new Error('away');
          return 'back';
        },
        timeoutMs: 1_000,
      },
      steady: { run: async () => ++steadyRuns, timeoutMs: 1_000 },
    },
    { intervalMs: 60_000, retryMs: 10 },
  );
  try {
    await monitor.start();
    expect(monitor.last('flaky').ok).toBe(false);
    await waitFor(() => monitor.last('flaky').ok, 10_000, 'the flaky check to be retried until it passes');
    expect(monitor.last('flaky').value).toBe('back');
    expect(flakyRuns).toBe(4);
    expect(steadyRuns).toBe(1);
  } finally {
    monitor.stop();
  }
});

it('after stop(), a failed check is not retried', async () => {
  let runs = 0;
  const monitor = makeHealthMonitor({ down: { run: async () => Promise.reject(new Error(`away ${++runs}`)), timeoutMs: 1_000 } }, { intervalMs: 60_000, retryMs: 10 });
  await monitor.start();
  monitor.stop();
  const seen = runs;
  // A retry wrongly scheduled would run 10 ms after the failure: ten times that is the window looked at
  // (a check that something does not happen can only look for a while; nothing here races it).
  await new Promise((r) => setTimeout(r, 100));
  expect(runs).toBe(seen);
});
