/*
 * energy_token 0.1.0: the `mint_tokens_direct` instruction of the published energy_token Anchor
 * program (IDL: programs-idl/energy_token-0.1.0.json), written in C for the local chain.
 *
 * It behaves as Anchor's generated code does: dispatch on the 8-byte discriminator, deserialize the
 * arguments, load the accounts in order (owner, discriminator, signer, program id), then run the
 * constraints (seeds, address), then the handler. Errors are returned as Anchor returns them (the
 * error number as a custom program error) and logged with Anchor's "AnchorError ..." line, so the
 * Anchor TS client decodes them by name.
 *
 * Built by anchor-localnet/toolchain (clang-14 -target bpf, then the project's own linker). No
 * .data or .bss: everything lives on the stack or in .rodata.
 */

/* Shared with 0.1.1: types, syscalls, the Token-2022 id, the common Anchor names, NOINLINE / LOG and the
 * small helpers (key_eq, bytes8_eq, read_u64, write_u64, copy_bytes, log_compared). */
#include "energy_token_common.h"

#define ANCHOR_ERR(n) ((u64)(n))
/* Solana's builtin ProgramError::ArithmeticOverflow (to_builtin!(24)). */
#define ERR_ARITHMETIC_OVERFLOW (24ULL << 32)

#define MAX_ACCOUNTS 5

/* TokenInfo (zero-copy, repr C) after its 8-byte discriminator. */
#define TI_AUTHORITY 8
#define TI_MINT (8 + 64)
#define TI_TOTAL_SUPPLY (8 + 96)
#define TOKEN_INFO_SIZE (8 + 280)
/* Token account: owner at 32. */
#define TOKEN_ACCOUNT_OWNER 32

/*
 * Parse the input buffer (BPFLoaderUpgradeable, aligned ABI). Fills at most MAX_ACCOUNTS infos;
 * further accounts are walked over (Anchor ignores remaining accounts). Returns the number of
 * accounts given and points *data / *data_len / *program_id at the instruction.
 */
NOINLINE static u64 parse_input(u8 *input, SolAccountInfo *infos, const u8 **data, u64 *data_len,
                       const Pubkey **program_id) {
  u64 n = read_u64(input);
  u8 *p = input + 8;
  for (u64 i = 0; i < n; i++) {
    u8 dup = p[0];
    if (dup != 0xff) {
      if (i < MAX_ACCOUNTS && dup < MAX_ACCOUNTS) {
        SolAccountInfo *src = &infos[dup];
        SolAccountInfo *dst = &infos[i];
        dst->key = src->key;
        dst->lamports = src->lamports;
        dst->data_len = src->data_len;
        dst->data = src->data;
        dst->owner = src->owner;
        dst->rent_epoch = src->rent_epoch;
        dst->is_signer = src->is_signer;
        dst->is_writable = src->is_writable;
        dst->executable = src->executable;
      }
      p += 8;
      continue;
    }
    u64 len = read_u64(p + 80);
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
    if (i < MAX_ACCOUNTS) infos[i].rent_epoch = read_u64(p);
    p += 8;
  }
  *data_len = read_u64(p);
  *data = p + 8;
  *program_id = (const Pubkey *)(p + 8 + *data_len);
  return n;
}

/* AccountNotEnoughKeys for the account that is missing (Anchor names the field). */
NOINLINE static u64 not_enough_keys(u64 given) {
  switch (given) {
    case 0:
      LOG("AnchorError caused by account: token_info. Error Code: AccountNotEnoughKeys. Error Number: 3005. Error Message: Not enough account keys given to the instruction.");
      break;
    case 1:
      LOG("AnchorError caused by account: mint. Error Code: AccountNotEnoughKeys. Error Number: 3005. Error Message: Not enough account keys given to the instruction.");
      break;
    case 2:
      LOG("AnchorError caused by account: user_token_account. Error Code: AccountNotEnoughKeys. Error Number: 3005. Error Message: Not enough account keys given to the instruction.");
      break;
    case 3:
      LOG("AnchorError caused by account: authority. Error Code: AccountNotEnoughKeys. Error Number: 3005. Error Message: Not enough account keys given to the instruction.");
      break;
    default:
      LOG("AnchorError caused by account: token_program. Error Code: AccountNotEnoughKeys. Error Number: 3005. Error Message: Not enough account keys given to the instruction.");
      break;
  }
  return ANCHOR_ERR(3005);
}

/* Load phase: each account in order, as Anchor's try_accounts does. */
NOINLINE static u64 load_accounts(const SolAccountInfo *a, u64 n, const Pubkey *program_id) {
  /* token_info: AccountLoader<TokenInfo> */
  if (n < 1) return not_enough_keys(0);
  if (!key_eq(a[0].owner, program_id)) {
    LOG("AnchorError caused by account: token_info. Error Code: AccountOwnedByWrongProgram. Error Number: 3007. Error Message: The given account is owned by a different program than expected.");
    log_compared(a[0].owner, program_id);
    return ANCHOR_ERR(3007);
  }
  if (a[0].data_len < 8) {
    LOG("AnchorError caused by account: token_info. Error Code: AccountDiscriminatorNotFound. Error Number: 3001. Error Message: No discriminator was found on the account.");
    return ANCHOR_ERR(3001);
  }
  if (!bytes8_eq(a[0].data, ACCOUNT_TOKEN_INFO) || a[0].data_len < TOKEN_INFO_SIZE) {
    LOG("AnchorError caused by account: token_info. Error Code: AccountDiscriminatorMismatch. Error Number: 3002. Error Message: Account discriminator did not match what was expected.");
    return ANCHOR_ERR(3002);
  }
  /* mint and user_token_account are checked by constraints and by Token-2022 itself. */
  if (n < 2) return not_enough_keys(1);
  if (n < 3) return not_enough_keys(2);
  /* authority: Signer */
  if (n < 4) return not_enough_keys(3);
  if (!a[3].is_signer) {
    LOG("AnchorError caused by account: authority. Error Code: AccountNotSigner. Error Number: 3010. Error Message: The given account did not sign.");
    return ANCHOR_ERR(3010);
  }
  /* token_program: Program<Token2022> */
  if (n < 5) return not_enough_keys(4);
  if (!key_eq(a[4].key, &TOKEN_2022_ID)) {
    LOG("AnchorError caused by account: token_program. Error Code: InvalidProgramId. Error Number: 3008. Error Message: Program ID was not as expected.");
    log_compared(a[4].key, &TOKEN_2022_ID);
    return ANCHOR_ERR(3008);
  }
  return SUCCESS;
}

/* Constraint phase: mut, then seeds on token_info; mut and address on mint; mut on the token account. */
NOINLINE static u64 check_constraints(const SolAccountInfo *a, const Pubkey *program_id, u8 *bump) {
  if (!a[0].is_writable) {
    LOG("AnchorError caused by account: token_info. Error Code: ConstraintMut. Error Number: 2000. Error Message: A mut constraint was violated.");
    return ANCHOR_ERR(2000);
  }
  SolSignerSeed seed = {(const u8 *)TOKEN_INFO_SEED, sizeof(TOKEN_INFO_SEED) - 1};
  Pubkey expected;
  sol_try_find_program_address(&seed, 1, program_id, &expected, bump);
  if (!key_eq(a[0].key, &expected)) {
    LOG("AnchorError caused by account: token_info. Error Code: ConstraintSeeds. Error Number: 2006. Error Message: A seeds constraint was violated.");
    log_compared(a[0].key, &expected);
    return ANCHOR_ERR(2006);
  }
  if (!a[1].is_writable) {
    LOG("AnchorError caused by account: mint. Error Code: ConstraintMut. Error Number: 2000. Error Message: A mut constraint was violated.");
    return ANCHOR_ERR(2000);
  }
  const Pubkey *info_mint = (const Pubkey *)(a[0].data + TI_MINT);
  if (!key_eq(a[1].key, info_mint)) {
    LOG("AnchorError caused by account: mint. Error Code: ConstraintAddress. Error Number: 2012. Error Message: An address constraint was violated.");
    log_compared(a[1].key, info_mint);
    return ANCHOR_ERR(2012);
  }
  if (!a[2].is_writable) {
    LOG("AnchorError caused by account: user_token_account. Error Code: ConstraintMut. Error Number: 2000. Error Message: A mut constraint was violated.");
    return ANCHOR_ERR(2000);
  }
  return SUCCESS;
}

/* Token-2022 MintTo (instruction 7) from mint to user_token_account, signed by the token_info PDA. */
NOINLINE static u64 cpi_mint_to(const SolAccountInfo *a, u64 amount, u8 bump) {
  u8 data[9];
  data[0] = 7;
  write_u64(data + 1, amount);
  SolAccountMeta metas[3] = {
      {a[1].key, 1, 0},
      {a[2].key, 1, 0},
      {a[0].key, 0, 1},
  };
  SolInstruction ix = {&TOKEN_2022_ID, metas, 3, data, sizeof(data)};
  u8 bump_seed[1] = {bump};
  SolSignerSeed seeds[2] = {
      {(const u8 *)TOKEN_INFO_SEED, sizeof(TOKEN_INFO_SEED) - 1},
      {bump_seed, 1},
  };
  SolSignerSeeds signer = {seeds, 2};
  /* All five infos: the runtime matches them to the CPI's accounts by key, extra ones are ignored. */
  return sol_invoke_signed_c(&ix, a, MAX_ACCOUNTS, &signer, 1);
}

/* emit!(GridTokensMinted { meter_owner, amount, timestamp }) */
NOINLINE static void emit_minted(const SolAccountInfo *a, u64 amount) {
  SolClock clock;
  sol_get_clock_sysvar(&clock);
  u8 event[8 + 32 + 8 + 8];
  copy_bytes(event, EVENT_GRID_TOKENS_MINTED, 8);
  copy_bytes(event + 8, a[2].data + TOKEN_ACCOUNT_OWNER, 32);
  write_u64(event + 40, amount);
  write_u64(event + 48, (u64)clock.unix_timestamp);
  SolBytes bytes = {event, sizeof(event)};
  sol_log_data(&bytes, 1);
}

NOINLINE static u64 mint_tokens_direct(const SolAccountInfo *a, u64 n, const u8 *args, u64 args_len,
                              const Pubkey *program_id) {
  LOG("Instruction: MintTokensDirect");
  if (args_len < 8) {
    LOG("AnchorError occurred. Error Code: InstructionDidNotDeserialize. Error Number: 102. Error Message: The program could not deserialize the given instruction.");
    return ANCHOR_ERR(102);
  }
  u64 amount = read_u64(args);

  u64 err = load_accounts(a, n, program_id);
  if (err) return err;
  u8 bump = 0;
  err = check_constraints(a, program_id, &bump);
  if (err) return err;

  const Pubkey *info_authority = (const Pubkey *)(a[0].data + TI_AUTHORITY);
  if (!key_eq(a[3].key, info_authority)) {
    LOG("AnchorError thrown in programs/energy-token/src/lib.rs:146. Error Code: UnauthorizedAuthority. Error Number: 6000. Error Message: Unauthorized authority.");
    return ANCHOR_ERR(6000);
  }

  err = cpi_mint_to(a, amount, bump);
  if (err) return err;

  u8 *supply = a[0].data + TI_TOTAL_SUPPLY;
  u64 total = read_u64(supply);
  if (total + amount < total) {
    LOG("ProgramError occurred. Error Code: ArithmeticOverflow. Error Number: 103079215104. Error Message: Program arithmetic overflowed.");
    return ERR_ARITHMETIC_OVERFLOW;
  }
  write_u64(supply, total + amount);

  emit_minted(a, amount);
  return SUCCESS;
}

u64 entrypoint(u8 *input) {
  SolAccountInfo accounts[MAX_ACCOUNTS];
  const u8 *data;
  u64 data_len;
  const Pubkey *program_id;
  u64 n = parse_input(input, accounts, &data, &data_len, &program_id);

  if (data_len < 8) {
    LOG("AnchorError occurred. Error Code: InstructionMissing. Error Number: 100. Error Message: 8 byte instruction identifier not provided.");
    return ANCHOR_ERR(100);
  }
  if (bytes8_eq(data, IX_MINT_TOKENS_DIRECT))
    return mint_tokens_direct(accounts, n, data + 8, data_len - 8, program_id);

  LOG("AnchorError occurred. Error Code: InstructionFallbackNotFound. Error Number: 101. Error Message: Fallback functions are not supported.");
  return ANCHOR_ERR(101);
}
