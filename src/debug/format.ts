// Turns a CrashReport into the text `tsmalloc debug` prints: program, signal, core, then each thread's frames.
import { basename, relative } from 'node:path';

import type { CrashFrame, CrashReport } from './index.js';

/** Quotes an argument the way a shell would need it, only when it has to. */
function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A source path relative to the current directory when it lies below it, else as it is. */
function shortPath(p: string, cwd: string): string {
  const rel = relative(cwd, p);
  return rel && !rel.startsWith('..') && !rel.startsWith('/') ? rel : p;
}

function frameLine(f: CrashFrame, program: string, cwd: string): string {
  const lib = f.library && f.library !== program ? basename(f.library) : null;
  if (!f.function) return `#${f.index}  ${f.address} in ??${lib ? ` from ${lib}` : ''}`;
  if (f.file && f.line !== null) return `#${f.index}  ${f.function} at ${shortPath(f.file, cwd)}:${f.line}${lib ? ` (${lib})` : ''}`;
  return `#${f.index}  ${f.function}${lib ? ` from ${lib}` : ''}`;
}

/** The readable report: the same text for `debug`, `run --backtrace` and the test-suite command. */
export function formatCrashReport(r: CrashReport, cwd: string = process.cwd()): string {
  const out: string[] = [];
  out.push(`program: ${[r.program, ...r.args].map(shellQuote).join(' ')}`);
  const sig = r.signalName ? `${r.signalName}${r.signalDescription ? ` (${r.signalDescription})` : ''}` : 'unknown';
  out.push(`signal:  ${sig}${r.faultAddress !== null ? ` at address ${r.faultAddress}` : ''}`);
  out.push(`core:    ${r.core}`);
  if (r.allocatorMessage) out.push(`heap:    ${r.allocatorMessage}`);
  for (const t of r.threads) {
    out.push('');
    out.push(`thread ${t.id}${t.lwp !== null ? ` (LWP ${t.lwp})` : ''}${t.crashed ? ', which crashed:' : ':'}`);
    for (const f of t.frames) {
      out.push(`  ${frameLine(f, r.program, cwd)}`);
      for (const l of f.locals ?? []) out.push(`        ${l.name} = ${l.value.replace(/\n/g, '\n        ')}`);
      if (f.locals && f.locals.length === 0) out.push('        (no locals)');
    }
    if (t.frames.length === 0) out.push('  (no frames)');
    if (t.truncated) out.push(`  ... deeper frames not shown (more than ${t.frames.length})`);
  }
  return `${out.join('\n')}\n`;
}
