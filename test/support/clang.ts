// Tests that compile C need clang-14: they skip with the reason where it is missing, and fail under CI.
import { CLANG_MISSING_HELP, findClang } from '../../anchor-localnet/toolchain/clang.js';

export function clangOrSkip(what: string): string | null {
  const clang = findClang();
  if (clang) return clang;
  if (process.env.CI) throw new Error(`${what}: ${CLANG_MISSING_HELP} (.ci/run installs it; CI must not skip this)`);
  process.stdout.write(`skipped: ${what}: ${CLANG_MISSING_HELP}\n`);
  return null;
}
