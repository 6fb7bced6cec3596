// Tests for `tsmalloc bench`: statistics and ratios, option errors, output formats and one quick JSON run of the CLI.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildReport, formatCsv, formatMarkdown, formatTable } from '../dist/bench/report.js';
import { parseMetrics } from '../dist/bench/runner.js';
import { geomean, median, ratio } from '../dist/bench/stats.js';
import { renderSvg } from '../dist/bench/svg.js';
import { tsmalloc as run } from './helpers.mjs';

const tsmalloc = (...args) => run(args);

const close = (a, b) => Math.abs(a - b) < 1e-9;

test('median: odd and even counts, unsorted input, non-finite values ignored', () => {
  assert.is(median([3, 1, 2]), 2);
  assert.is(median([4, 1, 3, 2]), 2.5);
  assert.is(median([5]), 5);
  assert.is(median([]), null);
  assert.is(median([NaN, 7, Infinity]), 7);
});

test('geomean: exact on powers, skips non-positive values, null when empty', () => {
  assert.ok(close(geomean([2, 8]), 4));
  assert.ok(close(geomean([0.5, 2]), 1));
  assert.ok(close(geomean([1, 1, 1]), 1));
  assert.ok(close(geomean([4, 0, -1]), 4));
  assert.is(geomean([]), null);
});

test('ratio: value over baseline, null for a missing or zero baseline', () => {
  assert.is(ratio(3, 2), 1.5);
  assert.is(ratio(3, null), null);
  assert.is(ratio(null, 2), null);
  assert.is(ratio(3, 0), null);
});

test('parseMetrics: key=value lines only', () => {
  assert.equal(parseMetrics('ns_per_pair=6.5\nnoise\nrss_left_kib=1024\nbad=x\n a=1\n'), { ns_per_pair: 6.5, rss_left_kib: 1024 });
});

// A synthetic bench: two workloads, glibc and one contender, and a floor that only ran the first workload.
function syntheticReport() {
  const sample = (wall, rss, extra = {}) => ({ wall, user: wall / 2, sys: wall / 4, rss_kib: rss, extra });
  const workloads = [
    { name: 'one', title: 'first', threads: false, metrics: [{ key: 'ns_per_pair', label: 'ns/pair', unit: 'ns' }], prepare() {} },
    { name: 'two', title: 'second', threads: true, metrics: [], prepare() {} },
  ];
  const cells = [
    { allocator: 'system', workload: 'one', samples: [sample(2, 100, { ns_per_pair: 8 }), sample(1, 100, { ns_per_pair: 9 }), sample(3, 300, { ns_per_pair: 7 })] },
    { allocator: 'fast', workload: 'one', samples: [sample(1, 200, { ns_per_pair: 4 }), sample(1, 200, { ns_per_pair: 4 }), sample(9, 200, { ns_per_pair: 4 })] },
    { allocator: 'floor', workload: 'one', samples: [sample(0.5, 100), sample(0.5, 100), sample(0.5, 100)] },
    { allocator: 'system', workload: 'two', samples: [sample(4, 1000), sample(4, 1000), sample(4, 1000)] },
    { allocator: 'fast', workload: 'two', samples: [sample(16, 250), sample(16, 250), sample(16, 250)] },
    { allocator: 'floor', workload: 'two', samples: [], skipped: 'not thread safe' },
  ];
  return buildReport({
    command: 'tsmalloc bench',
    quick: true,
    runs: 3,
    warmup: 1,
    machine: { cpu: 'cpu', cores: 2, memory_mib: 1024, kernel: 'Linux', os: 'os', libc: 'glibc 2.36', node: 'v20' },
    allocators: [
      { name: 'system', path: null, kind: 'system' },
      { name: 'fast', path: '/x/fast.so', kind: 'lib' },
      { name: 'floor', path: '/x/floor.so', kind: 'reference', singleThreadOnly: true },
    ],
    workloads,
    cells,
    date: new Date('2026-01-02T03:04:05Z'),
  });
}

test('buildReport: medians, ratios to glibc and geometric means', () => {
  const r = syntheticReport();
  const get = (a, w) => r.results.find((x) => x.allocator === a && x.workload === w);
  assert.is(get('system', 'one').time, 2);
  assert.is(get('system', 'one').rss, 100);
  assert.is(get('system', 'one').ratio_time, 1);
  assert.is(get('fast', 'one').time, 1);
  assert.is(get('fast', 'one').ratio_time, 0.5);
  assert.is(get('fast', 'one').ratio_rss, 2);
  assert.is(get('fast', 'one').extra.ns_per_pair, 4);
  assert.is(get('system', 'one').extra.ns_per_pair, 8);
  assert.is(get('fast', 'two').ratio_time, 4);
  assert.is(get('fast', 'two').ratio_rss, 0.25);
  assert.is(get('fast', 'one').runs.length, 3);
  assert.is(get('floor', 'two'), undefined);
  assert.equal(r.skipped, [{ allocator: 'floor', workload: 'two', reason: 'not thread safe' }]);
  const g = Object.fromEntries(r.geomean.map((x) => [x.allocator, x]));
  assert.ok(close(g.fast.ratio_time, Math.sqrt(0.5 * 4)));
  assert.ok(close(g.fast.ratio_rss, Math.sqrt(2 * 0.25)));
  assert.is(g.fast.workloads, 2);
  assert.is(g.floor.workloads, 1);
  assert.ok(close(g.floor.ratio_time, 0.25));
});

test('formats: table, CSV, Markdown and SVG carry the numbers', () => {
  const r = syntheticReport();
  const table = formatTable(r);
  assert.match(table, /machine: cpu, 2 cores/);
  assert.match(table, /fast\s+1\.000 s\s+0\.50/);
  assert.match(table, /geometric mean/);
  const csv = formatCsv(r).trim().split('\n');
  assert.is(csv[0], 'workload,allocator,time_s,ratio_time,user_sys_s,rss_kib,ratio_rss,runs,ns_per_pair,error');
  assert.ok(csv.includes('one,fast,1,0.5,0.75,200,2,3,4,'));
  assert.match(formatMarkdown(r), /\| one \| 2\.000 s \(1\.00×\) \| 1\.000 s \(0\.50×\) \|/);
  const svg = renderSvg(r);
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.match(svg, /fast, one: 0\.50× glibc/);
  assert.is((svg.match(/<text /g) ?? []).length, (svg.match(/<\/text>/g) ?? []).length);
});

test('an unknown workload is a usage error that lists the valid ones (exit 2)', () => {
  const r = tsmalloc('bench', '--only', 'churn,nope', '--allocators', 'system');
  assert.is(r.status, 2);
  assert.match(r.stderr, /unknown workload 'nope' in --only: valid workloads are churn, threads,/);
  assert.not.match(r.stderr, /at .*\.js:\d+/); // no stack trace
  assert.is(r.stdout, '');
});

test('--exclude checks its names too', () => {
  const r = tsmalloc('bench', '--exclude', 'chrun');
  assert.is(r.status, 2);
  assert.match(r.stderr, /unknown workload 'chrun' in --exclude/);
});

test('a bad --runs value is a usage error (exit 2)', () => {
  for (const bad of ['0', 'two', '-1', '2.5']) {
    const r = tsmalloc('bench', '--runs', bad, '--only', 'pair');
    assert.is(r.status, 2, `--runs ${bad}`);
    assert.match(r.stderr, new RegExp(`invalid --runs value '${bad.replace('.', '\\.')}': expected a whole number from 1 to 100`));
  }
});

test('an unknown allocator is a usage error (exit 2)', () => {
  const r = tsmalloc('bench', '--allocators', 'system,glibcc', '--only', 'pair');
  assert.is(r.status, 2);
  assert.match(r.stderr, /unknown allocator 'glibcc' in --allocators: valid names are tsmalloc, simple, system/);
});

test('--json and --csv together are refused (exit 2)', () => {
  const r = tsmalloc('bench', '--json', '--csv', '--only', 'pair');
  assert.is(r.status, 2);
  assert.match(r.stderr, /--json and --csv/);
});

// Builds of older bench sources are removed from the package's cache; its other entries (inputs, unknown names) stay.
test('a run removes the builds of older bench sources from the cache', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.cache', 'tsmalloc-bench');
  const stale = join(root, '0123456789abcdef');
  const other = join(root, 'not-a-build');
  mkdirSync(stale, { recursive: true });
  mkdirSync(other, { recursive: true });
  writeFileSync(join(stale, 'measure'), '');
  try {
    const r = tsmalloc('bench', '--quick', '--only', 'pair', '--allocators', 'system', '--runs', '1');
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stderr, /removed \d+ builds? of older bench sources/);
    assert.not.ok(existsSync(stale), 'the stale build is gone');
    assert.ok(existsSync(other), 'a directory that is not a build stays');
    assert.ok(readdirSync(root).some((n) => /^[0-9a-f]{16}$/.test(n)), 'the current build stays');
  } finally {
    rmSync(stale, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  }
});

test('--list names every workload', () => {
  const r = tsmalloc('bench', '--list');
  assert.is(r.status, 0);
  for (const w of ['churn', 'threads', 'prodcons', 'larson', 'realloc', 'large', 'fragment', 'threadchurn', 'threadwork', 'pair', 'burst', 'python', 'gcc', 'sqlite']) {
    assert.match(r.stdout, new RegExp(`^  ${w} `, 'm'));
  }
});

test('a quick JSON run has the documented fields', () => {
  const r = tsmalloc('bench', '--quick', '--only', 'pair,churn', '--allocators', 'tsmalloc,system', '--json');
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  for (const k of ['cpu', 'cores', 'kernel', 'libc']) assert.ok(report.machine[k], `machine.${k}`);
  assert.is(report.baseline, 'system');
  assert.equal(report.workloads.map((w) => w.name), ['churn', 'pair']);
  const names = report.allocators.map((a) => a.name);
  assert.ok(names.includes('system'));
  assert.is(report.results.length, names.length * 2);
  for (const res of report.results) {
    assert.type(res.allocator, 'string');
    assert.type(res.workload, 'string');
    assert.is(res.error, undefined, res.error);
    assert.ok(res.time > 0, 'time in seconds');
    assert.ok(res.time < 60, 'time in seconds');
    assert.ok(res.rss > 100, 'rss in KiB');
    assert.ok(res.user_sys >= 0);
    assert.ok(Array.isArray(res.runs));
    assert.is(res.runs.length, 3);
    assert.type(res.ratio_time, 'number');
    assert.type(res.ratio_rss, 'number');
    assert.type(res.extra, 'object');
    if (res.allocator === 'system') assert.is(res.ratio_time, 1);
    if (res.workload === 'pair') assert.ok(res.extra.ns_per_pair > 0);
  }
  assert.is(report.geomean.length, names.length);
  for (const g of report.geomean) assert.type(g.ratio_time, 'number');
});

test.run();
