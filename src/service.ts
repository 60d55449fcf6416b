// Wires the service together: chain endpoint, start-up checks, HTTP API. main.ts only runs it.
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { checkChain, readKeypairFile } from './chain/energyToken.js';
import { connectChain, probeRpc } from './chain/rpc.js';
import { makeApp, type HealthReport } from './http/app.js';
import type { Log } from './log.js';
import type { Hono } from 'hono';
import { rmSync } from 'node:fs';
import { openDatabase, type Database } from './db/client.js';
import { checkChainIdentity, refuseOtherChain } from './db/chainIdentity.js';
import { makeAuth } from './http/auth.js';
import { readingRoutes } from './readings/routes.js';
import { maxTokensPerReading } from './minting/amounts.js';
import { ConfigError } from './errors.js';
import { loadIdl } from './chain/energyToken.js';
import { makeMinter, type Minter } from './chain/minter.js';
import { makeRpcClient } from './chain/rpcClient.js';
import { RUNTIME_LIMITS } from './minting/optimizeBatch.js';
import { makeBatchRunner, type BatchRunner } from './minting/runBatch.js';
import { rescue } from './minting/rescue.js';
import { explainTransactionError } from './chain/programErrors.js';
import { mintRoutes } from './minting/routes.js';
import { queueStats, type Settings } from './minting/repo.js';
import { makeMetrics } from './http/metrics.js';
import { startWorker } from './minting/worker.js';
import { makeBatchEvents } from './minting/events.js';

export interface RunningService {
  apiUrl: string | null;
  /** The HTTP app (its route table is checked against the OpenAPI document). */
  app: Hono;
  database: Database;
  minter: Minter;
  runner: BatchRunner;
  worker: ReturnType<typeof startWorker> | null;
  rpcUrl: string;
  wsUrl: string;
  stop(): Promise<void>;
}

export type Role = 'all' | 'api' | 'worker';

/** Split roles share work through Postgres only: PGlite and the embedded chain belong to one process. */
export function checkRole(role: Role, config: Config): void {
  if (role !== 'all' && (!config.DATABASE_URL || !config.SOLANA_RPC_URL)) {
    throw new ConfigError(
      `the ${role} role runs apart from the others and needs DATABASE_URL and SOLANA_RPC_URL (PGlite and the embedded chain belong to one process: use npm start)`,
    );
  }
}

export async function startService(config: Config, log: Log, role: Role = 'all'): Promise<RunningService> {
  checkRole(role, config);
  const rate = { tokensPerKwh: config.TOKENS_PER_KWH, decimals: 9, maxKwh: config.MAX_KWH_PER_READING };
  const cap = BigInt(config.BLOCKCHAIN_MAX_TOKENS_PER_TRANSACTION);
  if (maxTokensPerReading(rate) > cap) {
    throw new ConfigError(
      `MAX_KWH_PER_READING × TOKENS_PER_KWH gives ${maxTokensPerReading(rate)} base units, above BLOCKCHAIN_MAX_TOKENS_PER_TRANSACTION (${cap}): one reading could never be minted`,
    );
  }
  const chain = await connectChain(config);
  let database: Database | null = null;
  try {
    await probeRpc(chain.rpcUrl);
    const authority = readKeypairFile(chain.authorityKeypairPath);
    const identity = await checkChain(chain.connection, config.ENERGY_TOKEN_PROGRAM_ID, authority.publicKey);
    log.info({ programId: identity.programId.toBase58(), mint: identity.mint.toBase58(), authority: authority.publicKey.toBase58() }, 'chain checked');

    const dbOpts = { url: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR };
    database = await openDatabase(dbOpts);
    let stored = await checkChainIdentity(database.db, identity.genesisHash);
    if (stored === 'other' && chain.localnet && database.kind === 'pglite') {
      // The embedded chain does not persist yet: its database starts fresh with it (README).
      log.warn({ dir: config.PGLITE_DIR }, 'embedded chain is new; starting its PGlite database fresh with it');
      await database.close();
      rmSync(config.PGLITE_DIR, { recursive: true, force: true });
      database = await openDatabase(dbOpts);
      stored = await checkChainIdentity(database.db, identity.genesisHash);
    }
    refuseOtherChain(stored, identity.genesisHash);
    const db = database.db;
    const auth = makeAuth({ gatewayKeys: config.gatewayKeys, operatorToken: config.operatorToken });

    // Through the service's own client: it has a timeout and classified failures (web3's Connection has neither).
    const rpc = makeRpcClient({ url: chain.rpcUrl, timeoutMs: config.RPC_TIMEOUT_MS });
    const feePayerLamports = () =>
      rpc.call<{ value: number }>('getBalance', [authority.publicKey.toBase58(), { commitment: 'confirmed' }]).then((r) => BigInt(r.value), () => null);
    const health = async (): Promise<HealthReport> => {
      const lamports = await feePayerLamports();
      const dbOk = await database!.ping();
      return {
        status: lamports === null || !dbOk ? 'degraded' : 'ok',
        db: dbOk ? 'ok' : 'unreachable',
        rpc: lamports === null ? 'unreachable' : 'ok',
        rpc_url: chain.rpcUrl,
        program_id: identity.programId.toBase58(),
        mint: identity.mint.toBase58(),
        fee_payer_lamports: lamports === null ? null : lamports.toString(),
      };
    };
    const idl = loadIdl(identity.programId.toBase58());
    const defaults: Settings = {
      batchIntervalMs: config.BATCH_INTERVAL_MS,
      maxBatchSize: config.BLOCKCHAIN_MAX_BATCH_SIZE,
      maxAttempts: config.MAX_ATTEMPTS,
      backoffMs: config.RETRY_BACKOFF_MS,
    };
    const minter = makeMinter({
      rpc,
      authority,
      programId: identity.programId,
      mint: identity.mint,
      idl,
      log,
      limits: { ...RUNTIME_LIMITS, maxTokensPerInstruction: cap, usersPerTx: config.BLOCKCHAIN_USERS_PER_TX },
      // The runner claims at most the current max batch size; the engine accepts what it is given.
      maxBatchSize: () => 10_000,
      concurrency: config.BLOCKCHAIN_CONCURRENT_BATCHES,
      maxPriorityMicroLamports: BigInt(config.MAX_PRIORITY_FEE_MICROLAMPORTS),
      send: { pollMs: 250, rebroadcastMs: 2_000, followTimeoutMs: 180_000 },
    });
    const metrics = makeMetrics({
      feePayerLamports,
      queueCounts: async () => (await queueStats(db)).counts,
    });
    const events = makeBatchEvents(database);
    const runner = makeBatchRunner({ db, minter, log, defaults, leaseMs: config.LEASE_MS, events, onResult: (r) => metrics.recordResult(r.outcome) });
    const policy = { maxAttempts: config.MAX_ATTEMPTS, backoffMs: config.RETRY_BACKOFF_MS };
    const rescueNow = () => rescue({ db, rpc, explain: explainTransactionError(idl), log, policy });
    await rescueNow();
    const worker =
      config.WORKER === 'on' && role !== 'api'
        ? startWorker({
            db,
            runner,
            rescue: rescueNow,
            log,
            defaults,
            paused: async () => {
              const lamports = await feePayerLamports();
              return lamports !== null && lamports < config.MIN_FEE_PAYER_LAMPORTS
                ? `fee payer ${authority.publicKey.toBase58()} has ${lamports} lamports, below MIN_FEE_PAYER_LAMPORTS (${config.MIN_FEE_PAYER_LAMPORTS})`
                : null;
            },
          })
        : null;
    const app = makeApp({
      log,
      health,
      metrics,
      routes: [
        readingRoutes({ db, rate, maxReadingsPerRequest: config.MAX_READINGS_PER_REQUEST, auth }),
        mintRoutes({ db, runner, minter, defaults, syncWindowMs: config.SYNC_WINDOW_MS, events, auth }),
      ],
    });
    const server =
      role === 'worker'
        ? null
        : await new Promise<ServerType>((resolve) => {
            const s = serve({ fetch: app.fetch, port: config.PORT, hostname: '127.0.0.1' }, () => resolve(s));
          });
    const port = server ? (server.address() as AddressInfo).port : null;
    return {
      apiUrl: port === null ? null : `http://127.0.0.1:${port}`,
      app,
      database,
      minter,
      runner,
      worker,
      rpcUrl: chain.rpcUrl,
      wsUrl: chain.wsUrl,
      stop: async () => {
        await worker?.stop();
        await runner.drain();
        if (server) await new Promise<void>((r) => server.close(() => r()));
        await database?.close();
        await chain.close();
      },
    };
  } catch (e) {
    await database?.close();
    await chain.close();
    throw e;
  }
}
