// `npm start`: the service on its configuration (embedded defaults when nothing is set). `npm run api`
// and `npm run worker` (src/worker.ts) run one role each and share work through Postgres.
import { DEV_GATEWAY_KEY, DEV_OPERATOR_TOKEN, loadConfig } from './config.js';
import { AppError } from './errors.js';
import { displayUrl, makeLog } from './log.js';
import { type Role, startService } from './service.js';

export async function main(role: Role): Promise<void> {
  try {
    const config = loadConfig(process.env, role);
    const log = makeLog(config.LOG_LEVEL).child({ role });
    const service = await startService(config, log, role);
    if (service.apiUrl) process.stdout.write(`API: ${service.apiUrl}\nConsole: ${service.apiUrl}/console (sign in with an operator token)\n`);
    // Scheme, host and port only: a provider URL's key (userinfo, path or ?api-key=) is never printed.
    process.stdout.write(`Solana RPC: ${displayUrl(service.rpcUrl)}\nSolana WebSocket: ${displayUrl(service.wsUrl)}\n`);
    if (service.worker) process.stdout.write('Worker: polling the queue\n');
    process.stdout.write(`Database: ${config.DATABASE_URL ? 'postgres (DATABASE_URL)' : `PGlite in ${config.PGLITE_DIR}`}\n`);
    if (config.embeddedChain && config.devCredentials) {
      // Only in embedded mode with no credentials set, and only these fixed development values (README);
      // configured keys and tokens are never printed.
      process.stdout.write(`Development credentials: gateway key "${DEV_GATEWAY_KEY}" (gateway "demo"), operator token "${DEV_OPERATOR_TOKEN}"\n`);
    }
    if (service.demo && service.apiUrl) {
      process.stdout.write(`Demo meters (gateway "demo"): ${service.demo.meterIds.join(', ')}\nTry: ${service.demo.curl(service.apiUrl, DEV_GATEWAY_KEY)}\n`);
    }
    // SIGTERM: stop claiming, follow every signed transaction to confirmed or expired, release leases, exit.
    const shutdown = () => void service.stop().then(() => process.exit(0));
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  } catch (e) {
    process.stderr.write(`cannot start: ${e instanceof AppError ? e.message : String((e as Error).stack ?? e)}\n`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--role');
  await main((i > 0 ? process.argv[i + 1] : 'all') as Role);
}
