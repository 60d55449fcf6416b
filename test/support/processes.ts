// The service as separate processes (src/main.ts --role worker|api) on one Postgres database and one chain, for
// the tests that kill and restart them; and the exactly-once checks those tests end with.
import { type ChildProcess, spawn } from 'node:child_process';
import { PublicKey } from '@solana/web3.js';
import { TOKEN_2022_PROGRAM_ID, getAccount } from '@solana/spl-token';
import { inArray, sql } from 'drizzle-orm';
import type { Db } from '../../src/db/client.js';
import { mintTransactions, readings } from '../../src/db/schema.js';
import { REPO_ROOT } from '../../anchor-localnet/paths.js';
import { ataOf } from './energyToken.js';
import { privateAuthorityKey, privateRecValidatorKey, type TestChain } from './localnet.js';

export interface ServiceProcess {
  child: ChildProcess;
  /** The API's URL (role api), else null. */
  apiUrl: string | null;
  /** Everything the process wrote so far, stdout and stderr (its log lines with LOG_LEVEL info). */
  output(): string;
}

/**
 * Starts service processes against the database and chain `target` names (read at each start, so it may be
 * set in a beforeAll), with short intervals and leases; `killAll` SIGKILLs whatever is left (for afterAll).
 */
export function serviceProcesses(target: () => { databaseUrl: string; chain: TestChain }) {
  const keys = { authority: privateAuthorityKey(), recValidator: privateRecValidatorKey() };
  const children: ChildProcess[] = [];

  function start(role: 'worker' | 'api', env: Record<string, string> = {}): Promise<ServiceProcess> {
    const { databaseUrl, chain } = target();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--role', role], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        PORT: '0',
        DATABASE_URL: databaseUrl,
        SOLANA_RPC_URL: chain.url,
        SOLANA_WS_URL: chain.wsUrl,
        AUTHORITY_KEYPAIR_PATH: keys.authority,
        REC_VALIDATOR_KEYPAIR_PATH: keys.recValidator,
        GATEWAY_API_KEYS: 'gw:gw',
        OPERATOR_TOKEN: 'op',
        BATCH_INTERVAL_MS: '100',
        BLOCKCHAIN_MAX_BATCH_SIZE: '250',
        LEASE_MS: '3000',
        LOG_LEVEL: 'warn',
        // The readings here are a few base units each: minted as they are, not held to be summed.
        MIN_MINT_TOKENS: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stderr!.on('data', (d) => (out += String(d)));
    child.stdout!.on('data', (d) => (out += String(d)));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${role} did not start:\n${out}`)), 30_000);
      const ready = () => {
        const m = role === 'api' ? /API: (\S+)/.exec(out) : /Worker: polling/.exec(out);
        if (!m) return;
        clearTimeout(timer);
        child.stdout!.off('data', ready);
        resolve({ child, apiUrl: role === 'api' ? m[1]! : null, output: () => out });
      };
      child.stdout!.on('data', ready);
      child.once('exit', (code) => reject(new Error(`${role} exited with ${code}:\n${out}`)));
    });
  }

  return {
    start,
    killAll: () => {
      for (const c of children) c.kill('SIGKILL');
    },
  };
}

/** Signal a process and wait for its exit (at once if it has exited already). */
export const stopProcess = (c: ChildProcess, signal: NodeJS.Signals) =>
  new Promise<void>((r) => {
    if (c.exitCode !== null || c.signalCode !== null) return r();
    c.once('exit', () => r());
    c.kill(signal);
  });

export interface MintedRow {
  id: string;
  walletAddress: string;
  tokensToMint: bigint;
}

/**
 * 0 minted twice (no reading carried by two confirmed transactions), 0 lost (every reading completed), and each
 * wallet holds on chain exactly the sum of its readings (its wallets must receive tokens from nothing else).
 */
export async function expectEachMintedOnce(db: Db, chain: TestChain, rows: MintedRow[]): Promise<void> {
  const ids = new Set(rows.map((r) => r.id));
  const confirmed = await db.select().from(mintTransactions).where(sql`status = 'confirmed'`);
  const carried = confirmed.flatMap((tx) => tx.readingIds).filter((id) => ids.has(id));
  expect(carried.length).toBe(new Set(carried).size); // 0 minted twice
  const stored = await db.select().from(readings).where(inArray(readings.id, [...ids]));
  expect(stored.filter((r) => r.status !== 'completed')).toEqual([]); // 0 lost
  const sums = new Map<string, bigint>();
  for (const r of rows) sums.set(r.walletAddress, (sums.get(r.walletAddress) ?? 0n) + r.tokensToMint);
  for (const [wallet, sum] of sums) {
    const acc = await getAccount(chain.connection, ataOf(new PublicKey(wallet)), 'confirmed', TOKEN_2022_PROGRAM_ID);
    expect(acc.amount).toBe(sum);
  }
}
