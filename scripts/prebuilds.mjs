#!/usr/bin/env zx
// Rebuilds prebuilds/<platform>-<arch>/<allocator>.<libc>.node from csrc/, one prebuildify run per allocator.
import { readFileSync } from 'node:fs';

$.verbose = true;
const targets = [...readFileSync('binding.gyp', 'utf8').matchAll(/'target_name':\s*'([^']+)'/g)].map((m) => m[1]);
await $`rm -rf prebuilds build`;
for (const name of targets) {
  // node-gyp builds every target; prebuildify ships the first .node it finds, so keep only this allocator's.
  const keepOnly = `find build/Release -maxdepth 1 -name '*.node' ! -name '${name}.node' -delete`;
  await $`prebuildify --napi --strip --tag-libc --name ${name} --postinstall ${keepOnly}`;
}
// Leave no local build behind: node-gyp-build prefers build/Release, and the tests must see what ships.
await $`rm -rf build`;
await $`ls -l prebuilds/*`;
