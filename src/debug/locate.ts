// Finds the core the kernel wrote for a crash: core_pattern files, systemd-coredump (coredumpctl) or apport.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';

import { elfKind, readCore } from './elf.js';

export interface CoreLocation {
  /** A core file to hand to gdb (for coredumpctl and apport, a temporary copy). */
  path: string;
  source: 'file' | 'coredumpctl' | 'apport';
  /** Where the core lives, for people: its path, or the command that retrieves it. */
  where: string;
  /** Removes a temporary copy; a no-op for a core file the kernel wrote. */
  cleanup(): void;
}

export interface CoreSearch {
  /** The crashed process; without it the newest core that fits is taken. */
  pid?: number;
  /** The program's path (for %e and %E in core_pattern). */
  program?: string;
  /** The directory the program was started in (a relative core_pattern is relative to it). */
  cwd: string;
  signal?: number;
  /** Whether the soft core limit was raised for the program (`run` does, unless --no-core). */
  coreLimitRaised?: boolean;
  /** For tests: kernel settings instead of /proc/sys/kernel. */
  corePattern?: string;
  coreUsesPid?: boolean;
  /** For tests: where apport keeps its reports instead of /var/crash. */
  apportDir?: string;
}

export type CoreLookup = { found: CoreLocation } | { missing: string };

export function kernelCoreSettings(): { pattern: string; usesPid: boolean } {
  const read = (f: string, dflt: string) => {
    try {
      return readFileSync(`/proc/sys/kernel/${f}`, 'utf8').trim();
    } catch {
      return dflt;
    }
  };
  return { pattern: read('core_pattern', 'core'), usesPid: read('core_uses_pid', '0') === '1' };
}

/** This process's soft core limit in bytes (Infinity for unlimited), inherited from whoever started it. */
export function softCoreLimit(): number {
  try {
    const line = /^Max core file size\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!line) return Infinity;
    return line[1] === 'unlimited' ? Infinity : Number(line[1]);
  } catch {
    return Infinity;
  }
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The core_pattern path as one regular expression per path segment, with what is known substituted
 * (%p the pid, %e the program name...) and the rest (%t the time, %i the thread...) matched by wildcards.
 * Also a display form with '*' for the wildcards, for the "looked in" message.
 */
export function patternSegments(pattern: string, s: CoreSearch): { segments: (string | RegExp)[]; shown: string } {
  const known: Record<string, string | undefined> = {
    p: s.pid?.toString(),
    P: s.pid?.toString(),
    u: process.getuid?.().toString(),
    g: process.getgid?.().toString(),
    s: s.signal?.toString(),
    e: s.program ? basename(s.program).slice(0, 15).replace(/\//g, '!') : undefined,
    E: s.program?.replace(/\//g, '!'),
    f: s.program ? basename(s.program) : undefined,
    h: hostname(),
    '%': '%',
  };
  const numeric = new Set(['p', 'P', 'i', 'I', 'u', 'g', 's', 't', 'd']);
  const abs = isAbsolute(pattern) ? pattern : join(s.cwd, pattern);
  const segments: (string | RegExp)[] = [];
  const shownParts: string[] = [];
  for (const seg of abs.split('/').filter(Boolean)) {
    let re = '';
    let shown = '';
    let wild = false;
    for (let i = 0; i < seg.length; i++) {
      if (seg[i] === '%' && i + 1 < seg.length) {
        const spec = seg[++i];
        const value = known[spec];
        if (value !== undefined) {
          re += escapeRe(value);
          shown += value;
        } else {
          re += numeric.has(spec) ? '\\d+' : '.+?';
          shown += '*';
          wild = true;
        }
      } else {
        re += escapeRe(seg[i]);
        shown += seg[i];
      }
    }
    segments.push(wild ? new RegExp(`^${re}$`) : shown);
    shownParts.push(shown);
  }
  return { segments, shown: `/${shownParts.join('/')}` };
}

/** Files matching the segments, listing only the directories whose names have wildcards. */
function walk(segments: (string | RegExp)[]): string[] {
  let paths = ['/'];
  for (const seg of segments) {
    const next: string[] = [];
    for (const dir of paths) {
      if (typeof seg === 'string') {
        if (existsSync(join(dir, seg))) next.push(join(dir, seg));
      } else {
        for (const n of safeReaddir(dir)) if (seg.test(n)) next.push(join(dir, n));
      }
    }
    paths = next;
  }
  return paths;
}

function mtime(p: string): number {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

/** The newest of `paths` that is a core file (and, with a pid, one that pid dumped). */
function newestCore(paths: string[], pid?: number): string | null {
  const sorted = [...new Set(paths)].sort((a, b) => mtime(b) - mtime(a));
  for (const p of sorted) {
    try {
      if (!statSync(p).isFile() || elfKind(p) !== 'core') continue;
      if (pid !== undefined && readCore(p).pid !== pid) continue;
      return p;
    } catch {
      continue;
    }
  }
  return null;
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function limitReason(s: CoreSearch): string | null {
  if (s.coreLimitRaised) return null;
  return softCoreLimit() === 0
    ? 'the core file size limit is 0 (ulimit -c): raise it with `ulimit -c unlimited`, or run the program with `tsmalloc run` (without --no-core)'
    : null;
}

function fromPatternFiles(pattern: string, usesPid: boolean, s: CoreSearch, extraFallback: boolean): CoreLookup {
  const full = !pattern.includes('%p') && usesPid ? `${pattern}.%p` : pattern;
  const { segments, shown } = patternSegments(full || 'core', s);
  const candidates = walk(segments);
  // Without a pid, also take plain `core` / `core.<pid>` in the directory: settings may have changed since.
  if (extraFallback) {
    for (const n of safeReaddir(s.cwd)) if (/^core(\.\d+)?$/.test(n)) candidates.push(join(s.cwd, n));
  }
  const found = newestCore(candidates, s.pid);
  if (found) return { found: { path: found, source: 'file', where: found, cleanup: () => {} } };
  const why = limitReason(s);
  const plain = /^core(\.%p)?$/.test(full);
  const also = extraFallback && !plain ? ` and ${join(s.cwd, 'core')}[.<pid>]` : '';
  const first = plain && s.pid === undefined ? `${join(s.cwd, 'core')}[.<pid>]` : shown;
  const looked = `looked for ${first}${also} (core_pattern '${pattern}', core_uses_pid ${usesPid ? 1 : 0})`;
  return { missing: `no core file found: ${looked}${why ? `; ${why}` : ''}` };
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function fromCoredumpctl(s: CoreSearch, handler: string): Promise<CoreLookup> {
  if (!onPath('coredumpctl')) {
    const why = `core_pattern pipes cores to ${handler}, but coredumpctl is not installed: apt-get install systemd-coredump`;
    return { missing: `no core found: ${why}` };
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsmalloc-core-'));
  const out = join(dir, 'core');
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const matches = s.pid !== undefined ? [[String(s.pid)]] : [[`COREDUMP_CWD=${s.cwd}`], []];
  let last = '';
  // systemd-coredump stores the core after the process is gone: give it a few seconds for a fresh crash.
  const deadline = Date.now() + (s.pid !== undefined ? 5000 : 0);
  for (;;) {
    for (const m of matches) {
      const r = spawnSync('coredumpctl', ['--no-pager', '-q', 'dump', ...m, `--output=${out}`], { encoding: 'utf8', timeout: 60_000 });
      if (r.status === 0 && existsSync(out)) {
        return { found: { path: out, source: 'coredumpctl', where: `systemd-coredump (coredumpctl dump ${m.join(' ') || '-1'})`, cleanup } };
      }
      last = (r.stderr || '').trim().split('\n').pop() ?? '';
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  cleanup();
  const what = s.pid !== undefined ? `pid ${s.pid}` : `a program started in ${s.cwd}`;
  const why = limitReason(s);
  const said = last ? ` (${last})` : '';
  return { missing: `no core found: core_pattern pipes cores to systemd-coredump, and coredumpctl has none for ${what}${said}${why ? `; ${why}` : ''}` };
}

/** The fields of an apport report, continuation lines joined; binary fields (CoreDump) left as their lines. */
function apportFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  let key = '';
  for (const line of text.split('\n')) {
    if (line.startsWith(' ') && key) fields.set(key, `${fields.get(key)}\n${line.slice(1)}`);
    else {
      const m = /^([\w.-]+):\s?(.*)$/.exec(line);
      if (m) {
        key = m[1];
        fields.set(key, m[2]);
      }
    }
  }
  return fields;
}

function fromApport(s: CoreSearch): CoreLookup {
  const dir = s.apportDir ?? '/var/crash';
  const reports = safeReaddir(dir)
    .filter((n) => n.endsWith('.crash'))
    .map((n) => join(dir, n))
    .sort((a, b) => mtime(b) - mtime(a));
  for (const report of reports) {
    let fields: Map<string, string>;
    try {
      fields = apportFields(readFileSync(report, 'latin1'));
    } catch {
      continue;
    }
    const pid = /^Pid:\s*(\d+)/m.exec(fields.get('ProcStatus') ?? '')?.[1];
    if (s.pid !== undefined ? pid !== String(s.pid) : fields.get('ProcCwd') !== s.cwd) continue;
    const core = fields.get('CoreDump');
    if (!core?.startsWith('base64')) continue;
    // Each line is a base64 chunk of one gzip stream (header, raw deflate, trailer).
    const bytes = Buffer.concat(core.split('\n').slice(1).map((l) => Buffer.from(l.trim(), 'base64')));
    const tmp = mkdtempSync(join(tmpdir(), 'tsmalloc-core-'));
    const out = join(tmp, 'core');
    writeFileSync(out, gunzipSync(bytes, { finishFlush: zlibConstants.Z_SYNC_FLUSH }));
    return { found: { path: out, source: 'apport', where: report, cleanup: () => rmSync(tmp, { recursive: true, force: true }) } };
  }
  const what = s.pid !== undefined ? `pid ${s.pid}` : `a program started in ${s.cwd}`;
  return { missing: `no core found: core_pattern pipes cores to apport, and ${dir} has no report with a core for ${what}` };
}

function notInstalled(handler: string): CoreLookup {
  return { missing: `no core found: core_pattern pipes cores to ${handler}, which is not installed, so the kernel dropped the core` };
}

/**
 * Where the kernel put the core of a crash, following /proc/sys/kernel/core_pattern: a file pattern (with
 * core_uses_pid), systemd-coredump through coredumpctl, or apport's /var/crash. `missing` says where it looked.
 */
export async function locateCore(s: CoreSearch): Promise<CoreLookup> {
  const kernel = kernelCoreSettings();
  const pattern = s.corePattern ?? kernel.pattern;
  const usesPid = s.coreUsesPid ?? kernel.usesPid;
  if (!pattern.startsWith('|')) return fromPatternFiles(pattern, usesPid, s, s.pid === undefined);
  const handler = pattern.slice(1).trim().split(/\s+/)[0] ?? '';
  if (/systemd-coredump/.test(handler)) {
    if (!existsSync(handler)) return notInstalled(handler);
    return fromCoredumpctl(s, handler);
  }
  if (/apport/.test(handler)) {
    // apport also writes a core into the program's directory when the core limit allows it.
    const local = fromPatternFiles('core', usesPid, s, true);
    if ('found' in local) return local;
    if (!existsSync(handler)) return notInstalled(handler);
    return fromApport(s);
  }
  return {
    missing:
      `no core found: core_pattern pipes cores to ${handler || 'a program'}${existsSync(handler) ? '' : ', which is not installed'}; ` +
      "tsmalloc cannot read cores from it: give the core file's path",
  };
}

