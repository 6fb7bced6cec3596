// Compiles the bench's C sources (launcher, floor library, workloads) once into a cache keyed by their hash.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../lib/package.js';

/** The bench's C sources and program inputs, found from the package, never from the current directory. */
export const BENCH_SRC = path.join(packageRoot, 'bench');

const CFLAGS = ['-O2', '-pthread', '-Wall'];
/* The workloads must really call the allocator: without these gcc may fold malloc+free pairs away, and it may
 * turn the floor library's malloc+memset into a call to calloc, which is itself. */
const NO_BUILTIN_MALLOC = ['-fno-builtin-malloc', '-fno-builtin-free', '-fno-builtin-calloc', '-fno-builtin-realloc'];

export interface BenchBinaries {
  dir: string;
  measure: string;
  floor: string;
  workload(name: string): string;
}

export class GccMissingError extends Error {}

interface Unit {
  src: string;
  out: string;
  args: string[];
}

function units(): Unit[] {
  const list: Unit[] = [
    { src: 'measure.c', out: 'measure', args: [] },
    { src: 'floor/floor.c', out: 'floor.so', args: ['-fPIC', '-shared', ...NO_BUILTIN_MALLOC] },
  ];
  for (const f of readdirSync(path.join(BENCH_SRC, 'workloads')).sort()) {
    if (f.endsWith('.c')) list.push({ src: `workloads/${f}`, out: f.slice(0, -2), args: NO_BUILTIN_MALLOC });
  }
  return list;
}

function gccVersion(): string {
  const r = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new GccMissingError('gcc not found: apt-get install gcc');
  return r.stdout.split('\n')[0];
}

/** Hash of every source and header, the flags and the compiler, so any change rebuilds. */
function sourceHash(list: Unit[], compiler: string): string {
  const h = createHash('sha256');
  h.update(compiler);
  h.update(CFLAGS.join(' '));
  const files = [...list.map((u) => u.src), ...readdirSync(path.join(BENCH_SRC, 'workloads')).filter((f) => f.endsWith('.h')).map((f) => `workloads/${f}`)];
  for (const f of files.sort()) {
    h.update(f);
    h.update(readFileSync(path.join(BENCH_SRC, f)));
  }
  for (const u of list) h.update(u.args.join(' '));
  return h.digest('hex').slice(0, 16);
}

/** node_modules/.cache/tsmalloc-bench when the package has a writable node_modules, else the temp dir. */
export function cacheRoot(): string {
  const nm = path.join(packageRoot, 'node_modules');
  try {
    accessSync(nm, constants.W_OK);
    return path.join(nm, '.cache', 'tsmalloc-bench');
  } catch {
    return path.join(os.tmpdir(), `tsmalloc-bench-${os.userInfo().uid}`);
  }
}

function compile(u: Unit, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = [...CFLAGS, ...u.args, '-o', path.join(dir, u.out), path.join(BENCH_SRC, u.src)];
    const child = spawn('gcc', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`gcc failed on bench/${u.src}:\n${err.trim()}`));
    });
  });
}

/**
 * Removes the builds of other bench sources (each is a directory named by its 16-hex hash, about 250 KiB), which
 * pile up as the sources change. Only in this package's own node_modules: the shared temp-dir cache may hold
 * another installed version's build, in use by a run of that version.
 */
function pruneStaleBuilds(root: string, keep: string, log: (line: string) => void): void {
  if (!root.startsWith(path.join(packageRoot, 'node_modules') + path.sep) || !existsSync(root)) return;
  const stale = readdirSync(root).filter((name) => /^[0-9a-f]{16}$/.test(name) && name !== keep);
  for (const name of stale) rmSync(path.join(root, name), { recursive: true, force: true });
  if (stale.length) log(`removed ${stale.length} build${stale.length === 1 ? '' : 's'} of older bench sources`);
}

/** Builds into a fresh directory and renames it into place, so a concurrent run never sees half a build. */
export async function ensureBuilt(log: (line: string) => void = () => {}): Promise<BenchBinaries> {
  const list = units();
  const hash = sourceHash(list, gccVersion());
  const dir = path.join(cacheRoot(), hash);
  pruneStaleBuilds(cacheRoot(), hash, log);
  if (!list.every((u) => existsSync(path.join(dir, u.out)))) {
    log(`compiling bench programs into ${dir}`);
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      // Two compilers at a time: enough to hide latency on a small machine without starving it.
      const queue = [...list];
      const worker = async (): Promise<void> => {
        for (let u = queue.shift(); u; u = queue.shift()) await compile(u, tmp);
      };
      await Promise.all([worker(), worker()]);
      try {
        renameSync(tmp, dir);
      } catch {
        // Another run finished the same build first: keep theirs.
        rmSync(tmp, { recursive: true, force: true });
        if (!list.every((u) => existsSync(path.join(dir, u.out)))) throw new Error(`cannot create ${dir}`);
      }
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }
  return {
    dir,
    measure: path.join(dir, 'measure'),
    floor: path.join(dir, 'floor.so'),
    workload: (name: string) => path.join(dir, name),
  };
}
