// Runs the workloads under each allocator through the measure launcher, interleaving allocators round by round.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import type { BenchBinaries } from './build.js';
import type { Invocation, Size, Workload } from './workloads.js';

export interface BenchAllocator {
  name: string;
  /** Library to preload; null runs the program on the system allocator. */
  path: string | null;
  kind: string;
  /** A reference, not a contender (the floor): only run where `threads` is false. */
  singleThreadOnly?: boolean;
}

export interface Sample {
  wall: number;
  user: number;
  sys: number;
  rss_kib: number;
  extra: Record<string, number>;
}

/** Every counted sample of one allocator on one workload, or why there are none. */
export interface Cell {
  allocator: string;
  workload: string;
  samples: Sample[];
  error?: string;
  skipped?: string;
}

export interface RunPlan {
  workloads: readonly Workload[];
  allocators: readonly BenchAllocator[];
  runs: number;
  warmup: number;
  size: Size;
  timeoutS: number;
  /** The LD_PRELOAD value a child should get for an allocator (undefined: leave LD_PRELOAD unset). */
  preloadFor(a: BenchAllocator): string | undefined;
}

export interface Progress {
  workload(index: number, total: number, w: Workload): void;
  run(w: Workload, a: BenchAllocator, round: number, rounds: number, warm: boolean): void;
  workloadDone(w: Workload, seconds: number): void;
}

const MAX_STDOUT = 1 << 20;
const STDERR_TAIL = 2000;

/** True when `name` is an executable file, or is found on PATH. */
export function haveProgram(name: string): boolean {
  const dirs = name.includes('/') ? [''] : (process.env.PATH ?? '').split(':').filter(Boolean);
  return dirs.some((d) => {
    try {
      accessSync(d ? path.join(d, name) : name, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** `key=value` lines with a numeric value; everything else a program prints is ignored. */
export function parseMetrics(stdout: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(-?[0-9.]+(?:e[-+]?[0-9]+)?)\s*$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

const SIGNALS: Record<number, string> = { 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL', 11: 'SIGSEGV', 15: 'SIGTERM' };

class RunFailed extends Error {}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1]?.trim() ?? '';
}

/** One measured run: spawns `measure`, which forks the program with the preload, and parses its result line. */
function runOnce(bin: BenchBinaries, inv: Invocation, preload: string | undefined, timeoutS: number): Promise<Sample> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...inv.env };
  delete env.LD_PRELOAD; // the launcher sets it for the child alone
  const args = ['-r', '3', '-t', String(timeoutS)];
  if (preload) args.push('-p', preload);
  args.push('--', inv.file, ...inv.args);
  return new Promise((resolve, reject) => {
    const child = spawn(bin.measure, args, { cwd: inv.cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let result = '';
    child.stdout!.on('data', (d: Buffer) => {
      if (stdout.length < MAX_STDOUT) stdout += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-STDERR_TAIL);
    });
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (result += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || !result.trim()) {
        reject(new RunFailed(`launcher failed (exit ${code}): ${lastLine(stderr)}`));
        return;
      }
      const r = JSON.parse(result) as {
        wall: number;
        user: number;
        sys: number;
        maxrss_kib: number;
        exit: number | null;
        signal: number | null;
        timed_out: boolean;
      };
      // The loader ignores a preload it cannot load and runs the program on glibc: that is a failure here.
      if (/cannot be preloaded|ERROR: ld\.so/.test(stderr)) {
        reject(new RunFailed(`LD_PRELOAD was ignored: ${lastLine(stderr)}`));
      } else if (r.timed_out) {
        reject(new RunFailed(`timed out after ${timeoutS} s`));
      } else if (r.signal !== null) {
        reject(new RunFailed(`killed by ${SIGNALS[r.signal] ?? `signal ${r.signal}`}${stderr ? `: ${lastLine(stderr)}` : ''}`));
      } else if (r.exit !== 0) {
        reject(new RunFailed(`exit status ${r.exit}${stderr ? `: ${lastLine(stderr)}` : ''}`));
      } else {
        resolve({ wall: r.wall, user: r.user, sys: r.sys, rss_kib: r.maxrss_kib, extra: parseMetrics(stdout) });
      }
    });
  });
}

/**
 * Runs every workload: for each one, `warmup + runs` rounds, each round running every allocator once in order
 * (A B C A B C ...), so slow drifts of the machine hit all allocators alike. The warm-up round is not counted.
 * An allocator that fails once is not run again on that workload (a crash or a timeout rarely heals).
 */
export async function runBench(plan: RunPlan, bin: BenchBinaries, dataDir: string, progress: Progress): Promise<Cell[]> {
  const cells: Cell[] = [];
  const rounds = plan.warmup + plan.runs;
  for (const [wi, w] of plan.workloads.entries()) {
    progress.workload(wi, plan.workloads.length, w);
    const started = Date.now();
    const row = plan.allocators.map((a): Cell => ({ allocator: a.name, workload: w.name, samples: [] }));
    const missing = (w.requires ?? []).filter((p) => !haveProgram(p));
    let inv: Invocation | null = null;
    if (missing.length > 0) {
      for (const c of row) c.skipped = `${missing.join(', ')} not found`;
    } else {
      inv = w.prepare({ bin, dataDir, size: plan.size });
      for (const [i, a] of plan.allocators.entries()) {
        if (a.singleThreadOnly && w.threads) row[i].skipped = 'not thread safe: single-threaded workloads only';
      }
    }
    for (let round = 0; inv && round < rounds; round++) {
      for (const [i, a] of plan.allocators.entries()) {
        const cell = row[i];
        if (cell.skipped || cell.error) continue;
        const warm = round < plan.warmup;
        progress.run(w, a, round, rounds, warm);
        try {
          const s = await runOnce(bin, inv, plan.preloadFor(a), plan.timeoutS);
          if (!warm) cell.samples.push(s);
        } catch (e) {
          if (!(e instanceof RunFailed)) throw e;
          cell.error = e.message;
          cell.samples = [];
        }
      }
    }
    cells.push(...row);
    progress.workloadDone(w, (Date.now() - started) / 1000);
  }
  return cells;
}
