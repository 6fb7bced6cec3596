#!/usr/bin/env zx
// `npm test`: compiles the CLI, runs every uvu test file and ends with the line `N passed, N failed`.
import { spawn } from 'node:child_process';

$.verbose = false;
await $`tsc -p .`.pipe(process.stderr);

// uvu prints its totals but no pass/fail line; tee its output and count from the totals it prints.
const child = spawn('uvu', ['test', '\\.test\\.mjs$'], { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (chunk) => {
  out += chunk;
  process.stdout.write(chunk);
});
const code = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));

// eslint-disable-next-line no-control-regex
const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
// A file that failed to load counts as one failure even though uvu printed no totals for it.
const failed = Math.max(total - passed - skipped, code === 0 ? 0 : 1);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(code === 0 && failed === 0 ? 0 : 1);
