// Finds Debian's clang-14 and compiles a C file into a BPF relocatable object.
import { execFileSync, spawnSync } from 'node:child_process';

export const CLANG_CANDIDATES = ['clang-14', 'clang'];
export const CLANG_MISSING_HELP =
  'clang-14 is needed to build the program: install it with `apt-get install -y clang-14` (Debian bookworm).';

/** The clang binary to use, or null when none is installed (the committed .so still runs). */
export function findClang(): string | null {
  for (const candidate of CLANG_CANDIDATES) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0 && /clang version 1[4-9]/.test(probe.stdout)) return candidate;
  }
  return null;
}

/** Flags that give an object the linker understands (BPF v2 ISA, no libc, no hidden memcpy calls). */
export const CFLAGS = ['-target', 'bpf', '-O2', '-mcpu=v2', '-ffreestanding', '-fno-builtin', '-Wall', '-Werror'];

export function compileC(clang: string, source: string, output: string): void {
  execFileSync(clang, [...CFLAGS, '-c', source, '-o', output], { stdio: ['ignore', 'inherit', 'inherit'] });
}
