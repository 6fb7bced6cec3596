// Turns bench cells into results (medians, ratios to glibc, geometric means) and formats them: table, JSON, CSV, Markdown.
import type { MachineInfo } from './machine.js';
import { machineLine } from './machine.js';
import type { BenchAllocator, Cell } from './runner.js';
import { geomean, median, ratio } from './stats.js';
import type { Metric, Workload } from './workloads.js';

/** The allocator every ratio is taken against: glibc, no preload. */
export const BASELINE = 'system';

export interface RunRecord {
  time: number;
  user_sys: number;
  rss: number;
  extra: Record<string, number>;
}

/** One allocator on one workload: medians of the counted runs; time in seconds, rss in KiB. */
export interface Result {
  allocator: string;
  workload: string;
  time: number | null;
  rss: number | null;
  user_sys: number | null;
  runs: RunRecord[];
  ratio_time: number | null;
  ratio_rss: number | null;
  extra: Record<string, number>;
  error?: string;
}

export interface GeoMean {
  allocator: string;
  ratio_time: number | null;
  ratio_rss: number | null;
  /** How many workloads entered the mean (the floor runs only the single-threaded ones). */
  workloads: number;
}

export interface AllocatorInfo {
  name: string;
  kind: string;
  path: string | null;
  version?: string;
  reference?: boolean;
}

export interface BenchReport {
  command: string;
  date: string;
  quick: boolean;
  runs: number;
  warmup: number;
  baseline: string | null;
  machine: MachineInfo;
  allocators: AllocatorInfo[];
  workloads: { name: string; title: string; threads: boolean; metrics: Metric[] }[];
  results: Result[];
  skipped: { allocator: string; workload: string; reason: string }[];
  geomean: GeoMean[];
}

export interface ReportInput {
  command: string;
  quick: boolean;
  runs: number;
  warmup: number;
  machine: MachineInfo;
  allocators: readonly (BenchAllocator & { version?: string })[];
  workloads: readonly Workload[];
  cells: readonly Cell[];
  date?: Date;
}

export function buildReport(input: ReportInput): BenchReport {
  const baseline = input.allocators.some((a) => a.name === BASELINE) ? BASELINE : null;
  const results: Result[] = [];
  const skipped: BenchReport['skipped'] = [];
  for (const c of input.cells) {
    if (c.skipped) {
      skipped.push({ allocator: c.allocator, workload: c.workload, reason: c.skipped });
      continue;
    }
    const runs: RunRecord[] = c.samples.map((s) => ({ time: s.wall, user_sys: s.user + s.sys, rss: s.rss_kib, extra: s.extra }));
    const keys = [...new Set(runs.flatMap((r) => Object.keys(r.extra)))].sort();
    const extra: Record<string, number> = {};
    for (const k of keys) {
      const m = median(runs.flatMap((r) => (k in r.extra ? [r.extra[k]] : [])));
      if (m !== null) extra[k] = m;
    }
    const r: Result = {
      allocator: c.allocator,
      workload: c.workload,
      time: median(runs.map((x) => x.time)),
      rss: median(runs.map((x) => x.rss)),
      user_sys: median(runs.map((x) => x.user_sys)),
      runs,
      ratio_time: null,
      ratio_rss: null,
      extra,
    };
    if (c.error) r.error = c.error;
    results.push(r);
  }
  for (const r of results) {
    const base = results.find((b) => b.workload === r.workload && b.allocator === baseline);
    r.ratio_time = ratio(r.time, base?.time);
    r.ratio_rss = ratio(r.rss, base?.rss);
  }
  const geo: GeoMean[] = input.allocators.map((a) => {
    const mine = results.filter((r) => r.allocator === a.name && r.ratio_time !== null);
    return {
      allocator: a.name,
      ratio_time: geomean(mine.map((r) => r.ratio_time!)),
      ratio_rss: geomean(mine.flatMap((r) => (r.ratio_rss === null ? [] : [r.ratio_rss]))),
      workloads: mine.length,
    };
  });
  // The baseline comes first in every table, whatever order the allocators ran in.
  const rank = (name: string): number => (name === baseline ? -1 : input.allocators.findIndex((a) => a.name === name));
  const wIndex = (name: string): number => input.workloads.findIndex((w) => w.name === name);
  results.sort((a, b) => wIndex(a.workload) - wIndex(b.workload) || rank(a.allocator) - rank(b.allocator));
  const ordered = [...input.allocators].sort((a, b) => rank(a.name) - rank(b.name));
  geo.sort((a, b) => rank(a.allocator) - rank(b.allocator));
  return {
    command: input.command,
    date: (input.date ?? new Date()).toISOString(),
    quick: input.quick,
    runs: input.runs,
    warmup: input.warmup,
    baseline,
    machine: input.machine,
    allocators: ordered.map((a) => ({
      name: a.name,
      kind: a.kind,
      path: a.path,
      ...(a.version ? { version: a.version } : {}),
      ...(a.singleThreadOnly ? { reference: true } : {}),
    })),
    workloads: input.workloads.map((w) => ({ name: w.name, title: w.title, threads: w.threads, metrics: w.metrics })),
    results,
    skipped,
    geomean: geo,
  };
}

// ---- formatting helpers -------------------------------------------------------------------------------------

export function fmtTime(s: number | null): string {
  if (s === null) return '-';
  if (s >= 100) return `${s.toFixed(1)} s`;
  if (s >= 10) return `${s.toFixed(2)} s`;
  return `${s.toFixed(3)} s`;
}

export function fmtKiB(kib: number | null): string {
  if (kib === null) return '-';
  if (kib < 1024) return `${Math.round(kib)} KiB`;
  if (kib < 1024 * 1024) return `${(kib / 1024).toFixed(1)} MiB`;
  return `${(kib / 1048576).toFixed(2)} GiB`;
}

export function fmtRatio(r: number | null): string {
  if (r === null) return '-';
  if (r >= 100) return r.toFixed(0);
  if (r >= 10) return r.toFixed(1);
  if (r >= 0.095 || r === 0) return r.toFixed(2);
  return r.toPrecision(2); // 0.0033: a memory ratio near zero must not print as 0.00
}

export function fmtMetric(m: Metric, v: number | undefined): string {
  if (v === undefined) return '-';
  return m.unit === 'KiB' ? fmtKiB(v) : `${v.toFixed(1)} ns`;
}

function pad(cells: string[][], rightAlign: (col: number) => boolean): string[] {
  const widths = cells[0].map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells.map((row) =>
    row
      .map((c, i) => (rightAlign(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

function label(report: BenchReport, name: string): string {
  return report.allocators.find((a) => a.name === name)?.reference ? `${name} (ref)` : name;
}

const BASE_LABEL = 'vs glibc';

/** The terminal table: one block per workload, one line per allocator, then the geometric means. */
export function formatTable(report: BenchReport): string {
  const out: string[] = [];
  out.push(`machine: ${machineLine(report.machine)}`);
  out.push(
    `${report.quick ? 'quick run' : 'full run'}: medians of ${report.runs} runs after ${report.warmup} warm-up, ` +
      `allocators interleaved; ratios are to ${report.baseline ? 'glibc (system)' : 'nothing: system was not run'}`,
  );
  for (const w of report.workloads) {
    const rows = report.results.filter((r) => r.workload === w.name);
    const skips = report.skipped.filter((s) => s.workload === w.name && !report.allocators.find((a) => a.name === s.allocator)?.reference);
    out.push('', `${w.name}: ${w.title}`);
    if (rows.length > 0) {
      const head = ['  allocator', 'time', BASE_LABEL, 'user+sys', 'peak RSS', BASE_LABEL, ...w.metrics.map((m) => m.label)];
      const body = rows.map((r) =>
        r.error
          ? [`  ${label(report, r.allocator)}`, `FAILED: ${r.error}`]
          : [
              `  ${label(report, r.allocator)}`,
              fmtTime(r.time),
              fmtRatio(r.ratio_time),
              fmtTime(r.user_sys),
              fmtKiB(r.rss),
              fmtRatio(r.ratio_rss),
              ...w.metrics.map((m) => fmtMetric(m, r.extra[m.key])),
            ],
      );
      const ok = [head, ...body.filter((b) => b.length > 2)];
      const lines = pad(ok, (i) => i > 0);
      out.push(lines[0]);
      let k = 1;
      for (const b of body) out.push(b.length > 2 ? lines[k++] : b.join('  '));
    }
    for (const s of skips) out.push(`  ${s.allocator}: skipped (${s.reason})`);
  }
  if (report.baseline) {
    out.push('', `geometric mean of the ratios to glibc (lower is better)`);
    const rows = [['  allocator', 'time', 'peak RSS', 'workloads']];
    for (const g of report.geomean) {
      rows.push([`  ${label(report, g.allocator)}`, fmtRatio(g.ratio_time), fmtRatio(g.ratio_rss), String(g.workloads)]);
    }
    out.push(...pad(rows, (i) => i > 0));
  }
  if (report.allocators.some((a) => a.reference)) {
    out.push('', 'floor (ref): an ideal single-threaded allocator with no checks that never returns memory; a yardstick, not a contender.');
  }
  return out.join('\n') + '\n';
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV: one row per allocator and workload; every metric any workload reports gets its own column. */
export function formatCsv(report: BenchReport): string {
  const keys = [...new Set(report.workloads.flatMap((w) => w.metrics.map((m) => m.key)))];
  const num = (v: number | null | undefined, digits: number): string => (v == null ? '' : String(Number(v.toFixed(digits))));
  const lines = [['workload', 'allocator', 'time_s', 'ratio_time', 'user_sys_s', 'rss_kib', 'ratio_rss', 'runs', ...keys, 'error'].join(',')];
  for (const r of report.results) {
    lines.push(
      [
        r.workload,
        r.allocator,
        num(r.time, 6),
        num(r.ratio_time, 4),
        num(r.user_sys, 6),
        num(r.rss, 0),
        num(r.ratio_rss, 4),
        String(r.runs.length),
        ...keys.map((k) => num(r.extra[k], 3)),
        r.error ?? '',
      ]
        .map(csvField)
        .join(','),
    );
  }
  for (const g of report.geomean) {
    lines.push(['geomean', g.allocator, '', num(g.ratio_time, 4), '', '', num(g.ratio_rss, 4), '', ...keys.map(() => ''), ''].map(csvField).join(','));
  }
  return lines.join('\n') + '\n';
}

/** Markdown tables for BENCHMARKS.md: time, peak RSS and the extra metrics, workloads down, allocators across. */
export function formatMarkdown(report: BenchReport): string {
  const names = report.allocators.map((a) => a.name);
  const headers = names.map((n) => label(report, n));
  const cell = (w: string, a: string, pick: (r: Result) => string): string => {
    const r = report.results.find((x) => x.workload === w && x.allocator === a);
    if (!r) return '—';
    if (r.error) return `failed: ${r.error.replace(/\|/g, '\\|')}`;
    return pick(r);
  };
  const table = (title: string, pick: (r: Result) => string, geo?: (g: GeoMean) => string): string[] => {
    const lines = [`| ${title} | ${headers.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`];
    for (const w of report.workloads) lines.push(`| ${w.name} | ${names.map((a) => cell(w.name, a, pick)).join(' | ')} |`);
    if (geo && report.baseline) {
      lines.push(`| **geometric mean** | ${report.geomean.map((g) => `**${geo(g)}**`).join(' | ')} |`);
    }
    return lines;
  };
  const withRatio = (v: string, r: number | null): string => (r === null ? v : `${v} (${fmtRatio(r)}×)`);
  const out: string[] = [];
  out.push('#### Wall time (median; ratio to glibc)', '');
  out.push(...table('workload', (r) => withRatio(fmtTime(r.time), r.ratio_time), (g) => `${fmtRatio(g.ratio_time)}×`));
  out.push('', '#### Peak RSS (median; ratio to glibc)', '');
  out.push(...table('workload', (r) => withRatio(fmtKiB(r.rss), r.ratio_rss), (g) => `${fmtRatio(g.ratio_rss)}×`));
  out.push('', '#### User+sys CPU time (median)', '');
  out.push(...table('workload', (r) => fmtTime(r.user_sys)));
  const metricRows = report.workloads.flatMap((w) => w.metrics.map((m) => ({ w, m })));
  if (metricRows.length > 0) {
    out.push('', '#### Workload metrics (median)', '');
    out.push(`| metric | ${headers.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
    for (const { w, m } of metricRows) {
      out.push(`| ${w.name}: ${m.label} | ${names.map((a) => cell(w.name, a, (r) => fmtMetric(m, r.extra[m.key]))).join(' | ')} |`);
    }
  }
  return out.join('\n') + '\n';
}
