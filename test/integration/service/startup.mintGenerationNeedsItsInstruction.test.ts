// MINT_INSTRUCTION=mint_generation needs a program that has it: with energy_token 0.1.0's IDL the start stops
// before anything else, naming the variable; an unknown value stops it too.
import { Writable } from 'node:stream';
import { loadConfig } from '../../../src/config.js';
import { makeLog } from '../../../src/log.js';
import { startService } from '../../../src/service.js';

const log = makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() }));

it('refuses mint_generation with an IDL that has no such instruction, naming MINT_INSTRUCTION', async () => {
  const config = loadConfig({ PORT: '0', MINT_INSTRUCTION: 'mint_generation', ENERGY_TOKEN_IDL: 'programs-idl/energy_token-0.1.0.json', WORKER: 'off' });
  await expect(startService(config, log)).rejects.toThrow(/MINT_INSTRUCTION=mint_generation: the IDL .*energy_token-0\.1\.0\.json \(energy_token 0\.1\.0\) has no mint_generation instruction/);
});

it('refuses an instruction it does not know, naming the variable', () => {
  expect(() => loadConfig({ MINT_INSTRUCTION: 'mint_to_wallet' })).toThrow(/MINT_INSTRUCTION/);
  expect(loadConfig({})).toMatchObject({ MINT_INSTRUCTION: 'mint_tokens_direct', MINT_WINDOW_GRACE_MS: 120_000, MAX_NEW_MINT_RECORDS_PER_DAY: 10_000 });
});
