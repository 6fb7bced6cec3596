#!/usr/bin/env zx
// Rebuilds prebuilds/<platform>-<arch>/<allocator>.<libc>.node from csrc/, one prebuildify run per allocator.
import { readFileSync } from 'node:fs';

$.verbose = true;
const targets = [...readFileSync('binding.gyp', 'utf8').matchAll(/'target_name':\s*'([^']+)'/g)].map((m) => m[1]);
await $`rm -rf prebuilds build`;
for (const name of targets) {
  // prebuildify ships the first .node it finds in build/Release, so each run builds one allocator only.
  await $({ env: { ...process.env, TSMALLOC_ONLY: name } })`prebuildify --napi --strip --tag-libc --name ${name}`;
}
// Leave no local build behind: node-gyp-build prefers build/Release, and the tests must see what ships.
await $`rm -rf build`;
await $`ls -l prebuilds/*`;
