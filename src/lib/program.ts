// Finds the program `run` should start, as a shell would, and says why it cannot be run (127 / 126).
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

import { UserError } from './errors.js';

function isExecutableFile(path: string): 'ok' | 'missing' | 'not-executable' {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 'missing';
  }
  if (!st.isFile()) return 'not-executable';
  try {
    accessSync(path, constants.X_OK);
    return 'ok';
  } catch {
    return 'not-executable';
  }
}

/** The absolute path of `program`: a path when it has a '/', else the first executable match in PATH. */
export function resolveProgram(program: string, env: NodeJS.ProcessEnv): string {
  if (program === '') throw new UserError('program not found: the program name is empty', 127);
  if (program.includes('/')) {
    const path = resolve(program);
    const state = isExecutableFile(path);
    if (state === 'missing') throw new UserError(`program not found: ${path}`, 127);
    if (state === 'not-executable') throw new UserError(`program is not executable: ${path}`, 126);
    return path;
  }
  let notExecutable: string | undefined;
  for (const dir of (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const path = join(dir === '' ? '.' : dir, program);
    const state = isExecutableFile(path);
    if (state === 'ok') return resolve(path);
    if (state === 'not-executable' && notExecutable === undefined) notExecutable = resolve(path);
  }
  if (notExecutable) throw new UserError(`program is not executable: ${notExecutable}`, 126);
  throw new UserError(`program not found: '${program}' is not in PATH`, 127);
}

/**
 * The loader ignores LD_PRELOAD for a set-user-ID or set-group-ID program that changes this process's identity
 * (secure-execution mode). Returns a warning to print, or null when the preload will take effect.
 */
export function secureExecWarning(path: string): string | null {
  const st = statSync(path);
  const uid = process.geteuid?.() ?? 0;
  const gid = process.getegid?.() ?? 0;
  const setuid = (st.mode & 0o4000) !== 0 && st.uid !== uid;
  const setgid = (st.mode & 0o2000) !== 0 && st.gid !== gid;
  if (!setuid && !setgid) return null;
  return `warning: ${path} is ${setuid ? 'setuid' : 'setgid'}: the loader ignores LD_PRELOAD for it, so it runs on the system allocator`;
}
