// Turns a transaction error into the name and code a person can act on: the program's own errors from
// the IDL, Anchor's framework errors, Token-2022's (they surface through the mint CPI), or a builtin.
import { type Idl, LangErrorCode } from '@coral-xyz/anchor';
import type { TransactionErrorJson } from './rpcClient.js';

/** Anchor's framework errors by number (its own table: LangErrorCode, name → number). */
const ANCHOR_ERRORS: Record<number, string> = Object.fromEntries(Object.entries(LangErrorCode).map(([name, code]) => [code, name]));

const TOKEN_ERRORS = [
  'NotRentExempt', 'InsufficientFunds', 'InvalidMint', 'MintMismatch', 'OwnerMismatch', 'FixedSupply', 'AlreadyInUse',
  'InvalidNumberOfProvidedSigners', 'InvalidNumberOfRequiredSigners', 'UninitializedState', 'NativeNotSupported',
  'NonNativeHasBalance', 'InvalidInstruction', 'InvalidState', 'Overflow', 'AuthorityTypeNotSupported', 'MintCannotFreeze',
  'AccountFrozen', 'MintDecimalsMismatch', 'NonNativeNotSupported',
];

export interface DecodedError {
  /** Index of the failing instruction in the transaction, when the error names one. */
  instruction: number | null;
  name: string;
  code: number | null;
  /** Who raised it: the program, Anchor, Token-2022, the associated token program or the runtime. */
  source: string;
  message: string;
}

/**
 * `origin` says which program the failing instruction called: custom codes mean different things for
 * the energy_token program (whose CPI to Token-2022 passes Token-2022's codes through) and for the ATA program.
 */
export function decodeTransactionError(err: TransactionErrorJson, idl: Idl, origin: (ix: number) => 'program' | 'ata' | 'other'): DecodedError {
  if (typeof err === 'string') return { instruction: null, name: err, code: null, source: 'runtime', message: err };
  const ixErr = err.InstructionError as [number, unknown] | undefined;
  if (!ixErr) {
    const name = Object.keys(err)[0] ?? 'UnknownError';
    return { instruction: null, name, code: null, source: 'runtime', message: `${name} ${JSON.stringify(err[name])}` };
  }
  const [index, inner] = ixErr;
  if (typeof inner === 'string') return { instruction: index, name: inner, code: null, source: 'runtime', message: `instruction ${index}: ${inner}` };
  const code = (inner as { Custom?: number }).Custom;
  if (typeof code !== 'number') {
    return { instruction: index, name: 'UnknownError', code: null, source: 'runtime', message: `instruction ${index}: ${JSON.stringify(inner)}` };
  }
  const idlError = idl.errors?.find((e) => e.code === code);
  let name: string;
  let source: string;
  if (origin(index) === 'ata') {
    [name, source] = code === 0 ? ['InvalidOwner', 'associated-token'] : [TOKEN_ERRORS[code] ?? `Custom${code}`, 'token-2022'];
  } else if (idlError) {
    [name, source] = [idlError.name, 'energy_token'];
  } else if (ANCHOR_ERRORS[code]) {
    [name, source] = [ANCHOR_ERRORS[code]!, 'anchor'];
  } else if (code < TOKEN_ERRORS.length) {
    [name, source] = [TOKEN_ERRORS[code]!, 'token-2022'];
  } else {
    [name, source] = [`Custom${code}`, 'unknown'];
  }
  const detail = idlError?.msg ? `: ${idlError.msg}` : '';
  return { instruction: index, name, code, source, message: `${source} ${name} (custom error ${code}) in instruction ${index}${detail}` };
}

/**
 * The program refused the REC validator that co-signed (energy_token 0.1.1's RecValidatorNotFound, 6008): not
 * the recipient's fault and not the readings', but the service's key, so no reading is failed for it.
 */
export const refusesCoSigner = (d: DecodedError): boolean => d.source === 'energy_token' && d.name === 'RecValidatorNotFound';

/** The one-line reason for a landed transaction's error, when the failing instruction's program is ours. */
export const explainTransactionError = (idl: Idl) => (err: TransactionErrorJson): string => decodeTransactionError(err, idl, () => 'program').message;
