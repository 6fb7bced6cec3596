// Starts a target program on an allocator: core limit, preflight of the preload, inherited stdio, signal relay.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';

import { UserError } from './errors.js';

export interface LaunchOptions {
  /** Absolute path of the program (resolveProgram). */
  path: string;
  /** argv[0] as the user typed it, so the program names itself as usual. */
  argv0: string;
  args: string[];
  /** The target's full environment, LD_PRELOAD included (preloadEnv). */
  env: NodeJS.ProcessEnv;
}

export interface LaunchResult {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What a shell would report: the exit code, or 128 + n after death by signal n. */
  status: number;
}

/**
 * Raises this process's soft RLIMIT_CORE to its hard limit so the target inherits it. Node has no setrlimit;
 * util-linux's prlimit does it in one exec (about 2 ms). Returns false when it could not.
 */
export function raiseCoreLimit(): boolean {
  for (const limit of ['unlimited:', undefined]) {
    const value = limit ?? `${hardCoreLimit()}:`;
    const r = spawnSync('prlimit', ['--pid', String(process.pid), `--core=${value}`], { stdio: 'ignore' });
    if (r.status === 0) return true;
  }
  return false;
}

function hardCoreLimit(): string {
  const r = spawnSync('prlimit', ['--pid', String(process.pid), '--core', '--output=HARD', '--noheadings', '--raw'], {
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout.trim() : '0';
}

const REFUSED = /ERROR: ld\.so: object '([^']*)' from LD_PRELOAD cannot be preloaded \(([^)]*)\): ignored\./;

/**
 * ld.so prints "cannot be preloaded" and runs the program anyway, on the wrong allocator. Loading the same
 * LD_PRELOAD into a trivial program first (one fork+exec, about 1 ms) turns that into an error before the real
 * program starts. A library that loads but crashes the trivial program is not refused here: the user may be
 * debugging exactly that crash in the real program.
 */
export function checkPreload(env: NodeJS.ProcessEnv): void {
  if (!env.LD_PRELOAD) return;
  const probe = ['/bin/true', '/usr/bin/true'].find((p) => existsSync(p)) ?? '/bin/sh';
  const r = spawnSync(probe, probe.endsWith('sh') ? ['-c', ':'] : [], { env, encoding: 'utf8', timeout: 10_000 });
  const m = REFUSED.exec(r.stderr ?? '');
  if (m) throw new UserError(`the loader refused to preload ${m[1]}: ${m[2]}`);
}

/** Exit status in shell convention: 128 + n for death by signal n. */
export function shellStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return 128 + (constants.signals[signal] ?? 0);
  return code ?? 1;
}

/** Runs the target with inherited stdio (terminal programs such as vim work) and resolves when it ends. */
export function launch(opts: LaunchOptions): Promise<LaunchResult> {
  checkPreload(opts.env);
  return new Promise((resolvePromise, reject) => {
    // SIGTERM and SIGHUP come to us alone: pass them on. On a terminal SIGINT and SIGQUIT already reach the whole
    // foreground process group, the target included, so we only keep them from killing us before the target
    // reports; without a terminal nobody else delivers them, so we relay those too. The handlers go in before
    // the spawn (libuv installs them at once; they run on a later tick, when `child` is set): a signal that lands
    // between the target's exec and the next line must not kill us with the default action.
    const onTerminal = Boolean(process.stdin.isTTY);
    let child: ChildProcess | undefined;
    const relay = (sig: NodeJS.Signals) => () => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill(sig);
    };
    const handlers: [NodeJS.Signals, () => void][] = [
      ['SIGTERM', relay('SIGTERM')],
      ['SIGHUP', relay('SIGHUP')],
      ['SIGINT', onTerminal ? () => {} : relay('SIGINT')],
      ['SIGQUIT', onTerminal ? () => {} : relay('SIGQUIT')],
    ];
    for (const [sig, h] of handlers) process.on(sig, h);
    const cleanup = () => {
      for (const [sig, h] of handlers) process.off(sig, h);
    };
    const target = spawn(opts.path, opts.args, { argv0: opts.argv0, env: opts.env, stdio: 'inherit' });
    child = target;
    target.once('error', (err: NodeJS.ErrnoException) => {
      cleanup();
      const code = err.code === 'ENOENT' ? 127 : 126;
      reject(new UserError(`cannot run ${opts.path}: ${err.message}`, code));
    });
    target.once('exit', (code, signal) => {
      cleanup();
      resolvePromise({ pid: target.pid ?? 0, code, signal, status: shellStatus(code, signal) });
    });
  });
}
