// Turns --allocator / --lib into a library path to preload: bundled, system (none), a Debian peer, or a user's file.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { dynamicSymbols } from './elf.js';
import { UserError } from './errors.js';
import { bundledLibrary } from './native.js';

export type AllocatorKind = 'bundled' | 'system' | 'peer' | 'lib';

export interface Allocator {
  name: string;
  /** The library to preload; null for the system allocator (nothing preloaded). */
  path: string | null;
  kind: AllocatorKind;
  /** For a --lib: a one-line warning about the glibc functions it leaves to glibc (see apiGapWarning). */
  warning?: string;
}

/**
 * glibc's allocation functions that a preloaded allocator must replace, or glibc's own answer the calls from glibc's
 * heap: the four glibc needs, the six its manual says a general-purpose replacement should provide, and the
 * statistics calls. Left out: reallocarray (glibc's calls the interposed realloc) and mallopt (glibc's only tunes
 * glibc's heap).
 */
export const GLIBC_MALLOC_API = [
  'malloc', 'free', 'calloc', 'realloc', 'memalign', 'posix_memalign', 'aligned_alloc', 'valloc', 'pvalloc',
  'malloc_usable_size', 'malloc_trim', 'mallinfo2', 'mallinfo', 'malloc_stats', 'malloc_info',
];

/** glibc's internal entry points: a library that calls these keeps glibc's heap and only wraps it. */
const GLIBC_INTERNALS = ['__libc_malloc', '__libc_calloc', '__libc_realloc', '__libc_free', '__libc_memalign'];

/**
 * What a user's allocator leaves to glibc: each function of GLIBC_MALLOC_API it does not export is answered by
 * glibc's own, which works on glibc's heap. For an allocator with its own heap that means wrong numbers
 * (mallinfo2, malloc_stats) or a crash when a block crosses between the heaps (posix_memalign's block freed by the
 * library's free, one of its blocks passed to glibc's malloc_usable_size). Null when nothing is missing, when the
 * library wraps glibc's heap (it imports __libc_malloc and friends) or when it is not an ELF object (the loader says
 * why when it refuses it).
 */
export function apiGapWarning(path: string): string | null {
  const syms = dynamicSymbols(path);
  if (!syms || GLIBC_INTERNALS.some((s) => syms.imports.has(s))) return null;
  const missing = GLIBC_MALLOC_API.filter((f) => !syms.exports.has(f));
  if (missing.length === 0) return null;
  return (
    `warning: ${path} does not export ${missing.join(', ')}: glibc's own answer ${missing.length === 1 ? 'that call' : 'those calls'} ` +
    'from its own heap (wrong numbers, or a crash when a block crosses between the two heaps)'
  );
}

/** The allocators this package builds from csrc/, default first. */
export const BUNDLED = ['tsmalloc', 'simple'] as const;
export const DEFAULT_ALLOCATOR = 'tsmalloc';

/** Allocators people actually choose, as Debian ships them. */
export const PEERS: Record<string, { soname: string; debianPackage: string }> = {
  jemalloc: { soname: 'libjemalloc.so.2', debianPackage: 'libjemalloc2' },
  tcmalloc: { soname: 'libtcmalloc_minimal.so.4', debianPackage: 'libtcmalloc-minimal4' },
  mimalloc: { soname: 'libmimalloc.so.2', debianPackage: 'libmimalloc2.0' },
};

export const ALLOCATOR_NAMES = [...BUNDLED, 'system', ...Object.keys(PEERS)];

const FALLBACK_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/usr/local/lib', '/usr/lib64', '/usr/lib', '/lib'];

let ldconfigCache: Map<string, string> | undefined;

/** soname -> path as the loader's cache knows it (`ldconfig -p`), empty when ldconfig is unavailable. */
function ldconfigLibraries(): Map<string, string> {
  if (ldconfigCache) return ldconfigCache;
  ldconfigCache = new Map();
  for (const bin of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
    const r = spawnSync(bin, ['-p'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    for (const m of r.stdout.matchAll(/^\s*(\S+) \(([^)]*)\) => (\S+)$/gm)) {
      if (!ldconfigCache.has(m[1]) && (process.arch !== 'x64' || m[2].includes('x86-64'))) ldconfigCache.set(m[1], m[3]);
    }
    break;
  }
  return ldconfigCache;
}

/** Finds a shared library by soname in the system's library paths; null when it is not installed. */
export function findSystemLibrary(soname: string): string | null {
  const cached = ldconfigLibraries().get(soname);
  if (cached && existsSync(cached)) return cached;
  for (const dir of FALLBACK_DIRS) {
    const p = join(dir, soname);
    if (existsSync(p)) return p;
  }
  return null;
}

/** The path of a peer allocator, or a UserError naming the Debian package to install. */
export function peerLibrary(name: string): string {
  const peer = PEERS[name];
  const path = findSystemLibrary(peer.soname);
  if (!path) {
    throw new UserError(`${name} is not installed (${peer.soname} not found): apt-get install -y ${peer.debianPackage}`);
  }
  return path;
}

/** Checks a user's --lib file before anything runs: it must exist and be a readable regular file. */
export function userLibrary(lib: string): Allocator {
  const path = resolve(lib);
  if (!existsSync(path)) throw new UserError(`allocator library not found: ${path}`);
  if (!statSync(path).isFile()) throw new UserError(`allocator library is not a file: ${path}`);
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new UserError(`allocator library is not readable: ${path}`);
  }
  const warning = apiGapWarning(path);
  return warning ? { name: path, path, kind: 'lib', warning } : { name: path, path, kind: 'lib' };
}

export function resolveAllocator(opts: { allocator?: string; lib?: string }): Allocator {
  if (opts.lib !== undefined) {
    if (opts.allocator !== undefined) throw new UserError('use either --allocator or --lib, not both', 2);
    return userLibrary(opts.lib);
  }
  const name = opts.allocator ?? DEFAULT_ALLOCATOR;
  if ((BUNDLED as readonly string[]).includes(name)) return { name, path: bundledLibrary(name).path, kind: 'bundled' };
  if (name === 'system') return { name, path: null, kind: 'system' };
  if (name in PEERS) return { name, path: peerLibrary(name), kind: 'peer' };
  throw new UserError(`unknown allocator '${name}': choose one of ${ALLOCATOR_NAMES.join(', ')}, or --lib <path>`, 2);
}
