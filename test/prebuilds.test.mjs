// The committed prebuilds are built from the csrc/ in this commit: each embeds the hash of its sources.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { sourceHash } from '../scripts/source-hash.mjs';
import { root } from './helpers.mjs';

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

test('the source hash changes when a source changes', () => {
  // Guards the guard: a hash that ignored the sources would make the test above pass for any binary.
  const a = sourceHash('simple');
  const b = sourceHash('simple', join(root, 'test', 'fixtures', 'hash-tree'));
  assert.is.not(a, b);
});

test.run();
