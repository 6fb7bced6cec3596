// The default allocator under LD_PRELOAD: stress, fork, thread exit, RSS after a burst, the retain limit, options,
// statistics, sanitizer builds of the stress and fuzz tests, and the real programs the issue names. (Introspection
// and the extra entry points are checked for every bundled allocator in allocators.test.mjs.)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { bundledPath, compileC, root, scratch, tsmalloc } from './helpers.mjs';

const lib = bundledPath('tsmalloc');
const run = (args, opts) => tsmalloc(['run', '--no-core', '--allocator', 'tsmalloc', ...args], opts);

/** Asserts a C test program exited 0 and its last line reports no failures. */
function passes(r, what) {
  assert.is(r.status, 0, `${what}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
}

test('tsmalloc is the default allocator of run', () => {
  const r = tsmalloc(['run', 'cat', '/proc/self/maps']);
  assert.ok(r.stdout.includes(lib));
});

test('multi-thread stress with migrating objects and verified contents', () => {
  passes(run([compileC('test/c/stress.c')], { timeout: 180_000 }), 'stress');
});

test('fork while other threads allocate; fork + getline + fflush(NULL)', () => {
  passes(run([compileC('test/c/fork.c')], { timeout: 180_000 }), 'fork');
});

// Fails without lending (the block of the larger class is not the one that comes back), when lending ignores the
// blocks another thread freed into the lender's page, and when an aligned request may borrow (a 1056-byte block is
// not 1024-aligned). Its threads must start on heaps of their own, with no pages
// (TSMALLOC_YOUNG_MALLOCS=0): the shared heap young threads use holds other threads' blocks.
test('a class short of blocks borrows a slightly larger free block; aligned requests never do', () => {
  passes(run([compileC('test/c/lend.c')], { env: { TSMALLOC_YOUNG_MALLOCS: '0' } }), 'lend');
});

// free() does not read the block it frees (csrc/tsmalloc/free.c): a double free it cannot see must be named by the
// malloc that would hand the block out again, or before its page is given back, and never handed out twice. The
// write after free is new with the tag check in malloc; without the check of emptied pages, page-empty survives.
for (const [kind, message, call] of [
  ['later-malloc', 'double free', 'malloc'],
  ['page-empty', 'double free', 'free'],
  ['remote', 'double free', 'malloc'],
  ['write-after-free', 'double free or write after free', 'malloc'],
]) {
  test(`a ${kind} misuse that free() cannot see is named before it does harm`, () => {
    const r = run([compileC('test/c/late_misuse.c'), kind]);
    assert.is(r.status, 134, `expected SIGABRT, got ${r.status}: ${r.stdout}\n${r.stderr}`);
    const expect = /^expect (0x[0-9a-f]+)$/m.exec(r.stdout)?.[1];
    assert.ok(expect, r.stdout);
    assert.is(r.stderr, `tsmalloc: ${message} of ${expect} in ${call}()\n`);
    const got = r.stdout.split('\n').filter((l) => l === `got ${expect}`).length;
    assert.ok(got <= 1, `${expect} was handed out ${got} times`);
    assert.not.match(r.stdout, /survived/);
  });
}

test('frees after thread teardown and of exited threads\' blocks', () => {
  passes(run([compileC('test/c/thread_exit.c')]), 'thread_exit');
});

// A thread's first small mallocs come from the shared heap: 200 threads alive at once with 12 blocks each own no
// segments (mallinfo2's arena counts owned segments, 4 MiB each). Fails without the shared heap (804 MiB), when a
// thread past TSMALLOC_YOUNG_MALLOCS mallocs does not get a heap of its own, and when the option does not turn it
// off. Blocks left to main are checked and freed across threads.
test('young threads allocate from the shared heap until TSMALLOC_YOUNG_MALLOCS, then from their own', () => {
  const prog = compileC('test/c/young.c');
  const arena = (r) => Number(/^arena_mib=(\d+)$/m.exec(r.stdout)?.[1]);
  const young = run([prog, '200', '12'], { timeout: 60_000 });
  passes(young, 'young 200 12');
  assert.ok(arena(young) <= 16, `200 threads of 12 mallocs: arena ${arena(young)} MiB`);
  const grown = run([prog, '200', '200'], { timeout: 60_000 });
  passes(grown, 'young 200 200');
  assert.ok(arena(grown) >= 200 * 4, `200 threads of 200 mallocs: arena ${arena(grown)} MiB`);
  const off = run([prog, '200', '12'], { env: { TSMALLOC_YOUNG_MALLOCS: '0' }, timeout: 60_000 });
  passes(off, 'young 200 12, TSMALLOC_YOUNG_MALLOCS=0');
  assert.ok(arena(off) >= 200 * 4, `TSMALLOC_YOUNG_MALLOCS=0: arena ${arena(off)} MiB`);
});

// Fails when the shared heap keeps what young threads freed into it: its pages hold all 31 MB after the idle spell.
test('what young threads freed into the shared heap goes back to the OS while the program idles', () => {
  const r = run([compileC('test/c/young_return.c')], { timeout: 60_000 });
  passes(r, 'young_return');
  const peak = Number(/rss_peak_kib=(\d+)/.exec(r.stdout)?.[1]);
  const idle = Number(/rss_idle_kib=(\d+)/.exec(r.stdout)?.[1]);
  assert.ok(peak > 20_000, r.stdout);
  assert.ok(idle < peak / 2, r.stdout);
});

// Many threads at once, and waves of them with every freed segment purged (TSMALLOC_RETAIN_KB=0), each thread on a
// heap of its own (TSMALLOC_YOUNG_MALLOCS=0: young threads would use the shared heap and free no segment). Fails
// when a purged segment is not used again: each wave then takes fresh ones from the arena (58 segments named
// instead of at most a wave's 16 and main's).
test('waves of threads: 1000 at once, and purged segments serve the next wave', () => {
  const prog = compileC('test/c/thread_waves.c');
  passes(run([prog, '1', '1000'], { timeout: 120_000 }), 'thread_waves 1000');
  const r = run([prog, '20', '16'], {
    env: { TSMALLOC_VERBOSE: '2', TSMALLOC_RETAIN_KB: '0', TSMALLOC_YOUNG_MALLOCS: '0' },
  });
  passes(r, 'thread_waves 20x16');
  const segments = new Set(
    [...r.stderr.matchAll(/^tsmalloc: purged \d+ KiB at 0x([0-9a-f]+)$/gm)].map((m) => BigInt(`0x${m[1]}`) >> 22n),
  );
  assert.ok(segments.size > 0, 'no purge was reported');
  assert.ok(segments.size <= 16 + 8, `the purges named ${segments.size} segments`);
});

// Fails when the cache merges side-by-side freed blocks past its limit (all 320 MiB stayed resident), and when calloc
// zeroes a reused span by writing it (the whole span became resident).
test('freed large blocks: the cache stays under TSMALLOC_LARGE_CACHE_MB, and calloc from it touches nothing', () => {
  passes(run([compileC('test/c/large_cache.c')], { env: { TSMALLOC_LARGE_CACHE_MB: '64' } }), 'large_cache');
});

// Fails without adoption on free: the blocks main frees sit in the exited worker's segments, free but owned by no
// thread, and all 64 MiB stays resident.
test('an exited thread\'s memory that another thread frees goes back to the OS', () => {
  passes(run([compileC('test/c/reclaim.c')], { timeout: 120_000 }), 'reclaim');
});

// Fails when only a page's owner reuses the blocks freed into it (peak RSS grew 15x the live data), and when the
// blocks a thread keeps from other threads' pages count as in use in mallinfo2.
test('threads freeing each other\'s blocks reuse them, with contents intact and kept blocks counted as free', () => {
  passes(run([compileC('test/c/shared_table.c')], { timeout: 120_000 }), 'shared_table');
});

// Fails when the arena under a limit is half of the largest power of two that fits (930 MiB here), and when it
// leaves no room for a large block.
test('under ulimit -v, blocks up to 128 KiB get half of what fits and large blocks the rest', () => {
  const prog = compileC('test/c/addr_limit.c');
  passes(run(['sh', '-c', `ulimit -v 3000000 && exec "${prog}" 1200`]), 'addr_limit');
});

test('RSS comes down after a burst of small blocks is freed', () => {
  const r = run([compileC('test/c/rss.c')], { env: { TS_RSS_EXPECT_MAX_PERCENT: '10' }, timeout: 180_000 });
  passes(r, 'rss');
  assert.match(r.stdout, /rss_after_free_kib=\d+ peak_kib=\d+/);
});

// With a retain limit above the burst nothing is purged at once: all of it waits for the purge delay. The idle loop
// frees onto pages that never run dry, so only the malloc countdown (page.c, ts_pop_hooked) gets a purge done;
// without it 100% of the burst stays resident.
test('RSS comes down after the purge delay in a program that never takes the slow path', () => {
  const r = run([compileC('test/c/rss.c'), '300'], {
    env: { TS_RSS_EXPECT_MAX_PERCENT: '10', TSMALLOC_RETAIN_KB: String(1 << 20) },
    timeout: 180_000,
  });
  passes(r, 'rss');
});

// The retain limit weighs what free pages really hold: short-lived threads that each touch about 550 KiB in 61
// pages (6.6 MiB of slices) stay below a 2 MiB limit, so nothing is purged at once (the purge delay is set out of
// reach). With the limit at 0 the same run purges, which shows the count below can see purges.
test('the retain limit counts what free pages hold, not their 64 KiB slices', () => {
  const env = { TSMALLOC_VERBOSE: '2', TSMALLOC_PURGE_DELAY_MS: '60000' };
  const purges = (r) => (r.stderr.match(/^tsmalloc: purged /gm) || []).length;
  const prog = compileC('test/c/retain.c');
  const quiet = run([prog], { env: { ...env, TSMALLOC_RETAIN_KB: '2048' } });
  passes(quiet, 'retain');
  assert.is(purges(quiet), 0, quiet.stderr.split('\n').filter((l) => l.includes('purged')).slice(0, 5).join('\n'));
  const eager = run([prog], { env: { ...env, TSMALLOC_RETAIN_KB: '0' } });
  passes(eager, 'retain');
  assert.ok(purges(eager) > 100, `TSMALLOC_RETAIN_KB=0 purged ${purges(eager)} times`);
});

// Fails when the limit returns whole segments (the block just freed goes too), when it returns memory freed a
// moment ago below the hard limit, and when it returns nothing.
test('beyond the retain limit memory idle longest is returned first, memory just freed is kept', () => {
  const r = run([compileC('test/c/purge_order.c')], {
    env: { TSMALLOC_RETAIN_KB: '256', TSMALLOC_PURGE_DELAY_MS: '3600000' },
  });
  passes(r, 'purge_order');
});

// A setting made for an older version keeps working, with a note.
test('TSMALLOC_RETAIN_MB is still read, as TSMALLOC_RETAIN_KB', () => {
  const r = run(['true'], { env: { TSMALLOC_RETAIN_MB: '3', TSMALLOC_VERBOSE: '1' } });
  assert.is(r.status, 0);
  assert.match(r.stderr, /^tsmalloc: TSMALLOC_RETAIN_MB is now TSMALLOC_RETAIN_KB; using TSMALLOC_RETAIN_KB=3072\n/);
  assert.match(r.stderr, /^tsmalloc: TSMALLOC_RETAIN_KB=3072$/m);
});

for (const [name, flags, env, programs, timeout] of [
  // thread_waves runs with TSMALLOC_RETAIN_KB=0 and TSMALLOC_YOUNG_MALLOCS=0, so that every segment its threads
  // free is purged (segment.c purges outside the pool's lock); stress covers the shared heap young threads use.
  ['AddressSanitizer', ['-fsanitize=address'], {}, ['stress', 'thread_waves'], 300_000],
  ['ThreadSanitizer', ['-fsanitize=thread'], { TSMALLOC_RESERVE_GB: '64' }, ['stress', 'thread_waves'], 300_000],
  // UBSan does not replace malloc, so these programs call the allocator's own malloc, every entry point included.
  // Both take about a second; a report from inside malloc's slow path can hang (the reporter allocates), so the
  // limit is short.
  ['UndefinedBehaviorSanitizer', ['-fsanitize=undefined', '-fno-sanitize-recover=all'], {}, ['stress', 'fuzz'], 60_000],
]) {
  for (const program of programs) {
    test(`${program} test compiled with the allocator under ${name}`, () => {
      const dir = join(scratch(), `san-${flags[0].split('=')[1]}`);
      mkdirSync(dir, { recursive: true });
      const bin = join(dir, program);
      const sources = ['csrc/tsmalloc', 'csrc/common'].flatMap((d) =>
        execFileSync('sh', ['-c', `ls ${d}/*.c`], { cwd: root, encoding: 'utf8' }).trim().split('\n'),
      );
      const args = ['-O1', '-g', '-pthread', ...flags, '-Icsrc/common', '-o', bin, `test/c/${program}.c`, ...sources];
      execFileSync('gcc', [...args, '-ldl'], { cwd: root });
      const extra = program === 'thread_waves' ? { TSMALLOC_RETAIN_KB: '0', TSMALLOC_YOUNG_MALLOCS: '0' } : {};
      const r = spawnSync(bin, [], { encoding: 'utf8', env: { ...process.env, ...env, ...extra }, timeout });
      assert.is(r.status, 0, `${name}: exit ${r.status}\n${r.stdout}\n${r.stderr.slice(0, 3000)}`);
      assert.not.match(r.stderr, /ERROR: (AddressSanitizer|ThreadSanitizer)|WARNING: ThreadSanitizer|runtime error:/);
    });
  }
}

test('TSMALLOC_STATS=1 (run --stats) prints statistics at exit; TSMALLOC_STATS_FILE sends them to a file', () => {
  const r = tsmalloc(['run', '--stats', 'ls', '/']);
  assert.is(r.status, 0);
  for (const line of ['peak RSS', 'peak live bytes', 'peak RSS / peak live', 'returned to the OS', 'cross-thread frees']) {
    assert.match(r.stderr, line);
  }
  // The per-class counters run only with statistics on: python3 building 20000 strings calls malloc for each
  // of them (PYTHONMALLOC=malloc), so its report's rows must add up to at least that many. (Python's start-up
  // may run helper processes, each with a report of its own: the python3 one is the largest.)
  const py = tsmalloc(['run', '--stats', 'python3', '-c', 'x = [str(i) * 3 for i in range(20000)]'], {
    env: { PYTHONMALLOC: 'malloc' },
  });
  assert.is(py.status, 0, py.stderr);
  const reports = py.stderr.split('tsmalloc: statistics for pid').slice(1).map((text) => ({
    mallocs: [...text.matchAll(/^\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/gm)].reduce((sum, m) => sum + Number(m[3]), 0),
    peakKib: Number(/peak live bytes\s+(\d+)/.exec(text)?.[1]),
  }));
  const main = reports.reduce((a, b) => (b.mallocs > a.mallocs ? b : a), { mallocs: 0, peakKib: 0 });
  assert.ok(main.mallocs >= 20000, py.stderr.slice(-3000));
  assert.ok(main.peakKib >= (20000 * 32) / 1024, py.stderr.slice(-3000));
  const file = join(scratch(), 'stats.txt');
  const f = run(['sh', '-c', 'exec 2>&-; ls / > /dev/null'], { env: { TSMALLOC_STATS: '1', TSMALLOC_STATS_FILE: file } });
  assert.is(f.status, 0);
  assert.match(readFileSync(file, 'utf8'), 'peak RSS');
});

test('the statistics count mallocs and frees per class, frees from another thread included', () => {
  // stats.c: 1000 blocks of class 3072, 600 freed by their thread, 300 by another and never collected, 100 left.
  // Frees are not counted as they happen but derived at exit (mallocs less the blocks still in use), so this
  // checks that derivation, remote frees waiting on their page included.
  const r = run([compileC('test/c/stats.c')], { env: { TSMALLOC_STATS: '1' } });
  assert.is(r.status, 0, r.stderr);
  const row = /^\s+\d+\s+3072\s+(\d+)\s+(\d+)$/m.exec(r.stderr);
  assert.ok(row, r.stderr);
  assert.is(Number(row[1]), 1000);
  assert.is(Number(row[2]), 900);
  assert.match(r.stderr, /cross-thread frees\s+300\n/);
});

test('a bad option value is warned about once and the default kept', () => {
  const r = run(['true'], { env: { TSMALLOC_PURGE_DELAY_MS: 'soon' } });
  assert.is(r.status, 0);
  assert.is(r.stderr, "tsmalloc: ignoring TSMALLOC_PURGE_DELAY_MS='soon': expected a whole number from 0 to 3600000\n");
});

test('real programs: python3 (PYTHONMALLOC=malloc), node, gcc, git, perl, sqlite3', () => {
  const dir = join(scratch(), 'programs');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hello.c'), '#include <stdio.h>\n#include <stdlib.h>\nint main(void){char*p=malloc(64);sprintf(p,"%d",6*7);puts(p);free(p);return 0;}\n');
  const same = (args, opts = {}) => {
    const mine = run(args, { cwd: dir, ...opts });
    const sys = tsmalloc(['run', '--allocator', 'system', ...args], { cwd: dir, ...opts });
    assert.is(mine.status, 0, `${args.join(' ')}: ${mine.stderr}`);
    assert.is(mine.stdout, sys.stdout, args.join(' '));
    return mine.stdout;
  };
  same(['/usr/bin/python3', '-c', 'import json; d = {str(i): [i] * 5 for i in range(100000)}; print(len(json.dumps(d)))'], {
    env: { PYTHONMALLOC: 'malloc' },
  });
  same([process.execPath, '-e', 'const a = []; for (let i = 0; i < 200000; i++) a.push({ i, s: "x" + i }); console.log(a.length)']);
  assert.is(run(['gcc', '-O2', '-o', 'hello', 'hello.c'], { cwd: dir }).status, 0);
  assert.is(execFileSync(join(dir, 'hello'), { encoding: 'utf8' }), '42\n');
  same(['perl', '-e', 'my %h; $h{$_} = "v" x ($_ % 50) for 1..100000; print scalar(keys %h), "\\n"']);
  same(['sqlite3', ':memory:', 'create table t(a integer, b text); with recursive c(x) as (select 1 union all select x+1 from c where x < 50000) insert into t select x, hex(randomblob(16)) from c; create index ib on t(b); select count(*) from t;']);
  const gitEnv = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e', GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z' };
  const repo = join(dir, 'repo');
  for (const args of [['git', 'init', '-q', repo], ['git', '-C', repo, 'add', '.'], ['git', '-C', repo, 'commit', '-q', '--allow-empty', '-m', 'first'], ['git', '-C', repo, 'gc', '-q']]) {
    const r = run(args, { env: gitEnv });
    assert.is(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.is(run(['git', '-C', repo, 'log', '--format=%s'], { env: gitEnv }).stdout, 'first\n');
  assert.ok(existsSync(join(repo, '.git')));
});

test.run();
