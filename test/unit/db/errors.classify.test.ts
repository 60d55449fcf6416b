// Database failures are classified by code (SQLSTATE, or the client's connection codes), through drizzle's
// wrapper, never by message text; only passing ones are retried, and a write that never answers is one.
import { describeError, dbErrorCode, isTransientDbError, NoAnswer, retryTransient } from '../../../src/db/errors.js';

const withCode = (code: string, message = 'boom') => Object.assign(new Error(message), { code });
/** As drizzle wraps a driver error: its message holds the SQL and the parameters. */
const wrapped = (cause: Error) => Object.assign(new Error('Failed query: update readings set x = $1\nparams: secret-value'), { query: 'update readings', params: ['secret-value'], cause });

describe('classification', () => {
  it.each([
    ['40P01', true],
    ['40001', true],
    ['08006', true],
    ['08000', true],
    ['57P01', true],
    ['53300', true],
    ['ECONNRESET', true],
    ['CONNECTION_CLOSED', true],
    ['NO_ANSWER', true],
    ['23505', false],
    ['22P02', false],
    ['CONNECTION_ENDED', false],
  ])('code %s is transient: %s', (code, transient) => {
    expect(isTransientDbError(withCode(code))).toBe(transient);
    expect(isTransientDbError(wrapped(withCode(code)))).toBe(transient);
  });

  it('reads the code through the cause chain, and ignores the message text', () => {
    expect(dbErrorCode(wrapped(withCode('40P01')))).toBe('40P01');
    expect(isTransientDbError(new Error('deadlock detected'))).toBe(false);
  });

  it('describes a database error by its code only: no SQL, no parameters', () => {
    const text = describeError(wrapped(withCode('23505', 'duplicate key value violates unique constraint "x" detail secret-value')));
    expect(text).toBe('database error 23505');
    expect(describeError(wrapped(withCode('08006')))).toBe('database error 08006 (transient)');
    expect(describeError(new Error('plain'))).toBe('plain');
  });
});

describe('retryTransient', () => {
  const noSleep = async () => {};

  it('retries passing failures until the write goes through', async () => {
    let calls = 0;
    const retries: number[] = [];
    const result = await retryTransient(
      async () => {
        if (++calls < 3) throw wrapped(withCode('40P01'));
        return 'ok';
      },
      { sleep: noSleep, onRetry: (_e, attempt) => retries.push(attempt) },
    );
    expect(result).toBe('ok');
    expect(retries).toEqual([1, 2]);
  });

  it('throws a failure that is not passing at once', async () => {
    let calls = 0;
    await expect(retryTransient(async () => void (++calls, (() => { throw withCode('23505'); })()), { sleep: noSleep })).rejects.toMatchObject({ code: '23505' });
    expect(calls).toBe(1);
  });

  it('stops retrying once its signal is aborted', async () => {
    const giveUp = new AbortController();
    let calls = 0;
    await expect(
      retryTransient(
        async () => {
          if (++calls === 2) giveUp.abort();
          throw withCode('08006');
        },
        { sleep: noSleep, signal: giveUp.signal },
      ),
    ).rejects.toMatchObject({ code: '08006' });
    expect(calls).toBe(2);
  });

  it('an attempt that never answers counts as a passing failure and is tried again', async () => {
    let calls = 0;
    const seen: unknown[] = [];
    const result = await retryTransient(() => (++calls === 1 ? new Promise<string>(() => {}) : Promise.resolve('second')), {
      sleep: noSleep,
      attemptTimeoutMs: 20,
      onRetry: (e) => seen.push(e),
    });
    expect(result).toBe('second');
    expect(seen[0]).toBeInstanceOf(NoAnswer);
  });
});
