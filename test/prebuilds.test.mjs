// The committed prebuilds are built from the csrc/ in this commit: each embeds the hash of its sources.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { sourceHash } from '../scripts/source-hash.mjs';
import { root, scratch } from './helpers.mjs';

const { BUNDLED } = await import('../dist/lib/allocators.js');
const targets = [...readFileSync(join(root, 'binding.gyp'), 'utf8').matchAll(/'target_name':\s*'([^']+)'/g)].map((m) => m[1]);

test('binding.gyp builds exactly the bundled allocators', () => {
  assert.equal([...targets].sort(), [...BUNDLED].sort());
});

test('every allocator has a linux-x64 glibc prebuild', () => {
  const files = readdirSync(join(root, 'prebuilds', 'linux-x64')).sort();
  assert.equal(files, targets.map((t) => `${t}.glibc.node`).sort());
});

for (const name of targets) {
  test(`prebuilds/linux-x64/${name}.glibc.node was built from the current csrc/ (npm run prebuilds)`, () => {
    const bytes = readFileSync(join(root, 'prebuilds', 'linux-x64', `${name}.glibc.node`));
    const m = /tsmalloc-source:([0-9a-f]{16})/.exec(bytes.toString('latin1'));
    assert.ok(m, 'the library embeds its source hash');
    assert.is(m[1], sourceHash(name), `${name}: prebuild is stale; run npm run prebuilds and commit prebuilds/`);
  });
}

for (const name of targets) {
  test(`prebuilds/linux-x64/${name}.glibc.node needs libc alone (nothing else gets loaded into the target)`, () => {
    // A helper from libgcc (gcc's __popcountdi2) once made every preloaded program load libgcc_s.so.1 too.
    const r = spawnSync('readelf', ['-d', join(root, 'prebuilds', 'linux-x64', `${name}.glibc.node`)], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    const needed = [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
    assert.equal(needed, ['libc.so.6']);
  });
}

test('the source hash changes when a source changes', () => {
  // Guards the guard: a hash that ignored the sources would make the test above pass for any binary.
  const a = sourceHash('simple');
  const b = sourceHash('simple', join(root, 'test', 'fixtures', 'hash-tree'));
  assert.is.not(a, b);
});

test('npm install builds from csrc/ where no prebuild fits this machine', () => {
  // node-gyp-build is what `npm install` runs. With LIBC=musl the glibc prebuilds do not match, the install-time
  // check (scripts/prebuild-test.cjs) fails, and it must fall back to node-gyp: the same libraries from source.
  const pkg = join(scratch(), 'fallback');
  mkdirSync(pkg, { recursive: true });
  for (const p of ['package.json', 'binding.gyp', 'csrc', 'scripts', 'prebuilds']) cpSync(join(root, p), join(pkg, p), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'node-gyp-build', 'bin.js')], {
    cwd: pkg,
    env: { ...process.env, LIBC: 'musl' },
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.is(r.status, 0, r.stderr.slice(-2000));
  for (const name of targets) {
    const bytes = readFileSync(join(pkg, 'build', 'Release', `${name}.node`)).toString('latin1');
    assert.is(/tsmalloc-source:([0-9a-f]{16})/.exec(bytes)?.[1], sourceHash(name), `${name} built from these sources`);
  }
  // And what it built passes the same install-time check (each library loads into /bin/sh).
  const check = spawnSync(process.execPath, [join(pkg, 'scripts', 'prebuild-test.cjs')], { cwd: pkg, encoding: 'utf8' });
  assert.is(check.status, 0, check.stderr);
});

test.run();
