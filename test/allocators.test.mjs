// Every bundled allocator under LD_PRELOAD: API conformance, introspection, a random-call fuzzer, misuse reports,
// real programs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { compileC, root, scratch, tsmalloc } from './helpers.mjs';

const info = JSON.parse(tsmalloc(['info', '--json']).stdout);
const bundled = info.bundled.map((b) => b.name);

for (const name of bundled) {
  const t = suite(`allocator ${name}`);
  const run = (args, opts) => tsmalloc(['run', '--no-core', '--allocator', name, ...args], opts);

  t('API conformance (test/c/api.c) under LD_PRELOAD', () => {
    // simple keeps every alignment gap on its free list (first fit, never coalesced): a coarser aligned sweep.
    const r = run([compileC('test/c/api.c'), ...(name === 'simple' ? ['61'] : [])]);
    assert.is(r.stdout.trim().split('\n').pop(), 'api: 0 failure(s)', r.stdout);
    assert.is(r.status, 0);
  });

  // Without these calls glibc's own versions run on glibc's never-initialised heap, and from several threads at
  // once that crashed fuzz.c below in a third of the runs (it calls mallinfo2 and malloc_trim from 3 threads).
  // tsmalloc also has C23's free_sized and free_aligned_sized (glibc 2.36 lacks them), so it must pass those too.
  t('introspection and extra entry points (test/c/api_extra.c), also valid on glibc', () => {
    const bin = compileC('test/c/api_extra.c', ['-ldl']);
    for (const [allocator, env] of [[name, name === 'tsmalloc' ? { TS_EXPECT_C23: '1' } : {}], ['system', {}]]) {
      const r = tsmalloc(['run', '--no-core', '--allocator', allocator, bin], { env });
      assert.is(r.stdout.trim().split('\n').pop(), 'api_extra: 0 failure(s)', `${allocator}: ${r.stdout}`);
      assert.is(r.status, 0);
    }
  });

  t('random sequences of every call from 3 threads, contents checked (test/c/fuzz.c), also valid on glibc', () => {
    // simple's first fit walks its lists on every call: a tenth of the operations keeps it to a few seconds.
    const ops = name === 'simple' ? '20000' : '200000';
    const bin = compileC('test/c/fuzz.c', ['-ldl']);
    for (const allocator of [name, 'system']) {
      const r = tsmalloc(['run', '--no-core', '--allocator', allocator, bin, ops], { timeout: 120_000 });
      assert.is(r.status, 0, `${allocator}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout.trim().split('\n').pop(), / 0 failure\(s\)$/);
    }
  });

  for (const [kind, message, call] of [
    ['double-free', 'double free', 'free'],
    ['invalid-free', 'invalid pointer', 'free'],
    ['realloc-freed', 'use after free', 'realloc'],
  ]) {
    t(`names a ${kind} in one line and aborts`, () => {
      const r = run([compileC('test/c/misuse.c'), kind]);
      assert.is(r.status, 134, `expected SIGABRT, got ${r.status}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^tsmalloc: ${message} of 0x[0-9a-f]+ in ${call}\\(\\)\\n$`));
      assert.is(r.stdout, '');
    });
  }

  t('ls -l, cat, ps aux, hostname, uname -a', () => {
    const dir = scratch();
    const big = join(dir, 'big.txt');
    writeFileSync(big, Array.from({ length: 20000 }, (_, i) => `line ${i} ${'x'.repeat(i % 80)}`).join('\n'));
    for (const args of [['ls', '-l', root], ['cat', big], ['hostname'], ['uname', '-a']]) {
      const r = run(args);
      assert.is(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.is(r.stdout, execFileSync(args[0], args.slice(1), { encoding: 'utf8' }), args.join(' '));
    }
    const ps = run(['ps', 'aux']);
    assert.is(ps.status, 0, ps.stderr);
    assert.match(ps.stdout, /^USER\s+PID/);
    assert.match(ps.stdout, /ps aux/);
  });

  t('python3 with threads', () => {
    const script = [
      'import threading, hashlib',
      'out = {}',
      'def work(n):',
      '    d = {str(i): [i] * (i % 7) for i in range(20000)}',
      '    out[n] = hashlib.sha256(repr(sorted(d.items())).encode()).hexdigest()[:8]',
      'ts = [threading.Thread(target=work, args=(n,)) for n in range(4)]',
      '[t.start() for t in ts]; [t.join() for t in ts]',
      'print(len(set(out.values())), len(out))',
    ].join('\n');
    // PYTHONMALLOC=malloc sends every object through the allocator; `simple` frees in O(live blocks) by design,
    // so it runs with pymalloc in front (python3 still mallocs its arenas, buffers and threads through it).
    const env = name === 'simple' ? {} : { PYTHONMALLOC: 'malloc' };
    const r = run(['/usr/bin/python3', '-c', script], { env });
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, '1 4\n');
  });

  t('javac compiles and java runs a class', () => {
    const dir = join(scratch(), `java-${name}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'Alloc.java'),
      'import java.util.*;\npublic class Alloc { public static void main(String[] a) {\n' +
        '  Map<String, List<Integer>> m = new HashMap<>();\n' +
        '  for (int i = 0; i < 200000; i++) m.computeIfAbsent("k" + (i % 1000), k -> new ArrayList<>()).add(i);\n' +
        '  System.out.println("keys " + m.size() + " last " + m.get("k999").get(199)); } }\n',
    );
    const c = run(['javac', 'Alloc.java'], { cwd: dir, timeout: 180_000 });
    assert.is(c.status, 0, c.stderr);
    const r = run(['java', '-cp', dir, 'Alloc'], { cwd: dir, timeout: 180_000 });
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, 'keys 1000 last 199999\n');
  });

  t('vim edits a file in a terminal', () => {
    // script(1) gives vim a pseudo-terminal; the keys arrive on its stdin. `:r /proc/self/maps` makes vim write
    // its own memory map into the file, which proves the allocator was loaded into vim itself.
    const dir = join(scratch(), `vim-${name}`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'notes.txt');
    const cmd = `${process.execPath} ${join(root, 'bin/tsmalloc.js')} run --allocator ${name} vim -u NONE -i NONE -n ${file}`;
    const keys = `sleep 1; printf 'ihello from vim\\033'; sleep 0.3; printf ':r /proc/self/maps\\r'; sleep 0.3; printf ':wq\\r'; sleep 1`;
    execFileSync('sh', ['-c', `(${keys}) | script -qfec "${cmd}" /dev/null > /dev/null`], { cwd: dir, timeout: 30_000 });
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^hello from vim\n/);
    const lib = info.bundled.find((b) => b.name === name).path;
    assert.ok(text.includes(lib), 'vim had the allocator mapped');
  });

  t.run();
}
