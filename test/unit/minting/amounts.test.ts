// kWh → base units is exact: decimal strings or exactly-representable numbers in, bigint out, never rounded.
import fc from 'fast-check';
import { formatDecimal, kwhToTokens, maxTokensPerReading, parseDecimal } from '../../../src/minting/amounts.js';
import { InvalidBatchData } from '../../../src/errors.js';

const rate = { tokensPerKwh: '1', decimals: 9, maxKwh: '100000' };

describe('kwhToTokens', () => {
  it.each([
    ['1', 1_000_000_000n],
    ['0.000000001', 1n],
    ['12.5', 12_500_000_000n],
    ['100000', 100_000_000_000_000n],
    [2.75, 2_750_000_000n],
  ])('%s kWh is %s base units at 9 decimals', (kwh, tokens) => {
    expect(kwhToTokens(kwh, rate).tokens).toBe(tokens);
  });

  it('applies a decimal rate exactly', () => {
    expect(kwhToTokens('3', { ...rate, tokensPerKwh: '0.333333333' }).tokens).toBe(999_999_999n);
  });

  it.each([
    ['0.0000000001', /finer than the token's 9 decimals/],
    ['0', /greater than 0/],
    ['100000.000000001', /exceeds the maximum/],
    ['-1', /not a non-negative decimal/],
    ['1e3', /not a non-negative decimal/],
    ['abc', /not a non-negative decimal/],
    [1e21, /not exactly representable/],
    [0.1234567890123456, /not exactly representable/],
    [null, /decimal string or a number/],
  ])('refuses %p with a clear reason', (kwh, reason) => {
    expect(() => kwhToTokens(kwh, rate)).toThrow(InvalidBatchData);
    expect(() => kwhToTokens(kwh, rate)).toThrow(reason);
  });

  it('round-trips: tokens / 10^decimals is the kWh as written, for any kWh at token precision', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 100_000n * 10n ** 9n }), (units) => {
        const text = formatDecimal({ digits: units, scale: 9 });
        const { tokens, kwh } = kwhToTokens(text, rate);
        expect(tokens).toBe(units);
        expect(parseDecimal(kwh)).toEqual(parseDecimal(text));
      }),
    );
  });

  it('knows the largest reading, for the start-up check against the cap', () => {
    expect(maxTokensPerReading(rate)).toBe(100_000n * 10n ** 9n);
  });
});
