// Crash reports from core files: find the core, check it against the program, ask gdb, return data or text.
import { existsSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { basename, resolve } from 'node:path';

import { UserError } from '../lib/errors.js';
import { elfKind, fileBuildId, readCore } from './elf.js';
import { findGdb, gdbReport } from './gdb.js';
import { CoreLocation, locateCore } from './locate.js';

export { formatCrashReport } from './format.js';
export { locateCore } from './locate.js';

export interface CrashFrame {
  index: number;
  function: string | null;
  /** Source file (absolute where gdb knows it) and line, for code with debug information. */
  file: string | null;
  line: number | null;
  /** The executable or shared library the frame's code belongs to. */
  library: string | null;
  address: string;
  /** With `full`: the frame's arguments and local variables as gdb prints them. */
  locals?: { name: string; value: string; arg: boolean }[];
}

export interface CrashThread {
  /** gdb's thread number. */
  id: number;
  /** The kernel's thread id. */
  lwp: number | null;
  crashed: boolean;
  frames: CrashFrame[];
  /** The stack was deeper than the frames listed (gdb.MAX_FRAMES). */
  truncated: boolean;
}

export interface CrashReport {
  /** The core file gdb read, or for systemd-coredump and apport, where the core is kept. */
  core: string;
  coreSource: 'file' | 'coredumpctl' | 'apport';
  program: string;
  args: string[];
  pid: number | null;
  signal: number | null;
  signalName: string | null;
  signalDescription: string | null;
  /** The faulting address for SIGSEGV, SIGBUS, SIGILL and SIGFPE, as hex. */
  faultAddress: string | null;
  /** A `tsmalloc: double free ...` style line the allocator left on the crashing thread's stack. */
  allocatorMessage: string | null;
  threads: CrashThread[];
}

export interface AnalyzeOptions {
  /** Override the program the core names (it must still match the core). */
  program?: string;
  cwd?: string;
  allThreads?: boolean;
  full?: boolean;
}

const DESCRIPTIONS: Record<string, string> = {
  SIGSEGV: 'Segmentation fault',
  SIGBUS: 'Bus error',
  SIGABRT: 'Aborted',
  SIGILL: 'Illegal instruction',
  SIGFPE: 'Arithmetic exception',
  SIGTRAP: 'Trace/breakpoint trap',
  SIGQUIT: 'Quit',
  SIGSYS: 'Bad system call',
};

export function signalName(n: number | null): string | null {
  if (n === null) return null;
  return (Object.entries(constants.signals).find(([, v]) => v === n)?.[0] as string | undefined) ?? null;
}

/** The tsmalloc allocators' misuse line (diag.c builds it in a stack buffer just before abort). */
function allocatorMessage(stack: Buffer | null): string | null {
  if (!stack) return null;
  const m = /tsmalloc: [ -~]{1,200}\n/.exec(stack.toString('latin1'));
  return m ? m[0].trimEnd() : null;
}

/** Reads one core file with gdb and returns the report; UserError for a file that is not a core or a mismatch. */
export async function analyzeCore(where: CoreLocation, opts: AnalyzeOptions = {}): Promise<CrashReport> {
  const core = where.path;
  findGdb();
  if (!existsSync(core)) throw new UserError(`core file not found: ${resolve(core)}`);
  if (!statSync(core).isFile()) throw new UserError(`not a core file: ${resolve(core)} is not a regular file`);
  const kind = elfKind(core);
  if (kind !== 'core') {
    throw new UserError(`not a core file: ${resolve(core)} is ${kind === 'not ELF' ? 'not an ELF file' : `an ELF ${kind}`}`);
  }
  const facts = readCore(core);

  const program = opts.program ? resolve(opts.cwd ?? process.cwd(), opts.program) : facts.executable;
  if (!program) throw new UserError(`cannot tell which program dumped ${where.where}: give it with --program <path>`);
  if (!existsSync(program)) {
    throw new UserError(`the program that dumped ${where.where} is gone: ${program} does not exist (give it with --program <path>)`);
  }
  // --program naming another file than the one that crashed is a different mistake from a rebuild.
  const other = opts.program && facts.executable && basename(facts.executable) !== basename(program);
  const mismatch = (detail: string) =>
    new UserError(
      other
        ? `${program} is not the program that dumped ${where.where}${detail}: that was ${facts.executable}`
        : `${program} does not match the core ${where.where}${detail} (rebuilt after the crash?): ` +
            'debug it with the binary that crashed, or crash it again',
    );
  const fileId = fileBuildId(program);
  if (facts.executableBuildId && fileId && facts.executableBuildId !== fileId) {
    throw mismatch(`: its build-id is ${fileId}, the crashed program's was ${facts.executableBuildId}`);
  }

  const cwd = opts.cwd ?? process.cwd();
  const gdb = await gdbReport({ program, core, cwd, allThreads: opts.allThreads ?? false, full: opts.full ?? false });
  if (gdb.mismatch && !(facts.executableBuildId && fileId)) throw mismatch(' (gdb: core file may not match specified executable)');

  const crashedLwp = facts.threads[0]?.lwp ?? null;
  const libraryAt = (address: string, from: string | null) => {
    const a = address ? BigInt(address) : -1n;
    const m = facts.files.find((f) => a >= f.start && a < f.end);
    return m ? m.path.replace(/ \(deleted\)$/, '') : from;
  };
  const threads: CrashThread[] = gdb.threads.map((t) => ({
    id: t.id,
    lwp: t.lwp,
    crashed: crashedLwp !== null && t.lwp !== null ? t.lwp === crashedLwp : t.current,
    frames: t.frames.map((f) => ({
      index: f.index,
      function: f.function,
      file: f.file,
      line: f.line,
      library: libraryAt(f.address, f.from),
      address: f.address,
      ...(f.locals ? { locals: f.locals } : {}),
    })),
    truncated: t.truncated,
  }));
  threads.sort((a, b) => Number(b.crashed) - Number(a.crashed) || a.id - b.id);

  const name = signalName(facts.signal) ?? gdb.signalName;
  const args = facts.argv ?? (facts.psargs ?? gdb.generatedBy ?? '').split(' ').filter(Boolean);
  return {
    core: where.where,
    coreSource: where.source,
    program,
    args: args.slice(1),
    pid: facts.pid,
    signal: facts.signal,
    signalName: name,
    signalDescription: gdb.signalDescription ?? (name ? (DESCRIPTIONS[name] ?? null) : null),
    faultAddress: facts.faultAddress === null ? null : `0x${facts.faultAddress.toString(16)}`,
    allocatorMessage: allocatorMessage(facts.crashStack),
    threads,
  };
}

export interface CrashReportOptions {
  pid: number;
  /** The program's path, as it was started. */
  program: string;
  /** The directory it was started in. */
  cwd: string;
  /** Whether its core limit was raised (`tsmalloc run` does unless --no-core); used to explain a missing core. */
  coreLimitRaised?: boolean;
  signal?: number;
  allThreads?: boolean;
  full?: boolean;
}

/** Like crashReport, but says why there is no report: where it looked for the core and what stopped it. */
export async function crashReportOrReason(opts: CrashReportOptions): Promise<{ report: CrashReport } | { missing: string }> {
  const { pid, program, cwd, signal, coreLimitRaised } = opts;
  const lookup = await locateCore({ pid, program, cwd, signal, coreLimitRaised });
  if ('missing' in lookup) return lookup;
  try {
    return { report: await analyzeCore(lookup.found, { cwd: opts.cwd, allThreads: opts.allThreads, full: opts.full }) };
  } finally {
    lookup.found.cleanup();
  }
}

/**
 * The crash report for a process that just died by a signal: finds its core (core_pattern, coredumpctl or
 * apport), runs gdb, and returns the data `tsmalloc debug --json` prints; null when no core was written.
 * Throws UserError when gdb is not installed or the core does not match the program.
 */
export async function crashReport(opts: {
  pid: number;
  program: string;
  cwd: string;
  coreLimitRaised?: boolean;
}): Promise<CrashReport | null> {
  const r = await crashReportOrReason(opts);
  return 'report' in r ? r.report : null;
}
