/*
 * energy_token 0.1.1, as GridTokenX deploys it (IDL: programs-idl/energy_token-0.1.1.json), written
 * in C for the local chain. Instructions: mint_tokens_direct (read-only token_info, REC-validator
 * co-signature), mint_generation (one mint per meter and window, guarded by a GenerationMintRecord PDA),
 * initialize_token, add_rec_validator, remove_rec_validator, set_registry_authority and
 * sync_total_supply. The IDL's other instructions answer InstructionFallbackNotFound (101).
 *
 * Each behaves as Anchor's generated code does: dispatch on the 8-byte discriminator, deserialize the
 * arguments, load the accounts in order (AccountNotEnoughKeys, owner, discriminator, signer, program
 * id, token state), then the `init` accounts' creation, then each other account's constraints in field
 * order (seeds before mut, then raw and token constraints), then the handler. Errors come back as Anchor
 * returns them (the error number as a custom program error, a builtin ProgramError as itself) with
 * Anchor's log line ("AnchorError caused by account: ...", "AnchorError thrown in <file>:<line>. ...",
 * "AnchorError occurred. ...") and the Left/Right pubkeys or numbers where Anchor logs them, so the
 * Anchor TS client decodes them by name.
 *
 * Build: anchor-localnet/toolchain (clang-14 -target bpf, then the project's own linker). No .data
 * or .bss; every helper that holds a sizeable buffer is NOINLINE so that no BPF frame exceeds 512 bytes.
 */

/* Shared with 0.1.0: types, syscalls, the Token-2022 id, the common Anchor names, NOINLINE / LOG and the
 * small helpers (key_eq, bytes8_eq, read_u64, write_u64, copy_bytes, log_compared). */
#include "energy_token_common.h"

#define MAX_ACCOUNTS 7
#define LOG_CAP 320

/* The syscall only 0.1.1 needs (the others are in energy_token_common.h). */
extern u64 sol_get_rent_sysvar(void *rent);

static const Pubkey SYSTEM_ID = {{0}};
static const Pubkey TOKEN_ID = {{0x06, 0xdd, 0xf6, 0xe1, 0xd7, 0x65, 0xa1, 0x93, 0xd9, 0xcb, 0xe1, 0x46, 0xce,
                                 0xeb, 0x79, 0xac, 0x1c, 0xb4, 0x85, 0xed, 0x5f, 0x5b, 0x37, 0x91, 0x3a, 0x8c,
                                 0xf5, 0x85, 0x7e, 0xff, 0x00, 0xa9}};
static const Pubkey RENT_SYSVAR_ID = {{0x06, 0xa7, 0xd5, 0x17, 0x19, 0x2c, 0x5c, 0x51, 0x21, 0x8c, 0xc9,
                                       0x4c, 0x3d, 0x4a, 0xf1, 0x7f, 0x58, 0xda, 0xee, 0x08, 0x9b, 0xa1,
                                       0xfd, 0x44, 0xe3, 0xdb, 0xd9, 0x8a, 0x00, 0x00, 0x00, 0x00}};
static const Pubkey ASSOCIATED_TOKEN_ID = {{0x8c, 0x97, 0x25, 0x8f, 0x4e, 0x24, 0x89, 0xf1, 0xbb, 0x3d, 0x10,
                                            0x29, 0x14, 0x8e, 0x0d, 0x83, 0x0b, 0x5a, 0x13, 0x99, 0xda, 0xff,
                                            0x10, 0x84, 0x04, 0x8e, 0x7b, 0xd8, 0xdb, 0xe9, 0xf8, 0x59}};
/* GridTokenX's governance program (FokVuBSPXP11aeL7VZWd8n8aVAhWqVpyPZETToSxdvTS): owner of the
 * governance_config PDA whose authority (bytes 8..40) manages the REC validators. */
static const Pubkey GOVERNANCE_PROGRAM_ID = {{0xdb, 0xfd, 0x84, 0x90, 0xf6, 0xa5, 0x99, 0x05, 0x27, 0x3a,
                                              0x56, 0x2a, 0xb4, 0x47, 0xf6, 0x41, 0x98, 0x7c, 0xd2, 0xf7,
                                              0x77, 0xd2, 0x19, 0x58, 0x95, 0xd5, 0x4e, 0xbd, 0xaf, 0x73,
                                              0xe3, 0xa1}};

/* Besides mint_tokens_direct, TokenInfo, GridTokensMinted and the token_info seed (energy_token_common.h). */
static const u8 IX_INITIALIZE_TOKEN[8] = {38, 209, 150, 50, 190, 117, 16, 54};
static const u8 IX_ADD_REC_VALIDATOR[8] = {73, 235, 183, 190, 157, 85, 246, 2};
static const u8 IX_REMOVE_REC_VALIDATOR[8] = {72, 241, 240, 121, 61, 205, 221, 16};
static const u8 IX_SET_REGISTRY_AUTHORITY[8] = {140, 214, 166, 246, 135, 116, 20, 37};
static const u8 IX_SYNC_TOTAL_SUPPLY[8] = {253, 7, 48, 185, 242, 72, 94, 11};
static const u8 IX_MINT_GENERATION[8] = {111, 104, 39, 191, 209, 179, 195, 66};
static const u8 ACCOUNT_GENERATION_MINT_RECORD[8] = {180, 156, 98, 22, 4, 164, 210, 185};
static const u8 EVENT_TOTAL_SUPPLY_SYNCED[8] = {13, 216, 243, 166, 4, 249, 94, 229};
static const u8 EVENT_TOKENS_MINTED[8] = {207, 212, 128, 194, 175, 54, 64, 24};
static const char MINT_SEED[] = "mint_2022";
static const char GOVERNANCE_CONFIG_SEED[] = "governance_config";
static const char GEN_MINT_SEED[] = "gen_mint";

/* TokenInfo (zero-copy, repr C) after its 8-byte discriminator. */
#define TI_AUTHORITY 8
#define TI_REGISTRY_AUTHORITY 40
#define TI_REGISTRY_PROGRAM 72
#define TI_MINT 104
#define TI_TOTAL_SUPPLY 136
#define TI_CREATED_AT 144
#define TI_REC_VALIDATORS 152
#define TI_REC_VALIDATORS_COUNT 312
#define MAX_REC_VALIDATORS 5
#define TOKEN_INFO_SIZE 320
/* GenerationMintRecord after its 8-byte discriminator: meter_id [u8; 16], window_start_ms i64, amount u64,
 * minted bool, bump u8. */
#define GMR_METER_ID 8
#define GMR_WINDOW_START_MS 24
#define GMR_AMOUNT 32
#define GMR_MINTED 40
#define GMR_BUMP 41
#define GENERATION_MINT_RECORD_SIZE 42
/* Settlement windows are 15 minutes, keyed in milliseconds. */
#define WINDOW_MS 900000ULL
#define WINDOW_S 900
/* SPL mint and token account (Token and Token-2022 base layouts). */
#define MINT_LEN 82
#define MINT_SUPPLY 36
#define MINT_IS_INITIALIZED 45
#define TOKEN_ACCOUNT_LEN 165
#define TOKEN_ACCOUNT_MINT 0
#define TOKEN_ACCOUNT_OWNER 32
#define TOKEN_ACCOUNT_STATE 108
#define MULTISIG_LEN 355
#define ACCOUNT_TYPE_OFFSET 165
#define DECIMALS 9

#define PK(data, offset) ((const Pubkey *)((data) + (offset)))

/* Error (name, number, message) triples, as Anchor and the program's error.rs name them. */
#define E_FALLBACK "InstructionFallbackNotFound", 101ULL, "Fallback functions are not supported"
#define E_MISSING "InstructionMissing", 100ULL, "8 byte instruction identifier not provided"
#define E_DID_NOT_DESERIALIZE "InstructionDidNotDeserialize", 102ULL, "The program could not deserialize the given instruction"
#define E_MUT "ConstraintMut", 2000ULL, "A mut constraint was violated"
#define E_OWNER "ConstraintOwner", 2004ULL, "An owner constraint was violated"
#define E_RENT_EXEMPT "ConstraintRentExempt", 2005ULL, "A rent exemption constraint was violated"
#define E_SEEDS "ConstraintSeeds", 2006ULL, "A seeds constraint was violated"
#define E_TOKEN_MINT "ConstraintTokenMint", 2014ULL, "A token mint constraint was violated"
#define E_TOKEN_OWNER "ConstraintTokenOwner", 2015ULL, "A token owner constraint was violated"
#define E_SPACE "ConstraintSpace", 2019ULL, "A space constraint was violated"
#define E_TOKEN_TOKEN_PROGRAM "ConstraintTokenTokenProgram", 2021ULL, "A token account token program constraint was violated"
#define E_DISC_NOT_FOUND "AccountDiscriminatorNotFound", 3001ULL, "No discriminator was found on the account"
#define E_DISC_MISMATCH "AccountDiscriminatorMismatch", 3002ULL, "Account discriminator did not match what was expected"
#define E_ACCOUNT_DID_NOT_DESERIALIZE "AccountDidNotDeserialize", 3003ULL, "Failed to deserialize the account"
#define E_NOT_ENOUGH_KEYS "AccountNotEnoughKeys", 3005ULL, "Not enough account keys given to the instruction"
#define E_OWNED_WRONG "AccountOwnedByWrongProgram", 3007ULL, "The given account is owned by a different program than expected"
#define E_INVALID_PROGRAM_ID "InvalidProgramId", 3008ULL, "Program ID was not as expected"
#define E_NOT_SIGNER "AccountNotSigner", 3010ULL, "The given account did not sign"
#define E_NOT_INITIALIZED "AccountNotInitialized", 3012ULL, "The program expected this account to be already initialized"
#define E_INIT_PAYER "TryingToInitPayerAsProgramAccount", 4101ULL, "You cannot/should not initialize the payer account as a program account"
#define E_UNAUTHORIZED "UnauthorizedAuthority", 6000ULL, "Unauthorized authority"
#define E_VALIDATOR_EXISTS "ValidatorAlreadyExists", 6006ULL, "Validator already exists in the list"
#define E_MAX_VALIDATORS "MaxValidatorsReached", 6007ULL, "Maximum number of validators reached"
#define E_REC_NOT_FOUND "RecValidatorNotFound", 6008ULL, "REC validator not found in the registered list"
#define E_REMOVE_NOT_FOUND "RemoveValidatorNotFound", 6009ULL, "Validator to remove not found in the registered list"
#define E_MISALIGNED_WINDOW "MisalignedWindow", 6010ULL, "Window start must be a positive 15-minute (900_000 ms) boundary at or before now"
#define E_ZERO_AMOUNT "ZeroAmount", 6011ULL, "Mint amount must be greater than zero"
#define E_REC_IS_AUTHORITY "RecValidatorIsAuthority", 6012ULL, "REC validator co-signer must differ from the platform authority"
#define E_INVALID_GOVERNANCE "InvalidGovernanceAccount", 6013ULL, "Invalid governance account — must be the canonical governance_config PDA"
/* Builtin ProgramErrors (to_builtin!(n) = n << 32), as Anchor logs them. */
#define P_INVALID_ARGUMENT "InvalidArgument", (3ULL << 32), "The arguments provided to a program instruction were invalid"
#define P_INVALID_ACCOUNT_DATA "InvalidAccountData", (4ULL << 32), "An account's data contents was invalid"
#define P_UNINITIALIZED "UninitializedAccount", (10ULL << 32), "An attempt to operate on an account that hasn't been initialized"

#define CAUSED "AnchorError caused by account: "
#define THROWN "AnchorError thrown in "
#define OCCURRED "AnchorError occurred"
#define P_CAUSED "ProgramError caused by account: "
#define SRC "programs/energy-token/src/"

static int is_token_program(const Pubkey *k) { return key_eq(k, &TOKEN_2022_ID) || key_eq(k, &TOKEN_ID); }

static u64 append(u8 *line, u64 at, const char *s) {
  while (*s && at < LOG_CAP) line[at++] = (u8)*s++;
  return at;
}

/* Logs Anchor's error line "<head><origin>. Error Code: <name>. Error Number: <n>. Error Message: <msg>."
 * and returns the error as the program returns it. */
NOINLINE static u64 fail(const char *head, const char *origin, const char *name, u64 number, const char *msg) {
  u8 line[LOG_CAP];
  u64 at = append(line, 0, head);
  at = append(line, at, origin);
  at = append(line, at, ". Error Code: ");
  at = append(line, at, name);
  at = append(line, at, ". Error Number: ");
  u8 digits[20];
  int k = 0;
  u64 v = number;
  do {
    digits[k++] = (u8)('0' + v % 10);
    v /= 10;
  } while (v);
  while (k && at < LOG_CAP) line[at++] = digits[--k];
  at = append(line, at, ". Error Message: ");
  at = append(line, at, msg);
  at = append(line, at, ".");
  sol_log_((const char *)line, at);
  return number;
}

/* fail(...) for the errors after which Anchor also logs the compared keys. */
NOINLINE static u64 with_compared(u64 err, const Pubkey *left, const Pubkey *right) {
  log_compared(left, right);
  return err;
}

/*
 * Parse the input buffer (BPFLoaderUpgradeable, aligned ABI). Fills at most MAX_ACCOUNTS infos;
 * further accounts are walked over (Anchor ignores remaining accounts). Returns the number of
 * accounts given and points *data / *data_len / *program_id at the instruction.
 */
NOINLINE static u64 parse_input(u8 *input, SolAccountInfo *infos, const u8 **data, u64 *data_len,
                                const Pubkey **program_id) {
  u64 n = *(const u64 *)input;
  u8 *p = input + 8;
  for (u64 i = 0; i < n; i++) {
    u8 dup = p[0];
    if (dup != 0xff) {
      if (i < MAX_ACCOUNTS && dup < MAX_ACCOUNTS) infos[i] = infos[dup];
      p += 8;
      continue;
    }
    u64 len = *(const u64 *)(p + 80);
    if (i < MAX_ACCOUNTS) {
      SolAccountInfo *info = &infos[i];
      info->is_signer = p[1];
      info->is_writable = p[2];
      info->executable = p[3];
      info->key = (const Pubkey *)(p + 8);
      info->owner = (const Pubkey *)(p + 40);
      info->lamports = (u64 *)(p + 72);
      info->data_len = len;
      info->data = p + 88;
    }
    p += 88 + ((len + 7) & ~7ULL) + REALLOC_ROOM;
    if (i < MAX_ACCOUNTS) infos[i].rent_epoch = *(const u64 *)p;
    p += 8;
  }
  *data_len = *(const u64 *)p;
  *data = p + 8;
  *program_id = (const Pubkey *)(p + 8 + *data_len);
  return n;
}

/* ---- the load phase: one helper per Anchor account type ------------------------------------------ */

NOINLINE static u64 missing(const char *name) { return fail(CAUSED, name, E_NOT_ENOUGH_KEYS); }

/* AccountLoader<TokenInfo>: owner, discriminator, and the size a zero-copy load reads. */
NOINLINE static u64 load_token_info(const SolAccountInfo *a, const Pubkey *program_id) {
  if (!key_eq(a->owner, program_id)) {
    return with_compared(fail(CAUSED, "token_info", E_OWNED_WRONG), a->owner, program_id);
  }
  if (a->data_len < 8) return fail(CAUSED, "token_info", E_DISC_NOT_FOUND);
  if (!bytes8_eq(a->data, ACCOUNT_TOKEN_INFO) || a->data_len < TOKEN_INFO_SIZE)
    return fail(CAUSED, "token_info", E_DISC_MISMATCH);
  return SUCCESS;
}

/* InterfaceAccount<Mint> / InterfaceAccount<TokenAccount>: initialized, owned by Token or Token-2022,
 * and unpacked as Token-2022's StateWithExtensions does (length, account type, is_initialized). */
NOINLINE static u64 load_token_state(const SolAccountInfo *a, const char *name, int is_mint) {
  if (key_eq(a->owner, &SYSTEM_ID) && *a->lamports == 0) return fail(CAUSED, name, E_NOT_INITIALIZED);
  if (!is_token_program(a->owner)) return fail(CAUSED, name, E_OWNED_WRONG);
  u64 base = is_mint ? MINT_LEN : TOKEN_ACCOUNT_LEN;
  if (a->data_len < base || a->data_len == MULTISIG_LEN) return fail(P_CAUSED, name, P_INVALID_ACCOUNT_DATA);
  if (a->data_len > base && (a->data_len <= ACCOUNT_TYPE_OFFSET || a->data[ACCOUNT_TYPE_OFFSET] != (is_mint ? 1 : 2)))
    return fail(P_CAUSED, name, P_INVALID_ACCOUNT_DATA);
  if ((is_mint ? a->data[MINT_IS_INITIALIZED] : a->data[TOKEN_ACCOUNT_STATE]) == 0)
    return fail(P_CAUSED, name, P_UNINITIALIZED);
  return SUCCESS;
}

NOINLINE static u64 need_signer(const SolAccountInfo *a, const char *name) {
  return a->is_signer ? SUCCESS : fail(CAUSED, name, E_NOT_SIGNER);
}

/* Program<T>: the exact program id, with the compared keys logged. */
NOINLINE static u64 need_program(const SolAccountInfo *a, const char *name, const Pubkey *id) {
  if (key_eq(a->key, id)) return SUCCESS;
  return with_compared(fail(CAUSED, name, E_INVALID_PROGRAM_ID), a->key, id);
}

/* ---- the constraint phase ------------------------------------------------------------------------ */

NOINLINE static u64 need_mut(const SolAccountInfo *a, const char *name) {
  return a->is_writable ? SUCCESS : fail(CAUSED, name, E_MUT);
}

/* seeds = [seed], bump: the canonical PDA of `program` (found, not given), or ConstraintSeeds. */
NOINLINE static u64 need_pda(const SolAccountInfo *a, const char *name, const SolSignerSeed *seed, const Pubkey *program,
                             u8 *bump) {
  Pubkey expected;
  sol_try_find_program_address(seed, 1, program, &expected, bump);
  if (key_eq(a->key, &expected)) return SUCCESS;
  return with_compared(fail(CAUSED, name, E_SEEDS), a->key, &expected);
}

static const SolSignerSeed TOKEN_INFO_SEEDS[1] = {{(const u8 *)TOKEN_INFO_SEED, sizeof(TOKEN_INFO_SEED) - 1}};
static const SolSignerSeed MINT_SEEDS[1] = {{(const u8 *)MINT_SEED, sizeof(MINT_SEED) - 1}};
#define TOKEN_INFO_PDA(a, program_id, bump) need_pda((a), "token_info", TOKEN_INFO_SEEDS, (program_id), (bump))

/* ---- shared pieces of the handlers --------------------------------------------------------------- */

static i64 unix_timestamp(void) {
  SolClock clock;
  sol_get_clock_sysvar(&clock);
  return clock.unix_timestamp;
}

/* emit!(<event> { key, value, timestamp }): both events of this program have that shape. */
NOINLINE static void emit_key_u64_i64(const u8 *discriminator, const u8 *key, u64 value) {
  u8 event[8 + 32 + 8 + 8];
  copy_bytes(event, discriminator, 8);
  copy_bytes(event + 8, key, 32);
  write_u64(event + 40, value);
  write_u64(event + 48, (u64)unix_timestamp());
  SolBytes bytes = {event, sizeof(event)};
  sol_log_data(&bytes, 1);
}

/* rec_validator_registered: one of rec_validators[0..count]. */
static int rec_validator_registered(const u8 *ti, const Pubkey *key) {
  u64 count = ti[TI_REC_VALIDATORS_COUNT];
  for (u64 i = 0; i < count && i < MAX_REC_VALIDATORS; i++)
    if (key_eq(PK(ti, TI_REC_VALIDATORS + 32 * i), key)) return 1;
  return 0;
}

/* ---- mint_tokens_direct ---------------------------------------------------------------------------- */

/* Token MintTo (instruction 7) through the given token program, signed by the token_info PDA. */
NOINLINE static u64 cpi_mint_to(const SolAccountInfo *a, u64 amount, u8 bump) {
  u8 data[9];
  data[0] = 7;
  write_u64(data + 1, amount);
  SolAccountMeta metas[3] = {
      {a[1].key, 1, 0},
      {a[2].key, 1, 0},
      {a[0].key, 0, 1},
  };
  SolInstruction ix = {a[6].key, metas, 3, data, sizeof(data)};
  u8 bump_seed[1] = {bump};
  SolSignerSeed seeds[2] = {
      {(const u8 *)TOKEN_INFO_SEED, sizeof(TOKEN_INFO_SEED) - 1},
      {bump_seed, 1},
  };
  SolSignerSeeds signer = {seeds, 2};
  /* The infos of the three accounts MintTo takes (the token program needs none). */
  SolAccountInfo infos[3] = {a[1], a[2], a[0]};
  return sol_invoke_signed_c(&ix, infos, 3, &signer, 1);
}

/* Accounts: token_info, mint (w), user_token_account (w), authority (s), registry_authority,
 * rec_validator (s), token_program. */
NOINLINE static u64 mint_tokens_direct(const SolAccountInfo *a, u64 n, const u8 *args, u64 args_len,
                                       const Pubkey *program_id) {
  LOG("Instruction: MintTokensDirect");
  if (args_len < 8) return fail(OCCURRED, "", E_DID_NOT_DESERIALIZE);
  u64 amount = read_u64(args);
  u64 err;

  if (n < 1) return missing("token_info");
  if ((err = load_token_info(&a[0], program_id))) return err;
  if (n < 2) return missing("mint");
  if ((err = load_token_state(&a[1], "mint", 1))) return err;
  if (n < 3) return missing("user_token_account");
  if ((err = load_token_state(&a[2], "user_token_account", 0))) return err;
  if (n < 4) return missing("authority");
  if ((err = need_signer(&a[3], "authority"))) return err;
  if (n < 5) return missing("registry_authority");
  if (n < 6) return missing("rec_validator");
  if ((err = need_signer(&a[5], "rec_validator"))) return err;
  if (n < 7) return missing("token_program");
  if (!is_token_program(a[6].key)) return fail(CAUSED, "token_program", E_INVALID_PROGRAM_ID);

  u8 bump = 0;
  if ((err = TOKEN_INFO_PDA(&a[0], program_id, &bump))) return err;
  const u8 *ti = a[0].data;
  if ((err = need_mut(&a[1], "mint"))) return err;
  if (!key_eq(a[1].key, PK(ti, TI_MINT))) return fail(CAUSED, "mint", E_UNAUTHORIZED);
  if ((err = need_mut(&a[2], "user_token_account"))) return err;
  if (!key_eq(PK(a[2].data, TOKEN_ACCOUNT_MINT), a[1].key)) {
    return with_compared(fail(CAUSED, "user_token_account", E_TOKEN_MINT), PK(a[2].data, TOKEN_ACCOUNT_MINT), a[1].key);
  }
  if (!key_eq(a[2].owner, a[6].key)) return fail(CAUSED, "user_token_account", E_TOKEN_TOKEN_PROGRAM);
  if (!key_eq(a[4].key, PK(ti, TI_REGISTRY_AUTHORITY))) return fail(CAUSED, "registry_authority", E_UNAUTHORIZED);

  int is_admin = key_eq(a[3].key, PK(ti, TI_AUTHORITY));
  int is_registry = key_eq(a[3].key, a[4].key);
  if (!is_admin && !is_registry) return fail(THROWN, SRC "instructions/mint_tokens_direct.rs:70", E_UNAUTHORIZED);
  /* Only the registry mints without a registered REC validator's co-signature. */
  if (!is_registry && !rec_validator_registered(ti, a[5].key))
    return fail(THROWN, SRC "instructions/mint_tokens_direct.rs:81", E_REC_NOT_FOUND);

  if ((err = cpi_mint_to(a, amount, bump))) return err;
  /* total_supply is not written here: sync_total_supply batches it. */
  emit_key_u64_i64(EVENT_GRID_TOKENS_MINTED, a[2].data + TOKEN_ACCOUNT_OWNER, amount);
  return SUCCESS;
}

/* ---- initialize_token ------------------------------------------------------------------------------ */

typedef struct {
  const SolAccountInfo *infos;
  u64 n_infos;
  const SolAccountInfo *target;
  const SolAccountInfo *payer;
  const SolSignerSeed *seeds; /* target's PDA seeds, without the bump */
  u64 n_seeds;
  u8 bump;
  u64 space;
  const Pubkey *owner;
  u64 rent_minimum;
  const char *accounts_struct; /* where Anchor locates an error of the generated init code */
} InitSpec;

#define MAX_SEEDS 3

/* One system-program CPI on `target` (and the payer), signed by target's PDA seeds. */
NOINLINE static u64 system_cpi(const InitSpec *s, const u8 *data, u64 len, int with_payer) {
  SolAccountMeta metas[2] = {{s->payer->key, 1, 1}, {s->target->key, 1, 1}};
  SolInstruction ix = {&SYSTEM_ID, with_payer ? metas : metas + 1, with_payer ? 2 : 1, data, len};
  u8 bump_seed[1] = {s->bump};
  SolSignerSeed seeds[MAX_SEEDS + 1];
  u64 n = s->n_seeds < MAX_SEEDS ? s->n_seeds : MAX_SEEDS;
  for (u64 i = 0; i < n; i++) seeds[i] = s->seeds[i];
  seeds[n].addr = bump_seed;
  seeds[n].len = 1;
  SolSignerSeeds signer = {seeds, n + 1};
  return sol_invoke_signed_c(&ix, s->infos, (int)s->n_infos, &signer, 1);
}

/* Anchor's init: CreateAccount when the PDA holds no lamports; otherwise top it up to the rent
 * minimum, then Allocate and Assign (never with the payer as the new account). */
NOINLINE static u64 init_pda_account(const InitSpec *s) {
  u8 data[52];
  u64 current = *s->target->lamports;
  if (current == 0) {
    write_u64(data, 0); /* CreateAccount: u32 0, lamports, space, owner */
    write_u64(data + 4, s->rent_minimum);
    write_u64(data + 12, s->space);
    copy_bytes(data + 20, s->owner->x, 32);
    return system_cpi(s, data, 52, 1);
  }
  if (key_eq(s->payer->key, s->target->key)) {
    return with_compared(fail(THROWN, s->accounts_struct, E_INIT_PAYER), s->payer->key, s->target->key);
  }
  u64 minimum = s->rent_minimum ? s->rent_minimum : 1;
  u64 err;
  if (minimum > current) {
    SolAccountMeta metas[2] = {{s->payer->key, 1, 1}, {s->target->key, 1, 0}};
    write_u64(data, 2); /* Transfer: u32 2, lamports */
    write_u64(data + 4, minimum - current);
    SolInstruction ix = {&SYSTEM_ID, metas, 2, data, 12};
    if ((err = sol_invoke_signed_c(&ix, s->infos, (int)s->n_infos, 0, 0))) return err;
  }
  write_u64(data, 8); /* Allocate: u32 8, space */
  write_u64(data + 4, s->space);
  if ((err = system_cpi(s, data, 12, 0))) return err;
  write_u64(data, 1); /* Assign: u32 1, owner */
  copy_bytes(data + 4, s->owner->x, 32);
  return system_cpi(s, data, 36, 0);
}

/* Rent::minimum_balance: (128 + space) × lamports_per_byte_year × exemption_threshold (an f64, taken
 * apart here so that no floating point is needed). */
NOINLINE static u64 rent_minimum(u64 space) {
  u64 rent[3];
  sol_get_rent_sysvar(rent);
  u64 bits = rent[1];
  u64 biased = (bits >> 52) & 0x7ff;
  if (biased == 0) return 0;
  u64 mantissa = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
  i64 exponent = (i64)biased - 1075;
  while (!(mantissa & 1) && exponent < 0) {
    mantissa >>= 1;
    exponent++;
  }
  u64 v = (128 + space) * rent[0] * mantissa;
  return exponent >= 0 ? v << exponent : v >> -exponent;
}

/* Token InitializeMint2 (instruction 20): decimals, mint authority, no freeze authority. */
NOINLINE static u64 cpi_initialize_mint2(const SolAccountInfo *a, u64 n, const Pubkey *mint_authority) {
  u8 data[35];
  data[0] = 20;
  data[1] = DECIMALS;
  copy_bytes(data + 2, mint_authority->x, 32);
  data[34] = 0;
  SolAccountMeta metas[1] = {{a[1].key, 1, 0}};
  SolInstruction ix = {a[4].key, metas, 1, data, sizeof(data)};
  return sol_invoke_signed_c(&ix, a, (int)n, 0, 0);
}

#define INITIALIZE_TOKEN_ACCOUNTS SRC "instructions/initialize_token.rs:6"

/* Accounts: token_info (init), mint (init), authority (w, s), system_program, token_program, rent.
 * Args: registry_program_id, registry_authority. */
NOINLINE static u64 initialize_token(const SolAccountInfo *a, u64 n, const u8 *args, u64 args_len,
                                     const Pubkey *program_id) {
  LOG("Instruction: InitializeToken");
  if (args_len < 64) return fail(OCCURRED, "", E_DID_NOT_DESERIALIZE);
  u64 err;
  if (n < 1) return missing("token_info");
  if (n < 2) return missing("mint");
  if (n < 3) return missing("authority");
  if ((err = need_signer(&a[2], "authority"))) return err;
  if (n < 4) return missing("system_program");
  if ((err = need_program(&a[3], "system_program", &SYSTEM_ID))) return err;
  if (n < 5) return missing("token_program");
  if (!is_token_program(a[4].key)) return fail(CAUSED, "token_program", E_INVALID_PROGRAM_ID);
  if (n < 6) return missing("rent");
  if (!key_eq(a[5].key, &RENT_SYSVAR_ID)) return fail(P_CAUSED, "rent", P_INVALID_ARGUMENT);

  u64 infos = n < MAX_ACCOUNTS ? n : MAX_ACCOUNTS;
  InitSpec spec = {a, infos, &a[0], &a[2], TOKEN_INFO_SEEDS, 1, 0, TOKEN_INFO_SIZE, program_id,
                   rent_minimum(TOKEN_INFO_SIZE), INITIALIZE_TOKEN_ACCOUNTS};
  if ((err = TOKEN_INFO_PDA(&a[0], program_id, &spec.bump))) return err;
  if ((err = init_pda_account(&spec))) return err;
  if ((err = need_mut(&a[0], "token_info"))) return err;

  InitSpec mint = {a, infos, &a[1], &a[2], MINT_SEEDS, 1, 0, MINT_LEN, a[4].key, rent_minimum(MINT_LEN),
                   INITIALIZE_TOKEN_ACCOUNTS};
  if ((err = need_pda(&a[1], "mint", MINT_SEEDS, program_id, &mint.bump))) return err;
  if ((err = init_pda_account(&mint))) return err;
  if ((err = cpi_initialize_mint2(a, infos, a[0].key))) return err;
  if ((err = need_mut(&a[1], "mint"))) return err;
  if ((err = need_mut(&a[2], "authority"))) return err;

  u8 *ti = a[0].data;
  copy_bytes(ti, ACCOUNT_TOKEN_INFO, 8);
  copy_bytes(ti + TI_AUTHORITY, a[2].key->x, 32);
  copy_bytes(ti + TI_REGISTRY_AUTHORITY, args + 32, 32);
  copy_bytes(ti + TI_REGISTRY_PROGRAM, args, 32);
  copy_bytes(ti + TI_MINT, a[1].key->x, 32);
  write_u64(ti + TI_TOTAL_SUPPLY, 0);
  write_u64(ti + TI_CREATED_AT, (u64)unix_timestamp());
  for (u64 i = TI_REC_VALIDATORS; i < TOKEN_INFO_SIZE; i++) ti[i] = 0;
  return SUCCESS;
}

/* ---- add_rec_validator / remove_rec_validator ------------------------------------------------------ */

/* governance_authority(): the governance_config PDA of the governance program, owner checked;
 * its authority sits at bytes 8..40. */
NOINLINE static u64 governance_authority(const SolAccountInfo *g, const Pubkey **authority) {
  if (!key_eq(g->owner, &GOVERNANCE_PROGRAM_ID)) {
    return with_compared(fail(THROWN, SRC "lib.rs:34", E_INVALID_GOVERNANCE), g->owner, &GOVERNANCE_PROGRAM_ID);
  }
  SolSignerSeed s = {(const u8 *)GOVERNANCE_CONFIG_SEED, sizeof(GOVERNANCE_CONFIG_SEED) - 1};
  Pubkey expected;
  u8 bump;
  sol_try_find_program_address(&s, 1, &GOVERNANCE_PROGRAM_ID, &expected, &bump);
  if (!key_eq(g->key, &expected)) {
    return with_compared(fail(THROWN, SRC "lib.rs:36", E_INVALID_GOVERNANCE), g->key, &expected);
  }
  if (g->data_len < 40) return fail(THROWN, SRC "lib.rs:38", E_INVALID_GOVERNANCE);
  *authority = PK(g->data, 8);
  return SUCCESS;
}

/* Borsh String: u32 length, then that many bytes of valid UTF-8. */
static int valid_utf8(const u8 *s, u64 len) {
  u64 i = 0;
  while (i < len) {
    u8 c = s[i];
    u64 extra;
    u32 cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (i + extra >= len) return 0;
    for (u64 k = 1; k <= extra; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += extra + 1;
  }
  return 1;
}

/* Accounts (both): token_info (w), governance_config, authority (s). */
NOINLINE static u64 rec_validator_accounts(const SolAccountInfo *a, u64 n, const Pubkey *program_id,
                                           const char *line) {
  u64 err;
  if (n < 1) return missing("token_info");
  if ((err = load_token_info(&a[0], program_id))) return err;
  if (n < 2) return missing("governance_config");
  if (n < 3) return missing("authority");
  if ((err = need_signer(&a[2], "authority"))) return err;
  if ((err = need_mut(&a[0], "token_info"))) return err;

  const Pubkey *governance = 0;
  if ((err = governance_authority(&a[1], &governance))) return err;
  if (!key_eq(a[2].key, governance)) {
    return with_compared(fail(THROWN, line, E_UNAUTHORIZED), a[2].key, governance);
  }
  return SUCCESS;
}

NOINLINE static u64 add_rec_validator(const SolAccountInfo *a, u64 n, const u8 *args, u64 args_len,
                                      const Pubkey *program_id) {
  LOG("Instruction: AddRecValidator");
  if (args_len < 36) return fail(OCCURRED, "", E_DID_NOT_DESERIALIZE);
  u64 name_len = (u64)args[32] | (u64)args[33] << 8 | (u64)args[34] << 16 | (u64)args[35] << 24;
  if (args_len - 36 < name_len || !valid_utf8(args + 36, name_len)) return fail(OCCURRED, "", E_DID_NOT_DESERIALIZE);
  u64 err = rec_validator_accounts(a, n, program_id, SRC "instructions/rec_validator.rs:32");
  if (err) return err;

  u8 *ti = a[0].data;
  u64 count = ti[TI_REC_VALIDATORS_COUNT];
  if (count >= MAX_REC_VALIDATORS) return fail(THROWN, SRC "instructions/rec_validator.rs:40", E_MAX_VALIDATORS);
  const Pubkey *validator = PK(args, 0);
  for (u64 i = 0; i < count; i++)
    if (key_eq(PK(ti, TI_REC_VALIDATORS + 32 * i), validator))
      return fail(THROWN, SRC "instructions/rec_validator.rs:47", E_VALIDATOR_EXISTS);
  copy_bytes(ti + TI_REC_VALIDATORS + 32 * count, validator->x, 32);
  ti[TI_REC_VALIDATORS_COUNT] = (u8)(count + 1);
  return SUCCESS;
}

NOINLINE static u64 remove_rec_validator(const SolAccountInfo *a, u64 n, const u8 *args, u64 args_len,
                                         const Pubkey *program_id) {
  LOG("Instruction: RemoveRecValidator");
  if (args_len < 32) return fail(OCCURRED, "", E_DID_NOT_DESERIALIZE);
  u64 err = rec_validator_accounts(a, n, program_id, SRC "instructions/rec_validator.rs:67");
  if (err) return err;

  u8 *ti = a[0].data;
  u64 count = ti[TI_REC_VALIDATORS_COUNT];
  const Pubkey *validator = PK(args, 0);
  u64 at = count;
  for (u64 i = 0; i < count && i < MAX_REC_VALIDATORS; i++) {
    if (key_eq(PK(ti, TI_REC_VALIDATORS + 32 * i), validator)) {
      at = i;
      break;
    }
  }
  /* target.ok_or(RemoveValidatorNotFound)?: converted without a source location. */
  if (at == count) return fail(OCCURRED, "", E_REMOVE_NOT_FOUND);
  u64 last = count - 1;
  copy_bytes(ti + TI_REC_VALIDATORS + 32 * at, ti + TI_REC_VALIDATORS + 32 * last, 32);
  for (u64 i = 0; i < 32; i++) ti[TI_REC_VALIDATORS + 32 * last + i] = 0;
  ti[TI_REC_VALIDATORS_COUNT] = (u8)last;
  return SUCCESS;
}

/* ---- set_registry_authority / sync_total_supply ---------------------------------------------------- */

/* Accounts: token_info (w, seeds), authority (s). */
NOINLINE static u64 set_registry_authority(const SolAccountInfo *a, u64 n, const u8 *args, u64 args_len,
                                           const Pubkey *program_id) {
  LOG("Instruction: SetRegistryAuthority");
  if (args_len < 32) return fail(OCCURRED, "", E_DID_NOT_DESERIALIZE);
  u64 err;
  if (n < 1) return missing("token_info");
  if ((err = load_token_info(&a[0], program_id))) return err;
  if (n < 2) return missing("authority");
  if ((err = need_signer(&a[1], "authority"))) return err;
  u8 bump;
  if ((err = TOKEN_INFO_PDA(&a[0], program_id, &bump))) return err;
  if ((err = need_mut(&a[0], "token_info"))) return err;

  u8 *ti = a[0].data;
  if (!key_eq(a[1].key, PK(ti, TI_AUTHORITY)))
    return fail(THROWN, SRC "instructions/set_registry_authority.rs:21", E_UNAUTHORIZED);
  copy_bytes(ti + TI_REGISTRY_AUTHORITY, args, 32);
  return SUCCESS;
}

/* Accounts: token_info (w, seeds), mint (== token_info.mint), authority (s). */
NOINLINE static u64 sync_total_supply(const SolAccountInfo *a, u64 n, const Pubkey *program_id) {
  LOG("Instruction: SyncTotalSupply");
  u64 err;
  if (n < 1) return missing("token_info");
  if ((err = load_token_info(&a[0], program_id))) return err;
  if (n < 2) return missing("mint");
  if ((err = load_token_state(&a[1], "mint", 1))) return err;
  if (n < 3) return missing("authority");
  if ((err = need_signer(&a[2], "authority"))) return err;
  u8 bump;
  if ((err = TOKEN_INFO_PDA(&a[0], program_id, &bump))) return err;
  if ((err = need_mut(&a[0], "token_info"))) return err;
  u8 *ti = a[0].data;
  if (!key_eq(a[1].key, PK(ti, TI_MINT))) return fail(CAUSED, "mint", E_UNAUTHORIZED);

  if (!key_eq(a[2].key, PK(ti, TI_AUTHORITY)))
    return fail(THROWN, SRC "instructions/sync_total_supply.rs:33", E_UNAUTHORIZED);
  u64 supply = read_u64(a[1].data + MINT_SUPPLY);
  write_u64(ti + TI_TOTAL_SUPPLY, supply);
  emit_key_u64_i64(EVENT_TOTAL_SUPPLY_SYNCED, a[2].key->x, supply);
  return SUCCESS;
}

/* ---- mint_generation ------------------------------------------------------------------------------- */

/* Where Anchor locates the errors of MintGeneration's generated account code, and the handler's. */
#define MINT_GENERATION_ACCOUNTS SRC "instructions/mint_generation.rs:20"
#define MINT_GENERATION_AT(line) SRC "instructions/mint_generation.rs:" #line

/* mint_generation takes 11 accounts, the entrypoint parses 7: the other 4 are parsed here, on demand,
 * which keeps every frame within the BPF stack limit. A duplicate resolves to the info it repeats. */
#define TAIL_ACCOUNTS 4
NOINLINE static void parse_tail(u8 *input, const SolAccountInfo *head, SolAccountInfo *tail) {
  u64 n = *(const u64 *)input;
  u8 *p = input + 8;
  for (u64 i = 0; i < n && i < MAX_ACCOUNTS + TAIL_ACCOUNTS; i++) {
    SolAccountInfo *info = i >= MAX_ACCOUNTS ? &tail[i - MAX_ACCOUNTS] : 0;
    u8 dup = p[0];
    if (dup != 0xff) {
      if (info) *info = dup < MAX_ACCOUNTS ? head[dup] : tail[dup - MAX_ACCOUNTS];
      p += 8;
      continue;
    }
    u64 len = *(const u64 *)(p + 80);
    if (info) {
      info->is_signer = p[1];
      info->is_writable = p[2];
      info->executable = p[3];
      info->key = (const Pubkey *)(p + 8);
      info->owner = (const Pubkey *)(p + 40);
      info->lamports = (u64 *)(p + 72);
      info->data_len = len;
      info->data = p + 88;
    }
    p += 88 + ((len + 7) & ~7ULL) + REALLOC_ROOM;
    if (info) info->rent_epoch = *(const u64 *)p;
    p += 8;
  }
}

/* The account's data length as the input buffer holds it now: a CPI that resizes the account updates
 * the buffer, not the SolAccountInfo the entrypoint filled. */
static u64 current_len(const SolAccountInfo *a) { return *(const u64 *)(a->data - 8); }

/* Anchor logs "Left: <n>" and "Right: <n>" after an error with compared numbers. */
NOINLINE static u64 with_values(u64 err, u64 left, u64 right) {
  for (int side = 0; side < 2; side++) {
    u8 line[32];
    u64 at = append(line, 0, side ? "Right: " : "Left: ");
    u8 digits[20];
    int k = 0;
    u64 v = side ? right : left;
    do {
      digits[k++] = (u8)('0' + v % 10);
      v /= 10;
    } while (v);
    while (k) line[at++] = digits[--k];
    sol_log_((const char *)line, at);
  }
  return err;
}

/* Token MintTo (instruction 7) of `amount` to the destination, signed by the token_info PDA. */
NOINLINE static u64 cpi_mint_generation(const SolAccountInfo *a, const Pubkey *token_program, u64 amount, u8 bump) {
  const SolAccountInfo *mint = &a[0], *token_info = &a[1], *to = &a[2];
  u8 data[9];
  data[0] = 7;
  write_u64(data + 1, amount);
  SolAccountMeta metas[3] = {{mint->key, 1, 0}, {to->key, 1, 0}, {token_info->key, 0, 1}};
  SolInstruction ix = {token_program, metas, 3, data, sizeof(data)};
  u8 bump_seed[1] = {bump};
  SolSignerSeed seeds[2] = {{(const u8 *)TOKEN_INFO_SEED, sizeof(TOKEN_INFO_SEED) - 1}, {bump_seed, 1}};
  SolSignerSeeds signer = {seeds, 2};
  SolAccountInfo infos[3] = {*mint, *to, *token_info};
  return sol_invoke_signed_c(&ix, infos, 3, &signer, 1);
}

/*
 * mint_record: init_if_needed, payer = payer, space = 8 + 34, seeds = ["gen_mint", meter_id,
 * window_start_ms LE], bump. As Anchor generates it: Rent::get, the canonical PDA (ConstraintSeeds),
 * created when the system program owns it (CreateAccount, or Transfer + Allocate + Assign when it already
 * holds lamports) and otherwise loaded as an Account (owner, discriminator, borsh); then if_needed's
 * checks (space, owner, rent), mut, rent exemption.
 */
NOINLINE static u64 init_mint_record(const SolAccountInfo *a, const SolAccountInfo *payer, const u8 *args,
                                     const Pubkey *program_id, u8 *bump) {
  const SolAccountInfo *record = &a[4];
  u64 rent = rent_minimum(GENERATION_MINT_RECORD_SIZE);
  SolSignerSeed seeds[3] = {{(const u8 *)GEN_MINT_SEED, sizeof(GEN_MINT_SEED) - 1}, {args, 16}, {args + 16, 8}};
  Pubkey expected;
  sol_try_find_program_address(seeds, 3, program_id, &expected, bump);
  if (!key_eq(record->key, &expected)) return with_compared(fail(CAUSED, "mint_record", E_SEEDS), record->key, &expected);

  u64 err;
  if (key_eq(record->owner, &SYSTEM_ID)) {
    SolAccountInfo infos[2] = {*payer, *record};
    InitSpec spec = {infos, 2, &infos[1], &infos[0], seeds, 3, *bump, GENERATION_MINT_RECORD_SIZE, program_id, rent,
                     MINT_GENERATION_ACCOUNTS};
    if ((err = init_pda_account(&spec))) return err;
    /* Account::try_from_unchecked: the new account's zeroed data is read without a discriminator. */
    if (!key_eq(record->owner, program_id)) {
      return with_compared(fail(CAUSED, "mint_record", E_OWNED_WRONG), record->owner, program_id);
    }
    if (current_len(record) < GENERATION_MINT_RECORD_SIZE) return fail(CAUSED, "mint_record", E_ACCOUNT_DID_NOT_DESERIALIZE);
  } else {
    if (!key_eq(record->owner, program_id)) {
      return with_compared(fail(CAUSED, "mint_record", E_OWNED_WRONG), record->owner, program_id);
    }
    if (current_len(record) < 8) return fail(CAUSED, "mint_record", E_DISC_NOT_FOUND);
    if (!bytes8_eq(record->data, ACCOUNT_GENERATION_MINT_RECORD)) return fail(CAUSED, "mint_record", E_DISC_MISMATCH);
    /* borsh: all 34 bytes, and a bool that is 0 or 1 */
    if (current_len(record) < GENERATION_MINT_RECORD_SIZE || record->data[GMR_MINTED] > 1)
      return fail(CAUSED, "mint_record", E_ACCOUNT_DID_NOT_DESERIALIZE);
  }
  u64 len = current_len(record);
  if (len != GENERATION_MINT_RECORD_SIZE) {
    return with_values(fail(CAUSED, "mint_record", E_SPACE), GENERATION_MINT_RECORD_SIZE, len);
  }
  if (!key_eq(record->owner, program_id)) return with_compared(fail(CAUSED, "mint_record", E_OWNER), record->owner, program_id);
  if (*record->lamports < rent) return fail(CAUSED, "mint_record", E_RENT_EXEMPT);
  return need_mut(record, "mint_record");
}

/* Accounts: mint (w), token_info, destination (w), destination_owner, mint_record (w, init_if_needed),
 * authority (s), rec_validator (s, optional: the program id stands for None), payer (w, s),
 * token_program, associated_token_program, system_program. Args: meter_id [u8; 16], window_start_ms i64,
 * amount u64. The program id follows the instruction data in the input (BPF calls take at most 5
 * arguments). */
NOINLINE static u64 mint_generation(u8 *input, const SolAccountInfo *a, u64 n, const u8 *args, u64 args_len) {
  const Pubkey *program_id = (const Pubkey *)(args + args_len);
  LOG("Instruction: MintGeneration");
  if (args_len < 32) return fail(OCCURRED, "", E_DID_NOT_DESERIALIZE);
  i64 window_start_ms = (i64)read_u64(args + 16);
  u64 amount = read_u64(args + 24);
  SolAccountInfo t[TAIL_ACCOUNTS];
  parse_tail(input, a, t);
  const SolAccountInfo *payer = &t[0], *token_program = &t[1];
  u64 err;

  if (n < 1) return missing("mint");
  if ((err = load_token_state(&a[0], "mint", 1))) return err;
  if (n < 2) return missing("token_info");
  if ((err = load_token_info(&a[1], program_id))) return err;
  if (n < 3) return missing("destination");
  if ((err = load_token_state(&a[2], "destination", 0))) return err;
  if (n < 4) return missing("destination_owner");
  if (n < 5) return missing("mint_record");
  if (n < 6) return missing("authority");
  if ((err = need_signer(&a[5], "authority"))) return err;
  if (n < 7) return missing("rec_validator");
  const SolAccountInfo *rec = key_eq(a[6].key, program_id) ? 0 : &a[6];
  if (rec && (err = need_signer(rec, "rec_validator"))) return err;
  if (n < 8) return missing("payer");
  if ((err = need_signer(payer, "payer"))) return err;
  if (n < 9) return missing("token_program");
  if (!is_token_program(token_program->key)) return fail(CAUSED, "token_program", E_INVALID_PROGRAM_ID);
  if (n < 10) return missing("associated_token_program");
  if ((err = need_program(&t[2], "associated_token_program", &ASSOCIATED_TOKEN_ID))) return err;
  if (n < 11) return missing("system_program");
  if ((err = need_program(&t[3], "system_program", &SYSTEM_ID))) return err;

  /* The init account first, then the others in field order. */
  u8 record_bump = 0;
  if ((err = init_mint_record(a, payer, args, program_id, &record_bump))) return err;
  const u8 *ti = a[1].data;
  if ((err = need_mut(&a[0], "mint"))) return err;
  if (!key_eq(a[0].key, PK(ti, TI_MINT))) return fail(CAUSED, "mint", E_UNAUTHORIZED);
  u8 bump = 0;
  if ((err = TOKEN_INFO_PDA(&a[1], program_id, &bump))) return err;
  if (!key_eq(PK(ti, TI_AUTHORITY), a[5].key)) return fail(CAUSED, "token_info", E_UNAUTHORIZED);
  if ((err = need_mut(&a[2], "destination"))) return err;
  const u8 *dest = a[2].data;
  if (!key_eq(PK(dest, TOKEN_ACCOUNT_OWNER), a[3].key)) {
    return with_compared(fail(CAUSED, "destination", E_TOKEN_OWNER), PK(dest, TOKEN_ACCOUNT_OWNER), a[3].key);
  }
  if (!key_eq(PK(dest, TOKEN_ACCOUNT_MINT), a[0].key)) {
    return with_compared(fail(CAUSED, "destination", E_TOKEN_MINT), PK(dest, TOKEN_ACCOUNT_MINT), a[0].key);
  }
  if (!key_eq(a[2].owner, token_program->key)) return fail(CAUSED, "destination", E_TOKEN_TOKEN_PROGRAM);
  if ((err = need_mut(payer, "payer"))) return err;

  /* A window already minted is a success that mints nothing, before any other check: one replayed window
   * must not fail the other windows of its transaction. */
  u8 *record = a[4].data;
  if (record[GMR_MINTED]) return SUCCESS;
  /* A zero mint would still mark the window minted, and its real mint could never land. */
  if (amount == 0) return fail(THROWN, MINT_GENERATION_AT(104), E_ZERO_AMOUNT);
  i64 now = unix_timestamp();
  /* window_start_ms > 0 first, so the division and remainder are unsigned (BPF has no signed ones). */
  if (window_start_ms <= 0 || (u64)window_start_ms % WINDOW_MS != 0 ||
      (i64)((u64)window_start_ms / 1000) > now + WINDOW_S)
    return fail(THROWN, MINT_GENERATION_AT(115), E_MISALIGNED_WINDOW);
  if (!key_eq(PK(ti, TI_AUTHORITY), a[5].key)) return fail(THROWN, MINT_GENERATION_AT(124), E_UNAUTHORIZED);
  /* rec_validator.ok_or(RecValidatorNotFound)?: converted without a source location. */
  if (!rec) return fail(OCCURRED, "", E_REC_NOT_FOUND);
  if (!rec_validator_registered(ti, rec->key)) return fail(THROWN, MINT_GENERATION_AT(138), E_REC_NOT_FOUND);
  /* Two different keys, or the REC co-signature adds no second party. */
  if (key_eq(rec->key, a[5].key)) return fail(THROWN, MINT_GENERATION_AT(146), E_REC_IS_AUTHORITY);

  if ((err = cpi_mint_generation(a, token_program->key, amount, bump))) return err;
  /* Written only after the mint succeeded (Anchor serializes the whole account on exit). */
  copy_bytes(record, ACCOUNT_GENERATION_MINT_RECORD, 8);
  copy_bytes(record + GMR_METER_ID, args, 16);
  write_u64(record + GMR_WINDOW_START_MS, (u64)window_start_ms);
  write_u64(record + GMR_AMOUNT, amount);
  record[GMR_MINTED] = 1;
  record[GMR_BUMP] = record_bump;
  emit_key_u64_i64(EVENT_TOKENS_MINTED, a[2].key->x, amount);
  return SUCCESS;
}

u64 entrypoint(u8 *input) {
  SolAccountInfo accounts[MAX_ACCOUNTS];
  const u8 *data;
  u64 data_len;
  const Pubkey *program_id;
  u64 n = parse_input(input, accounts, &data, &data_len, &program_id);

  if (data_len < 8) return fail(OCCURRED, "", E_MISSING);
  const u8 *args = data + 8;
  u64 args_len = data_len - 8;
  if (bytes8_eq(data, IX_MINT_TOKENS_DIRECT)) return mint_tokens_direct(accounts, n, args, args_len, program_id);
  if (bytes8_eq(data, IX_ADD_REC_VALIDATOR)) return add_rec_validator(accounts, n, args, args_len, program_id);
  if (bytes8_eq(data, IX_REMOVE_REC_VALIDATOR)) return remove_rec_validator(accounts, n, args, args_len, program_id);
  if (bytes8_eq(data, IX_SET_REGISTRY_AUTHORITY))
    return set_registry_authority(accounts, n, args, args_len, program_id);
  if (bytes8_eq(data, IX_SYNC_TOTAL_SUPPLY)) return sync_total_supply(accounts, n, program_id);
  if (bytes8_eq(data, IX_INITIALIZE_TOKEN)) return initialize_token(accounts, n, args, args_len, program_id);
  if (bytes8_eq(data, IX_MINT_GENERATION)) return mint_generation(input, accounts, n, args, args_len);
  return fail(OCCURRED, "", E_FALLBACK);
}
