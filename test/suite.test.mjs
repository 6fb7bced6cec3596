// Tests of `tsmalloc test-suite`: listing and selecting checks, --json, user checks, broken allocators, full runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { root, scratch, tsmalloc } from './helpers.mjs';

const BUILTIN = ['ls-l', 'ls-R', 'ps', 'cat', 'hostname', 'uname', 'java', 'vim-ex', 'vim-tty', 'bash', 'python3', 'node', 'gcc', 'git', 'perl', 'sqlite3', 'sort', 'tar-gzip', 'make'];

/** Runs test-suite with its temporary directories in a fresh TMPDIR, so a test can see that it left none behind. */
function suite(args, opts = {}) {
  const tmp = mkdtempSync(join(scratch(), 'tmp-'));
  const r = tsmalloc(['test-suite', ...args], { ...opts, env: { TMPDIR: tmp, ...opts.env }, timeout: 170_000 });
  return { ...r, leftBehind: readdirSync(tmp) };
}

function json(r) {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (status ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
}

const byName = (report) => Object.fromEntries(report.results.map((x) => [x.name, x]));

function checksFile(name, checks) {
  const file = join(scratch(), name);
  writeFileSync(file, JSON.stringify(checks, null, 2));
  return file;
}

/** Builds test/fixtures/<name>.c into a preloadable library. */
function brokenLib(name) {
  const out = join(scratch(), `${name}.so`);
  execFileSync('gcc', ['-shared', '-fPIC', '-O1', '-o', out, join(root, 'test', 'fixtures', `${name}.c`)]);
  return out;
}

test('--list names every built-in check with a description, and user checks too', () => {
  const r = suite(['--list']);
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.map((l) => l.split(/\s+/)[0]), BUILTIN);
  for (const l of lines) assert.match(l, /^\S+\s{2,}\S.*/);
  const file = checksFile('list.json', [{ name: 'mine', description: 'my own check', command: ['true'] }]);
  const r2 = suite(['--list', '--checks', file, '--only', 'mine,uname']);
  assert.is(r2.status, 0, r2.stderr);
  assert.is(r2.stdout, 'uname  uname -a\nmine   my own check\n');
});

test('--only and --exclude select checks; unknown names are a usage error listing the valid ones', () => {
  const r = suite(['--allocator', 'system', '--only', 'hostname,uname,ps', '--exclude', 'ps', '--json']);
  assert.is(r.status, 0, r.stderr);
  assert.equal(json(r).results.map((x) => x.name), ['hostname', 'uname']);

  const bad = suite(['--only', 'uname,nope']);
  assert.is(bad.status, 2);
  assert.is(bad.stderr, `tsmalloc: unknown check 'nope' in --only: valid checks are ${BUILTIN.join(', ')}\n`);
  const bad2 = suite(['--exclude', 'bogus', '--list']);
  assert.is(bad2.status, 2);
  assert.match(bad2.stderr, /^tsmalloc: unknown check 'bogus' in --exclude: valid checks are ls-l, /);
  const none = suite(['--only', 'uname', '--exclude', 'uname']);
  assert.is(none.status, 2);
  assert.is(none.stderr, 'tsmalloc: no checks left to run: check --only and --exclude\n');
});

test('bad --jobs, --timeout and allocator options are usage errors', () => {
  for (const [args, message] of [
    [['--jobs', '0'], "invalid --jobs value '0': expected a whole number above 0"],
    [['--jobs', '1.5'], "invalid --jobs value '1.5': expected a whole number above 0"],
    [['--timeout', 'soon'], "invalid --timeout value 'soon': expected a number of seconds above 0"],
    [['--allocator', 'nope'], "unknown allocator 'nope': choose one of "],
    [['--allocator', 'system', '--lib', 'x.so'], 'use either --allocator or --lib, not both'],
  ]) {
    const r = suite([...args, '--only', 'uname']);
    assert.is(r.status, 2, args.join(' '));
    assert.ok(r.stderr.startsWith(`tsmalloc: ${message}`), r.stderr);
    assert.is(r.stderr.split('\n').length, 2, 'one line');
  }
});

test('--json prints one object with every result, and progress goes to stderr', () => {
  const r = suite(['--allocator', 'simple', '--only', 'uname,hostname,bash', '--json']);
  assert.is(r.status, 0, r.stderr);
  const report = json(r);
  assert.equal(Object.keys(report), ['allocator', 'results', 'passed', 'failed', 'skipped']);
  assert.is(report.allocator, 'simple');
  assert.equal([report.passed, report.failed, report.skipped], [3, 0, 0]);
  for (const x of report.results) {
    assert.equal(Object.keys(x), ['name', 'status', 'seconds', 'detail']);
    assert.is(x.status, 'pass');
    assert.type(x.seconds, 'number');
    assert.is(x.detail, '');
  }
  assert.match(r.stderr, /^tsmalloc: running 3 checks on simple, \d+ at a time\n/);
  assert.match(r.stderr, /\[1\/3\] pass {2}\S+ {2}\d+\.\d\ds\n/);
  assert.equal(r.leftBehind, [], 'temporary directories are removed');
});

test('user checks: a pass, a difference, a timeout, and a missing program that is a skip naming it', () => {
  const file = checksFile('mine.json', [
    { name: 'words', command: ['wc', '-w', 'in.txt'], files: { 'in.txt': 'one two three\n' } },
    { name: 'stdin-sum', shell: 'awk "{ s += \\$1 } END { print s }"', stdin: '1\n2\n39\n', compare: 'sha256' },
    { name: 'exit-only', shell: 'echo "$RANDOM"; exit 3', compare: 'exit' },
    { name: 'sees-preload', shell: 'if [ -n "$LD_PRELOAD" ]; then echo preloaded; else echo plain; fi' },
    { name: 'slow-on-it', shell: '[ -z "$LD_PRELOAD" ] || sleep 20; echo done', env: { UNUSED: 'x' } },
    { name: 'not-here', command: ['no-such-program-xyz', '--version'], package: 'xyz-utils' },
  ]);
  const r = suite(['--allocator', 'simple', '--checks', file, '--only', 'words,stdin-sum,exit-only,sees-preload,slow-on-it,not-here', '--timeout', '2', '--json']);
  assert.is(r.status, 1, r.stderr);
  const report = json(r);
  const res = byName(report);
  assert.is(res.words.status, 'pass', res.words.detail);
  assert.is(res['stdin-sum'].status, 'pass', res['stdin-sum'].detail);
  assert.is(res['exit-only'].status, 'pass', res['exit-only'].detail);
  assert.is(res['sees-preload'].status, 'fail');
  assert.is(res['sees-preload'].detail, 'first difference at line 3 (- without the allocator, + with it):\n- plain\n+ preloaded');
  assert.is(res['slow-on-it'].status, 'fail');
  assert.is(res['slow-on-it'].detail, 'timed out after 2s');
  assert.is(res['not-here'].status, 'skip');
  assert.is(res['not-here'].detail, 'no-such-program-xyz is not installed: apt-get install -y xyz-utils');
  assert.equal([report.passed, report.failed, report.skipped], [3, 2, 1]);

  // The table shows the same, with the difference under the failed check.
  const t = suite(['--allocator', 'simple', '--checks', file, '--only', 'words,sees-preload,not-here']);
  assert.is(t.status, 1);
  assert.match(t.stdout, /^check {9}result {5}time\n/);
  assert.match(t.stdout, /\nsees-preload {2}fail {2}.*\n {4}first difference at line 3 .*\n {4}- plain\n {4}\+ preloaded\n/);
  assert.match(t.stdout, /\nnot-here {6}skip {2}.*\n {4}no-such-program-xyz is not installed: apt-get install -y xyz-utils\n/);
  assert.match(t.stdout, /\n1 passed, 1 failed, 1 skipped on simple\n$/);
});

test('a checks file with a mistake is a usage error naming the check and the field', () => {
  const cases = [
    [[{ name: 'a' }], 'check 1 ("a"): give exactly one of "command" and "shell"'],
    [[{ name: 'a', command: 'ls' }], 'check 1 ("a"): "command" must be a non-empty array of strings'],
    [[{ name: 'a', shell: 'true', compare: 'bytes' }], 'check 1 ("a"): "compare" must be one or more of stdout, stderr, exit, sha256'],
    [[{ name: 'uname', shell: 'true' }], 'check 1 ("uname"): the name is already used'],
    [[{ name: 'a', shell: 'true', colour: 1 }], 'check 1: unknown field "colour"'],
    [{ name: 'a' }, 'expected a JSON array of checks'],
  ];
  for (const [content, message] of cases) {
    const file = checksFile('bad.json', content);
    const r = suite(['--checks', file, '--list']);
    assert.is(r.status, 2);
    assert.ok(r.stderr.startsWith(`tsmalloc: invalid checks file ${file}: ${message}`), r.stderr);
  }
  const missing = suite(['--checks', join(scratch(), 'none.json')]);
  assert.is(missing.status, 2);
  assert.is(missing.stderr, `tsmalloc: cannot read checks file ${join(scratch(), 'none.json')}: no such file\n`);
});

test('an allocator whose malloc is misaligned by 8 fails the check that uses SSE vectors, with the crash', () => {
  const lib = brokenLib('broken-misaligned');
  const r = suite(['--lib', lib, '--only', 'uname,gcc,perl', '--json']);
  assert.is(r.status, 1, r.stderr);
  const res = byName(json(r));
  assert.is(res.uname.status, 'pass');
  assert.is(res.perl.status, 'pass');
  assert.is(res.gcc.status, 'fail');
  assert.match(res.gcc.detail, /\/prog crashed: killed by SIGSEGV/);
  assert.equal(r.leftBehind, [], 'the trial directories and the core are removed');
});

test('an allocator that hands out a block still in use fails the checks with the crash or the difference', () => {
  const lib = brokenLib('broken-reuse');
  const r = suite(['--lib', lib, '--only', 'uname,perl,sqlite3,make,bash', '--timeout', '20']);
  assert.is(r.status, 1, r.stderr);
  for (const name of ['perl', 'sqlite3', 'make', 'bash']) {
    assert.match(r.stdout, new RegExp(`\\n${name} +fail +\\d+\\.\\d\\ds\\n {4}(\\S+ crashed: killed by SIG[A-Z]+|first difference|timed out)`), name);
  }
  assert.match(r.stdout, /\nuname +pass /);
  assert.match(r.stdout, /\n1 passed, 4 failed, 0 skipped on /);
  // A crash comes with its backtrace (src/debug reads the core with gdb, where gdb is installed).
  if (spawnSync('gdb', ['--version']).status === 0) assert.match(r.stdout, /\n {4}thread 1 .*\n {6}#0 /);
  assert.equal(r.leftBehind, []);
});

test('every check passes on each bundled allocator', () => {
  const info = JSON.parse(tsmalloc(['info', '--json']).stdout);
  for (const { name } of info.bundled.filter((b) => b.path)) {
    const r = suite(['--allocator', name, '--json']);
    const report = json(r);
    const failures = report.results.filter((x) => x.status === 'fail').map((x) => `${x.name}: ${x.detail}`);
    assert.equal(failures, [], `${name}: ${failures.join('\n')}`);
    assert.is(r.status, 0);
    assert.is(report.passed + report.skipped, BUILTIN.length);
    for (const x of report.results.filter((x) => x.status === 'skip')) assert.match(x.detail, /is not installed: apt-get install -y \S+$/);
  }
});

test.run();
