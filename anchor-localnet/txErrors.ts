// TransactionError / InstructionError as a validator reports them: the JSON form web3.js receives and
// the Display text that goes into "Transaction simulation failed: ...". litesvm gives numbers and small
// objects; the names are those of its internal.d.ts enums, in order.

const TX_ERRORS: [name: string, message: string][] = [
  ['AccountInUse', 'Account in use'],
  ['AccountLoadedTwice', 'Account loaded twice'],
  ['AccountNotFound', 'Attempt to debit an account but found no record of a prior credit.'],
  ['ProgramAccountNotFound', 'Attempt to load a program that does not exist'],
  ['InsufficientFundsForFee', 'Insufficient funds for fee'],
  ['InvalidAccountForFee', 'This account may not be used to pay transaction fees'],
  ['AlreadyProcessed', 'This transaction has already been processed'],
  ['BlockhashNotFound', 'Blockhash not found'],
  ['CallChainTooDeep', 'Loader call chain is too deep'],
  ['MissingSignatureForFee', 'Transaction requires a fee but has no signature present'],
  ['InvalidAccountIndex', 'Transaction contains an invalid account reference'],
  ['SignatureFailure', 'Transaction did not pass signature verification'],
  ['InvalidProgramForExecution', 'This program may not be used for executing instructions'],
  ['SanitizeFailure', 'Transaction failed to sanitize accounts offsets correctly'],
  ['ClusterMaintenance', 'Transactions are currently disabled due to cluster maintenance'],
  ['AccountBorrowOutstanding', 'Transaction processing left an account with an outstanding borrowed reference'],
  ['WouldExceedMaxBlockCostLimit', 'Transaction would exceed max Block Cost Limit'],
  ['UnsupportedVersion', 'Transaction version is unsupported'],
  ['InvalidWritableAccount', 'Transaction loads a writable account that cannot be written'],
  ['WouldExceedMaxAccountCostLimit', 'Transaction would exceed max account limit within the block'],
  ['WouldExceedAccountDataBlockLimit', 'Transaction would exceed account data limit within the block'],
  ['TooManyAccountLocks', 'Transaction locked too many accounts'],
  ['AddressLookupTableNotFound', "Transaction loads an address table account that doesn't exist"],
  ['InvalidAddressLookupTableOwner', 'Transaction loads an address table account with an invalid owner'],
  ['InvalidAddressLookupTableData', 'Transaction loads an address table account with invalid data'],
  ['InvalidAddressLookupTableIndex', 'Transaction address table lookup uses an invalid index'],
  ['InvalidRentPayingAccount', 'Transaction leaves an account with a lower balance than rent-exempt minimum'],
  ['WouldExceedMaxVoteCostLimit', 'Transaction would exceed max Vote Cost Limit'],
  ['WouldExceedAccountDataTotalLimit', 'Transaction would exceed total account data limit'],
  ['MaxLoadedAccountsDataSizeExceeded', 'Transaction exceeded max loaded accounts data size cap'],
  ['InvalidLoadedAccountsDataSizeLimit', 'LoadedAccountsDataSizeLimit set for transaction must be greater than 0.'],
  ['ResanitizationNeeded', 'Sanitized transaction differed before/after feature activiation. Needs to be resanitized.'],
  ['UnbalancedTransaction', 'Sum of account balances before and after transaction do not match'],
  ['ProgramCacheHitMaxLimit', 'Program cache hit max limit'],
  ['CommitCancelled', 'CommitCancelled'],
];

const IX_ERRORS: [name: string, message: string][] = [
  ['GenericError', 'generic instruction error'],
  ['InvalidArgument', 'invalid program argument'],
  ['InvalidInstructionData', 'invalid instruction data'],
  ['InvalidAccountData', 'invalid account data for instruction'],
  ['AccountDataTooSmall', 'account data too small for instruction'],
  ['InsufficientFunds', 'insufficient funds for instruction'],
  ['IncorrectProgramId', 'incorrect program id for instruction'],
  ['MissingRequiredSignature', 'missing required signature for instruction'],
  ['AccountAlreadyInitialized', 'instruction requires an uninitialized account'],
  ['UninitializedAccount', 'instruction requires an initialized account'],
  ['UnbalancedInstruction', 'sum of account balances before and after instruction do not match'],
  ['ModifiedProgramId', 'instruction illegally modified the program id of an account'],
  ['ExternalAccountLamportSpend', 'instruction spent from the balance of an account it does not own'],
  ['ExternalAccountDataModified', 'instruction modified data of an account it does not own'],
  ['ReadonlyLamportChange', 'instruction changed the balance of a read-only account'],
  ['ReadonlyDataModified', 'instruction modified data of a read-only account'],
  ['DuplicateAccountIndex', 'instruction contains duplicate accounts'],
  ['ExecutableModified', 'instruction changed executable bit of an account'],
  ['RentEpochModified', 'instruction modified rent epoch of an account'],
  ['NotEnoughAccountKeys', 'insufficient account keys for instruction'],
  ['AccountDataSizeChanged', "program other than the account's owner changed the size of the account data"],
  ['AccountNotExecutable', 'instruction expected an executable account'],
  ['AccountBorrowFailed', 'instruction tries to borrow reference for an account which is already borrowed'],
  ['AccountBorrowOutstanding', 'instruction left account with an outstanding borrowed reference'],
  ['DuplicateAccountOutOfSync', 'instruction modifications of multiply-passed account differ'],
  ['InvalidError', 'program returned invalid error code'],
  ['ExecutableDataModified', 'instruction changed executable accounts data'],
  ['ExecutableLamportChange', 'instruction changed the balance of an executable account'],
  ['ExecutableAccountNotRentExempt', 'executable accounts must be rent exempt'],
  ['UnsupportedProgramId', 'Unsupported program id'],
  ['CallDepth', 'Cross-program invocation call depth too deep'],
  ['MissingAccount', 'An account required by the instruction is missing'],
  ['ReentrancyNotAllowed', 'Cross-program invocation reentrancy not allowed for this instruction'],
  ['MaxSeedLengthExceeded', 'Length of the seed is too long for address generation'],
  ['InvalidSeeds', 'Provided seeds do not result in a valid address'],
  ['InvalidRealloc', 'Failed to reallocate account data'],
  ['ComputationalBudgetExceeded', 'Computational budget exceeded'],
  ['PrivilegeEscalation', 'Cross-program invocation with unauthorized signer or writable account'],
  ['ProgramEnvironmentSetupFailure', 'Failed to create program execution environment'],
  ['ProgramFailedToComplete', 'Program failed to complete'],
  ['ProgramFailedToCompile', 'Program failed to compile'],
  ['Immutable', 'Account is immutable'],
  ['IncorrectAuthority', 'Incorrect authority provided'],
  ['AccountNotRentExempt', 'An account does not have enough lamports to be rent-exempt'],
  ['InvalidAccountOwner', 'Invalid account owner'],
  ['ArithmeticOverflow', 'Program arithmetic overflowed'],
  ['UnsupportedSysvar', 'Unsupported sysvar'],
  ['IllegalOwner', 'Provided owner is not allowed'],
  ['MaxAccountsDataAllocationsExceeded', 'Accounts data allocations exceeded the maximum allowed per transaction'],
  ['MaxAccountsExceeded', 'Max accounts exceeded'],
  ['MaxInstructionTraceLengthExceeded', 'Max instruction trace length exceeded'],
  ['BuiltinProgramsMustConsumeComputeUnits', 'Builtin programs must consume compute units'],
  ['BorshIoError', 'Failed to serialize or deserialize account data'],
];

/** The JSON form a validator puts in `err` (e.g. "BlockhashNotFound", {"InstructionError":[0,{"Custom":6000}]}). */
export type UiTransactionError = string | Record<string, unknown>;

export interface RenderedError {
  json: UiTransactionError;
  message: string;
  /** Whether a validator would include the transaction in a block (and charge its fee). */
  committed: boolean;
}

const COMMITTED_FIELDLESS = new Set([
  'ProgramAccountNotFound',
  'InvalidProgramForExecution',
  'MaxLoadedAccountsDataSizeExceeded',
  'InvalidLoadedAccountsDataSizeLimit',
]);

export const txErrorByName = (name: string): RenderedError => {
  const entry = TX_ERRORS.find(([n]) => n === name);
  if (!entry) throw new Error(`unknown TransactionError ${name}`);
  return { json: name, message: entry[1], committed: COMMITTED_FIELDLESS.has(name) };
};

function renderInstructionError(inner: unknown): { json: unknown; message: string } {
  if (typeof inner === 'number') {
    const [name, message] = IX_ERRORS[inner] ?? ['GenericError', 'generic instruction error'];
    return { json: name, message };
  }
  if (inner && typeof inner === 'object' && 'code' in inner && typeof (inner as { code: unknown }).code === 'number') {
    const code = (inner as { code: number }).code;
    return { json: { Custom: code }, message: `custom program error: 0x${code.toString(16)}` };
  }
  return { json: 'BorshIoError', message: 'Failed to serialize or deserialize account data' };
}

/** Render the error object litesvm returns from `FailedTransactionMetadata.err()`. */
export function renderTxError(err: unknown): RenderedError {
  if (typeof err === 'number') {
    const [name, message] = TX_ERRORS[err] ?? ['SanitizeFailure', 'Transaction failed to sanitize accounts offsets correctly'];
    return { json: name, message, committed: COMMITTED_FIELDLESS.has(name) };
  }
  const e = err as { index?: number; accountIndex?: number; err?: () => unknown };
  const ctor = (err as object | null)?.constructor?.name ?? '';
  if (typeof e.err === 'function' && typeof e.index === 'number') {
    const inner = renderInstructionError(e.err());
    return {
      json: { InstructionError: [e.index, inner.json] },
      message: `Error processing Instruction ${e.index}: ${inner.message}`,
      committed: true,
    };
  }
  if (ctor.includes('InsufficientFundsForRent')) {
    return {
      json: { InsufficientFundsForRent: { account_index: e.accountIndex } },
      message: `Transaction results in an account (${e.accountIndex}) with insufficient funds for rent`,
      committed: true,
    };
  }
  if (ctor.includes('ProgramExecutionTemporarilyRestricted')) {
    return {
      json: { ProgramExecutionTemporarilyRestricted: { account_index: e.accountIndex } },
      message: `Execution of the program referenced by account at index ${e.accountIndex} is temporarily restricted.`,
      committed: true,
    };
  }
  if (ctor.includes('DuplicateInstruction')) {
    return {
      json: { DuplicateInstruction: e.index },
      message: `Transaction contains a duplicate instruction (${e.index}) that is not allowed`,
      committed: false,
    };
  }
  return { json: 'SanitizeFailure', message: 'Transaction failed to sanitize accounts offsets correctly', committed: false };
}
