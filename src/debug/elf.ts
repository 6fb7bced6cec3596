// Reads what a Linux core file says about the crash (ELF notes and dumped memory) and an ELF file's build-id.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { constants } from 'node:os';

const PT_LOAD = 1;
const PT_NOTE = 4;
const ET_CORE = 4;
const NT_PRSTATUS = 1;
const NT_PRPSINFO = 3;
const NT_AUXV = 6;
const NT_SIGINFO = 0x53494749;
const NT_FILE = 0x46494c45;
const NT_GNU_BUILD_ID = 3;
const AT_PHDR = 3;
const AT_EXECFN = 31;
/** Offsets in x86-64 `struct elf_prstatus`: the thread id, then `pr_reg` (user_regs_struct, rsp is register 19). */
const PRSTATUS_PID = 32;
const PRSTATUS_RSP = 112 + 19 * 8;

export interface FileMapping {
  start: bigint;
  end: bigint;
  /** Offset in the file, in bytes. */
  offset: bigint;
  path: string;
}

interface LoadSegment {
  vaddr: bigint;
  memsz: bigint;
  offset: bigint;
  filesz: bigint;
}

export interface CoreThread {
  lwp: number;
  /** The stack pointer when it stopped (x86-64 only), to find its stack in the dump. */
  sp: bigint | null;
}

export interface CoreFacts {
  /** The first thread is the one that took the fatal signal (the kernel writes it first). */
  threads: CoreThread[];
  pid: number | null;
  signal: number | null;
  /** si_addr for SIGSEGV, SIGBUS, SIGILL and SIGFPE. */
  faultAddress: bigint | null;
  /** Program name as the kernel kept it (15 characters at most). */
  comm: string | null;
  /** The command line as the kernel kept it (80 characters at most, arguments joined by spaces). */
  psargs: string | null;
  /** The full argument vector read back from the dumped stack, when it could be. */
  argv: string[] | null;
  /** The executable that dumped, from the mapping that holds the program headers (AT_PHDR). */
  executable: string | null;
  /** True when the kernel marked the executable "(deleted)" at dump time. */
  executableDeleted: boolean;
  /** The build-id of the executable as it was mapped, read from the dumped ELF header page. */
  executableBuildId: string | null;
  files: FileMapping[];
  /** Up to 64 KiB of the crashing thread's stack from its stack pointer up (messages built on the stack). */
  crashStack: Buffer | null;
}

/** How much of the crashing thread's stack readCore returns. */
const CRASH_STACK_BYTES = 64 * 1024;

export type ElfKind = 'core' | 'executable' | 'shared object' | 'relocatable object' | 'ELF file' | 'not ELF';

/** Reads byte ranges of one open file; every read is bounded so that a truncated core is not an exception. */
class FileReader {
  private fd: number;
  readonly size: number;

  constructor(path: string) {
    this.fd = openSync(path, 'r');
    this.size = fstatSync(this.fd).size;
  }

  read(offset: bigint | number, length: number): Buffer {
    const off = Number(offset);
    const len = Math.max(0, Math.min(length, this.size - off));
    const buf = Buffer.alloc(len);
    if (len > 0) readSync(this.fd, buf, 0, len, off);
    return buf;
  }

  close(): void {
    closeSync(this.fd);
  }
}

interface ElfHeader {
  type: number;
  phoff: bigint;
  phentsize: number;
  phnum: number;
}

function elfHeader(head: Buffer): ElfHeader | null {
  if (head.length < 64 || head.readUInt32BE(0) !== 0x7f454c46) return null;
  // Only 64-bit little-endian (x86-64, aarch64) is read in detail; others are reported as plain ELF.
  if (head[4] !== 2 || head[5] !== 1) return { type: -1, phoff: 0n, phentsize: 0, phnum: 0 };
  return { type: head.readUInt16LE(16), phoff: head.readBigUInt64LE(32), phentsize: head.readUInt16LE(54), phnum: head.readUInt16LE(56) };
}

/** What kind of file `path` is, from its ELF header: only 'core' can be debugged. */
export function elfKind(path: string): ElfKind {
  const r = new FileReader(path);
  try {
    const h = elfHeader(r.read(0, 64));
    if (!h) return 'not ELF';
    // A position-independent executable is ET_DYN like a library, but asks for a program interpreter.
    const PT_INTERP = 3;
    if (h.type === 3 && programHeaders((off, len) => r.read(off, len), h).some((p) => p.type === PT_INTERP)) return 'executable';
    const kinds: Record<number, ElfKind> = { 1: 'relocatable object', 2: 'executable', 3: 'shared object', [ET_CORE]: 'core' };
    return kinds[h.type] ?? 'ELF file';
  } finally {
    r.close();
  }
}

interface Phdr {
  type: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz: bigint;
}

function programHeaders(read: (off: bigint, len: number) => Buffer, h: ElfHeader): Phdr[] {
  const out: Phdr[] = [];
  const table = read(h.phoff, h.phnum * h.phentsize);
  for (let i = 0; i + 56 <= table.length && i < h.phnum * h.phentsize; i += h.phentsize) {
    out.push({
      type: table.readUInt32LE(i),
      offset: table.readBigUInt64LE(i + 8),
      vaddr: table.readBigUInt64LE(i + 16),
      filesz: table.readBigUInt64LE(i + 32),
      memsz: table.readBigUInt64LE(i + 40),
    });
  }
  return out;
}

interface Note {
  name: string;
  type: number;
  desc: Buffer;
}

function notes(buf: Buffer): Note[] {
  const out: Note[] = [];
  let at = 0;
  const align = (n: number) => (n + 3) & ~3;
  while (at + 12 <= buf.length) {
    const namesz = buf.readUInt32LE(at);
    const descsz = buf.readUInt32LE(at + 4);
    const type = buf.readUInt32LE(at + 8);
    const nameAt = at + 12;
    const descAt = nameAt + align(namesz);
    if (descAt + descsz > buf.length) break;
    out.push({ name: buf.toString('latin1', nameAt, nameAt + Math.max(0, namesz - 1)), type, desc: buf.subarray(descAt, descAt + descsz) });
    at = descAt + align(descsz);
  }
  return out;
}

/** The GNU build-id found in the PT_NOTE segments readable through `read` (file offsets), as hex. */
function buildIdFrom(read: (off: bigint, len: number) => Buffer): string | null {
  const h = elfHeader(read(0n, 64));
  if (!h || h.type < 0) return null;
  for (const ph of programHeaders(read, h)) {
    if (ph.type !== PT_NOTE || ph.filesz > 65536n) continue;
    for (const n of notes(read(ph.offset, Number(ph.filesz)))) {
      if (n.name === 'GNU' && n.type === NT_GNU_BUILD_ID) return n.desc.toString('hex');
    }
  }
  return null;
}

/** The build-id of an ELF file on disk, or null when it has none or is not 64-bit ELF. */
export function fileBuildId(path: string): string | null {
  const r = new FileReader(path);
  try {
    return buildIdFrom((off, len) => r.read(off, len));
  } finally {
    r.close();
  }
}

function cString(buf: Buffer, at = 0): string {
  const end = buf.indexOf(0, at);
  return buf.toString('utf8', at, end < 0 ? buf.length : end);
}

/** Reads the notes and the bits of dumped memory that say who crashed, how, and with which arguments. */
export function readCore(path: string): CoreFacts {
  const r = new FileReader(path);
  try {
    const h = elfHeader(r.read(0, 64));
    if (!h || h.type !== ET_CORE) throw new Error(`${path} is not a core file`);
    const phdrs = programHeaders((off, len) => r.read(off, len), h);
    const loads: LoadSegment[] = phdrs.filter((p) => p.type === PT_LOAD);
    const facts: CoreFacts = {
      threads: [],
      pid: null,
      signal: null,
      faultAddress: null,
      comm: null,
      psargs: null,
      argv: null,
      executable: null,
      executableDeleted: false,
      executableBuildId: null,
      files: [],
      crashStack: null,
    };
    let auxvRaw: Buffer | null = null;
    let firstSiginfo = true;
    for (const ph of phdrs.filter((p) => p.type === PT_NOTE)) {
      for (const n of notes(r.read(ph.offset, Number(ph.filesz)))) {
        if (n.name !== 'CORE') continue;
        if (n.type === NT_PRSTATUS && n.desc.length >= PRSTATUS_PID + 4) {
          const sp = n.desc.length >= PRSTATUS_RSP + 8 ? n.desc.readBigUInt64LE(PRSTATUS_RSP) : null;
          facts.threads.push({ lwp: n.desc.readInt32LE(PRSTATUS_PID), sp });
          if (facts.signal === null) facts.signal = n.desc.readInt16LE(12) || null;
        } else if (n.type === NT_PRPSINFO && n.desc.length >= 136) {
          facts.pid = n.desc.readInt32LE(24);
          facts.comm = cString(n.desc.subarray(40, 56));
          facts.psargs = cString(n.desc.subarray(56, 136)).trimEnd();
        } else if (n.type === NT_SIGINFO && n.desc.length >= 24 && firstSiginfo) {
          firstSiginfo = false;
          const signo = n.desc.readInt32LE(0);
          facts.signal = signo || facts.signal;
          const withAddress = [constants.signals.SIGSEGV, constants.signals.SIGBUS, constants.signals.SIGILL, constants.signals.SIGFPE];
          if (withAddress.includes(signo) && n.desc.readInt32LE(8) > 0) facts.faultAddress = n.desc.readBigUInt64LE(16);
        } else if (n.type === NT_AUXV) {
          auxvRaw = Buffer.from(n.desc);
        } else if (n.type === NT_FILE) {
          facts.files = fileNote(n.desc);
        }
      }
    }
    const memory = new CoreMemory(r, loads);
    const auxv = new Map<number, bigint>();
    for (let i = 0; auxvRaw && i + 16 <= auxvRaw.length; i += 16) {
      auxv.set(Number(auxvRaw.readBigUInt64LE(i)), auxvRaw.readBigUInt64LE(i + 8));
    }
    const phdrAddr = auxv.get(AT_PHDR);
    const exe = phdrAddr === undefined ? undefined : facts.files.find((f) => phdrAddr >= f.start && phdrAddr < f.end);
    if (exe) {
      facts.executableDeleted = exe.path.endsWith(' (deleted)');
      facts.executable = exe.path.replace(/ \(deleted\)$/, '');
      const base = facts.files.find((f) => f.path === exe.path && f.offset === 0n);
      if (base) facts.executableBuildId = buildIdFrom((off, len) => memory.read(base.start + off, len));
    }
    const execfn = auxv.get(AT_EXECFN);
    if (auxvRaw && execfn !== undefined) facts.argv = stackArgv(memory, auxvRaw, execfn);
    const sp = facts.threads[0]?.sp;
    if (sp) facts.crashStack = memory.read(sp, CRASH_STACK_BYTES);
    return facts;
  } finally {
    r.close();
  }
}

function fileNote(desc: Buffer): FileMapping[] {
  const count = Number(desc.readBigUInt64LE(0));
  const pageSize = desc.readBigUInt64LE(8);
  const out: FileMapping[] = [];
  let names = 16 + count * 24;
  for (let i = 0; i < count && names < desc.length; i++) {
    const at = 16 + i * 24;
    const path = cString(desc, names);
    names += Buffer.byteLength(path) + 1;
    const offset = desc.readBigUInt64LE(at + 16) * pageSize;
    out.push({ start: desc.readBigUInt64LE(at), end: desc.readBigUInt64LE(at + 8), offset, path });
  }
  return out;
}

/** The process's memory as dumped: only what the kernel wrote (coredump_filter) can be read. */
export class CoreMemory {
  constructor(
    private file: FileReader,
    private loads: LoadSegment[],
  ) {}

  segment(addr: bigint): LoadSegment | undefined {
    return this.loads.find((s) => addr >= s.vaddr && addr < s.vaddr + s.memsz && addr < s.vaddr + s.filesz);
  }

  read(addr: bigint, length: number): Buffer {
    const s = this.segment(addr);
    if (!s) return Buffer.alloc(0);
    const avail = Number(s.vaddr + s.filesz - addr);
    return this.file.read(s.offset + (addr - s.vaddr), Math.min(length, avail));
  }
}

/**
 * The argument vector as the program received it. At exec the kernel lays out, from the stack pointer up:
 * argc, argv[], NULL, envp[], NULL, auxv; NT_AUXV is a copy of that auxv, so finding it on the dumped stack
 * (the segment that holds the AT_EXECFN string) and walking back gives argv. Null when any step fails.
 */
function stackArgv(memory: CoreMemory, auxvRaw: Buffer, execfn: bigint): string[] | null {
  const seg = memory.segment(execfn);
  if (!seg || seg.filesz > 64n * 1024n * 1024n) return null;
  const stack = memory.read(seg.vaddr, Number(seg.filesz));
  const at = stack.indexOf(auxvRaw.subarray(0, Math.min(auxvRaw.length, 64)));
  if (at < 16 || at % 8 !== 0) return null;
  const word = (i: number) => stack.readBigUInt64LE(i);
  let p = at - 8;
  if (word(p) !== 0n) return null;
  p -= 8;
  while (p >= 0 && word(p) !== 0n) p -= 8; // envp
  const argvEnd = p;
  let count = 0;
  p -= 8;
  while (p >= 0 && word(p) !== BigInt(count)) {
    count++;
    p -= 8;
    if (count > 100_000) return null;
  }
  if (p < 0) return null;
  const args: string[] = [];
  for (let i = p + 8; i < argvEnd; i += 8) {
    const s = memory.read(word(i), 128 * 1024);
    if (s.length === 0) return null;
    args.push(cString(s));
  }
  return args;
}
