// What the engine does when the freeze refuses a window's transaction, and whose token account a window needs.
// Refused (WINDOW_CHANGED: deferred; WINDOW_UNMINTABLE: failed, saying why), nothing was recorded, so the fee and the
// window records reserved for that transaction go back to the day's budgets. A window is minted to its last
// reading's wallet: that recipient's account is the one reserved, and a window waits or goes whole.
import { randomBytes } from 'node:crypto';
import { Keypair } from '@solana/web3.js';
import { WindowChanged, WindowUnmintable } from '../../../src/errors.js';
import type { MintBatchData } from '../../../src/minting/types.js';
import { testEngine } from '../../support/engine.js';
import { startTestChain, type TestChain } from '../../support/localnet.js';

let chain: TestChain;
beforeAll(async () => {
  chain = await startTestChain({ slotMs: 20 });
});
afterAll(async () => chain?.stop());

let n = 0;
/** Readings of one fresh window (a past one), in time order, to the wallets given. */
function windowReadings(wallets: Keypair[]): MintBatchData[] {
  const window = { meterId: randomBytes(16).toString('hex'), startMs: Date.UTC(2026, 9, 1) + ++n * 900_000 };
  return wallets.map((w) => ({
    readingId: `00000000-0000-4000-9000-${String(++n).padStart(12, '0')}`,
    userId: w.publicKey.toBase58(),
    walletAddress: w.publicKey.toBase58(),
    kwhAmount: '1',
    tokensToMint: 1_000_000n,
    meterId: 'm',
    window,
  }));
}

function budgets() {
  const given = { fee: 0n, records: 0 };
  const reserved = { fee: 0n, records: 0 };
  return {
    given,
    reserved,
    deps: {
      reserveFee: async (l: bigint) => ((reserved.fee += l), true),
      reserveMintRecords: async (c: number) => ((reserved.records += c), c),
      giveBack: { fee: async (l: bigint) => void (given.fee += l), mintRecords: async (c: number) => void (given.records += c) },
    },
  };
}

it('a window whose freeze defers it gives back its fee and its record, and waits', async () => {
  const b = budgets();
  const { engine } = testEngine(chain, { ...b.deps, onSigned: async () => Promise.reject(new WindowChanged('a reading joined')) });
  const results = await engine.mintEnergyTokensBatch(windowReadings([Keypair.generate()]));
  expect(results.map((r) => r.outcome)).toEqual(['deferred']);
  expect(b.reserved.records).toBe(1);
  expect(b.given).toEqual({ fee: b.reserved.fee, records: 1 });
  expect(b.reserved.fee).toBeGreaterThan(0n);
});

it('a window that can never be frozen fails, saying why, and gives back what was reserved for it', async () => {
  const b = budgets();
  const { engine } = testEngine(chain, { ...b.deps, onSigned: async () => Promise.reject(new WindowUnmintable('reading x is completed')) });
  const results = await engine.mintEnergyTokensBatch(windowReadings([Keypair.generate(), Keypair.generate()]));
  expect(results.map((r) => [r.outcome, r.success])).toEqual([['failed', false], ['failed', false]]);
  expect(results[0]!.error).toMatch(/reading x is completed.*cannot be minted/);
  expect(b.given).toEqual({ fee: b.reserved.fee, records: 1 });
});

it('a window of readings to two wallets needs only its recipient\'s account, and goes whole', async () => {
  const asked: string[][] = [];
  const [first, last] = [Keypair.generate(), Keypair.generate()];
  const { engine, signed } = testEngine(chain, {
    // Room for one new account today: the first one asked for.
    reserveTokenAccounts: async (wallets) => (asked.push(wallets), new Set(wallets.slice(0, 1))),
  });
  const readings = windowReadings([first, last]);
  const results = await engine.mintEnergyTokensBatch(readings);
  expect(asked).toEqual([[last.publicKey.toBase58()]]);
  expect(results.map((r) => r.outcome)).toEqual(['minted', 'minted']);
  expect(signed).toHaveLength(1);
  expect(signed[0]!.windowBytes).toEqual({ [readings[0]!.readingId]: readings[0]!.window!.meterId, [readings[1]!.readingId]: readings[0]!.window!.meterId });
});
