// Formats test-suite results: a progress line per check (stderr), the table for people, the JSON object for programs.
import type { CheckResult, SuiteReport } from './types.js';

/** Colour only for a terminal and never with NO_COLOR. */
export function useColour(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && !('NO_COLOR' in process.env);
}

const COLOURS: Record<CheckResult['status'], string> = { pass: '32', fail: '31', skip: '33' };

function paint(status: CheckResult['status'], text: string, colour: boolean): string {
  return colour ? `\x1b[${COLOURS[status]}m${text}\x1b[0m` : text;
}

export function buildReport(allocator: string, results: CheckResult[]): SuiteReport {
  const count = (s: CheckResult['status']) => results.filter((r) => r.status === s).length;
  return { allocator, results, passed: count('pass'), failed: count('fail'), skipped: count('skip') };
}

/** `[3/19] pass  git  1.20s` for stderr as each check ends. */
export function progressLine(r: CheckResult, done: number, total: number, colour: boolean): string {
  const width = String(total).length;
  return `[${String(done).padStart(width)}/${total}] ${paint(r.status, r.status.padEnd(4), colour)}  ${r.name}  ${r.seconds.toFixed(2)}s\n`;
}

/** Lines of a failure's detail shown in the table: enough for a crash's frames past abort() into the caller. */
const DETAIL_LINES = 20;

/** name, result, time; under a failure or a skip its detail, indented (at most DETAIL_LINES per check). */
export function formatTable(report: SuiteReport, colour: boolean): string {
  const nameWidth = Math.max(5, ...report.results.map((r) => r.name.length));
  const out = [`${'check'.padEnd(nameWidth)}  result  ${'time'.padStart(7)}`];
  for (const r of report.results) {
    out.push(`${r.name.padEnd(nameWidth)}  ${paint(r.status, r.status.padEnd(6), colour)}  ${`${r.seconds.toFixed(2)}s`.padStart(7)}`);
    if (r.detail) {
      const lines = r.detail.split('\n');
      const shown = lines.slice(0, DETAIL_LINES).map((l) => (l ? `    ${l}` : ''));
      if (lines.length > DETAIL_LINES) shown.push(`    ... (${lines.length - DETAIL_LINES} more lines: --json has them all)`);
      out.push(...shown);
    }
  }
  out.push('', `${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped on ${report.allocator}`);
  return out.join('\n') + '\n';
}

/** `name  description` lines for --list. */
export function formatList(checks: { name: string; description: string }[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  return checks.map((c) => `${c.name.padEnd(width)}  ${c.description}\n`).join('');
}
