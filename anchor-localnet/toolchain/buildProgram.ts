// `npm run build:program`: compile the energy_token program, link it, and regenerate the local chain's
// genesis fixtures. The outputs are committed, so running and testing the service needs no compiler.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLANG_MISSING_HELP, compileC, findClang } from './clang.js';
import { readElfObject } from './elfObject.js';
import { linkSbpfV0 } from './link.js';
import { writeFixtures } from '../fixtures.js';
import { PROGRAM_SOURCE, programSoPath, readIdl } from '../paths.js';

/** Compile and link the program; returns the .so bytes. */
export function buildProgramBytes(clang: string, source = PROGRAM_SOURCE): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'energy-token-'));
  try {
    const obj = join(dir, 'program.o');
    compileC(clang, source, obj);
    return linkSbpfV0(readElfObject(readFileSync(obj)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const clang = findClang();
  if (!clang) {
    process.stderr.write(`${CLANG_MISSING_HELP}\n`);
    process.exit(1);
  }
  const programId = readIdl().address;
  const so = buildProgramBytes(clang);
  writeFileSync(programSoPath(programId), so);
  process.stdout.write(`program ${programId}: ${so.length} bytes -> ${programSoPath(programId)}\n`);
  for (const file of writeFixtures(programId)) process.stdout.write(`fixture ${file}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
