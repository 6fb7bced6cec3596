// The `tsmalloc` command: builds the commander program from src/commands/* and maps errors to exit codes.
import { Command, CommanderError } from 'commander';
import { pathToFileURL } from 'node:url';

import { register as registerBench } from './commands/bench.js';
import { register as registerDebug } from './commands/debug.js';
import { register as registerInfo } from './commands/info.js';
import { register as registerRun } from './commands/run.js';
import { register as registerTestSuite } from './commands/test-suite.js';
import { UserError } from './lib/errors.js';
import { packageVersion } from './lib/package.js';

/** Exit status for a command line tsmalloc could not parse (unknown option, missing argument). */
export const USAGE_EXIT = 2;

export function buildProgram(): Command {
  const program = new Command('tsmalloc')
    .description('run any program on another malloc (LD_PRELOAD), explain its crashes, test and benchmark allocators')
    .version(packageVersion, '-V, --version')
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerRun(program);
  registerDebug(program);
  registerTestSuite(program);
  registerBench(program);
  registerInfo(program);
  program.addHelpText(
    'after',
    [
      '',
      'Examples:',
      '  $ tsmalloc run ls -l',
      '  $ tsmalloc run --allocator simple vim notes.txt',
      '  $ tsmalloc run --backtrace ./myprog     # on a crash, print the backtrace',
      '  $ tsmalloc debug                        # explain the newest core in this directory',
      '  $ tsmalloc test-suite --lib ./mymalloc.so   # real programs on your allocator vs glibc',
      '  $ tsmalloc bench --quick                    # tsmalloc vs glibc, jemalloc, tcmalloc, mimalloc',
      '  $ tsmalloc info',
    ].join('\n'),
  );
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** Parses argv, runs the command and returns the exit status; user errors become one `tsmalloc: ...` line. */
export async function main(argv: string[]): Promise<number> {
  process.exitCode = undefined;
  try {
    await buildProgram().parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof UserError) {
      process.stderr.write(`tsmalloc: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : USAGE_EXIT;
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv);
}
