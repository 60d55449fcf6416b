// GET /metrics in Prometheus text: the queue by status, the fee payer's balance, and what batches did.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsSources {
  queueCounts: () => Promise<Record<string, number>>;
  feePayerLamports: () => Promise<bigint | null>;
  /** New token accounts left in today's budget (MAX_NEW_TOKEN_ACCOUNTS_PER_DAY). */
  tokenAccountsLeft?: () => Promise<number>;
  /** mint_generation: window records reserved today (UTC), of MAX_NEW_MINT_RECORDS_PER_DAY, and one record's rent. */
  mintRecords?: { reservedToday: () => Promise<number>; perDay: number; rentLamports: bigint };
  /** The engine's in-flight limiter: its current limit and the transactions in flight now. */
  inFlight?: { limit: () => number; inFlight: () => number };
  /** Batches by state, ended ones by how they ended (completed, completed_with_failures, failed, cancelled, interrupted). */
  batchStates?: () => Promise<Record<string, number>>;
}

export function makeMetrics(sources: MetricsSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'energy_readings',
    help: 'Readings in the queue by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      for (const [status, n] of Object.entries(await sources.queueCounts())) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'energy_fee_payer_lamports',
    help: "The fee payer's SOL balance in lamports (-1 when the RPC does not answer)",
    registers: [registry],
    async collect() {
      const l = await sources.feePayerLamports();
      this.set(l === null ? -1 : Number(l));
    },
  });
  if (sources.mintRecords) {
    const { reservedToday, perDay, rentLamports } = sources.mintRecords;
    new Gauge({
      name: 'energy_mint_records_budget_left',
      help: 'New mint_generation window records the authority may still pay rent for today (UTC), of MAX_NEW_MINT_RECORDS_PER_DAY',
      registers: [registry],
      async collect() {
        this.set(Math.max(0, perDay - (await reservedToday())));
      },
    });
    new Gauge({
      name: 'energy_mint_record_rent_lamports_today',
      help: 'Lamports of rent reserved today (UTC) for new mint_generation window records (1,183,200 each, never returned)',
      registers: [registry],
      async collect() {
        this.set(Number(BigInt(await reservedToday()) * rentLamports));
      },
    });
  }
  if (sources.tokenAccountsLeft) {
    const left = sources.tokenAccountsLeft;
    new Gauge({
      name: 'energy_token_accounts_budget_left',
      help: 'New token accounts the authority may still pay rent for today (UTC), of MAX_NEW_TOKEN_ACCOUNTS_PER_DAY',
      registers: [registry],
      async collect() {
        this.set(await left());
      },
    });
  }
  if (sources.inFlight) {
    const { limit, inFlight } = sources.inFlight;
    new Gauge({
      name: 'energy_mint_in_flight_limit',
      help: 'Mint transactions the adaptive limiter lets in flight now (BLOCKCHAIN_CONCURRENT_BATCHES..BLOCKCHAIN_MAX_IN_FLIGHT)',
      registers: [registry],
      collect() {
        this.set(limit());
      },
    });
    new Gauge({
      name: 'energy_mint_in_flight',
      help: 'Mint transactions in flight now (building, signing, sending or waiting to land)',
      registers: [registry],
      collect() {
        this.set(inFlight());
      },
    });
  }
  if (sources.batchStates) {
    const states = sources.batchStates;
    new Gauge({
      name: 'energy_batches',
      help: 'Batches by state; an ended batch by how it ended: completed (all minted), completed_with_failures, failed (none minted), cancelled, interrupted',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        for (const [state, n] of Object.entries(await states())) this.set({ state }, n);
      },
    });
  }
  const results = new Counter({ name: 'energy_mint_results_total', help: 'Mint results by outcome', labelNames: ['outcome'], registers: [registry] });
  return {
    registry,
    recordResult: (outcome: string) => results.inc({ outcome }),
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

export type Metrics = ReturnType<typeof makeMetrics>;
