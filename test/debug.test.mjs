// Tests of `tsmalloc debug`, `run --backtrace` and the crashReport API on real crashes of small C fixtures.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { cli, compileC, root, scratch, tsmalloc } from './helpers.mjs';

const { crashReport, formatCrashReport } = await import(join(root, 'dist', 'debug', 'index.js'));
const { locateCore } = await import(join(root, 'dist', 'debug', 'locate.js'));

// The crash tests need the kernel to write cores into the program's directory (core_pattern `core`, the default).
const corePattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
const coreUsesPid = readFileSync('/proc/sys/kernel/core_uses_pid', 'utf8').trim();
const localCores = /^core(\.%p)?$/.test(corePattern);
if (!localCores) console.warn(`debug.test.mjs: core_pattern is '${corePattern}', not 'core': skipping the tests that crash programs`);
const crashTest = localCores ? test : test.skip;

const build = (name, flags = []) => compileC(`test/fixtures/${name}.c`, ['-O0', ...flags]);
const crash = build('crash');

let dirs = 0;
/** A fresh directory to crash in, so each test finds only its own core. */
function crashDir() {
  const d = join(scratch(), `crash-${++dirs}`);
  mkdirSync(d, { recursive: true });
  return d;
}

const coresIn = (d) => readdirSync(d).filter((n) => /^core(\.\d+)?$/.test(n));

/** Removes the cores a test left, then checks none is left (the scratch root is removed at exit too). */
function clean(d) {
  for (const n of coresIn(d)) rmSync(join(d, n));
  assert.equal(coresIn(d), []);
}

/** `tsmalloc run` of a crashing program in `d`; returns run's result and the path of the core it left. */
function crashWith(d, args) {
  const r = tsmalloc(['run', ...args], { cwd: d });
  const cores = coresIn(d);
  assert.is(cores.length, 1, `one core expected in ${d}, found ${cores.join(' ')}; stderr: ${r.stderr}`);
  return { ...r, core: join(d, cores[0]) };
}

const functions = (thread) => thread.frames.map((f) => f.function);

/** The index of each name in order in `list`, failing when one is missing or out of order. */
function assertInOrder(list, names, what) {
  let at = -1;
  for (const n of names) {
    const i = list.indexOf(n, at + 1);
    assert.ok(i > at, `${what}: expected ${names.join(', ')} in order in ${JSON.stringify(list)}`);
    at = i;
  }
}

crashTest('run then debug: a crash three frames deep is named level3, level2, level1, main', () => {
  const d = crashDir();
  const r = crashWith(d, [crash, 'one', 'two words']);
  assert.is(r.status, 139);
  const text = tsmalloc(['debug'], { cwd: d });
  assert.is(text.status, 0, text.stderr);
  assert.is(text.stderr, '');
  assert.match(text.stdout, `program: ${crash} one 'two words'\n`);
  assert.match(text.stdout, 'signal:  SIGSEGV (Segmentation fault) at address 0x0\n');
  assert.match(text.stdout, `core:    ${r.core}\n`);
  assert.match(text.stdout, /#0 {2}level3 at \S*crash\.c:\d+\n {2}#1 {2}level2 at \S*crash\.c:\d+\n {2}#2 {2}level1 at \S*crash\.c:\d+\n {2}#3 {2}main at /);

  const json = tsmalloc(['debug', '--json', r.core], { cwd: d });
  assert.is(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.is(report.program, crash);
  assert.equal(report.args, ['one', 'two words']);
  assert.is(report.signal, 11);
  assert.is(report.signalName, 'SIGSEGV');
  assert.is(report.core, r.core);
  assert.is(report.threads.length, 1);
  const [t] = report.threads;
  assert.ok(t.crashed);
  assert.equal(functions(t).slice(0, 4), ['level3', 'level2', 'level1', 'main']);
  assert.ok(t.frames[0].file.endsWith('test/fixtures/crash.c'));
  assert.type(t.frames[0].line, 'number');
  assert.is(t.frames[0].library, crash);
  assert.match(t.frames[0].address, /^0x[0-9a-f]+$/);
  assert.is(t.frames[0].index, 0);
  clean(d);
});

crashTest('run --backtrace prints where the core went and the same report as debug, and keeps the status', () => {
  const d = crashDir();
  const r = crashWith(d, ['--backtrace', crash, 'arg']);
  assert.is(r.status, 139);
  const debug = tsmalloc(['debug'], { cwd: d });
  assert.is(debug.status, 0);
  assert.is(r.stderr, `tsmalloc: the program died of SIGSEGV; from its core:\n${debug.stdout}`);
  assert.match(r.stderr, `core:    ${r.core}\n`);
  clean(d);
});

crashTest('debug --full shows arguments and locals of each frame', () => {
  const d = crashDir();
  crashWith(d, [crash, 'x']);
  const r = tsmalloc(['debug', '--full'], { cwd: d });
  assert.is(r.status, 0, r.stderr);
  // level1(argc = 2) -> level2(3) -> doubled = 6 -> level3(6)
  assert.match(r.stdout, /#1 {2}level2 at [^\n]*\n {8}depth = 3\n {8}doubled = 6\n/);
  const report = JSON.parse(tsmalloc(['debug', '--full', '--json'], { cwd: d }).stdout);
  assert.equal(report.threads[0].frames[0].locals, [{ name: 'depth', value: '6', arg: true }]);
  clean(d);
});

crashTest('a crash in a second thread: that thread is the crashed one, --all-threads adds main', () => {
  const d = crashDir();
  const prog = build('crash_thread');
  assert.is(crashWith(d, [prog]).status, 139);
  const one = JSON.parse(tsmalloc(['debug', '--json'], { cwd: d }).stdout);
  assert.is(one.threads.length, 1);
  assert.ok(one.threads[0].crashed);
  assert.equal(functions(one.threads[0]).slice(0, 2), ['worker_fault', 'worker_main']);
  assert.is.not(one.threads[0].lwp, one.pid, 'the crashing thread is not the main thread');
  const all = tsmalloc(['debug', '--all-threads', '--json'], { cwd: d });
  const report = JSON.parse(all.stdout);
  assert.is(report.threads.length, 2);
  assert.equal(report.threads.map((t) => t.crashed), [true, false]);
  assert.ok(functions(report.threads[1]).includes('main'), JSON.stringify(report.threads[1]));
  const text = tsmalloc(['debug', '--all-threads'], { cwd: d }).stdout;
  assert.match(text, /thread \d+ \(LWP \d+\), which crashed:\n {2}#0 {2}worker_fault at /);
  assert.match(text, /\n\nthread \d+ \(LWP \d+\):\n/);
  clean(d);
});

crashTest('run --backtrace: a double free under simple prints the allocator line, SIGABRT and frames through free', () => {
  const d = crashDir();
  const prog = build('crash_double_free');
  const r = crashWith(d, ['--backtrace', '--allocator', 'simple', prog]);
  assert.is(r.status, 134);
  assert.match(r.stderr, /^tsmalloc: double free of 0x[0-9a-f]+ in free\(\)\n/);
  assert.match(r.stderr, 'tsmalloc: the program died of SIGABRT; from its core:\n');
  assert.match(r.stderr, `program: ${prog}\n`);
  assert.match(r.stderr, 'signal:  SIGABRT (Aborted)\n');
  assert.match(r.stderr, `core:    ${r.core}\n`);
  assert.match(r.stderr, /heap: {4}tsmalloc: double free of 0x[0-9a-f]+ in free\(\)\n/);
  assert.match(r.stderr, /#\d+ {2}free from simple\.glibc\.node\n {2}#\d+ {2}release_twice at \S*crash_double_free\.c:\d+\n {2}#\d+ {2}main at /);
  const report = JSON.parse(tsmalloc(['debug', '--json'], { cwd: d }).stdout);
  assert.is(report.signalName, 'SIGABRT');
  assert.match(report.allocatorMessage, /^tsmalloc: double free of 0x[0-9a-f]+ in free\(\)$/);
  assert.is(report.allocatorMessage, /tsmalloc: double free[^\n]*/.exec(r.stderr)[0]);
  assertInOrder(functions(report.threads[0]), ['free', 'release_twice', 'main'], 'double free');
  clean(d);
});

// The prebuilds keep their symbol table (scripts/prebuilds.mjs strips only the debug info), so a crash inside the
// bundled allocator names its own functions, not "?? from tsmalloc.glibc.node".
crashTest('run --backtrace: a double free under tsmalloc names the allocator\'s own frames', () => {
  const d = crashDir();
  const r = crashWith(d, ['--backtrace', build('crash_double_free')]);
  assert.is(r.status, 134);
  assert.match(r.stderr, /heap: {4}tsmalloc: double free of 0x[0-9a-f]+ in free\(\)\n/);
  assert.match(r.stderr, /#\d+ {2}ts_free from tsmalloc\.glibc\.node\n {2}#\d+ {2}release_twice at /);
  const report = JSON.parse(tsmalloc(['debug', '--json'], { cwd: d }).stdout);
  assertInOrder(functions(report.threads[0]), ['ts_misuse', 'ts_free', 'release_twice', 'main'], 'double free');
  clean(d);
});

crashTest('a crash inside a preloaded --lib malloc names the frame in that malloc', () => {
  const d = crashDir();
  const lib = build('badmalloc', ['-shared', '-fPIC']);
  const prog = build('crash_alloc');
  const r = crashWith(d, ['--backtrace', '--lib', lib, prog]);
  assert.is(r.status, 139);
  assert.match(r.stderr, /#0 {2}badmalloc_check at \S*badmalloc\.c:\d+ \(\S+\)\n {2}#1 {2}malloc at \S*badmalloc\.c:\d+ \(\S+\)\n {2}#2 {2}make_buffer at \S*crash_alloc\.c:\d+\n/);
  const report = JSON.parse(tsmalloc(['debug', '--json'], { cwd: d }).stdout);
  const [t] = report.threads;
  assert.equal(functions(t).slice(0, 4), ['badmalloc_check', 'malloc', 'make_buffer', 'main']);
  assert.is(t.frames[1].library, lib);
  assert.ok(t.frames[1].file.endsWith('badmalloc.c'));
  clean(d);
});

test('run --backtrace leaves exit status and output alone when nothing crashes', () => {
  const d = crashDir();
  const r = tsmalloc(['run', '--backtrace', 'sh', '-c', 'echo out; exit 3'], { cwd: d });
  assert.is(r.status, 3);
  assert.is(r.stdout, 'out\n');
  assert.is(r.stderr, '');
  const killed = tsmalloc(['run', '--backtrace', 'sh', '-c', 'kill -TERM $$'], { cwd: d });
  assert.is(killed.status, 143);
  assert.is(killed.stderr, '', 'SIGTERM is not a crash');
  assert.equal(coresIn(d), []);
});

crashTest('gdb not installed: one line saying how to install it, exit 1', () => {
  const d = crashDir();
  const { core } = crashWith(d, [crash]);
  const bin = join(d, 'bin');
  mkdirSync(bin);
  const r = tsmalloc(['debug', core], { cwd: d, env: { PATH: bin } });
  assert.is(r.status, 1);
  assert.is(r.stderr, 'tsmalloc: gdb not found: apt-get install gdb\n');
  clean(d);
  // run --backtrace still exits with the program's status, and says why there is no backtrace.
  const prlimit = execFileSync('sh', ['-c', 'command -v prlimit'], { encoding: 'utf8' }).trim();
  symlinkSync(prlimit, join(bin, 'prlimit'));
  const run = tsmalloc(['run', '--backtrace', crash], { cwd: d, env: { PATH: bin } });
  assert.is(run.status, 139);
  assert.is(run.stderr, 'tsmalloc: SIGSEGV and no backtrace: gdb not found: apt-get install gdb\n');
  clean(d);
});

test('a file that is not a core: exit 1 and say what it is', () => {
  const d = crashDir();
  const text = join(d, 'notes.txt');
  writeFileSync(text, 'hello\n');
  const r = tsmalloc(['debug', text], { cwd: d });
  assert.is(r.status, 1);
  assert.is(r.stderr, `tsmalloc: not a core file: ${text} is not an ELF file\n`);
  const exe = tsmalloc(['debug', crash], { cwd: d });
  assert.is(exe.status, 1);
  assert.is(exe.stderr, `tsmalloc: not a core file: ${crash} is an ELF executable\n`);
  const missing = tsmalloc(['debug', 'core.99999'], { cwd: d });
  assert.is(missing.status, 1);
  assert.is(missing.stderr, `tsmalloc: core file not found: ${join(d, 'core.99999')}\n`);
});

crashTest('a program rebuilt after the crash no longer matches the core: exit 1 and say so', () => {
  const d = crashDir();
  const prog = join(d, 'prog');
  copyFileSync(crash, prog);
  chmodSync(prog, 0o755);
  const { core } = crashWith(d, [prog]);
  assert.is(tsmalloc(['debug'], { cwd: d }).status, 0);
  copyFileSync(compileC('test/fixtures/crash.c', ['-O1']), prog); // "rebuilt": same path, other code
  const r = tsmalloc(['debug'], { cwd: d });
  assert.is(r.status, 1);
  assert.match(r.stderr, new RegExp(`^tsmalloc: ${prog} does not match the core ${core}: its build-id is [0-9a-f]+, the crashed program's was [0-9a-f]+ \\(rebuilt after the crash\\?\\)`));
  assert.is(r.stderr.split('\n').length, 2, 'one line');
  const thread = build('crash_thread');
  const other = tsmalloc(['debug', '--program', thread, core], { cwd: d });
  assert.is(other.status, 1);
  assert.match(other.stderr, new RegExp(`^tsmalloc: ${thread} is not the program that dumped ${core}: its build-id is [0-9a-f]+, the crashed program's was [0-9a-f]+: that was ${prog}\n$`));
  rmSync(prog);
  const gone = tsmalloc(['debug'], { cwd: d });
  assert.is(gone.status, 1);
  assert.is(gone.stderr, `tsmalloc: the program that dumped ${core} is gone: ${prog} does not exist (give it with --program <path>)\n`);
  clean(d);
});

crashTest('no core: debug says where it looked and why (a core limit of 0)', () => {
  const d = crashDir();
  const r = tsmalloc(['debug'], { cwd: d });
  assert.is(r.status, 1);
  assert.is(r.stderr.split('\n')[0].replace(/; the core file size limit is 0.*/, ''), `tsmalloc: no core file found: looked for ${d}/core[.<pid>] (core_pattern '${corePattern}', core_uses_pid ${coreUsesPid})`);
  const sh = (cmd) => spawnSync('sh', ['-c', cmd], { cwd: d, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const zero = sh(`ulimit -S -c 0; exec "${process.execPath}" "${cli}" debug`);
  assert.is(zero.status, 1);
  assert.match(zero.stderr, 'the core file size limit is 0 (ulimit -c)');
  const run = sh(`ulimit -S -c 0; exec "${process.execPath}" "${cli}" run --no-core --backtrace "${crash}"`);
  assert.is(run.status, 139);
  assert.match(run.stderr, /^tsmalloc: SIGSEGV and no backtrace: no core file found: [^\n]*the core file size limit is 0 \(ulimit -c\)[^\n]*\n$/);
  assert.equal(coresIn(d), []);
});

crashTest('crashReport and formatCrashReport: the API gives the data and text debug prints', async () => {
  const d = crashDir();
  const { core } = crashWith(d, [crash]);
  const { pid } = JSON.parse(tsmalloc(['debug', '--json'], { cwd: d }).stdout);
  const report = await crashReport({ pid, program: crash, cwd: d, coreLimitRaised: true });
  assert.is(report.core, core);
  assert.is(report.signalName, 'SIGSEGV');
  assert.equal(functions(report.threads[0]).slice(0, 3), ['level3', 'level2', 'level1']);
  assert.is(formatCrashReport(report, d), tsmalloc(['debug'], { cwd: d }).stdout);
  assert.is(await crashReport({ pid: pid + 1, program: crash, cwd: d, coreLimitRaised: true }), null, 'another pid has no core');
  clean(d);
});

let fixtureCore;
/** One real core of the crash fixture, kept outside the crash directories, and the pid that dumped it. */
function realCore() {
  if (fixtureCore) return fixtureCore;
  const d = crashDir();
  const { core } = crashWith(d, [crash]);
  const { pid } = JSON.parse(tsmalloc(['debug', '--json'], { cwd: d }).stdout);
  const path = join(scratch(), 'fixture-core');
  copyFileSync(core, path);
  clean(d);
  fixtureCore = { path, pid };
  return fixtureCore;
}

/** Puts a copy of the real core at `dest` (creating directories). */
function placeCore(dest) {
  mkdirSync(join(dest, '..'), { recursive: true });
  copyFileSync(realCore().path, dest);
  return dest;
}

crashTest('core_pattern files: core_uses_pid, and %e %p %t %h %u %s in directories and names', async () => {
  const { pid } = realCore();
  const d = crashDir();
  const withPid = placeCore(join(d, `core.${pid}`));
  const found = await locateCore({ pid, program: crash, cwd: d, corePattern: 'core', coreUsesPid: true });
  assert.is(found.found?.path, withPid);
  assert.is(found.found.source, 'file');
  const other = await locateCore({ pid: pid + 1, program: crash, cwd: d, corePattern: 'core', coreUsesPid: true, coreLimitRaised: true });
  assert.is(other.missing, `no core file found: looked for ${d}/core.${pid + 1} (core_pattern 'core', core_uses_pid 1)`);
  rmSync(withPid);

  const comm = crash.split('/').pop().slice(0, 15);
  const named = placeCore(join(d, 'cores', `${comm}.${pid}.1764200000`));
  const byPid = await locateCore({ pid, program: crash, cwd: d, corePattern: 'cores/%e.%p.%t' });
  assert.is(byPid.found?.path, named);
  const newest = await locateCore({ cwd: d, corePattern: 'cores/%e.%p.%t' });
  assert.is(newest.found?.path, named, 'without a pid: the newest core that fits the pattern');

  const { hostname } = await import('node:os');
  const abs = placeCore(join(d, 'abs', hostname(), `core-${process.getuid()}-11`));
  const byHost = await locateCore({ pid, program: crash, cwd: '/', signal: 11, corePattern: `${d}/abs/%h/core-%u-%s` });
  assert.is(byHost.found?.path, abs);
  const missing = await locateCore({ pid, program: crash, cwd: d, signal: 6, corePattern: `${d}/abs/%h/core-%u-%s`, coreLimitRaised: true });
  assert.match(missing.missing, `looked for ${d}/abs/${hostname()}/core-${process.getuid()}-6 (core_pattern`);
  const shown = await locateCore({ cwd: d, corePattern: `${d}/none/%e-%t`, coreLimitRaised: true });
  assert.match(shown.missing, `looked for ${d}/none/*-*`);
});

crashTest('core_pattern pipes: a handler that is not installed, systemd-coredump through coredumpctl, apport reports', async () => {
  const { pid, path: core } = realCore();
  const d = crashDir();
  const gone = await locateCore({ pid, cwd: d, corePattern: '|/nonexistent/systemd-coredump %P %u %g %s %t %c %h' });
  assert.is(gone.missing, 'no core found: core_pattern pipes cores to /nonexistent/systemd-coredump, which is not installed, so the kernel dropped the core');
  const other = await locateCore({ pid, cwd: d, corePattern: '|/nonexistent/handler %p' });
  assert.match(other.missing, 'pipes cores to /nonexistent/handler, which is not installed');

  // A stand-in coredumpctl that has the core of one pid only.
  const bin = join(d, 'bin');
  mkdirSync(bin);
  writeFileSync(join(d, 'systemd-coredump'), '');
  writeFileSync(
    join(bin, 'coredumpctl'),
    `#!/bin/sh\nout=''\nhave=''\nfor a; do case "$a" in --output=*) out="\${a#--output=}";; ${pid}) have=1;; esac; done\n` +
      `[ -n "$have" ] || { echo 'No coredumps found.' >&2; exit 1; }\ncp '${core}' "$out"\n`,
  );
  chmodSync(join(bin, 'coredumpctl'), 0o755);
  const savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${savedPath}`;
  try {
    const cd = await locateCore({ pid, cwd: d, corePattern: `|${d}/systemd-coredump %P %u %g %s %t %c %h` });
    assert.is(cd.found?.source, 'coredumpctl');
    assert.is(cd.found.where, `systemd-coredump (coredumpctl dump ${pid})`);
    assert.ok(readFileSync(cd.found.path).equals(readFileSync(core)));
    cd.found.cleanup();
    assert.not.ok(existsSync(cd.found.path), 'the temporary copy is removed');
  } finally {
    process.env.PATH = savedPath;
  }

  // An apport report: CoreDump is base64 lines of one gzip stream.
  writeFileSync(join(d, 'apport'), '');
  const crashes = join(d, 'var-crash');
  mkdirSync(crashes);
  const gz = gzipSync(readFileSync(core));
  const lines = [];
  for (let i = 0; i < gz.length; i += 57) lines.push(` ${gz.subarray(i, i + 57).toString('base64')}`);
  writeFileSync(
    join(crashes, '_tmp_prog.0.crash'),
    `ProblemType: Crash\nExecutablePath: ${crash}\nProcCwd: ${d}\nProcStatus:\n Name:\tprog\n Pid:\t${pid}\nCoreDump: base64\n${lines.join('\n')}\nSignal: 11\n`,
  );
  const ap = await locateCore({ pid, cwd: d, corePattern: `|${d}/apport %p %s %c %d %P %E`, apportDir: crashes });
  assert.is(ap.found?.source, 'apport');
  assert.is(ap.found.where, join(crashes, '_tmp_prog.0.crash'));
  assert.ok(readFileSync(ap.found.path).equals(readFileSync(core)));
  ap.found.cleanup();
  const none = await locateCore({ pid: pid + 1, cwd: d, corePattern: `|${d}/apport %p`, apportDir: crashes });
  assert.is(none.missing, `no core found: core_pattern pipes cores to apport, and ${crashes} has no report with a core for pid ${pid + 1}`);
});

test.run();
