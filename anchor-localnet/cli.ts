// `npm run localnet [-- --port 8899] [--slot-ms 400] [--ledger DIR [--reset]] [--block-cu-limit N]
// [--account-cu-limit N] [--program-version 0.1.1]`: the local chain as a standalone validator stand-in.
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MAX_BLOCK_UNITS, MAX_WRITABLE_ACCOUNT_UNITS } from './costModel.js';
import { DEFAULT_PROGRAM_VERSION, isProgramVersion, PROGRAM_VERSIONS, programIdOf } from './paths.js';
import { startLocalnet } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'slot-ms': { type: 'string' },
    ledger: { type: 'string' },
    reset: { type: 'boolean' },
    'block-cu-limit': { type: 'string' },
    'account-cu-limit': { type: 'string' },
    'program-version': { type: 'string' },
  },
});

function intOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`localnet: ${name} must be an integer between ${min} and ${max}, got "${raw}"\n`);
    process.exit(2);
  }
  return n;
}

const port = intOption('--port / LOCALNET_PORT', values.port ?? process.env.LOCALNET_PORT, 8899, 0, 65534);
const slotMs = intOption('--slot-ms', values['slot-ms'], 400, 1, 60_000);
const blockCuLimit = intOption('--block-cu-limit', values['block-cu-limit'], MAX_BLOCK_UNITS, 1, Number.MAX_SAFE_INTEGER);
const accountCuLimit = intOption('--account-cu-limit', values['account-cu-limit'], MAX_WRITABLE_ACCOUNT_UNITS, 1, Number.MAX_SAFE_INTEGER);
const programVersion = values['program-version'] ?? DEFAULT_PROGRAM_VERSION;
if (!isProgramVersion(programVersion)) {
  process.stderr.write(`localnet: --program-version must be one of ${PROGRAM_VERSIONS.join(', ')}, got "${programVersion}"\n`);
  process.exit(2);
}
if (values.reset && !values.ledger) {
  process.stderr.write('localnet: --reset needs --ledger DIR (without a ledger every start is a new chain)\n');
  process.exit(2);
}
if (values.reset) rmSync(values.ledger!, { recursive: true, force: true });

const localnet = await startLocalnet({ port, slotMs, blockCuLimit, accountCuLimit, ledger: values.ledger, programVersion }).catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
process.stdout.write(`RPC URL: ${localnet.url}\n`);
process.stdout.write(`WebSocket URL: ${localnet.wsUrl}\n`);
process.stdout.write(`Genesis hash: ${localnet.chain.genesisHash}\n`);
process.stdout.write(`energy_token: ${localnet.chain.programVersion} at ${programIdOf(localnet.chain.programVersion)}\n`);
process.stdout.write(
  localnet.chain.ledgerDir
    ? `Ledger: ${localnet.chain.ledgerDir} (${localnet.chain.createdFresh ? 'new' : `resumed at slot ${localnet.chain.slot}`})\n`
    : 'Ledger: none (in memory; --ledger DIR keeps it)\n',
);
process.stdout.write(`Block limits: ${blockCuLimit.toLocaleString('en-US')} CU per block, ${accountCuLimit.toLocaleString('en-US')} CU per writable account\n`);
const shutdown = () => void localnet.stop().then(() => process.exit(0));
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
