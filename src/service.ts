// Wires the service together: chain endpoint, start-up checks, HTTP API. main.ts only runs it.
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { checkChain, coSignerAccepted, decodeTokenInfo, deployedProgram, readKeypairFile } from './chain/energyToken.js';
import { connectChain, probeRpc } from './chain/rpc.js';
import { type CheckReport, makeApp, type HealthDetails } from './http/app.js';
import { makeHealthMonitor } from './http/health.js';
import { displayUrl, type Log } from './log.js';
import type { Hono } from 'hono';
import { rmSync } from 'node:fs';
import { openDatabase, type Database } from './db/client.js';
import { checkChainIdentity, refuseOtherChain } from './db/chainIdentity.js';
import { makeAuth } from './http/auth.js';
import { makeRateLimiter } from './http/rateLimit.js';
import { readingRoutes } from './readings/routes.js';
import { gridTokenXRoutes } from './readings/gridTokenXRoutes.js';
import { gatewayRoutes, meterRoutes } from './meters/routes.js';
import { syncGatewaysFromEnv } from './meters/gateways.js';
import { type DemoSet, registerDemoSet } from './meters/demo.js';
import type { AcceptPolicy } from './readings/accept.js';
import { maxTokensPerReading, parseDecimal, tokensOf } from './minting/amounts.js';
import { ConfigError } from './errors.js';
import { describeError } from './db/errors.js';
import { makeLookupTables } from './chain/lookupTables.js';
import { makeMintChain, readGenerationRecords, RENT_GENERATION_RECORD } from './chain/mintTransaction.js';
import { generationMeterIdOf } from './minting/windows.js';
import { fillGenerationMeterIds } from './meters/repo.js';
import { makeLookupTableStore, mintCounts } from './db/lookupTables.js';
import { makeMintEngine, type MintEngine } from './minting/engine.js';
import { makeInFlightLimiter } from './minting/inFlight.js';
import { makeRpcClient } from './chain/rpcClient.js';
import { makeChainHistory } from './chain/history.js';
import { maxTokensPerReadingInOneTx, RUNTIME_LIMITS } from './minting/optimizeBatch.js';
import { makeBatchRunner, type BatchRunner } from './minting/runBatch.js';
import { rescue } from './minting/rescue.js';
import { explainTransactionError } from './chain/programErrors.js';
import { mintRoutes } from './minting/routes.js';
import { batchStateCounts, feeLeftToday, giveBackFee, giveBackMintRecords, mintingPause, purgeIdempotencyKeys, purgeStreamTickets, queueStats, reserveFee, mintRecordsReservedToday, reserveMintRecords, reserveTokenAccounts, type Settings, tokenAccountsLeftToday } from './minting/repo.js';
import { makeMetrics } from './http/metrics.js';
import { startWorker } from './minting/worker.js';
import { controlRoutes } from './minting/controlRoutes.js';
import { consoleRoutes } from './console/routes.js';
import { purgeSessions } from './console/repo.js';
import { makeBatchEvents } from './minting/events.js';

export interface RunningService {
  apiUrl: string | null;
  /** The HTTP app (its route table is checked against the OpenAPI document). */
  app: Hono;
  database: Database;
  engine: MintEngine;
  runner: BatchRunner;
  worker: ReturnType<typeof startWorker> | null;
  rpcUrl: string;
  wsUrl: string;
  /** The demo set registered at this start (embedded defaults with the development credentials), if any. */
  demo: DemoSet | null;
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

/** Where a client on this host reaches a server bound to `host` (a wildcard address is reached on loopback). */
export function apiHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
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
  // The program's interface comes from its IDL (0.1.0 or 0.1.1): what every mint names and who signs it.
  const deployed = deployedProgram(config);
  const { program } = deployed;
  const idl = program.idl;
  const generation = config.MINT_INSTRUCTION === 'mint_generation';
  if (generation && !idl.instructions.some((i) => i.name === 'mint_generation')) {
    throw new ConfigError(
      `MINT_INSTRUCTION=mint_generation: the IDL ${deployed.idlPath} (energy_token ${program.version}) has no mint_generation instruction; use energy_token 0.1.1 or later, or MINT_INSTRUCTION=mint_tokens_direct`,
    );
  }
  const chain = await connectChain(config, program.version);
  let database: Database | null = null;
  let stopMonitor = () => {};
  try {
    await probeRpc(chain.rpcUrl);
    const authority = readKeypairFile(chain.authorityKeypairPath, { checkMode: !chain.committedLocalnetKey.authority });
    const recValidator =
      program.coSigned && chain.recValidatorKeypairPath
        ? readKeypairFile(chain.recValidatorKeypairPath, { checkMode: !chain.committedLocalnetKey.recValidator, variable: 'REC_VALIDATOR_KEYPAIR_PATH' })
        : null;
    if (!program.coSigned && config.REC_VALIDATOR_KEYPAIR_PATH) log.warn({ version: program.version }, 'REC_VALIDATOR_KEYPAIR_PATH is not used: this program version takes no co-signature');
    const identity = await checkChain(chain.connection, { ...deployed, authority: authority.publicKey, recValidator: recValidator?.publicKey ?? null });
    log.info(
      { programId: identity.programId.toBase58(), version: program.version, mint: identity.mint.toBase58(), authority: authority.publicKey.toBase58(), recValidator: recValidator?.publicKey.toBase58() },
      'chain checked',
    );

    // Through the service's own client: it has a timeout and classified failures (web3's Connection has neither).
    const rpc = makeRpcClient({ url: chain.rpcUrl, timeoutMs: config.RPC_TIMEOUT_MS });
    // One in-flight budget for every batch of this process (the engine's limiter adapts it to the chain).
    const inFlight = makeInFlightLimiter({ initial: config.BLOCKCHAIN_CONCURRENT_BATCHES, ceiling: config.BLOCKCHAIN_MAX_IN_FLIGHT });
    const history = makeChainHistory({ rpc, idl, programId: identity.programId, mint: identity.mint });
    // A new database records the chain as it finds it, so that reconciliation judges only what came after.
    const baseline = async () => {
      const b = await history.baseline(identity.tokenInfo.toBase58());
      return { historyUntil: b.newest, initialSupply: b.supply };
    };

    const dbOpts = { url: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR };
    database = await openDatabase(dbOpts);
    let stored = await checkChainIdentity(database.db, identity.genesisHash, baseline);
    if (stored === 'other' && chain.localnet?.createdFresh && database.kind === 'pglite') {
      // The embedded chain's ledger was removed: a new chain, so its PGlite database starts fresh with it (README).
      log.warn({ dir: config.PGLITE_DIR, ledger: config.LOCALNET_LEDGER_DIR }, 'embedded chain is new; starting its PGlite database fresh with it');
      await database.close();
      rmSync(config.PGLITE_DIR, { recursive: true, force: true });
      database = await openDatabase(dbOpts);
      stored = await checkChainIdentity(database.db, identity.genesisHash, baseline);
    }
    refuseOtherChain(stored, identity.genesisHash);
    const db = database.db;
    // The registry's gateways follow GATEWAY_API_KEYS where the API is served; a worker apart has none to give.
    if (role !== 'worker') await syncGatewaysFromEnv(db, config.envGateways);
    // Meters registered before generation_meter_id existed get theirs (derived as GridTokenX's aggregator does).
    await fillGenerationMeterIds(db, generationMeterIdOf);
    // Only with the development gateway key (its `demo` gateway), never next to real keys.
    const demo = config.embeddedChain && config.devCredentials ? await registerDemoSet(db) : null;
    const credentials = makeAuth({ db, operators: config.operators, metricsToken: config.METRICS_TOKEN });
    // Every route's auth, then the gateway's request limit (operators are not limited).
    const limiter = makeRateLimiter({
      db,
      auth: credentials,
      limits: {
        readingsPerSecond: config.GATEWAY_READINGS_PER_SECOND,
        readingsBurst: config.GATEWAY_READINGS_BURST,
        requestsPerSecond: config.GATEWAY_REQUESTS_PER_SECOND,
        requestsBurst: config.GATEWAY_REQUESTS_BURST,
      },
    });
    const auth = limiter.auth;

    // Health checks run in the background with their own short timeouts; /health and the worker's fee-payer
    // floor read their last results and never wait on a black-holed database or RPC.
    let rpcWasAway = false;
    const healthRpc = makeRpcClient({ url: chain.rpcUrl, timeoutMs: Math.min(2_000, config.RPC_TIMEOUT_MS) });
    const opened = database;
    const startedAt = Date.now();
    const monitor = makeHealthMonitor(
      {
        db: { run: async () => (await opened.ping(1_000)) || Promise.reject(new Error('the database did not answer')), timeoutMs: 1_500 },
        rpc: {
          run: () =>
            healthRpc.call<{ value: number }>('getBalance', [authority.publicKey.toBase58(), { commitment: 'confirmed' }]).then(
              (r) => {
                // Back after an outage: the minting calls the outage swallowed are given up now rather than at
                // their timeout (RPC_TIMEOUT_MS), so minting resumes within a health interval of the RPC's return.
                if (rpcWasAway) {
                  rpcWasAway = false;
                  const abandoned = rpc.abandonInFlight();
                  if (abandoned) log.info({ abandoned }, 'RPC answers again; calls left without an answer are asked again');
                }
                return BigInt(r.value);
              },
              (e: unknown) => {
                rpcWasAway = true;
                throw e;
              },
            ),
          timeoutMs: 2_500,
        },
        rentBudget: { run: () => tokenAccountsLeftToday(db, config.MAX_NEW_TOKEN_ACCOUNTS_PER_DAY), timeoutMs: 1_500 },
        feeBudget: { run: () => feeLeftToday(db, config.MAX_FEE_LAMPORTS_PER_DAY), timeoutMs: 1_500 },
        mintRecords: { run: () => (generation ? mintRecordsReservedToday(db) : Promise.resolve(0)), timeoutMs: 1_500 },
        // Whether token_info still registers the REC validator (the governance authority may remove it at any
        // time): while it does not, mints would fail with RecValidatorNotFound, so the worker waits.
        coSigner: {
          run: async () => {
            if (!recValidator) return true;
            const res = await healthRpc.call<{ value: { data: [string, string] } | null }>('getAccountInfo', [
              identity.tokenInfo.toBase58(),
              { encoding: 'base64', commitment: 'confirmed' },
            ]);
            if (!res.value) throw new Error(`token_info ${identity.tokenInfo.toBase58()} is gone`);
            return coSignerAccepted(decodeTokenInfo(idl, Buffer.from(res.value.data[0], 'base64')), authority.publicKey, recValidator.publicKey);
          },
          timeoutMs: 2_500,
        },
      },
      { intervalMs: config.HEALTH_CHECK_INTERVAL_MS },
    );
    await monitor.start();
    stopMonitor = () => monitor.stop();
    /** The fee payer's balance as last seen (null: never seen, or the RPC is away now). */
    const feePayerLamports = async () => {
      const last = monitor.last('rpc');
      return last.ok ? (last.value as bigint) : null;
    };
    const checkReport = (name: 'db' | 'rpc'): CheckReport => {
      const last = monitor.last(name);
      return { status: last.ok ? 'ok' : 'unreachable', age_ms: monitor.ageMs(name), ...(last.error ? { error: last.error } : {}) };
    };
    /** The co-signing REC validator as last seen: registered, refused (not registered), or unknown (not seen yet). */
    const coSignerRefused = () => {
      const last = monitor.last('coSigner');
      return last.ok && last.value === false;
    };
    const coSignerReason = () =>
      `REC validator ${recValidator?.publicKey.toBase58()} is not registered in token_info (mints fail with RecValidatorNotFound, 6008): configure a registered validator's key in REC_VALIDATOR_KEYPAIR_PATH, or have the governance authority add it again`;
    // Open /health: the database only (what every role needs); the RPC never makes it 503.
    const health = () => ({ status: monitor.last('db').ok ? ('ok' as const) : ('unavailable' as const) });
    let workerState: (() => { running: boolean; paused: string | null; lastCycleAt: number | null; openBatches: number }) | null = null;
    const healthDetails = (): HealthDetails => {
      const [dbCheck, rpcCheck] = [checkReport('db'), checkReport('rpc')];
      const lamports = monitor.last('rpc').value as bigint | null;
      const budget = monitor.last('rentBudget');
      const w = workerState?.();
      const sinceStart = Date.now() - startedAt;
      return {
        status: dbCheck.status !== 'ok' ? 'unavailable' : rpcCheck.status !== 'ok' || coSignerRefused() ? 'degraded' : 'ok',
        db: dbCheck,
        rpc: { ...rpcCheck, url: displayUrl(chain.rpcUrl) },
        // Program and mint are checked once, at start.
        program: { id: identity.programId.toBase58(), version: program.version, age_ms: sinceStart },
        rec_validator: recValidator
          ? {
              address: recValidator.publicKey.toBase58(),
              registered: monitor.last('coSigner').ok ? (monitor.last('coSigner').value as boolean) : null,
              age_ms: monitor.ageMs('coSigner'),
            }
          : null,
        mint: { address: identity.mint.toBase58(), age_ms: sinceStart },
        fee_payer: {
          address: authority.publicKey.toBase58(),
          lamports: lamports === null ? null : lamports.toString(),
          below_floor: lamports === null ? null : lamports < config.MIN_FEE_PAYER_LAMPORTS,
          age_ms: monitor.ageMs('rpc'),
        },
        rent_budget: {
          new_token_accounts_left_today: (budget.value as number | null) ?? null,
          per_day: config.MAX_NEW_TOKEN_ACCOUNTS_PER_DAY,
          age_ms: monitor.ageMs('rentBudget'),
          ...(generation
            ? (() => {
                const reserved = monitor.last('mintRecords').value as number | null;
                return {
                  mint_records: {
                    reserved_today: reserved ?? null,
                    per_day: config.MAX_NEW_MINT_RECORDS_PER_DAY,
                    rent_lamports_today: reserved === null || reserved === undefined ? null : (BigInt(reserved) * RENT_GENERATION_RECORD).toString(),
                  },
                };
              })()
            : {}),
        },
        fee_budget: {
          lamports_left_today: monitor.last('feeBudget').value === null ? null : String(monitor.last('feeBudget').value),
          per_day: config.MAX_FEE_LAMPORTS_PER_DAY.toString(),
          age_ms: monitor.ageMs('feeBudget'),
        },
        worker: w
          ? {
              running: w.running,
              paused: w.paused !== null,
              reason: w.paused,
              age_ms: w.lastCycleAt === null ? null : Date.now() - w.lastCycleAt,
              open_batches: w.openBatches,
              in_flight_limit: inFlight.limit(),
              in_flight: inFlight.inFlight(),
            }
          : null,
      };
    };
    const defaults: Settings = {
      batchIntervalMs: config.BATCH_INTERVAL_MS,
      maxBatchSize: config.BLOCKCHAIN_MAX_BATCH_SIZE,
      maxAttempts: config.MAX_ATTEMPTS,
      backoffMs: config.RETRY_BACKOFF_MS,
    };
    const limits = { ...RUNTIME_LIMITS, maxTokensPerInstruction: cap, usersPerTx: config.BLOCKCHAIN_USERS_PER_TX };
    const acceptPolicy: AcceptPolicy = {
      rate,
      tolerance: config.PLAUSIBILITY_TOLERANCE,
      requireSigned: config.REQUIRE_SIGNED_READINGS,
      maxTokensPerReading: maxTokensPerReadingInOneTx(limits),
      refuseSettledWindows: generation,
    };
    const engine = makeMintEngine({
      chain: makeMintChain({
        rpc,
        authority,
        recValidator,
        registryAuthority: identity.registryAuthority,
        programId: identity.programId,
        mint: identity.mint,
        idl,
        log,
        onRateLimited: inFlight.rateLimited,
      }),
      log,
      limits,
      // The runner claims at most the current max batch size; the engine accepts what it is given.
      maxBatchSize: () => 10_000,
      inFlight,
      maxPriorityMicroLamports: BigInt(config.MAX_PRIORITY_FEE_MICROLAMPORTS),
      send: { pollMs: 250, rebroadcastMs: 2_000, followTimeoutMs: 180_000 },
      reserveTokenAccounts: (wallets) => reserveTokenAccounts(db, wallets, config.MAX_NEW_TOKEN_ACCOUNTS_PER_DAY),
      reserveFee: (lamports) => reserveFee(db, lamports, config.MAX_FEE_LAMPORTS_PER_DAY),
      reserveMintRecords: (count) => reserveMintRecords(db, count, config.MAX_NEW_MINT_RECORDS_PER_DAY),
      giveBack: { fee: (lamports) => giveBackFee(db, lamports), mintRecords: (count) => giveBackMintRecords(db, count) },
      // The chain's own word that the validator is no longer registered: /health and the worker's pause see it now.
      onCoSignerRefused: () => void monitor.runNow('coSigner'),
      // mint_generation plans legacy transactions only (each window's record is a new account): no tables to keep.
      lookupTables:
        config.LOOKUP_TABLE_MIN_MINTS > 0 && !generation
          ? {
              tables: makeLookupTables({
                rpc,
                authority,
                log,
                store: makeLookupTableStore(opened),
                send: { pollMs: 250, rebroadcastMs: 2_000, followTimeoutMs: 180_000 },
                shared: { tokenInfo: identity.tokenInfo, mint: identity.mint },
                reserveFee: (lamports) => reserveFee(db, lamports, config.MAX_FEE_LAMPORTS_PER_DAY),
              }),
              minMints: config.LOOKUP_TABLE_MIN_MINTS,
              mintCounts: (wallets) => mintCounts(db, wallets),
            }
          : undefined,
    });
    const metrics = makeMetrics({
      feePayerLamports,
      inFlight,
      queueCounts: async () => (await queueStats(db)).counts,
      batchStates: () => batchStateCounts(db),
      tokenAccountsLeft: () => tokenAccountsLeftToday(db, config.MAX_NEW_TOKEN_ACCOUNTS_PER_DAY),
      mintRecords: generation ? { reservedToday: () => mintRecordsReservedToday(db), perDay: config.MAX_NEW_MINT_RECORDS_PER_DAY, rentLamports: RENT_GENERATION_RECORD } : undefined,
    });
    const events = makeBatchEvents(opened);
    const runner = makeBatchRunner({
      db,
      engine,
      log,
      defaults,
      leaseMs: config.LEASE_MS,
      events,
      onResult: (r) => metrics.recordResult(r.outcome),
      windows: generation ? { graceMs: config.MINT_WINDOW_GRACE_MS } : undefined,
      minMint: { tokens: tokensOf(parseDecimal(config.MIN_MINT_TOKENS, 'MIN_MINT_TOKENS'), { tokensPerKwh: '1', decimals: 9 }), maxWaitMs: config.MAX_MINT_WAIT_MINUTES * 60_000 },
    });
    const policy = { maxAttempts: config.MAX_ATTEMPTS, backoffMs: config.RETRY_BACKOFF_MS };
    const rescueNow = async () => {
      // Expired idempotency keys and stream tickets go with the rescuer's cycle (a request also purges its own key).
      await Promise.all([purgeIdempotencyKeys(db, config.IDEMPOTENCY_TTL_HOURS), purgeStreamTickets(db), purgeSessions(db)]).catch((e: unknown) =>
        log.warn({ err: describeError(e) }, 'could not purge expired idempotency keys and stream tickets'),
      );
      return rescue({ db, rpc, explain: explainTransactionError(idl), log, policy, events, records: (windows) => readGenerationRecords(rpc, identity.programId, windows) });
    };
    await rescueNow();
    const worker =
      config.WORKER === 'on' && role !== 'api'
        ? startWorker({
            db,
            runner,
            rescue: rescueNow,
            log,
            defaults,
            pipelineDepth: config.WORKER_PIPELINE_DEPTH,
            windowGraceMs: generation ? config.MINT_WINDOW_GRACE_MS : undefined,
            // Read each cycle by every worker process: an operator's pause (POST /minting/pause) holds across
            // processes and restarts; the rescuer still follows signed transactions to the end while paused.
            paused: async () => {
              const pause = await mintingPause(db);
              if (pause) return `paused by ${pause.by}: ${pause.reason}`;
              if (coSignerRefused()) return coSignerReason();
              const lamports = await feePayerLamports();
              return lamports !== null && lamports < config.MIN_FEE_PAYER_LAMPORTS
                ? `fee payer ${authority.publicKey.toBase58()} has ${lamports} lamports, below MIN_FEE_PAYER_LAMPORTS (${config.MIN_FEE_PAYER_LAMPORTS})`
                : null;
            },
          })
        : null;
    workerState = worker ? worker.state : null;
    const app = makeApp({
      log,
      trustProxy: config.TRUST_PROXY,
      health,
      healthDetails,
      auth,
      metrics,
      routes: [
        readingRoutes({ db, policy: acceptPolicy, maxReadingsPerRequest: config.MAX_READINGS_PER_REQUEST, auth, log, limiter }),
        gridTokenXRoutes({ db, policy: acceptPolicy, maxReadingsPerRequest: config.MAX_READINGS_PER_REQUEST, kwhDecimals: config.GRIDTOKENX_KWH_DECIMALS, auth, log, limiter }),
        meterRoutes({ db, rate, auth, log }),
        gatewayRoutes({ db, auth, log }),
        controlRoutes({ db, auth, defaults, log }),
        consoleRoutes({
          db,
          auth,
          sessionHours: config.CONSOLE_SESSION_HOURS,
          defaults,
          healthDetails,
          chain: { genesisHash: identity.genesisHash, database: opened.kind === 'pglite' ? `PGlite in ${config.PGLITE_DIR}` : `Postgres ${displayUrl(config.DATABASE_URL ?? '')}` },
          log,
        }),
        mintRoutes({
          db,
          windows: generation,
          runner,
          engine,
          defaults,
          syncWindowMs: config.SYNC_WINDOW_MS,
          events,
          auth,
          log,
          idempotencyTtlHours: config.IDEMPOTENCY_TTL_HOURS,
          sse: { heartbeatMs: config.SSE_HEARTBEAT_MS, maxStreamsPerCaller: config.SSE_MAX_STREAMS_PER_CALLER, maxQueuedEvents: config.SSE_MAX_QUEUED_EVENTS },
        }),
      ],
    });
    const server =
      role === 'worker'
        ? null
        : await new Promise<ServerType>((resolve) => {
            const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, () => resolve(s));
          });
    const port = server ? (server.address() as AddressInfo).port : null;
    return {
      apiUrl: port === null ? null : `http://${apiHost(config.HOST)}:${port}`,
      app,
      database,
      engine,
      runner,
      worker,
      rpcUrl: chain.rpcUrl,
      wsUrl: chain.wsUrl,
      demo,
      stop: async () => {
        await worker?.stop();
        await runner.drain();
        await engine.stopTableUpkeep();
        monitor.stop();
        if (server) await new Promise<void>((r) => server.close(() => r()));
        await database?.close();
        await chain.close();
      },
    };
  } catch (e) {
    stopMonitor();
    await database?.close();
    await chain.close();
    throw e;
  }
}
