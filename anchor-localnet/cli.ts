// `npm run localnet [-- --port 8899] [--slot-ms 400]`: the local chain as a standalone validator stand-in.
import { parseArgs } from 'node:util';
import { startLocalnet } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'slot-ms': { type: 'string' },
  },
});

function intOption(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65534) {
    process.stderr.write(`localnet: ${name} must be an integer between 0 and 65534, got "${raw}"\n`);
    process.exit(2);
  }
  return n;
}

const port = intOption('--port / LOCALNET_PORT', values.port ?? process.env.LOCALNET_PORT, 8899);
const slotMs = intOption('--slot-ms', values['slot-ms'], 400);

const localnet = await startLocalnet({ port, slotMs }).catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
process.stdout.write(`RPC URL: ${localnet.url}\n`);
process.stdout.write(`WebSocket URL: ${localnet.wsUrl}\n`);
const shutdown = () => void localnet.stop().then(() => process.exit(0));
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
