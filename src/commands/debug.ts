// `tsmalloc debug`: finds the newest core (or takes one), asks gdb, and prints the program, signal and backtrace.
import { Command } from 'commander';
import { resolve } from 'node:path';

import { analyzeCore, formatCrashReport } from '../debug/index.js';
import { locateCore } from '../debug/locate.js';
import { findGdb } from '../debug/gdb.js';
import { UserError } from '../lib/errors.js';

export interface DebugOptions {
  program?: string;
  allThreads?: boolean;
  full?: boolean;
  json?: boolean;
}

/** Everything `debug` does after parsing; returns the exit status. */
export async function debugCore(core: string | undefined, opts: DebugOptions): Promise<number> {
  findGdb();
  const cwd = process.cwd();
  let where;
  if (core !== undefined) {
    const path = resolve(core);
    where = { path, source: 'file' as const, where: path, cleanup: () => {} };
  } else {
    const lookup = await locateCore({ cwd, program: opts.program ? resolve(opts.program) : undefined });
    if ('missing' in lookup) throw new UserError(lookup.missing);
    where = lookup.found;
  }
  try {
    const report = await analyzeCore(where, { program: opts.program, cwd, allThreads: opts.allThreads, full: opts.full });
    process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatCrashReport(report, cwd));
    return 0;
  } finally {
    where.cleanup();
  }
}

export function register(program: Command): void {
  program
    .command('debug')
    .description('show where a program crashed: finds its core file, runs gdb, prints the signal and backtrace')
    .argument('[core]', "the core file (default: the newest core the kernel wrote for a program started here, per core_pattern)")
    .option('-p, --program <path>', 'the program that dumped the core (default: read from the core)')
    .option('--all-threads', "every thread's backtrace, not only the one that crashed")
    .option('--full', "each frame's arguments and local variables too")
    .option('--json', 'one JSON object: program, args, signal, signalName, threads [{id, crashed, frames}], core')
    .addHelpText(
      'after',
      `
The core is found the way the kernel names it (/proc/sys/kernel/core_pattern and core_uses_pid), through
coredumpctl when cores go to systemd-coredump, or in /var/crash when they go to apport.
Needs gdb (apt-get install gdb).

Examples:
  $ tsmalloc run ./myprog          # crashes, leaves a core in the current directory
  $ tsmalloc debug
  $ tsmalloc debug core.12345 --all-threads --full
  $ tsmalloc debug --json ./core | jq .threads[0].frames`,
    )
    .action(async (core: string | undefined, opts: DebugOptions) => {
      process.exitCode = await debugCore(core, opts);
    });
}
