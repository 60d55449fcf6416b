// Transaction errors decoded to the name a person can act on, by who raised them.
import { decodeTransactionError } from '../../../src/chain/programErrors.js';
import { loadIdl } from '../../../src/chain/energyToken.js';

const idl = loadIdl();
const program = () => 'program' as const;

it.each([
  [{ InstructionError: [2, { Custom: 6000 }] }, program, 'UnauthorizedAuthority', 'energy_token', /Unauthorized authority/],
  [{ InstructionError: [2, { Custom: 2012 }] }, program, 'ConstraintAddress', 'anchor', /custom error 2012/],
  [{ InstructionError: [3, { Custom: 3 }] }, program, 'MintMismatch', 'token-2022', /instruction 3/],
  [{ InstructionError: [2, { Custom: 0 }] }, () => 'ata' as const, 'InvalidOwner', 'associated-token', /custom error 0/],
  [{ InstructionError: [2, { Custom: 4 }] }, () => 'ata' as const, 'OwnerMismatch', 'token-2022', /OwnerMismatch/],
  [{ InstructionError: [2, { Custom: 99999 }] }, program, 'Custom99999', 'unknown', /Custom99999/],
  [{ InstructionError: [1, 'InvalidAccountData'] }, program, 'InvalidAccountData', 'runtime', /instruction 1: InvalidAccountData/],
  [{ InstructionError: [1, { BorshIoError: 'x' }] }, program, 'UnknownError', 'runtime', /BorshIoError/],
  ['InsufficientFundsForFee', program, 'InsufficientFundsForFee', 'runtime', /InsufficientFundsForFee/],
  [{ InsufficientFundsForRent: { account_index: 3 } }, program, 'InsufficientFundsForRent', 'runtime', /account_index/],
])('%j → %s', (err, origin, name, source, message) => {
  const d = decodeTransactionError(err as never, idl, origin);
  expect(d.name).toBe(name);
  expect(d.source).toBe(source);
  expect(d.message).toMatch(message);
});
