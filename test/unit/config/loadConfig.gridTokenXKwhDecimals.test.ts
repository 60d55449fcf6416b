// GRIDTOKENX_KWH_DECIMALS: 6 by default, 0 to 9 (the token's decimals); a bad value names the variable.
import { loadConfig } from '../../../src/config.js';

describe('loadConfig: GRIDTOKENX_KWH_DECIMALS', () => {
  it('is 6 by default and takes 0 to 9', () => {
    expect(loadConfig({}).GRIDTOKENX_KWH_DECIMALS).toBe(6);
    expect(loadConfig({ GRIDTOKENX_KWH_DECIMALS: '0' }).GRIDTOKENX_KWH_DECIMALS).toBe(0);
    expect(loadConfig({ GRIDTOKENX_KWH_DECIMALS: '9' }).GRIDTOKENX_KWH_DECIMALS).toBe(9);
  });

  it.each(['10', '2.5', 'six', '-1'])('refuses %p, naming the variable', (v) => {
    expect(() => loadConfig({ GRIDTOKENX_KWH_DECIMALS: v })).toThrow(/GRIDTOKENX_KWH_DECIMALS: must be (at most 9|a whole number|at least 0)/);
  });
});
