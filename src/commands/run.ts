// `tsmalloc run`: starts a program with an allocator preloaded and exits with the program's own status.
import { Command, Option } from 'commander';

import { ALLOCATOR_NAMES, DEFAULT_ALLOCATOR, resolveAllocator } from '../lib/allocators.js';
import { launch, raiseCoreLimit } from '../lib/launch.js';
import { preloadEnv } from '../lib/preload.js';
import { resolveProgram, secureExecWarning } from '../lib/program.js';

export interface RunOptions {
  allocator?: string;
  lib?: string;
  core: boolean;
  stats?: boolean;
}

/** Everything `run` does after parsing; returns the exit status for the CLI. */
export async function runProgram(program: string, args: string[], opts: RunOptions): Promise<number> {
  const allocator = resolveAllocator(opts);
  const path = resolveProgram(program, process.env);
  const warning = allocator.path ? secureExecWarning(path) : null;
  if (warning) process.stderr.write(`tsmalloc: ${warning}\n`);
  if (opts.core && !raiseCoreLimit()) process.stderr.write('tsmalloc: warning: could not raise the core file limit\n');
  const env = preloadEnv(allocator.path, process.env);
  if (opts.stats) env.TSMALLOC_STATS = '1';
  const result = await launch({ path, argv0: program, args, env, core: opts.core });
  return result.status;
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
  $ tsmalloc run --lib ./mymalloc.so -- ./myprog --verbose`,
    )
    .action(async (prog: string, args: string[], opts: RunOptions) => {
      process.exitCode = await runProgram(prog, args, opts);
    });
}
