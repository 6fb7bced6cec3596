// The only module that asks node-gyp-build where the bundled allocator libraries are (they are not addons).
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import nodeGypBuild from 'node-gyp-build';

import { UserError } from './errors.js';
import { packageRoot } from './package.js';

export interface BundledLibrary {
  name: string;
  path: string;
  /** 'prebuilds' for a committed binary, 'local build' for build/Release from node-gyp. */
  origin: 'prebuilds' | 'local build';
}

/**
 * node-gyp-build picks the build that fits this machine (build/Release first, else the prebuild whose platform,
 * arch and libc tags match) and returns one file; each allocator is the sibling file with the same tags.
 */
export function bundledLibrary(name: string): BundledLibrary {
  let first: string;
  try {
    first = nodeGypBuild.path(packageRoot);
  } catch {
    throw new UserError(
      `no bundled allocator library for this machine in ${join(packageRoot, 'prebuilds')} or ` +
        `${join(packageRoot, 'build', 'Release')}: run \`npm run build:native\` in ${packageRoot}`,
    );
  }
  const tags = basename(first).split('.').slice(1); // simple.glibc.node -> ['glibc', 'node']
  const path = join(dirname(first), [name, ...tags].join('.'));
  if (!existsSync(path)) {
    throw new UserError(`bundled allocator '${name}' is missing: ${path} does not exist (run \`npm run build:native\`)`);
  }
  return { name, path, origin: path.includes(`${join(packageRoot, 'prebuilds')}/`) ? 'prebuilds' : 'local build' };
}

/** The csrc/ hash a library was built from (the "tsmalloc-source:" string), or null for a foreign library. */
export function embeddedSourceHash(path: string): string | null {
  const bytes = readFileSync(path);
  const at = bytes.indexOf('tsmalloc-source:');
  if (at < 0) return null;
  const start = at + 'tsmalloc-source:'.length;
  const end = bytes.indexOf(0, start);
  return bytes.subarray(start, end < 0 ? start : end).toString('latin1');
}

/** The hash of the csrc/ sources in this package for one allocator, or null when csrc/ is not shipped. */
export async function currentSourceHash(name: string): Promise<string | null> {
  const script = join(packageRoot, 'scripts', 'source-hash.mjs');
  if (!existsSync(script) || !existsSync(join(packageRoot, 'csrc', name))) return null;
  const mod = (await import(pathToFileURL(script).href)) as { sourceHash(name: string): string };
  return mod.sourceHash(name);
}
