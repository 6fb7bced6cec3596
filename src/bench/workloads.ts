// The bench's workloads: one row each, naming the program to run, its quick and full sizes and its metrics.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchBinaries } from './build.js';
import { BENCH_SRC } from './build.js';
import { generateC } from './gen-c.js';

export type Size = 'quick' | 'full';

/** An extra number a workload prints as `key=value` on stdout. */
export interface Metric {
  key: string;
  label: string;
  unit: 'KiB' | 'ns';
}

export interface Invocation {
  file: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export interface WorkloadContext {
  bin: BenchBinaries;
  /** Where generated inputs (the gcc workload's C file) are kept between runs. */
  dataDir: string;
  size: Size;
}

export interface Workload {
  name: string;
  title: string;
  /** Runs several threads: the floor library (not thread safe) is never preloaded into it. */
  threads: boolean;
  metrics: Metric[];
  /** Programs that must exist; a missing one skips the workload with a message. */
  requires?: string[];
  prepare(ctx: WorkloadContext): Invocation;
}

/** A workload compiled from bench/workloads/<name>.c, given `key=value` arguments for each size. */
function cWorkload(
  name: string,
  title: string,
  threads: boolean,
  sizes: Record<Size, string[]>,
  metrics: Metric[] = [],
): Workload {
  return { name, title, threads, metrics, prepare: (ctx) => ({ file: ctx.bin.workload(name), args: sizes[ctx.size] }) };
}

const PYTHON = '/usr/bin/python3';

// Sizes: "full" takes about 0.5-1.5 s under glibc on a 2-core Xeon (burst ~3.5 s), "quick" a fifth of that.
export const WORKLOADS: readonly Workload[] = [
  cWorkload('churn', 'one thread replaces random blocks of mixed small sizes (8 B-8 KiB)', false, {
    quick: ['ops=3000000'],
    full: ['ops=15000000'],
  }),
  cWorkload('threads', '4 threads each churn their own blocks, nothing shared', true, {
    quick: ['threads=4', 'ops=1000000'],
    full: ['threads=4', 'ops=5000000'],
  }),
  cWorkload('prodcons', '2 producer threads allocate, 2 consumer threads free (all frees cross-thread)', true, {
    quick: ['pairs=2', 'batches=16000'],
    full: ['pairs=2', 'batches=80000'],
  }),
  cWorkload('larson', 'server simulation: threads replace blocks, then hand their live set to new threads', true, {
    quick: ['threads=4', 'rounds=60'],
    full: ['threads=4', 'rounds=300'],
  }),
  cWorkload('realloc', 'interleaved buffers grow by 1-64 byte appends through realloc, up to 128 KiB', false, {
    quick: ['mib=64'],
    full: ['mib=256'],
  }),
  cWorkload('large', 'churn of blocks from 64 KiB to 32 MiB, each written once per page', false, {
    quick: ['ops=300'],
    full: ['ops=1500'],
  }),
  cWorkload(
    'fragment',
    'fill a heap with small objects, free 90% at random, then allocate 1-4 KiB objects',
    false,
    { quick: ['mib=128'], full: ['mib=400'] },
    [
      { key: 'rss_after_free_kib', label: 'RSS after free', unit: 'KiB' },
      { key: 'rss_reuse_kib', label: 'RSS after reuse', unit: 'KiB' },
    ],
  ),
  cWorkload('threadchurn', 'short-lived threads allocate, free most, leave the rest to main', true, {
    quick: ['threads=3000', 'wave=4'],
    full: ['threads=20000', 'wave=4'],
  }),
  cWorkload('threadwork', 'a thread per task: 4 at a time build a 1.2 MiB working set, free it and exit', true, {
    quick: ['rounds=200', 'threads=4', 'blocks=200'],
    full: ['rounds=1000', 'threads=4', 'blocks=200'],
  }),
  cWorkload(
    'pair',
    'malloc+free round trips on hot small size classes',
    false,
    { quick: ['pairs=20000000'], full: ['pairs=100000000'] },
    [{ key: 'ns_per_pair', label: 'ns/pair', unit: 'ns' }],
  ),
  cWorkload(
    'burst',
    'allocate a burst of 16-256 B blocks, free all, idle ~1 s, report RSS left',
    false,
    { quick: ['mib=150', 'idle_ms=300'], full: ['mib=900', 'idle_ms=1000'] },
    [
      { key: 'rss_freed_kib', label: 'RSS right after free', unit: 'KiB' },
      { key: 'rss_left_kib', label: 'RSS left after idle', unit: 'KiB' },
    ],
  ),
  {
    name: 'python',
    title: 'python3 with PYTHONMALLOC=malloc: dict, list and string churn',
    threads: false,
    metrics: [],
    requires: [PYTHON],
    prepare: (ctx) => ({
      file: PYTHON,
      args: [path.join(BENCH_SRC, 'programs', 'pychurn.py'), ctx.size === 'quick' ? '80' : '400'],
      env: { PYTHONMALLOC: 'malloc', PYTHONDONTWRITEBYTECODE: '1', PYTHONHASHSEED: '0' },
    }),
  },
  {
    name: 'gcc',
    title: 'gcc -O2 compiles a large generated C file',
    threads: false,
    metrics: [],
    requires: ['gcc'],
    prepare: (ctx) => {
      const functions = ctx.size === 'quick' ? 25 : 100;
      // Named by a hash of its text, so a changed generator never compiles a stale file.
      const text = generateC(functions);
      const file = path.join(ctx.dataDir, `gen-${createHash('sha256').update(text).digest('hex').slice(0, 12)}.c`);
      if (!existsSync(file)) {
        mkdirSync(ctx.dataDir, { recursive: true });
        writeFileSync(`${file}.tmp-${process.pid}`, text);
        // Rename so a concurrent run never compiles half a file.
        renameSync(`${file}.tmp-${process.pid}`, file);
      }
      return { file: 'gcc', args: ['-O2', '-c', file, '-o', '/dev/null'], env: { LC_ALL: 'C' } };
    },
  },
  {
    name: 'sqlite',
    title: 'sqlite3: inserts into an indexed in-memory table, then a group-by and deletes',
    threads: false,
    metrics: [],
    requires: ['sqlite3'],
    prepare: (ctx) => {
      const rows = ctx.size === 'quick' ? 60000 : 300000;
      const params = `CREATE TEMP TABLE params (rows INTEGER); INSERT INTO params VALUES (${rows});`;
      const script = path.join(BENCH_SRC, 'programs', 'sqlite.sql');
      return { file: 'sqlite3', args: ['-batch', '-cmd', params, ':memory:', `.read '${script}'`] };
    },
  },
];

export function workloadNames(): string[] {
  return WORKLOADS.map((w) => w.name);
}
