// The `tsmalloc bench` command: check the options, build the bench programs, run them, print or write results.
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ALLOCATOR_NAMES, PEERS, resolveAllocator } from '../lib/allocators.js';
import { UserError } from '../lib/errors.js';
import { embeddedSourceHash } from '../lib/native.js';
import { preloadEnv } from '../lib/preload.js';
import { cacheRoot, ensureBuilt, GccMissingError } from '../bench/build.js';
import { machineInfo } from '../bench/machine.js';
import { buildReport, formatCsv, formatTable } from '../bench/report.js';
import type { BenchAllocator, Progress } from '../bench/runner.js';
import { runBench } from '../bench/runner.js';
import { renderSvg } from '../bench/svg.js';
import type { Workload } from '../bench/workloads.js';
import { WORKLOADS } from '../bench/workloads.js';

/** Allocators `--allocators` accepts; `simple` (slow by design) and `floor` (a reference) are opt-in. */
export const BENCH_ALLOCATORS = [...new Set(['tsmalloc', ...ALLOCATOR_NAMES, 'floor'])];
export const DEFAULT_ALLOCATORS = 'tsmalloc,system,jemalloc,tcmalloc,mimalloc';
const USAGE_EXIT = 2;

export interface BenchOptions {
  quick?: boolean;
  only?: string;
  exclude?: string;
  allocators: string;
  lib?: string[];
  runs?: string;
  warmup?: string;
  timeout?: string;
  json?: boolean;
  csv?: boolean;
  svg?: string;
  list?: boolean;
}

function splitList(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

/** Workloads named by --only, less those named by --exclude; an unknown name is a usage error naming the valid ones. */
export function selectWorkloads(only?: string, exclude?: string): Workload[] {
  const valid = WORKLOADS.map((w) => w.name);
  const check = (flag: string, names: string[]): void => {
    const bad = names.filter((n) => !valid.includes(n));
    if (bad.length > 0) {
      throw new UserError(`unknown workload '${bad.join("', '")}' in ${flag}: valid workloads are ${valid.join(', ')}`, USAGE_EXIT);
    }
  };
  const onlyNames = only === undefined ? valid : splitList(only);
  const excludeNames = exclude === undefined ? [] : splitList(exclude);
  check('--only', onlyNames);
  check('--exclude', excludeNames);
  const chosen = WORKLOADS.filter((w) => onlyNames.includes(w.name) && !excludeNames.includes(w.name));
  if (chosen.length === 0) throw new UserError('no workloads left to run: check --only and --exclude', USAGE_EXIT);
  return chosen;
}

/** A whole number from `min` to `max` for `flag`, or a usage error quoting the bad value. */
export function parseCount(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const v = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new UserError(`invalid ${flag} value '${value}': expected a whole number from ${min} to ${max}`, USAGE_EXIT);
  }
  return v;
}

/**
 * Resolves --allocators and --lib. An unknown name is a usage error; a known allocator that is not installed
 * (a Debian peer, the bundled library not built) is reported and skipped.
 */
export function selectAllocators(list: string, libs: string[], warn: (line: string) => void): BenchAllocator[] {
  const names = splitList(list);
  const bad = names.filter((n) => !BENCH_ALLOCATORS.includes(n));
  if (bad.length > 0) {
    throw new UserError(`unknown allocator '${bad.join("', '")}' in --allocators: valid names are ${BENCH_ALLOCATORS.join(', ')}`, USAGE_EXIT);
  }
  const out: BenchAllocator[] = [];
  const add = (a: BenchAllocator): void => {
    let name = a.name;
    for (let i = 2; out.some((o) => o.name === name); i++) name = `${a.name}-${i}`;
    out.push({ ...a, name });
  };
  for (const name of [...new Set(names)]) {
    if (name === 'floor') {
      // Its path is known once the bench programs are built.
      add({ name, path: null, kind: 'reference', singleThreadOnly: true });
      continue;
    }
    try {
      const a = resolveAllocator({ allocator: name });
      add({ name, path: a.path, kind: a.kind });
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      warn(`skipping ${name}: ${e.message}`);
    }
  }
  for (const lib of libs) {
    // A --lib the user named must exist: that is an error, not something to skip. It is shown by its file name.
    const a = resolveAllocator({ lib });
    if (a.warning) warn(a.warning);
    add({ name: path.basename(a.path ?? lib), path: a.path, kind: a.kind });
  }
  if (out.length === 0) throw new UserError('no allocator left to run: install one or pass --lib <path>', 1);
  return out;
}

/** Debian package versions of the peers, for the record (`dpkg-query`; silently nothing where it is missing). */
function peerVersions(): Map<string, string> {
  const out = new Map<string, string>();
  const pkgs = Object.entries(PEERS);
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Package} ${Version}\n', ...pkgs.map(([, p]) => p.debianPackage)], { encoding: 'utf8' });
  if (r.error || typeof r.stdout !== 'string') return out;
  for (const line of r.stdout.split('\n')) {
    const [pkg, version] = line.split(' ');
    const peer = pkgs.find(([, p]) => p.debianPackage === pkg);
    if (peer && version) out.set(peer[0], version);
  }
  return out;
}

function progressReporter(): Progress {
  const tty = process.stderr.isTTY === true;
  let prefix = '';
  return {
    workload(i, total, w) {
      prefix = `[${i + 1}/${total}] ${w.name}`;
      if (!tty) process.stderr.write(`bench: ${prefix} ...\n`);
    },
    run(w, a, round, rounds, warm) {
      if (tty) process.stderr.write(`\r\x1b[Kbench: ${prefix}  ${warm ? 'warm-up' : `run ${round + 1}/${rounds}`}  ${a.name}`);
    },
    workloadDone(w, seconds) {
      if (tty) process.stderr.write('\r\x1b[K');
      process.stderr.write(`bench: ${prefix} done in ${seconds.toFixed(1)} s\n`);
    },
  };
}

/** The options as one command line, for the record in the results (explicit options only, in a fixed order). */
export function commandLine(opts: BenchOptions): string {
  const words = ['tsmalloc', 'bench'];
  if (opts.quick) words.push('--quick');
  if (opts.only !== undefined) words.push('--only', opts.only);
  if (opts.exclude !== undefined) words.push('--exclude', opts.exclude);
  words.push('--allocators', opts.allocators);
  for (const lib of opts.lib ?? []) words.push('--lib', lib);
  if (opts.runs !== undefined) words.push('--runs', opts.runs);
  if (opts.warmup !== undefined) words.push('--warmup', opts.warmup);
  if (opts.timeout !== undefined) words.push('--timeout', opts.timeout);
  if (opts.json) words.push('--json');
  if (opts.csv) words.push('--csv');
  if (opts.svg !== undefined) words.push('--svg', opts.svg);
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function listAll(): string {
  const lines = ['workloads:'];
  for (const w of WORKLOADS) lines.push(`  ${w.name.padEnd(12)} ${w.title}${w.threads ? ' [threads]' : ''}`);
  lines.push('', `allocators: ${BENCH_ALLOCATORS.join(', ')} (default: ${DEFAULT_ALLOCATORS})`);
  return lines.join('\n') + '\n';
}

export async function bench(opts: BenchOptions, command: string): Promise<void> {
  // Parse and validate everything before any work starts.
  if (opts.list) {
    process.stdout.write(listAll());
    return;
  }
  if (opts.json && opts.csv) throw new UserError('--json and --csv both write to stdout: choose one', USAGE_EXIT);
  const workloads = selectWorkloads(opts.only, opts.exclude);
  const runs = parseCount('--runs', opts.runs, 3, 1, 100);
  const warmup = parseCount('--warmup', opts.warmup, 1, 0, 10);
  const timeoutS = parseCount('--timeout', opts.timeout, opts.quick ? 60 : 300, 1, 86400);
  const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);
  const chosen = selectAllocators(opts.allocators, opts.lib ?? [], log);

  let bin;
  try {
    bin = await ensureBuilt(log);
  } catch (e) {
    if (e instanceof GccMissingError) throw new UserError(e.message, 1);
    throw e;
  }
  const allocators = chosen.map((a) => (a.kind === 'reference' ? { ...a, path: bin.floor } : a));
  const versions = peerVersions();
  for (const a of allocators) {
    // A bundled library is identified by the csrc/ hash it was built from.
    const hash = a.kind === 'bundled' && a.path ? embeddedSourceHash(a.path) : null;
    if (hash) versions.set(a.name, `source ${hash}`);
  }

  const cells = await runBench(
    {
      workloads,
      allocators,
      runs,
      warmup,
      size: opts.quick ? 'quick' : 'full',
      timeoutS,
      preloadFor: (a) => preloadEnv(a.path, process.env).LD_PRELOAD,
    },
    bin,
    path.join(cacheRoot(), 'data'),
    progressReporter(),
  );
  const report = buildReport({
    command,
    quick: opts.quick === true,
    runs,
    warmup,
    machine: machineInfo(),
    allocators: allocators.map((a) => ({ ...a, version: versions.get(a.name) })),
    workloads,
    cells,
  });

  if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else if (opts.csv) process.stdout.write(formatCsv(report));
  else process.stdout.write(formatTable(report));
  if (opts.svg) {
    try {
      mkdirSync(path.dirname(path.resolve(opts.svg)), { recursive: true });
      writeFileSync(opts.svg, renderSvg(report));
    } catch (e) {
      throw new UserError(`cannot write the chart to ${opts.svg}: ${(e as Error).message}`, 1);
    }
    log(`chart written to ${opts.svg}`);
  }
  const failed = report.results.filter((r) => r.error);
  for (const r of failed) log(`${r.allocator} failed on ${r.workload}: ${r.error}`);
  if (failed.length > 0) process.exitCode = 1;
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('benchmark allocators on built-in workloads and real programs (ratios to glibc)')
    .option('--quick', 'small sizes, about a minute in all')
    .option('--only <names>', 'run only these workloads (comma-separated)')
    .option('--exclude <names>', 'skip these workloads (comma-separated)')
    .option('--allocators <names>', `comma-separated, from ${BENCH_ALLOCATORS.join(', ')}`, DEFAULT_ALLOCATORS)
    .option('--lib <path>', 'also benchmark this malloc library (repeatable)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--runs <n>', 'counted runs per allocator and workload (default 3)')
    .option('--warmup <n>', 'uncounted warm-up runs first (default 1)')
    .option('--timeout <s>', 'give up on a run after this many seconds (default 300; 60 with --quick)')
    .option('--json', 'print one JSON object instead of the table')
    .option('--csv', 'print CSV instead of the table')
    .option('--svg <file>', 'also write a chart of the ratios to this SVG file')
    .option('--list', 'list the workloads and allocators, then exit')
    .addHelpText(
      'after',
      `
Runs take turns across allocators (A B C A B C ...); medians of wall time, user+sys time and peak RSS, ratios to
glibc (system), and a geometric-mean row. Progress goes to stderr. Exit status 1 when a run failed.

Examples:
  $ tsmalloc bench --quick
  $ tsmalloc bench --only churn,large,burst --runs 5
  $ tsmalloc bench --allocators tsmalloc,system --lib ./mymalloc.so --json > results.json
  $ tsmalloc bench --quick --svg chart.svg`,
    )
    .action(async (opts: BenchOptions) => {
      await bench(opts, commandLine(opts));
    });
}
