// Runs each check twice, without and with the allocator, compares the two observations, and runs checks in parallel.
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';

import { UserError } from '../lib/errors.js';
import { resolveProgram } from '../lib/program.js';
import { crashDetail } from './crash.js';
import { CrashError, StepError, TimeoutError, TrialRun } from './trial.js';
import type { Check, CheckResult } from './types.js';

export interface SuiteOptions {
  /** The reference environment: nothing preloaded. */
  referenceEnv: NodeJS.ProcessEnv;
  /** The same with the allocator in LD_PRELOAD. */
  allocatorEnv: NodeJS.ProcessEnv;
  /** Seconds per trial (a check's own timeout wins). */
  timeout: number;
  jobs: number;
  /** Called as each check ends, in the order they end. */
  onResult?: (r: CheckResult, done: number, total: number) => void;
}

/** Why a check cannot run here, naming the Debian package; null when everything it needs is installed. */
export function missingProgram(check: Check, env: NodeJS.ProcessEnv): string | null {
  for (const need of check.needs) {
    const found = isAbsolute(need.program) ? existsSync(need.program) : canResolve(need.program, env);
    if (!found) {
      const how = need.debianPackage ? `: apt-get install -y ${need.debianPackage}` : '';
      return `${need.program} is not installed${how}`;
    }
  }
  return null;
}

function canResolve(program: string, env: NodeJS.ProcessEnv): boolean {
  try {
    resolveProgram(program, env);
    return true;
  } catch (e) {
    if (e instanceof UserError) return false;
    throw e;
  }
}

/** The first differing lines of two observations, as `-` (without the allocator) and `+` (with it). */
export function difference(expected: string, actual: string, context = 4): string {
  const a = expected.replace(/\n$/, '').split('\n');
  const b = actual.replace(/\n$/, '').split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const out = [`first difference at line ${i + 1} (- without the allocator, + with it):`];
  for (const l of a.slice(i, i + context)) out.push(`- ${l.slice(0, 160)}`);
  for (const l of b.slice(i, i + context)) out.push(`+ ${l.slice(0, 160)}`);
  return out.join('\n');
}

type TrialOutcome = { ok: true; observation: string } | { ok: false; detail: string };

async function runTrial(check: Check, preloaded: boolean, opts: SuiteOptions): Promise<TrialOutcome> {
  const seconds = check.timeout ?? opts.timeout;
  const trial = new TrialRun(preloaded, preloaded ? opts.allocatorEnv : opts.referenceEnv, seconds, `timed out after ${seconds}s`);
  try {
    return { ok: true, observation: await check.run(trial) };
  } catch (e) {
    if (e instanceof TimeoutError) return { ok: false, detail: e.message };
    if (e instanceof StepError) return { ok: false, detail: e.message };
    // The crash report reads the core file, which is in the trial directory: before cleanup.
    if (e instanceof CrashError) return { ok: false, detail: await crashDetail(e) };
    return { ok: false, detail: `internal error in the check: ${(e as Error).stack ?? String(e)}` };
  } finally {
    trial.cleanup();
  }
}

/** One check: skip when a program is missing, else the reference trial, then the allocator trial, then compare. */
export async function runCheck(check: Check, opts: SuiteOptions): Promise<CheckResult> {
  const start = Date.now();
  const result = (status: CheckResult['status'], detail: string): CheckResult => ({
    name: check.name,
    status,
    seconds: Math.round((Date.now() - start) / 10) / 100,
    detail,
  });
  const missing = missingProgram(check, opts.referenceEnv);
  if (missing) return result('skip', missing);
  const ref = await runTrial(check, false, opts);
  if (!ref.ok) return result('fail', `without the allocator (the reference run): ${ref.detail}`);
  const got = await runTrial(check, true, opts);
  if (!got.ok) return result('fail', got.detail);
  if (got.observation !== ref.observation) return result('fail', difference(ref.observation, got.observation));
  return result('pass', '');
}

/** Runs the checks `jobs` at a time; the results come back in the order of `checks`. */
export async function runSuite(checks: Check[], opts: SuiteOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = new Array(checks.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < checks.length) {
      const i = next++;
      results[i] = await runCheck(checks[i], opts);
      opts.onResult?.(results[i], ++done, checks.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.jobs, checks.length) }, worker));
  return results;
}
