// `tsmalloc run`: starts a program with an allocator preloaded and exits with the program's own status.
import { Command, Option } from 'commander';
import { constants } from 'node:os';

import { crashReportOrReason, formatCrashReport } from '../debug/index.js';
import { softCoreLimit } from '../debug/locate.js';
import { ALLOCATOR_NAMES, DEFAULT_ALLOCATOR, resolveAllocator } from '../lib/allocators.js';
import { UserError } from '../lib/errors.js';
import { launch, raiseCoreLimit } from '../lib/launch.js';
import { preloadEnv } from '../lib/preload.js';
import { resolveProgram, secureExecWarning } from '../lib/program.js';

export interface RunOptions {
  allocator?: string;
  lib?: string;
  core: boolean;
  stats?: boolean;
  /** After a crash (SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE), print where the core went and its backtrace. */
  backtrace?: boolean;
}

/** The signals that mean the program crashed, as opposed to being stopped from outside. */
export const CRASH_SIGNALS: readonly NodeJS.Signals[] = ['SIGSEGV', 'SIGBUS', 'SIGABRT', 'SIGILL', 'SIGFPE'];

/** Everything `run` does after parsing; returns the exit status for the CLI. */
export async function runProgram(program: string, args: string[], opts: RunOptions): Promise<number> {
  const allocator = resolveAllocator(opts);
  const path = resolveProgram(program, process.env);
  if (allocator.warning) process.stderr.write(`tsmalloc: ${allocator.warning}\n`);
  const warning = allocator.path ? secureExecWarning(path) : null;
  if (warning) process.stderr.write(`tsmalloc: ${warning}\n`);
  const coreLimitRaised = opts.core && raiseCoreLimit();
  if (opts.core && !coreLimitRaised) process.stderr.write('tsmalloc: warning: could not raise the core file limit\n');
  const env = preloadEnv(allocator.path, process.env);
  if (opts.stats) env.TSMALLOC_STATS = '1';
  const result = await launch({ path, argv0: program, args, env });
  if (opts.backtrace && result.signal && CRASH_SIGNALS.includes(result.signal)) {
    // raiseCoreLimit settles for the hard limit, which may be 0: then the limit did not really go up.
    const raised = coreLimitRaised && softCoreLimit() > 0;
    await printBacktrace({ pid: result.pid, program: path, signal: result.signal, coreLimitRaised: raised });
  }
  return result.status;
}

/** `run --backtrace` after a crash: the report on stderr, or one line saying why there is none. */
async function printBacktrace(crash: {
  pid: number;
  program: string;
  signal: NodeJS.Signals;
  coreLimitRaised: boolean;
}): Promise<void> {
  const cwd = process.cwd();
  try {
    const r = await crashReportOrReason({ ...crash, cwd, signal: constants.signals[crash.signal] });
    if ('missing' in r) {
      process.stderr.write(`tsmalloc: ${crash.signal} and no backtrace: ${r.missing}\n`);
      return;
    }
    process.stderr.write(`tsmalloc: the program died of ${crash.signal}; from its core:\n${formatCrashReport(r.report, cwd)}`);
  } catch (err) {
    // Whatever went wrong with gdb, the program's own exit status still comes out.
    const message = err instanceof UserError ? err.message : `gdb failed: ${(err as Error).message}`;
    process.stderr.write(`tsmalloc: ${crash.signal} and no backtrace: ${message}\n`);
  }
}

export function register(program: Command): void {
  program
    .command('run')
    .description('run a program with an allocator preloaded (LD_PRELOAD), exiting with its status')
    .argument('<program>', 'the program to run, found in PATH like a shell does')
    .argument('[args...]', "the program's own arguments (everything after the program name)")
    .addOption(
      new Option('-a, --allocator <name>', `allocator to preload: ${ALLOCATOR_NAMES.join(', ')}`).default(
        undefined,
        DEFAULT_ALLOCATOR,
      ),
    )
    .option('-l, --lib <path>', 'preload your own allocator library instead (a .so file)')
    .option('--no-core', 'leave the core file limit as it is (by default it is raised so a crash leaves a core)')
    .option('--stats', 'print allocator statistics at exit (sets TSMALLOC_STATS=1; bundled tsmalloc only)')
    .option('--backtrace', 'if the program crashes, print where its core went and its backtrace (needs gdb)')
    .passThroughOptions()
    .addHelpText(
      'after',
      `
Options before the program are tsmalloc's; everything after it belongs to the program.
Exit status: the program's own, 128+n when it dies by signal n, 127 when it is not found, 126 when it cannot be run.

Examples:
  $ tsmalloc run ls -l
  $ tsmalloc run --allocator simple vim notes.txt
  $ tsmalloc run --allocator jemalloc python3 script.py
  $ tsmalloc run --lib ./mymalloc.so -- ./myprog --verbose
  $ tsmalloc run --backtrace ./myprog`,
    )
    .action(async (prog: string, args: string[], opts: RunOptions) => {
      process.exitCode = await runProgram(prog, args, opts);
    });
}
