// Install-time check run by node-gyp-build: every bundled library that fits this machine loads into /bin/sh.
// Exits non-zero (so npm builds from csrc/ instead) when a library is missing or the loader refuses it.
const { spawnSync } = require('node:child_process');
const { existsSync, readFileSync, realpathSync } = require('node:fs');
const { basename, dirname, join } = require('node:path');

const root = join(__dirname, '..');
const names = [...readFileSync(join(root, 'binding.gyp'), 'utf8').matchAll(/'target_name':\s*'([^']+)'/g)].map((m) => m[1]);
const first = require('node-gyp-build').path(root); // throws when nothing fits: node-gyp-build then builds
const tags = basename(first).split('.').slice(1);

for (const name of names) {
  const lib = join(dirname(first), [name, ...tags].join('.'));
  if (!existsSync(lib)) throw new Error(`missing ${lib}`);
  const real = realpathSync(lib);
  const r = spawnSync('/bin/sh', ['-c', 'cat /proc/$$/maps'], { env: { ...process.env, LD_PRELOAD: real }, encoding: 'utf8' });
  if (r.status !== 0 || /cannot be preloaded/.test(r.stderr) || !r.stdout.includes(real)) {
    throw new Error(`${lib} does not load into /bin/sh: ${r.stderr.trim() || `exit ${r.status}`}`);
  }
}
