// Black-box tests of the built `tsmalloc` CLI: run's exit codes, errors, environment and signals; info; help.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { bundledPath, cli, compileC, root, scratch, tsmalloc } from './helpers.mjs';

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function snapshot(name, actual) {
  const file = join(root, 'test', 'snapshots', name);
  if (process.env.UPDATE_SNAPSHOTS || !existsSync(file)) writeFileSync(file, actual);
  assert.fixture(actual, readFileSync(file, 'utf8'), `${name} changed: rerun with UPDATE_SNAPSHOTS=1 if intended`);
}

test('--version prints the package version', () => {
  const r = tsmalloc(['--version']);
  assert.is(r.status, 0);
  assert.is(r.stdout.trim(), pkg.version);
});

test('help texts match their snapshots and show examples', () => {
  const commands = ['run', 'debug', 'test-suite', 'bench', 'info'];
  for (const [args, file] of [[['--help'], 'help.txt'], ...commands.map((c) => [[c, '--help'], `help-${c}.txt`])]) {
    const r = tsmalloc(args);
    assert.is(r.status, 0);
    assert.match(r.stdout, 'Examples:');
    snapshot(file, r.stdout);
  }
});

test('run exits with the program status', () => {
  const r = tsmalloc(['run', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
  assert.is(r.status, 7);
  assert.is(r.stdout, 'out\n');
  assert.is(r.stderr, 'err\n');
});

test('run passes options after the program to the program', () => {
  const r = tsmalloc(['run', 'echo', '--allocator', '-n', 'x']);
  assert.is(r.status, 0);
  assert.is(r.stdout, '--allocator -n x\n');
});

test('run: a program that does not exist exits 127 with one line', () => {
  const r = tsmalloc(['run', 'no-such-program-xyz']);
  assert.is(r.status, 127);
  assert.is(r.stderr, "tsmalloc: program not found: 'no-such-program-xyz' is not in PATH\n");
  const r2 = tsmalloc(['run', './missing/prog']);
  assert.is(r2.status, 127);
  assert.is(r2.stderr, `tsmalloc: program not found: ${join(scratch(), 'missing/prog')}\n`);
});

test('run: a file that is not executable exits 126', () => {
  const file = join(scratch(), 'not-exec.sh');
  writeFileSync(file, 'echo hi\n');
  chmodSync(file, 0o644);
  const r = tsmalloc(['run', file]);
  assert.is(r.status, 126);
  assert.is(r.stderr, `tsmalloc: program is not executable: ${file}\n`);
  const dir = tsmalloc(['run', '/tmp']);
  assert.is(dir.status, 126);
});

test('run --lib: a missing library names the exact path', () => {
  const r = tsmalloc(['run', '--lib', 'nope/libmissing.so', 'true']);
  assert.is(r.status, 1);
  assert.is(r.stderr, `tsmalloc: allocator library not found: ${join(scratch(), 'nope/libmissing.so')}\n`);
});

// The fixture keeps its own heap and exports only malloc, free, calloc and realloc, as a first try often does.
test('run --lib: a library that leaves allocation functions to glibc gets a one-line warning, and the program runs', () => {
  const lib = compileC('test/fixtures/partial-alloc.c', ['-shared', '-fPIC']);
  const r = tsmalloc(['run', '--lib', lib, 'sh', '-c', 'echo ran']);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'ran\n');
  assert.is(
    r.stderr,
    `tsmalloc: warning: ${lib} does not export memalign, posix_memalign, aligned_alloc, valloc, pvalloc, ` +
      "malloc_usable_size, malloc_trim, mallinfo2, mallinfo, malloc_stats, malloc_info: glibc's own answer those calls " +
      'from its own heap (wrong numbers, or a crash when a block crosses between the two heaps)\n',
  );
  // The bundled allocators export all of it; a library that wraps glibc's heap (it calls __libc_malloc) needs none.
  const wrapper = compileC('test/fixtures/badmalloc.c', ['-shared', '-fPIC']);
  for (const quiet of [bundledPath('tsmalloc'), bundledPath('simple'), wrapper]) {
    const q = tsmalloc(['run', '--lib', quiet, 'true']);
    assert.is(q.status, 0, quiet);
    assert.is(q.stderr, '', quiet);
  }
});

test('run --lib: a library the loader refuses is an error, and the program does not run', () => {
  const bogus = join(scratch(), 'bogus.so');
  writeFileSync(bogus, 'not an ELF file\n'.repeat(20));
  const marker = join(scratch(), 'ran-anyway');
  const r = tsmalloc(['run', '--lib', bogus, 'touch', marker]);
  assert.is(r.status, 1);
  assert.is(r.stderr, `tsmalloc: the loader refused to preload ${bogus}: invalid ELF header\n`);
  assert.not.ok(existsSync(marker), 'the program must not run without its allocator');
});

test('run: a refused entry in the user\'s own LD_PRELOAD is reported too', () => {
  const r = tsmalloc(['run', '--allocator', 'system', 'true'], { env: { LD_PRELOAD: '/nonexistent/libx.so' } });
  assert.is(r.status, 1);
  // The loader complains about node itself first (it inherits the same LD_PRELOAD); our line comes last.
  assert.match(r.stderr, /\ntsmalloc: the loader refused to preload \/nonexistent\/libx\.so: cannot open shared object file\n$/);
});

test('run: death by signal exits 128+n', () => {
  const r = tsmalloc(['run', '--no-core', 'sh', '-c', 'kill -SEGV $$']);
  assert.is(r.status, 139);
  const r2 = tsmalloc(['run', '--no-core', 'sh', '-c', 'kill -ABRT $$']);
  assert.is(r2.status, 134);
});

test('run: the allocator is preloaded into the target, in front of the user\'s LD_PRELOAD', () => {
  const simple = bundledPath('simple');
  const maps = tsmalloc(['run', '--allocator', 'simple', 'cat', '/proc/self/maps']);
  assert.is(maps.status, 0);
  assert.ok(maps.stdout.includes(simple), 'the target maps the allocator');
  const empty = compileC('test/fixtures/empty.c', ['-shared', '-fPIC']);
  const r = tsmalloc(['run', '--allocator', 'simple', 'sh', '-c', 'echo "$LD_PRELOAD"'], { env: { LD_PRELOAD: empty } });
  assert.is(r.stdout, `${simple}:${empty}\n`);
  const sys = tsmalloc(['run', '--allocator', 'system', 'sh', '-c', 'echo "[$LD_PRELOAD]"'], { env: { LD_PRELOAD: '' } });
  assert.is(sys.stdout, '[]\n');
});

test('run: the tsmalloc process itself is not preloaded', () => {
  // `run` starts the target directly; node (the parent) must not have the allocator mapped.
  const child = spawn(process.execPath, [cli, 'run', '--allocator', 'simple', 'sleep', '5'], { cwd: scratch() });
  return new Promise((resolve, reject) => {
    setTimeout(() => {
      try {
        const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8');
        assert.not.ok(maps.includes('simple'), 'node must not load the allocator');
        resolve();
      } catch (e) {
        reject(e);
      } finally {
        child.kill('SIGTERM');
      }
    }, 700);
  });
});

test('run: the core limit is raised for the target, and left alone with --no-core', () => {
  const hard = execFileSync('sh', ['-c', 'ulimit -H -c'], { encoding: 'utf8' }).trim();
  const soft = execFileSync('sh', ['-c', 'ulimit -c'], { encoding: 'utf8' }).trim();
  assert.is(tsmalloc(['run', 'sh', '-c', 'ulimit -c']).stdout.trim(), hard);
  assert.is(tsmalloc(['run', '--no-core', 'sh', '-c', 'ulimit -c']).stdout.trim(), soft);
});

test('run: a setuid program gets a warning that the loader ignores LD_PRELOAD for it', () => {
  assert.is(process.getuid(), 0, 'this test creates a setuid file owned by another user, which needs root');
  const dir = join(scratch(), 'suid');
  mkdirSync(dir, { recursive: true });
  const prog = join(dir, 'suid-true');
  copyFileSync('/bin/true', prog);
  chownSync(prog, 65534, 65534);
  chmodSync(prog, 0o4755);
  const r = tsmalloc(['run', prog]);
  assert.is(r.status, 0);
  assert.is(r.stderr, `tsmalloc: warning: ${prog} is setuid: the loader ignores LD_PRELOAD for it, so it runs on the system allocator\n`);
  assert.is(tsmalloc(['run', '--allocator', 'system', prog]).stderr, '', 'no warning when nothing is preloaded');
});

/** Starts `tsmalloc run sleep 30`, sends `sig` to tsmalloc once sleep runs, and resolves with tsmalloc's status. */
function relay(sig) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'run', '--no-core', 'sleep', '30'], { cwd: scratch(), stdio: 'ignore' });
    const started = Date.now();
    const poll = setInterval(() => {
      const kids = spawnSync('pgrep', ['-P', String(child.pid), 'sleep'], { encoding: 'utf8' }).stdout.trim();
      if (kids) {
        clearInterval(poll);
        child.kill(sig);
      } else if (Date.now() - started > 20_000) {
        clearInterval(poll);
        child.kill('SIGKILL');
        reject(new Error('sleep never started'));
      }
    }, 50);
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
}

test('run relays SIGTERM and SIGHUP to the program and exits 128+n', async () => {
  assert.equal(await relay('SIGTERM'), { code: 143, signal: null });
  assert.equal(await relay('SIGHUP'), { code: 129, signal: null });
});

test('run without a terminal relays SIGINT too', async () => {
  assert.equal(await relay('SIGINT'), { code: 130, signal: null });
});

test('run on a terminal: Ctrl-C reaches the program once (through the process group), and run waits for it', () => {
  // script(1) gives tsmalloc a pseudo-terminal; \x03 there sends SIGINT to the whole foreground process group.
  // script runs the command with $SHELL -c: `exec` keeps that shell out of the group (dash would die of the SIGINT
  // and report 130 whatever tsmalloc does; bash would hide that). SHELL=/bin/sh makes this run the same everywhere.
  // The key goes in once the program has its trap set (it touches `ready`), however slowly the machine starts node.
  const prog = `sh -c 'trap "echo got INT; exit 7" INT; touch ready; sleep 10 & wait; echo not interrupted'`;
  const cmd = `exec ${process.execPath} ${cli} run --allocator system ${prog}`;
  const r = spawnSync('sh', ['-c', `(until [ -e ready ]; do sleep 0.1; done; printf '\\003'; sleep 1) | script -qfec "${cmd.replace(/"/g, '\\"')}" /dev/null`], {
    cwd: scratch(),
    env: { ...process.env, SHELL: '/bin/sh' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.is(r.status, 7, r.stdout + r.stderr);
  assert.is(r.stdout.match(/got INT/g)?.length, 1, r.stdout);
});

test('run: bad choices are usage errors (exit 2) with one line', () => {
  const r = tsmalloc(['run', '--allocator', 'nope', 'true']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /^tsmalloc: unknown allocator 'nope': choose one of tsmalloc, simple, system, jemalloc/);
  const both = tsmalloc(['run', '--allocator', 'simple', '--lib', '/x.so', 'true']);
  assert.is(both.status, 2);
  assert.is(both.stderr, 'tsmalloc: use either --allocator or --lib, not both\n');
  const opt = tsmalloc(['run', '--bogus', 'true']);
  assert.is(opt.status, 2);
  assert.match(opt.stderr, "unknown option '--bogus'");
  assert.is(tsmalloc(['run']).status, 2);
});

test('a peer allocator that is not installed names its Debian package', async () => {
  const { PEERS, resolveAllocator } = await import('../dist/lib/allocators.js');
  PEERS.fakemalloc = { soname: 'libfakemalloc-tsmalloc-test.so.9', debianPackage: 'libfakemalloc9' };
  try {
    assert.throws(
      () => resolveAllocator({ allocator: 'fakemalloc' }),
      (e) => e.message === 'fakemalloc is not installed (libfakemalloc-tsmalloc-test.so.9 not found): apt-get install -y libfakemalloc9',
    );
  } finally {
    delete PEERS.fakemalloc;
  }
});

test('run --allocator <peer> preloads the installed peer', () => {
  for (const peer of ['jemalloc', 'tcmalloc', 'mimalloc']) {
    const r = tsmalloc(['run', '--allocator', peer, 'cat', '/proc/self/maps']);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, peer === 'tcmalloc' ? 'libtcmalloc_minimal.so.4' : `lib${peer}.so.2`);
  }
});

test('info lists each bundled allocator with origin and source hash, and the peers', () => {
  const r = tsmalloc(['info', '--json']);
  assert.is(r.status, 0);
  const info = JSON.parse(r.stdout);
  assert.is(info.version, pkg.version);
  const simple = info.bundled.find((b) => b.name === 'simple');
  assert.ok(simple, 'simple is listed');
  assert.match(simple.path, /simple(\.glibc)?\.node$/);
  assert.ok(['prebuilds', 'local build'].includes(simple.origin));
  assert.match(simple.sourceHash, /^[0-9a-f]{16}$/);
  assert.is(simple.matchesSource, true);
  assert.is(simple.arch, process.arch);
  assert.match(simple.libc, /^glibc 2\.\d+$/);
  assert.equal(info.peers.map((p) => p.name), ['jemalloc', 'tcmalloc', 'mimalloc']);
  for (const p of info.peers) assert.is(p.installed, existsSync(p.path ?? '/nonexistent'));
  const text = tsmalloc(['info']);
  assert.is(text.status, 0);
  assert.match(text.stdout, `simple    ${simple.path}`);
  assert.match(text.stdout, `source ${simple.sourceHash}, matches csrc/`);
});

test.run();
