// Describes a check's program that died by a signal: its last words on stderr and the backtrace from its core (src/debug).
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { crashReport, formatCrashReport } from '../debug/index.js';
import { firstLines, type CrashError } from './trial.js';

/**
 * Where the crashed program left its core: a program may have changed directory (`git -C repo`), so the trial's
 * directory is searched a few levels down for `core` or `core.<pid>`. Falls back to the directory it started in.
 */
function coreDirectory(start: string, pid: number): string {
  const names = new Set(['core', `core.${pid}`]);
  const search = (dir: string, depth: number): string | null => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return null;
    }
    const hit = entries.find((e) => e.isFile() && names.has(e.name));
    if (hit) return join(dir, hit.name);
    if (depth === 0) return null;
    for (const e of entries) {
      const found = e.isDirectory() ? search(join(dir, e.name), depth - 1) : null;
      if (found) return found;
    }
    return null;
  };
  const core = search(start, 3);
  return core ? dirname(core) : start;
}

/** The failure detail for a crash: program, signal, its last words on stderr, and the backtrace when one can be had. */
export async function crashDetail(e: CrashError): Promise<string> {
  const lines = [`${e.program} crashed: killed by ${e.signal}`];
  const err = firstLines(e.stderr, 3);
  if (err) lines.push(err);
  const cwd = coreDirectory(e.cwd, e.pid);
  try {
    const report = await crashReport({ pid: e.pid, program: e.program, cwd, coreLimitRaised: true });
    // The core goes with the check's directory, so the report's `core:` line would name a file that is gone.
    const text = report ? formatCrashReport(report, cwd).trimEnd().split('\n').filter((l) => !l.startsWith('core:')) : null;
    lines.push(text ? text.join('\n') : '(no core file was written: no backtrace)');
  } catch (err) {
    // gdb missing, or a core that does not match: the crash itself is still the result.
    lines.push(`(no backtrace: ${(err as Error).message})`);
  }
  return lines.join('\n');
}
