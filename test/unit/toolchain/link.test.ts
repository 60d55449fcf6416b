// The project's own SBPF linker: relocations land on the right bytes, and every input it cannot link
// is refused with an error that names the offending symbol, section or relocation.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileC } from '../../../anchor-localnet/toolchain/clang.js';
import { readElfObject } from '../../../anchor-localnet/toolchain/elfObject.js';
import { LinkError, linkSbpfV0, MM_PROGRAM_START } from '../../../anchor-localnet/toolchain/link.js';
import { buildProgramBytes } from '../../../anchor-localnet/toolchain/buildProgram.js';
import { fixtureJson, genesisFixtures, localnetAuthority } from '../../../anchor-localnet/fixtures.js';
import { accountsDir, PROGRAM_VERSIONS, programIdOf, programSoPath } from '../../../anchor-localnet/paths.js';
import { PublicKey } from '@solana/web3.js';
import { clangOrSkip } from '../../support/clang.js';

const clang = clangOrSkip('linker tests compile C');
const dir = mkdtempSync(join(tmpdir(), 'link-test-'));
const compile = (name: string, source: string) => {
  const c = join(dir, `${name}.c`);
  writeFileSync(c, source);
  compileC(clang!, c, join(dir, `${name}.o`));
  return readElfObject(readFileSync(join(dir, `${name}.o`)));
};
const maybe = clang ? it : it.skip;

interface Parsed { shdr: Map<string, { offset: number; size: number }>; view: DataView; bytes: Uint8Array }
function sections(so: Uint8Array): Parsed {
  const view = new DataView(so.buffer, so.byteOffset, so.byteLength);
  const shoff = Number(view.getBigUint64(40, true));
  const shnum = view.getUint16(60, true);
  const strOff = Number(view.getBigUint64(shoff + (shnum - 1) * 64 + 24, true));
  const shdr = new Map<string, { offset: number; size: number }>();
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * 64;
    let name = '';
    for (let p = strOff + view.getUint32(o, true); so[p] !== 0; p++) name += String.fromCharCode(so[p]!);
    shdr.set(name, { offset: Number(view.getBigUint64(o + 24, true)), size: Number(view.getBigUint64(o + 32, true)) });
  }
  return { shdr, view, bytes: so };
}

describe('linkSbpfV0', () => {
  maybe('resolves a string address, a syscall and an internal call to the right bytes', () => {
    const so = linkSbpfV0(compile('ok', `
      extern void sol_log_(const char *, unsigned long long);
      __attribute__((noinline)) static unsigned long long helper(unsigned long long x) { sol_log_("helper says hi", 14); return x + 1; }
      unsigned long long entrypoint(unsigned char *input) { return helper(input[0]) == 1 ? 0 : 1; }
    `));
    const { shdr, view, bytes } = sections(so);
    expect(view.getUint16(16, true)).toBe(3); // ET_DYN
    expect(view.getUint32(48, true)).toBe(0); // SBPF v0
    const text = shdr.get('.text')!;
    const rodata = shdr.get('.rodata')!;
    const str = Buffer.from(bytes).indexOf('helper says hi');
    expect(str).toBeGreaterThanOrEqual(rodata.offset);

    const insns = [];
    for (let pc = 0; pc < text.size / 8; pc++) {
      const o = text.offset + pc * 8;
      insns.push({ pc, op: bytes[o]!, src: bytes[o + 1]! >> 4, imm: view.getInt32(o + 4, true), o });
    }
    // lddw of the string: low and high halves of MM_PROGRAM_START + its file offset.
    const lddw = insns.find((i) => i.op === 0x18)!;
    const addr = (BigInt(view.getUint32(lddw.o + 12, true)) << 32n) | BigInt(view.getUint32(lddw.o + 4, true));
    expect(addr).toBe(MM_PROGRAM_START + BigInt(str));

    // The syscall: imm -1, src 0, with a R_BPF_64_32 dynamic relocation at its file offset.
    const syscall = insns.find((i) => i.op === 0x85 && i.imm === -1)!;
    expect(syscall.src).toBe(0);
    const rel = shdr.get('.rel.dyn')!;
    expect(rel.size).toBe(16);
    expect(Number(view.getBigUint64(rel.offset, true))).toBe(syscall.o);
    expect(Number(view.getBigUint64(rel.offset + 8, true) & 0xffffffffn)).toBe(10);
    const dynstr = shdr.get('.dynstr')!;
    expect(Buffer.from(bytes.subarray(dynstr.offset, dynstr.offset + dynstr.size)).toString('latin1')).toContain('sol_log_');

    // The internal call lands on the first instruction of helper (whose first act is the lddw).
    const call = insns.find((i) => i.op === 0x85 && i.imm !== -1)!;
    const target = call.pc + call.imm + 1;
    expect(insns.slice(target, target + 3).some((i) => i.op === 0x18)).toBe(true);
    expect(view.getBigUint64(24, true)).toBe(BigInt(text.offset)); // entrypoint is first in .text here
  });

  maybe('refuses an unknown syscall, naming it', () => {
    const obj = compile('unknown', `
      extern void sol_launch_rockets(void);
      unsigned long long entrypoint(unsigned char *input) { sol_launch_rockets(); return 0; }
    `);
    expect(() => linkSbpfV0(obj)).toThrow(LinkError);
    expect(() => linkSbpfV0(obj)).toThrow(/unknown syscall "sol_launch_rockets"/);
  });

  maybe('refuses writable data, naming the section', () => {
    const obj = compile('data', `
      unsigned long long counter = 5;
      unsigned long long entrypoint(unsigned char *input) { counter += input[0]; return counter; }
    `);
    expect(() => linkSbpfV0(obj)).toThrow(/section \.data is writable data/);
  });

  maybe('refuses zero-initialised data (.bss)', () => {
    const obj = compile('bss', `
      unsigned long long counter;
      unsigned long long entrypoint(unsigned char *input) { counter += input[0]; return counter; }
    `);
    expect(() => linkSbpfV0(obj)).toThrow(/\.bss/);
  });

  maybe('refuses a relocation type it does not support, naming the type and symbol', () => {
    const obj = compile('reloc', `
      extern void sol_log_(const char *, unsigned long long);
      unsigned long long entrypoint(unsigned char *input) { sol_log_("x", 1); return 0; }
    `);
    const first = [...obj.relocations.values()][0]![0]!;
    first.type = 99;
    expect(() => linkSbpfV0(obj)).toThrow(/unsupported relocation type 99 against "/);
  });

  for (const version of PROGRAM_VERSIONS) {
    maybe(`rebuilding ${version} from source gives its committed program and fixtures byte for byte`, () => {
      expect(Buffer.from(buildProgramBytes(clang!, version)).equals(readFileSync(programSoPath(version)))).toBe(true);
      const fixtures = genesisFixtures(new PublicKey(programIdOf(version)), localnetAuthority().publicKey, version);
      expect(readdirSync(accountsDir(version)).sort()).toEqual(Object.keys(fixtures).sort());
      for (const [name, f] of Object.entries(fixtures)) {
        expect(readFileSync(join(accountsDir(version), name), 'utf8')).toBe(fixtureJson(f));
      }
    });
  }
});

describe('readElfObject', () => {
  it('refuses what is not a BPF relocatable object, saying what it got', () => {
    expect(() => readElfObject(Buffer.from('hello world, not an elf file at all.............................................'))).toThrow(/not an ELF file/);
    const so = readFileSync(programSoPath());
    expect(() => readElfObject(so)).toThrow(/expected a relocatable object \(ET_REL\), got e_type 3/);
  });
});
