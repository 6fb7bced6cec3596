// One trial of a check: a temporary directory, an environment, and program runs that are timed out and killed as a group.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { resolveProgram } from '../lib/program.js';
import type { ExecOptions, ExecResult, Trial } from './types.js';

/** A program run that died by a signal; the runner turns it into a crash report. */
export class CrashError extends Error {
  constructor(
    readonly program: string,
    readonly pid: number,
    readonly signal: NodeJS.Signals,
    readonly stderr: string,
    readonly cwd: string,
  ) {
    super(`${program} was killed by ${signal}`);
  }
}

/** A step that exited with a non-zero status where the check expects success. */
export class StepError extends Error {}

/** The trial ran past its deadline; its processes have been killed. */
export class TimeoutError extends Error {}

/** The first `n` non-empty lines of a program's stderr, for a one-glance failure detail. */
export function firstLines(text: string, n = 5): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(0, n).join('\n') + (lines.length > n ? '\n...' : '');
}

/** Every process group a trial started and has not seen end, and every trial directory not yet removed. */
const liveGroups = new Set<number>();
const liveDirs = new Set<string>();

/** For an interrupted suite: kills what the trials started and removes their directories. */
export function killAllTrials(): void {
  for (const pgid of liveGroups) killGroup(pgid);
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** How long to wait after the terminal program first draws, and between keys (vim's escape-key timeout is 1 s). */
const FIRST_KEY_DELAY_MS = 500;
const KEY_GAP_MS = 300;

export class TrialRun implements Trial {
  readonly dir: string;
  private readonly deadline: number;

  constructor(
    readonly preloaded: boolean,
    private readonly env: NodeJS.ProcessEnv,
    timeoutSeconds: number,
    private readonly timeoutText: string,
  ) {
    this.dir = mkdtempSync(join(process.env.TMPDIR ?? '/tmp', `tsmalloc-suite-${preloaded ? 'alloc' : 'ref'}-`));
    this.deadline = Date.now() + timeoutSeconds * 1000;
    liveDirs.add(this.dir);
  }

  write(rel: string, content: string | Buffer): void {
    const path = join(this.dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }

  read(rel: string): Buffer {
    return readFileSync(join(this.dir, rel));
  }

  async ok(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.exec(argv, opts);
    if (r.status !== 0) {
      const err = firstLines(r.stderr.toString('utf8')) || firstLines(r.stdout.toString('utf8'));
      throw new StepError(`${argv.join(' ')} exited with status ${r.status}${err ? `:\n${err}` : ''}`);
    }
    return r;
  }

  exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const remaining = this.deadline - Date.now();
    if (remaining <= 0) return Promise.reject(new TimeoutError(this.timeoutText));
    const env = { ...this.env, ...opts.env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const cwd = opts.cwd ? resolve(this.dir, opts.cwd) : this.dir;
    // A terminal program runs under script(1), which gives it a pseudo-terminal and returns its exit status.
    // script runs the command through $SHELL -c; `exec` keeps that shell out of the foreground process group
    // (dash, unlike bash, dies of a terminal's SIGINT while it waits, and its status would replace the program's).
    const [file, args] = opts.keys
      ? ['script', ['-qfec', `exec ${argv.map(shellQuote).join(' ')}`, '/dev/null']]
      : [argv[0], argv.slice(1)];
    return new Promise((resolvePromise, reject) => {
      // Its own process group, so a timeout kills what it started too (gcc's cc1, script's vim).
      const child = spawn(file, args, { cwd, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      const pid = child.pid ?? 0;
      if (pid) liveGroups.add(pid);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(pid);
      }, remaining);
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.stdin.on('error', () => {}); // a program that exits without reading its input
      if (opts.keys) this.typeKeys(child.stdin, child.stdout, opts.keys);
      else child.stdin.end(opts.stdin ?? '');
      child.once('error', (e) => {
        clearTimeout(timer);
        liveGroups.delete(pid);
        reject(new StepError(`cannot run ${argv[0]}: ${e.message}`));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        liveGroups.delete(pid);
        if (!opts.keys || !child.stdin.writableEnded) child.stdin.destroy();
        if (timedOut) return reject(new TimeoutError(this.timeoutText));
        const stderr = Buffer.concat(err);
        if (signal) return reject(new CrashError(programPath(file, env, cwd), pid, signal, stderr.toString('utf8'), cwd));
        resolvePromise({
          stdout: Buffer.concat(out),
          stderr,
          status: code ?? 1,
          pid,
        });
      });
    });
  }

  /** Types each key once the program has drawn its first screen, a little apart; input stays open until it exits. */
  private typeKeys(stdin: NodeJS.WritableStream, stdout: NodeJS.ReadableStream, keys: string[]): void {
    let started = false;
    stdout.once('data', () => {
      if (started) return;
      started = true;
      let i = 0;
      const next = (): void => {
        if (i >= keys.length) return;
        stdin.write(keys[i++]);
        setTimeout(next, KEY_GAP_MS).unref();
      };
      setTimeout(next, FIRST_KEY_DELAY_MS).unref();
    });
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
    liveDirs.delete(this.dir);
  }
}

/** The absolute path of a program that ran, for the crash report; the name as given when it cannot be found again. */
function programPath(file: string, env: NodeJS.ProcessEnv, cwd: string): string {
  if (file.includes('/')) return resolve(cwd, file);
  try {
    return resolveProgram(file, env);
  } catch {
    return file;
  }
}
