// Reads an ELF64 shared object's dynamic symbol table: the functions it exports and the symbols it imports.
import { readFileSync } from 'node:fs';

export interface DynamicSymbols {
  /** Functions the object defines and others can bind to (global or weak). */
  exports: Set<string>;
  /** Symbols it needs from other objects. */
  imports: Set<string>;
}

const SHT_DYNSYM = 11;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;

/** The dynamic symbols of path; null when it is not a little-endian ELF64 file with a .dynsym (or is truncated). */
export function dynamicSymbols(path: string): DynamicSymbols | null {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    return null;
  }
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return null;
  try {
    const shoff = Number(buf.readBigUInt64LE(0x28));
    const shentsize = buf.readUInt16LE(0x3a);
    const shnum = buf.readUInt16LE(0x3c);
    const section = (i: number) => {
      const o = shoff + i * shentsize;
      return {
        type: buf.readUInt32LE(o + 4),
        offset: Number(buf.readBigUInt64LE(o + 0x18)),
        size: Number(buf.readBigUInt64LE(o + 0x20)),
        link: buf.readUInt32LE(o + 0x28),
        entsize: Number(buf.readBigUInt64LE(o + 0x38)),
      };
    };
    for (let i = 0; i < shnum; i++) {
      const sym = section(i);
      if (sym.type !== SHT_DYNSYM || sym.entsize < 24) continue;
      const str = section(sym.link);
      if (buf.length < sym.offset + sym.size || buf.length < str.offset + str.size) return null;
      const name = (off: number) => {
        const start = str.offset + off;
        const end = buf.indexOf(0, start);
        if (start >= str.offset + str.size || end < 0) throw new RangeError('symbol name outside .dynstr');
        return buf.toString('latin1', start, end);
      };
      const out: DynamicSymbols = { exports: new Set(), imports: new Set() };
      for (let o = sym.offset + sym.entsize; o + 24 <= sym.offset + sym.size; o += sym.entsize) {
        const info = buf[o + 4];
        const bind = info >> 4;
        if (bind !== STB_GLOBAL && bind !== STB_WEAK) continue;
        const shndx = buf.readUInt16LE(o + 6);
        if (shndx === 0) out.imports.add(name(buf.readUInt32LE(o)));
        else if ((info & 0xf) === STT_FUNC || (info & 0xf) === STT_GNU_IFUNC) out.exports.add(name(buf.readUInt32LE(o)));
      }
      return out;
    }
  } catch {
    return null; // a header field points past the end of the file: not an object the loader would take either
  }
  return null;
}
