// `npm run build:program`: compile every version of the energy_token program, link each, and regenerate
// each version's genesis fixtures. The outputs are committed, so running and testing the service needs no
// compiler.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLANG_MISSING_HELP, compileC, findClang } from './clang.js';
import { readElfObject } from './elfObject.js';
import { linkSbpfV0 } from './link.js';
import { writeFixtures } from '../fixtures.js';
import { PROGRAM_VERSIONS, type ProgramVersion, programIdOf, programsDir, programSoPath, programSourcePath } from '../paths.js';

/** Compile and link one version of the program (or any C source); returns the .so bytes. */
export function buildProgramBytes(clang: string, version: ProgramVersion, source = programSourcePath(version)): Uint8Array {
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
  for (const version of PROGRAM_VERSIONS) {
    const so = buildProgramBytes(clang, version);
    mkdirSync(programsDir(version), { recursive: true });
    writeFileSync(programSoPath(version), so);
    process.stdout.write(`program ${version} ${programIdOf(version)}: ${so.length} bytes -> ${programSoPath(version)}\n`);
    for (const file of writeFixtures(version)) process.stdout.write(`fixture ${file}\n`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
