// Reads the parts of an ELF64 little-endian relocatable object (clang -target bpf -c) that the linker needs.

export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const STT_SECTION = 3;
export const SHN_UNDEF = 0;

export interface Section {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  align: number;
  entsize: number;
  bytes: Uint8Array;
}

export interface ElfSymbol {
  name: string;
  value: number;
  size: number;
  type: number;
  bind: number;
  shndx: number;
}

export interface Relocation {
  /** Offset inside the section the relocation applies to. */
  offset: number;
  type: number;
  symbol: ElfSymbol;
}

export interface ElfObject {
  sections: Section[];
  symbols: ElfSymbol[];
  /** Relocations keyed by the index of the section they patch. */
  relocations: Map<number, Relocation[]>;
}

export class ElfFormatError extends Error {
  override name = 'ElfFormatError';
}

function cString(bytes: Uint8Array, start: number): string {
  let end = start;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return Buffer.from(bytes.subarray(start, end)).toString('latin1');
}

export function readElfObject(file: Uint8Array): ElfObject {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.length < 64 || view.getUint32(0, false) !== 0x7f454c46) {
    throw new ElfFormatError('not an ELF file');
  }
  if (file[4] !== 2 || file[5] !== 1) throw new ElfFormatError('not ELF64 little-endian');
  const type = view.getUint16(16, true);
  if (type !== 1) throw new ElfFormatError(`expected a relocatable object (ET_REL), got e_type ${type}`);
  const machine = view.getUint16(18, true);
  if (machine !== 247) throw new ElfFormatError(`expected a BPF object (e_machine 247), got ${machine}`);

  const shoff = Number(view.getBigUint64(40, true));
  const shentsize = view.getUint16(58, true);
  const shnum = view.getUint16(60, true);
  const shstrndx = view.getUint16(62, true);

  const raw = Array.from({ length: shnum }, (_, index) => {
    const o = shoff + index * shentsize;
    return {
      index,
      nameOffset: view.getUint32(o, true),
      type: view.getUint32(o + 4, true),
      flags: Number(view.getBigUint64(o + 8, true)),
      offset: Number(view.getBigUint64(o + 24, true)),
      size: Number(view.getBigUint64(o + 32, true)),
      link: view.getUint32(o + 40, true),
      info: view.getUint32(o + 44, true),
      align: Number(view.getBigUint64(o + 48, true)),
      entsize: Number(view.getBigUint64(o + 56, true)),
    };
  });
  const shstr = raw[shstrndx];
  if (!shstr) throw new ElfFormatError('missing section name table');
  const names = file.subarray(shstr.offset, shstr.offset + shstr.size);
  const sections: Section[] = raw.map((s) => ({
    ...s,
    name: cString(names, s.nameOffset),
    bytes: s.type === SHT_NOBITS ? new Uint8Array(s.size) : file.subarray(s.offset, s.offset + s.size),
  }));

  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  const symbols: ElfSymbol[] = [];
  if (symtab) {
    const strtab = sections[symtab.link];
    if (!strtab) throw new ElfFormatError('symbol table without string table');
    for (let o = symtab.offset; o + 24 <= symtab.offset + symtab.size; o += 24) {
      const info = view.getUint8(o + 4);
      symbols.push({
        name: cString(strtab.bytes, view.getUint32(o, true)),
        value: Number(view.getBigUint64(o + 8, true)),
        size: Number(view.getBigUint64(o + 16, true)),
        type: info & 0xf,
        bind: info >> 4,
        shndx: view.getUint16(o + 6, true),
      });
    }
  }

  const relocations = new Map<number, Relocation[]>();
  for (const s of sections.filter((x) => x.type === SHT_REL)) {
    const list: Relocation[] = [];
    for (let o = s.offset; o + 16 <= s.offset + s.size; o += 16) {
      const rinfo = view.getBigUint64(o + 8, true);
      const symIndex = Number(rinfo >> 32n);
      const symbol = symbols[symIndex];
      if (!symbol) throw new ElfFormatError(`relocation in ${s.name} names symbol #${symIndex}, which does not exist`);
      list.push({ offset: Number(view.getBigUint64(o, true)), type: Number(rinfo & 0xffffffffn), symbol });
    }
    relocations.set(s.info, list);
  }
  return { sections, symbols, relocations };
}
