// The GridTokenX routes' one rounding: a client's float to a signed decimal, half-even, exactly (ties to the
// even digit, the float read as the shortest decimal that JSON carried, exponent forms expanded).
import { formatSigned, roundHalfEven } from '../../../src/minting/amounts.js';

const r = (n: number, places = 6) => formatSigned(roundHalfEven(n, places));

describe('roundHalfEven', () => {
  it.each([
    [0.24999999999999997, '0.25'],
    [0.1 + 0.2, '0.3'],
    [0.0000125, '0.000012'],
    [0.0000135, '0.000014'],
    [0.0000145, '0.000014'],
    [2.5e-7, '0'],
    [1.5e-6, '0.000002'],
    [-0.8, '-0.8'],
    [-0.0000125, '-0.000012'],
    [-1e-9, '0'],
    [0, '0'],
    [1e21, '1000000000000000000000'],
    [123.4567894, '123.456789'],
  ])('%p → %s', (n, text) => expect(r(n)).toBe(text));

  it('rounds to the places asked', () => {
    expect(r(2.5, 0)).toBe('2');
    expect(r(3.5, 0)).toBe('4');
    expect(r(0.125, 2)).toBe('0.12');
  });

  it('refuses what is not a finite number', () => {
    expect(() => roundHalfEven(Number.NaN, 6)).toThrow(RangeError);
  });
});
