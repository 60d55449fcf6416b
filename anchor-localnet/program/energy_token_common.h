/*
 * energy_token_common.h: what both versions of the energy_token program share word for word. Both
 * energy_token-0.1.0.c and energy_token-0.1.1.c include it. It holds the integer types, the
 * SolAccountInfo / SolInstruction / signer-seed / SolClock layouts, the syscalls, the Token-2022 id, the
 * Anchor names both IDLs give alike (mint_tokens_direct, TokenInfo, GridTokensMinted, the token_info
 * seed), NOINLINE / LOG, and the small helpers (key_eq, bytes8_eq, read_u64, write_u64, copy_bytes,
 * log_compared).
 *
 * What differs between the versions stays in each source: MAX_ACCOUNTS, the TokenInfo layout,
 * parse_input, the error reporting and the handlers. Moving anything here must leave both committed
 * .so files byte for byte the same (test/unit/toolchain/link.test.ts checks it). The helpers are
 * marked unused so that a version that does not call one still builds under -Wall -Werror; the
 * attribute only silences the warning, it changes no code.
 */
#ifndef ENERGY_TOKEN_COMMON_H
#define ENERGY_TOKEN_COMMON_H

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;

#define SUCCESS 0ULL
#define REALLOC_ROOM 10240

typedef struct { u8 x[32]; } Pubkey;

/* Layouts of the C ABI of sol_invoke_signed_c (see ../shared/docs/sbpf-format-notes.md). */
typedef struct { const Pubkey *pubkey; u8 is_writable; u8 is_signer; } SolAccountMeta;
typedef struct {
  const Pubkey *program_id;
  const SolAccountMeta *accounts;
  u64 account_len;
  const u8 *data;
  u64 data_len;
} SolInstruction;
typedef struct {
  const Pubkey *key;
  u64 *lamports;
  u64 data_len;
  u8 *data;
  const Pubkey *owner;
  u64 rent_epoch;
  u8 is_signer;
  u8 is_writable;
  u8 executable;
} SolAccountInfo;
typedef struct { const u8 *addr; u64 len; } SolSignerSeed;
typedef struct { const SolSignerSeed *addr; u64 len; } SolSignerSeeds;
typedef struct { const u8 *addr; u64 len; } SolBytes;
typedef struct {
  u64 slot;
  i64 epoch_start_timestamp;
  u64 epoch;
  u64 leader_schedule_epoch;
  i64 unix_timestamp;
} SolClock;

extern void sol_log_(const char *message, u64 len);
extern void sol_log_pubkey(const Pubkey *pubkey);
extern void sol_log_data(const SolBytes *data, u64 len);
extern u64 sol_try_find_program_address(const SolSignerSeed *seeds, u64 seeds_len,
                                        const Pubkey *program_id, Pubkey *address, u8 *bump);
extern u64 sol_invoke_signed_c(const SolInstruction *instruction, const SolAccountInfo *account_infos,
                               int account_infos_len, const SolSignerSeeds *signers_seeds,
                               int signers_seeds_len);
extern u64 sol_get_clock_sysvar(void *clock);

/* Token-2022. */
static const Pubkey TOKEN_2022_ID = {{0x06, 0xdd, 0xf6, 0xe1, 0xee, 0x75, 0x8f, 0xde, 0x18, 0x42, 0x5d,
                                      0xbc, 0xe4, 0x6c, 0xcd, 0xda, 0xb6, 0x1a, 0xfc, 0x4d, 0x83, 0xb9,
                                      0x0d, 0x27, 0xfe, 0xbd, 0xf9, 0x28, 0xd8, 0xa1, 0x8b, 0xfc}};

/* Anchor discriminators and the seed that both IDLs define alike. */
static const u8 IX_MINT_TOKENS_DIRECT[8] = {13, 246, 31, 237, 99, 19, 88, 226};
static const u8 ACCOUNT_TOKEN_INFO[8] = {109, 162, 52, 125, 77, 166, 37, 202};
static const u8 EVENT_GRID_TOKENS_MINTED[8] = {178, 171, 9, 157, 21, 247, 211, 210};
static const char TOKEN_INFO_SEED[] = "token_info_2022";

#define NOINLINE __attribute__((noinline))
#define LOG(s) sol_log_((s), sizeof(s) - 1)
#define MAYBE_UNUSED __attribute__((unused))

MAYBE_UNUSED static int key_eq(const Pubkey *a, const Pubkey *b) {
  const u64 *x = (const u64 *)a;
  const u64 *y = (const u64 *)b;
  return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

MAYBE_UNUSED static int bytes8_eq(const u8 *a, const u8 *b) {
  for (int i = 0; i < 8; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

MAYBE_UNUSED static u64 read_u64(const u8 *p) {
  u64 v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

MAYBE_UNUSED static void write_u64(u8 *p, u64 v) {
  for (int i = 0; i < 8; i++) {
    p[i] = (u8)v;
    v >>= 8;
  }
}

MAYBE_UNUSED static void copy_bytes(u8 *dst, const u8 *src, u64 n) {
  for (u64 i = 0; i < n; i++) dst[i] = src[i];
}

/* Anchor logs Left/Right pubkeys after an error with compared values. */
MAYBE_UNUSED NOINLINE static void log_compared(const Pubkey *left, const Pubkey *right) {
  LOG("Left:");
  sol_log_pubkey(left);
  LOG("Right:");
  sol_log_pubkey(right);
}

#endif /* ENERGY_TOKEN_COMMON_H */
