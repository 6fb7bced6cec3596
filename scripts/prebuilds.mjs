#!/usr/bin/env zx
// Rebuilds prebuilds/<platform>-<arch>/<allocator>.<libc>.node from csrc/, one prebuildify run per allocator.
import { readFileSync } from 'node:fs';

$.verbose = true;
const targets = [...readFileSync('binding.gyp', 'utf8').matchAll(/'target_name':\s*'([^']+)'/g)].map((m) => m[1]);
await $`rm -rf prebuilds build`;
for (const name of targets) {
  // prebuildify ships the first .node it finds in build/Release, so each run builds one allocator only.
  await $({ env: { ...process.env, TSMALLOC_ONLY: name } })`prebuildify --napi --tag-libc --name ${name}`;
}
// Debug info would name this machine's paths and quadruple the files; the symbol table stays (it is not loaded, so
// it costs no memory), so that a crash inside a bundled allocator shows its functions by name (tsmalloc debug).
await $`strip --strip-debug ${(await glob('prebuilds/*/*.node'))}`;
// Leave no local build behind: node-gyp-build prefers build/Release, and the tests must see what ships.
await $`rm -rf build`;
await $`ls -l prebuilds/*`;
