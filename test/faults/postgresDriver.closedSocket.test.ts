// postgres.js 3.4.9 (the newest release) defers small writes to a setImmediate and does not check, when it
// fires, that the socket is still there; it also cancels that timer on close without forgetting it. A query
// on a connection whose socket just closed therefore threw from the timer (an uncaught TypeError that kills
// the process: CI saw it in postgresOutage), or sat unsent for ever. patches/postgres+3.4.9.patch (applied by
// patch-package on npm install) guards the write and forgets the timer; this test replays the crash through
// a TCP proxy that drops the link, and fails without the patch.
import postgres from 'postgres';
import { postgresAvailable, TEST_DATABASE_URL } from '../support/db.js';
import { startTcpFaultProxy, type TcpFaultProxy } from '../support/tcpFaultProxy.js';

let available = false;
let proxy: TcpFaultProxy;
beforeAll(async () => {
  available = await postgresAvailable();
  const u = new URL(TEST_DATABASE_URL);
  proxy = await startTcpFaultProxy({ host: u.hostname, port: Number(u.port || 5432) });
});
afterAll(() => proxy.stop());

/** Unpatched, a query on a closed connection may never settle: fail with what hung instead of jest's timeout. */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

test('a query on a reserved connection whose link dropped is rejected, the process lives, and the pool recovers', async () => {
  if (!available) return;
  const sql = postgres(proxy.urlFor(TEST_DATABASE_URL), { max: 2, fetch_types: false, connect_timeout: 5, onnotice: () => {} });
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  try {
    // reserve() waits for an open connection and does not open one itself: open one first.
    await sql`select 0`;
    const reserved = await sql.reserve();
    expect((await reserved`select 1 as one`)[0]).toEqual({ one: 1 });

    proxy.cut();
    // The first query after the cut is rejected by the socket's 'error' (the reset); its 'close' follows.
    await within(10_000, reserved`select 2`.catch(() => undefined), 'the first query after the cut');
    // Written between the 'error' and the 'close': unpatched, close() never settles it (the caller waits for ever).
    const second = await within(
      10_000,
      reserved`select 3`.then(() => 'answered', (e: { code?: string }) => e.code ?? 'rejected'),
      'a query on the closed reserved connection',
    );
    // By now the socket is gone (null): unpatched, this query's bytes go from a setImmediate to null.
    const third = await within(
      10_000,
      reserved`select 4`.then(() => 'answered', (e: { code?: string }) => e.code ?? 'rejected'),
      'a query on the closed reserved connection, after its close',
    );
    // Let any immediate the query scheduled run before looking.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(uncaught).toEqual([]);
    expect([second, third]).toEqual(['CONNECTION_CLOSED', 'CONNECTION_CLOSED']);
    reserved.release();

    // The pool's other connections are not poisoned: once the link is back, a query is answered.
    proxy.restore();
    const deadline = Date.now() + 20_000;
    let answer: unknown = null;
    while (answer === null && Date.now() < deadline) {
      answer = await within(10_000, sql`select 5 as five`, 'a pooled query after the restore').then((r) => r[0], () => null);
    }
    expect(answer).toEqual({ five: 5 });
  } finally {
    process.off('uncaughtException', onUncaught);
    await sql.end({ timeout: 1 });
  }
});
