// A small linker for Solana programs: one BPF relocatable object in, one SBPF v0 shared object out.
// Debian's ld.lld cannot link BPF objects for Solana, so this does the little that is needed:
// concatenate .text and the read-only data, resolve relocations, and emit the dynamic symbols and
// R_BPF_64_32 relocations through which the loader binds syscalls. Layout rules:
// ../shared/docs/sbpf-format-notes.md (verified against Agave's loader).

import {
  ElfFormatError,
  type ElfObject,
  type Relocation,
  type Section,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHF_WRITE,
  SHN_UNDEF,
  SHT_NOBITS,
  SHT_PROGBITS,
  STT_SECTION,
} from './elfObject.js';

export const R_BPF_64_64 = 1;
export const R_BPF_64_ABS64 = 2;
export const R_BPF_64_ABS32 = 3;
export const R_BPF_64_32 = 10;

/** The v0 loader maps the whole file at this virtual address. */
export const MM_PROGRAM_START = 0x1_0000_0000n;

/** Syscalls this program may call; a real deploy rejects any other name, so the linker does too. */
export const SYSCALLS: ReadonlySet<string> = new Set([
  'abort',
  'sol_panic_',
  'sol_log_',
  'sol_log_64_',
  'sol_log_pubkey',
  'sol_log_compute_units_',
  'sol_log_data',
  'sol_create_program_address',
  'sol_try_find_program_address',
  'sol_invoke_signed_c',
  'sol_get_clock_sysvar',
  'sol_get_rent_sysvar',
  'sol_memcpy_',
  'sol_memmove_',
  'sol_memset_',
  'sol_memcmp_',
  'sol_sha256',
  'sol_set_return_data',
  'sol_get_return_data',
]);

export class LinkError extends Error {
  override name = 'LinkError';
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

interface Placed {
  section: Section;
  /** File offset (== virtual offset from MM_PROGRAM_START) in the output. */
  outOffset: number;
}

/** Link an object into a Solana SBPF v0 ELF. `entry` is the entry function's symbol name. */
export function linkSbpfV0(obj: ElfObject, entry = 'entrypoint'): Uint8Array {
  for (const s of obj.sections) {
    const writableData = (s.flags & SHF_WRITE) !== 0 && (s.flags & SHF_ALLOC) !== 0;
    if (s.type === SHT_NOBITS && s.size > 0) {
      throw new LinkError(`section ${s.name} holds zero-initialised writable data (.bss); Solana programs cannot have it`);
    }
    if (writableData && s.size > 0) {
      throw new LinkError(`section ${s.name} is writable data; Solana programs cannot have .data (use const, or the stack)`);
    }
  }
  const texts = obj.sections.filter((s) => s.type === SHT_PROGBITS && (s.flags & SHF_EXECINSTR) !== 0 && s.size > 0);
  if (texts.length !== 1 || texts[0]?.name !== '.text') {
    throw new LinkError(`expected exactly one code section named .text, found: ${texts.map((s) => s.name).join(', ') || 'none'}`);
  }
  const text = texts[0];
  const rodatas = obj.sections.filter(
    (s) => s.type === SHT_PROGBITS && (s.flags & SHF_ALLOC) !== 0 && (s.flags & (SHF_EXECINSTR | SHF_WRITE)) === 0 && s.size > 0,
  );

  // Layout: ELF header, .text, .rodata (all read-only input sections, each at its alignment).
  const placed = new Map<number, Placed>();
  const textOffset = 64;
  placed.set(text.index, { section: text, outOffset: textOffset });
  const rodataOffset = align(textOffset + text.size, 8);
  let cursor = rodataOffset;
  for (const s of rodatas) {
    cursor = align(cursor, Math.max(1, s.align));
    placed.set(s.index, { section: s, outOffset: cursor });
    cursor += s.size;
  }
  const rodataSize = cursor - rodataOffset;

  const image = new Uint8Array(cursor);
  for (const p of placed.values()) image.set(p.section.bytes, p.outOffset);
  const view = new DataView(image.buffer);

  const syscallRelocs: { offset: number; name: string }[] = [];
  const addressOf = (r: Relocation, where: string): bigint => {
    const target = placed.get(r.symbol.shndx);
    if (r.symbol.shndx === SHN_UNDEF || !target) {
      throw new LinkError(`${where}: symbol "${r.symbol.name}" is not defined in .text or read-only data`);
    }
    return MM_PROGRAM_START + BigInt(target.outOffset + r.symbol.value);
  };

  for (const [sectionIndex, relocs] of obj.relocations) {
    const site = placed.get(sectionIndex);
    if (!site) {
      const name = obj.sections[sectionIndex]?.name ?? `#${sectionIndex}`;
      if (relocs.length > 0 && obj.sections[sectionIndex]?.flags !== undefined && (obj.sections[sectionIndex]!.flags & SHF_ALLOC) !== 0) {
        throw new LinkError(`relocations against section ${name}, which is not linked`);
      }
      continue; // debug info and the like
    }
    for (const r of relocs) {
      const at = site.outOffset + r.offset;
      const where = `${site.section.name}+0x${r.offset.toString(16)}`;
      switch (r.type) {
        case R_BPF_64_64: {
          // lddw: 64-bit address split over two instruction slots; the addend sits in the first imm.
          if (site.section !== text) throw new LinkError(`${where}: R_BPF_64_64 outside .text`);
          const addend = BigInt(view.getInt32(at + 4, true));
          const value = addressOf(r, where) + addend;
          view.setUint32(at + 4, Number(value & 0xffffffffn), true);
          view.setUint32(at + 12, Number(value >> 32n), true);
          break;
        }
        case R_BPF_64_ABS64: {
          const value = addressOf(r, where) + view.getBigUint64(at, true);
          view.setBigUint64(at, value, true);
          break;
        }
        case R_BPF_64_ABS32: {
          const value = addressOf(r, where) + BigInt(view.getUint32(at, true));
          if (value > 0xffffffffn) throw new LinkError(`${where}: R_BPF_64_ABS32 value 0x${value.toString(16)} does not fit 32 bits`);
          view.setUint32(at, Number(value), true);
          break;
        }
        case R_BPF_64_32: {
          if (site.section !== text || image[at] !== 0x85) throw new LinkError(`${where}: R_BPF_64_32 not on a call instruction`);
          if (r.symbol.shndx === SHN_UNDEF) {
            if (!SYSCALLS.has(r.symbol.name)) {
              throw new LinkError(`${where}: call to unknown syscall "${r.symbol.name}" (not one the runtime provides)`);
            }
            image[at + 1] = image[at + 1]! & 0x0f; // src = 0: a syscall, not a bpf-to-bpf call
            view.setInt32(at + 4, -1, true);
            syscallRelocs.push({ offset: at, name: r.symbol.name });
          } else {
            if (r.symbol.shndx !== text.index) throw new LinkError(`${where}: call into ${r.symbol.name}, which is not code`);
            const addend = r.symbol.type === STT_SECTION ? (view.getInt32(at + 4, true) + 1) * 8 : 0;
            const targetPc = (r.symbol.value + addend) / 8;
            const pc = r.offset / 8;
            view.setInt32(at + 4, targetPc - pc - 1, true);
          }
          break;
        }
        default:
          throw new LinkError(`${where}: unsupported relocation type ${r.type} against "${r.symbol.name}"`);
      }
    }
  }

  const entrySym = obj.symbols.find((s) => s.name === entry && s.shndx === text.index);
  if (!entrySym) throw new LinkError(`entry symbol "${entry}" not found in .text`);

  return writeSharedObject(image, {
    textOffset,
    textSize: text.size,
    rodataOffset,
    rodataSize,
    entry: textOffset + entrySym.value,
    syscallRelocs,
  });
}

interface Layout {
  textOffset: number;
  textSize: number;
  rodataOffset: number;
  rodataSize: number;
  entry: number;
  syscallRelocs: { offset: number; name: string }[];
}

/** Appends .dynamic, .dynsym, .dynstr, .rel.dyn, .shstrtab and the section headers to the image. */
function writeSharedObject(image: Uint8Array, l: Layout): Uint8Array {
  const names = [...new Set(l.syscallRelocs.map((r) => r.name))];
  const dynstr: number[] = [0];
  const nameOffset = new Map<string, number>();
  for (const n of names) {
    nameOffset.set(n, dynstr.length);
    dynstr.push(...Buffer.from(n, 'latin1'), 0);
  }
  const symIndex = new Map(names.map((n, i) => [n, i + 1]));

  const shNames = ['', '.text', '.rodata', '.dynamic', '.dynsym', '.dynstr', '.rel.dyn', '.shstrtab'];
  const shstr: number[] = [];
  const shNameOff = shNames.map((n) => {
    const o = shstr.length;
    shstr.push(...Buffer.from(n, 'latin1'), 0);
    return o;
  });

  const dynamicOffset = align(image.length, 8);
  const dynamicSize = 8 * 16;
  const dynsymOffset = dynamicOffset + dynamicSize;
  const dynsymSize = (names.length + 1) * 24;
  const dynstrOffset = dynsymOffset + dynsymSize;
  const relOffset = align(dynstrOffset + dynstr.length, 8);
  const relSize = l.syscallRelocs.length * 16;
  const shstrOffset = relOffset + relSize;
  const shoff = align(shstrOffset + shstr.length, 8);
  const total = shoff + shNames.length * 64;

  const out = new Uint8Array(total);
  out.set(image);
  const v = new DataView(out.buffer);
  const u64 = (o: number, x: number | bigint) => v.setBigUint64(o, BigInt(x), true);

  // ELF header
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0);
  v.setUint16(16, 3, true); // ET_DYN
  v.setUint16(18, 247, true); // EM_BPF
  v.setUint32(20, 1, true); // EV_CURRENT
  u64(24, l.entry);
  u64(32, 0); // no program headers
  u64(40, shoff);
  v.setUint32(48, 0, true); // e_flags 0: SBPF v0
  v.setUint16(52, 64, true);
  v.setUint16(54, 56, true);
  v.setUint16(56, 0, true);
  v.setUint16(58, 64, true);
  v.setUint16(60, shNames.length, true);
  v.setUint16(62, shNames.length - 1, true);

  // .dynamic
  const tags: [number, number][] = [
    [6, dynsymOffset], // DT_SYMTAB
    [5, dynstrOffset], // DT_STRTAB
    [10, dynstr.length], // DT_STRSZ
    [11, 24], // DT_SYMENT
    [17, relOffset], // DT_REL
    [18, relSize], // DT_RELSZ
    [19, 16], // DT_RELENT
    [0, 0], // DT_NULL
  ];
  tags.forEach(([tag, val], i) => {
    u64(dynamicOffset + i * 16, tag);
    u64(dynamicOffset + i * 16 + 8, val);
  });

  // .dynsym: index 0 is the null symbol; one undefined GLOBAL NOTYPE symbol per syscall.
  names.forEach((n, i) => {
    const o = dynsymOffset + (i + 1) * 24;
    v.setUint32(o, nameOffset.get(n)!, true);
    out[o + 4] = 0x10;
  });
  out.set(dynstr, dynstrOffset);

  // .rel.dyn: R_BPF_64_32 at each syscall's call instruction.
  l.syscallRelocs.forEach((r, i) => {
    u64(relOffset + i * 16, r.offset);
    u64(relOffset + i * 16 + 8, (BigInt(symIndex.get(r.name)!) << 32n) | BigInt(R_BPF_64_32));
  });
  out.set(shstr, shstrOffset);

  // Section headers. .text and .rodata have sh_addr == sh_offset, as the loader requires.
  const sh = (i: number, f: { type: number; flags: number; addr: number; offset: number; size: number; link?: number; info?: number; align: number; entsize?: number }) => {
    const o = shoff + i * 64;
    v.setUint32(o, shNameOff[i]!, true);
    v.setUint32(o + 4, f.type, true);
    u64(o + 8, f.flags);
    u64(o + 16, f.addr);
    u64(o + 24, f.offset);
    u64(o + 32, f.size);
    v.setUint32(o + 40, f.link ?? 0, true);
    v.setUint32(o + 44, f.info ?? 0, true);
    u64(o + 48, f.align);
    u64(o + 56, f.entsize ?? 0);
  };
  sh(1, { type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, addr: l.textOffset, offset: l.textOffset, size: l.textSize, align: 8 });
  sh(2, { type: SHT_PROGBITS, flags: SHF_ALLOC, addr: l.rodataOffset, offset: l.rodataOffset, size: l.rodataSize, align: 8 });
  sh(3, { type: 6, flags: SHF_ALLOC, addr: dynamicOffset, offset: dynamicOffset, size: dynamicSize, link: 5, align: 8, entsize: 16 });
  sh(4, { type: 11, flags: SHF_ALLOC, addr: dynsymOffset, offset: dynsymOffset, size: dynsymSize, link: 5, info: 1, align: 8, entsize: 24 });
  sh(5, { type: 3, flags: SHF_ALLOC, addr: dynstrOffset, offset: dynstrOffset, size: dynstr.length, align: 1 });
  sh(6, { type: 9, flags: SHF_ALLOC, addr: relOffset, offset: relOffset, size: relSize, link: 4, align: 8, entsize: 16 });
  sh(7, { type: 3, flags: 0, addr: 0, offset: shstrOffset, size: shstr.length, align: 1 });
  return out;
}

export { ElfFormatError };
