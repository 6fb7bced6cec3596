// Draws the bench chart by hand: grouped bars of ratios to glibc per workload (time, peak RSS, RSS kept after free).
import { machineLine } from './machine.js';
import type { BenchReport } from './report.js';
import { fmtRatio } from './report.js';

const PALETTE: Record<string, string> = {
  tsmalloc: '#d62728',
  jemalloc: '#1f77b4',
  tcmalloc: '#2ca02c',
  mimalloc: '#9467bd',
  simple: '#ff7f0e',
  floor: '#8c8c8c',
};
const EXTRA_COLOURS = ['#17becf', '#bcbd22', '#e377c2', '#8c564b', '#393b79', '#637939'];

const BAR = 9;
const GAP = 16;
const LEFT = 56;
const RIGHT = 16;
const PLOT_H = 190;
const LABEL_H = 70;
const TITLE_H = 26;
const LEGEND_H = 30;
const FOOT_H = 40;
/** The widest scale: 32x either way; bars beyond it are clipped and labelled with their value. */
const MAX_SPAN = 5;

interface Group {
  label: string;
  /** Ratio to glibc per allocator name. */
  values: Map<string, number>;
  shaded?: boolean;
}

interface Panel {
  title: string;
  groups: Group[];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function n(x: number): string {
  return Number(x.toFixed(1)).toString();
}

/** The panels: wall time and peak RSS per workload (plus the geometric mean), then the RSS metrics that workloads
 * report after freeing (burst, fragment), where returning memory to the system shows. */
function panels(report: BenchReport): Panel[] {
  const perWorkload = (which: 'ratio_time' | 'ratio_rss'): Group[] => {
    const groups: Group[] = report.workloads.map((w) => {
      const values = new Map<string, number>();
      for (const r of report.results) if (r.workload === w.name && r[which] !== null) values.set(r.allocator, r[which]!);
      return { label: w.name, values };
    });
    const geo = new Map<string, number>();
    for (const g of report.geomean) if (g[which] !== null) geo.set(g.allocator, g[which]!);
    groups.push({ label: 'geometric mean', values: geo, shaded: true });
    return groups;
  };
  const kept: Group[] = [];
  for (const w of report.workloads) {
    for (const m of w.metrics.filter((x) => x.unit === 'KiB')) {
      const base = report.results.find((r) => r.workload === w.name && r.allocator === report.baseline)?.extra[m.key];
      if (!base) continue;
      const values = new Map<string, number>();
      for (const r of report.results) {
        if (r.workload === w.name && r.extra[m.key] !== undefined) values.set(r.allocator, r.extra[m.key] / base);
      }
      kept.push({ label: `${w.name}: ${m.label}`, values });
    }
  }
  const out = [
    { title: 'Wall time relative to glibc', groups: perWorkload('ratio_time') },
    { title: 'Peak RSS relative to glibc', groups: perWorkload('ratio_rss') },
  ];
  if (kept.length > 0) out.push({ title: 'RSS still held after freeing, relative to glibc', groups: kept });
  return out;
}

/** SVG document: a legend, one panel per measure with a log2 scale centred on glibc (1x), and the machine. */
export function renderSvg(report: BenchReport): string {
  const contenders = report.allocators.filter((a) => a.name !== report.baseline);
  const colour = new Map<string, string>();
  let extra = 0;
  for (const a of contenders) colour.set(a.name, PALETTE[a.name] ?? EXTRA_COLOURS[extra++ % EXTRA_COLOURS.length]);
  const list = panels(report);

  const groupW = contenders.length * BAR + GAP;
  const maxGroups = Math.max(...list.map((p) => p.groups.length));
  // Wide enough for the bars, the legend and the machine line in the footer.
  const legendW = LEFT + contenders.reduce((w, a) => w + 24 + (a.name.length + (a.reference ? 12 : 0)) * 6.5, 0) + 300;
  const width = Math.ceil(Math.max(LEFT + maxGroups * groupW + RIGHT, legendW, 820));
  const panelH = TITLE_H + PLOT_H + LABEL_H;
  const height = LEGEND_H + list.length * panelH + FOOT_H;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
  );
  let lx = LEFT;
  for (const a of contenders) {
    const name = a.reference ? `${a.name} (reference)` : a.name;
    out.push(`<rect x="${lx}" y="10" width="12" height="12" fill="${colour.get(a.name)}"/>`);
    out.push(`<text x="${lx + 16}" y="20">${esc(name)}</text>`);
    lx += 24 + name.length * 6.5;
  }
  out.push(`<text x="${lx + 8}" y="20" fill="#555">ratio to glibc (1 = glibc, lower is better, log scale)</text>`);

  for (const [pi, p] of list.entries()) {
    const top = LEGEND_H + pi * panelH;
    const plotTop = top + TITLE_H;
    // Each panel's scale is just wide enough for its data: 2x to 32x either way.
    let span = 1;
    for (const g of p.groups) for (const v of g.values.values()) if (v > 0) span = Math.max(span, Math.ceil(Math.abs(Math.log2(v)) - 1e-9));
    span = Math.min(span, MAX_SPAN);
    const y = (v: number): number => {
      const l = Math.max(-span, Math.min(span, Math.log2(v)));
      return plotTop + ((span - l) / (2 * span)) * PLOT_H;
    };
    out.push(`<text x="${LEFT}" y="${top + 17}" font-size="13" font-weight="bold">${esc(p.title)}</text>`);
    for (let e = -span; e <= span; e++) {
      const yy = n(y(2 ** e));
      out.push(`<line x1="${LEFT}" x2="${width - RIGHT}" y1="${yy}" y2="${yy}" stroke="${e === 0 ? '#000' : '#ddd'}"/>`);
      out.push(`<text x="${LEFT - 6}" y="${n(y(2 ** e) + 4)}" text-anchor="end" fill="#555">${e >= 0 ? 2 ** e : `1/${2 ** -e}`}×</text>`);
    }
    // A panel with few groups spreads them out, so that their labels fit unrotated.
    const gw = Math.max(groupW, Math.min(220, (width - LEFT - RIGHT) / p.groups.length));
    const barsW = contenders.length * BAR;
    const flat = p.groups.every((g) => g.label.length * 6.2 < gw - 8);
    for (const [gi, g] of p.groups.entries()) {
      const gx = LEFT + gi * gw + (gw - barsW) / 2;
      if (g.shaded) out.push(`<rect x="${n(gx - GAP / 4)}" y="${plotTop}" width="${n(barsW + GAP / 2)}" height="${PLOT_H}" fill="#f3f3f3"/>`);
      for (const [ai, a] of contenders.entries()) {
        const v = g.values.get(a.name);
        if (v === undefined || v <= 0) continue;
        const y0 = y(1);
        const y1 = y(v);
        const x = gx + ai * BAR;
        out.push(
          `<rect x="${n(x)}" y="${n(Math.min(y0, y1))}" width="${BAR - 1}" height="${n(Math.max(Math.abs(y1 - y0), 1))}" ` +
            `fill="${colour.get(a.name)}"><title>${esc(`${a.name}, ${g.label}: ${fmtRatio(v)}× glibc`)}</title></rect>`,
        );
        if (Math.abs(Math.log2(v)) > span) {
          const ty = v > 1 ? y1 - 3 : y1 + 10;
          out.push(`<text x="${n(x + BAR / 2)}" y="${n(ty)}" text-anchor="middle" font-size="9">${fmtRatio(v)}</text>`);
        }
      }
      const lxp = gx + barsW / 2;
      const lyp = plotTop + PLOT_H + 24; // below the value of a bar clipped at the bottom
      if (flat) {
        out.push(`<text x="${n(lxp)}" y="${n(lyp)}" text-anchor="middle">${esc(g.label)}</text>`);
      } else {
        out.push(`<text x="${n(lxp)}" y="${n(lyp)}" text-anchor="end" transform="rotate(-35 ${n(lxp)} ${n(lyp)})">${esc(g.label)}</text>`);
      }
    }
  }
  const foot = `${report.quick ? 'quick run' : 'full run'}: medians of ${report.runs} runs after ${report.warmup} warm-up, ${report.date.slice(0, 10)}`;
  out.push(`<text x="${LEFT}" y="${height - 24}" fill="#555" font-size="10">${esc(foot)}</text>`);
  out.push(`<text x="${LEFT}" y="${height - 10}" fill="#555" font-size="10">${esc(machineLine(report.machine))}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
