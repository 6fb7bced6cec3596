// Shared by the uvu tests: run the built CLI, compile C fixtures once, find the bundled libraries.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const cli = join(root, 'bin', 'tsmalloc.js');

/** Runs `tsmalloc ...args` to completion; cwd defaults to a scratch directory so crashes leave no core here. */
export function tsmalloc(args, opts = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    cwd: opts.cwd ?? scratch(),
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    input: opts.input,
    timeout: opts.timeout ?? 120_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

let scratchDir;
/** One scratch directory per test process, removed at exit. */
export function scratch() {
  if (!scratchDir) {
    scratchDir = mkdtempSync(join(tmpdir(), 'tsmalloc-test-'));
    process.on('exit', () => rmSync(scratchDir, { recursive: true, force: true }));
  }
  return scratchDir;
}

/** Compiles test/c/<name>.c (or test/fixtures/) once per source content and returns the executable's path. */
export function compileC(relPath, flags = []) {
  const src = join(root, relPath);
  // The key covers the headers next to the source too (test/c/check.h), so editing one recompiles.
  const hash = createHash('sha256').update(readFileSync(src)).update(flags.join(' '));
  for (const h of readdirSync(dirname(src)).filter((f) => f.endsWith('.h')).sort()) hash.update(readFileSync(join(dirname(src), h)));
  const key = hash.digest('hex').slice(0, 12);
  const dir = join(tmpdir(), 'tsmalloc-test-bin');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${relPath.replace(/[/.]/g, '_')}-${key}`);
  if (!existsSync(out)) execFileSync('gcc', ['-O1', '-g', '-fno-builtin', '-pthread', '-o', out, src, ...flags]);
  return out;
}

/** The path of a bundled allocator as `tsmalloc info --json` reports it. */
export function bundledPath(name) {
  const info = JSON.parse(tsmalloc(['info', '--json']).stdout);
  const lib = info.bundled.find((b) => b.name === name);
  if (!lib?.path) throw new Error(`bundled allocator ${name} not found: ${JSON.stringify(info.bundled)}`);
  return lib.path;
}
