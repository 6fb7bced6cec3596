// `tsmalloc test-suite`: runs real programs on an allocator and checks each result against the same run on glibc.
import { Command, Option } from 'commander';
import { availableParallelism } from 'node:os';

import { ALLOCATOR_NAMES, DEFAULT_ALLOCATOR, resolveAllocator } from '../lib/allocators.js';
import { UserError } from '../lib/errors.js';
import { checkPreload, raiseCoreLimit } from '../lib/launch.js';
import { preloadEnv } from '../lib/preload.js';
import { CATALOGUE } from '../suite/catalogue.js';
import { buildReport, formatList, formatTable, progressLine, useColour } from '../suite/report.js';
import { runSuite } from '../suite/runner.js';
import { killAllTrials } from '../suite/trial.js';
import type { Check } from '../suite/types.js';
import { loadUserChecks } from '../suite/user-checks.js';

const USAGE_EXIT = 2;
export const DEFAULT_TIMEOUT = 120;
export const DEFAULT_JOBS = Math.min(2, availableParallelism());

export interface TestSuiteOptions {
  allocator?: string;
  lib?: string;
  only?: string;
  exclude?: string;
  list?: boolean;
  timeout?: string;
  jobs?: string;
  json?: boolean;
  checks?: string;
}

const splitList = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** The checks named by --only, less those named by --exclude, in catalogue order; unknown names are a usage error. */
export function selectChecks(all: Check[], only?: string, exclude?: string): Check[] {
  const valid = all.map((c) => c.name);
  for (const [flag, value] of [['--only', only], ['--exclude', exclude]] as const) {
    if (value === undefined) continue;
    const bad = splitList(value).filter((n) => !valid.includes(n));
    if (bad.length) throw new UserError(`unknown check '${bad.join("', '")}' in ${flag}: valid checks are ${valid.join(', ')}`, USAGE_EXIT);
  }
  const onlyNames = only === undefined ? valid : splitList(only);
  const excluded = exclude === undefined ? [] : splitList(exclude);
  const chosen = all.filter((c) => onlyNames.includes(c.name) && !excluded.includes(c.name));
  if (chosen.length === 0) throw new UserError('no checks left to run: check --only and --exclude', USAGE_EXIT);
  return chosen;
}

function parseNumber(flag: string, value: string | undefined, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback;
  const v = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    const expected = integer ? 'a whole number above 0' : 'a number of seconds above 0';
    throw new UserError(`invalid ${flag} value '${value}': expected ${expected}`, USAGE_EXIT);
  }
  return v;
}

/**
 * The environment both runs of a check share: the caller's, in the C locale and UTC, without an inherited
 * LD_PRELOAD or TSMALLOC_STATS so that the only difference between the two runs is the allocator.
 */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LANG: 'C', TZ: 'UTC' };
  delete env.LD_PRELOAD;
  delete env.TSMALLOC_STATS;
  return env;
}

export async function testSuite(opts: TestSuiteOptions): Promise<number> {
  const timeout = parseNumber('--timeout', opts.timeout, DEFAULT_TIMEOUT, false);
  const jobs = parseNumber('--jobs', opts.jobs, DEFAULT_JOBS, true);
  const all = [...CATALOGUE, ...(opts.checks ? loadUserChecks(opts.checks, CATALOGUE.map((c) => c.name)) : [])];
  const checks = selectChecks(all, opts.only, opts.exclude);
  if (opts.list) {
    process.stdout.write(formatList(checks));
    return 0;
  }

  const allocator = resolveAllocator(opts);
  if (allocator.warning) process.stderr.write(`tsmalloc: ${allocator.warning}\n`);
  const referenceEnv = baseEnv();
  const allocatorEnv = preloadEnv(allocator.path, referenceEnv);
  checkPreload(allocatorEnv);
  // A crashing program leaves its core in its check's temporary directory, where the crash report reads it.
  if (!raiseCoreLimit()) process.stderr.write('tsmalloc: warning: could not raise the core file limit: crashes get no backtrace\n');

  const colour = useColour(process.stderr);
  process.stderr.write(`tsmalloc: running ${checks.length} checks on ${allocator.name}, ${jobs} at a time\n`);
  const interrupted = (sig: NodeJS.Signals) => () => {
    killAllTrials();
    process.stderr.write(`tsmalloc: test-suite interrupted by ${sig}\n`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  const onInt = interrupted('SIGINT');
  const onTerm = interrupted('SIGTERM');
  process.on('SIGINT', onInt).on('SIGTERM', onTerm);
  let results;
  try {
    results = await runSuite(checks, {
      referenceEnv,
      allocatorEnv,
      timeout,
      jobs,
      onResult: (r, done, total) => process.stderr.write(progressLine(r, done, total, colour)),
    });
  } finally {
    process.off('SIGINT', onInt).off('SIGTERM', onTerm);
  }
  const report = buildReport(allocator.name, results);
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatTable(report, useColour(process.stdout)));
  return report.failed > 0 ? 1 : 0;
}

export function register(program: Command): void {
  program
    .command('test-suite')
    .description('run real programs (ls, git, gcc, python3, vim...) on an allocator and compare each with glibc')
    .addOption(
      new Option('-a, --allocator <name>', `allocator to test: ${ALLOCATOR_NAMES.join(', ')}`).default(undefined, DEFAULT_ALLOCATOR),
    )
    .option('-l, --lib <path>', 'test your own allocator library instead (a .so file)')
    .option('--only <names>', 'run only these checks (comma-separated)')
    .option('--exclude <names>', 'leave out these checks (comma-separated)')
    .option('--list', 'list the checks with a one-line description and exit')
    .option('--timeout <seconds>', `time limit for each run of a check (default: ${DEFAULT_TIMEOUT})`)
    .option('--jobs <n>', `checks run in parallel (default: ${DEFAULT_JOBS})`)
    .option('--json', 'print the results as one JSON object')
    .option('--checks <file>', 'add your own checks from a JSON file (see the README)')
    .addHelpText(
      'after',
      `
Each check runs twice, in its own temporary directory: without any preload, then with the allocator; the two
results (output, exit status, a checksum or a shape) must be the same. A check whose program is not installed is a
skip that names the Debian package. Progress goes to stderr, the table (or --json) to stdout.
Exit status: 0 when no check failed, 1 when one did, 2 for a usage error.

Examples:
  $ tsmalloc test-suite --allocator simple
  $ tsmalloc test-suite --lib ./mymalloc.so --only git,python3,vim-tty
  $ tsmalloc test-suite --exclude java --jobs 4 --json > results.json
  $ tsmalloc test-suite --checks my-checks.json --list`,
    )
    .action(async (opts: TestSuiteOptions) => {
      process.exitCode = await testSuite(opts);
    });
}
