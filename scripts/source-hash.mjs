// Hashes one allocator's sources (csrc/common, csrc/<name>, binding.gyp) so a library can be traced to its source.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function listFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : /\.[ch]$/.test(e.name) ? [join(dir, e.name)] : []);
}

/** First 16 hex digits of SHA-256 over each source's relative path and bytes, in sorted path order. */
export function sourceHash(name, base = root) {
  const dirs = ['common', name].map((d) => join(base, 'csrc', d));
  const files = [...dirs.flatMap(listFiles), join(base, 'binding.gyp')]
    .map((f) => relative(base, f).split('\\').join('/'))
    .sort();
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f + '\0');
    h.update(readFileSync(join(base, f)));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

// binding.gyp runs `node scripts/source-hash.mjs <allocator>` and embeds what it prints.
if (import.meta.url === pathToFileURL(process.argv[1]).href) process.stdout.write(sourceHash(process.argv[2]));
