// `tsmalloc info`: the version, each bundled allocator with its path, origin and source hash, and installed peers.
import { Command } from 'commander';

import { BUNDLED, PEERS, findSystemLibrary } from '../lib/allocators.js';
import { UserError } from '../lib/errors.js';
import { bundledLibrary, currentSourceHash, embeddedSourceHash } from '../lib/native.js';
import { packageRoot, packageVersion } from '../lib/package.js';

export interface BundledInfo {
  name: string;
  path: string | null;
  origin: string | null;
  libc: string;
  arch: string;
  sourceHash: string | null;
  /** Whether the embedded hash equals the hash of csrc/ in this package (null when csrc/ is not shipped). */
  matchesSource: boolean | null;
  error?: string;
}

export interface PeerInfo {
  name: string;
  installed: boolean;
  path: string | null;
  debianPackage: string;
}

export interface Info {
  version: string;
  packageRoot: string;
  node: string;
  bundled: BundledInfo[];
  peers: PeerInfo[];
}

function machineLibc(): string {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const glibc = report?.header?.glibcVersionRuntime;
  return glibc ? `glibc ${glibc}` : 'musl';
}

export async function collectInfo(): Promise<Info> {
  const libc = machineLibc();
  const bundled: BundledInfo[] = [];
  for (const name of BUNDLED) {
    try {
      const lib = bundledLibrary(name);
      const sourceHash = embeddedSourceHash(lib.path);
      const current = await currentSourceHash(name);
      bundled.push({
        name,
        path: lib.path,
        origin: lib.origin,
        libc,
        arch: process.arch,
        sourceHash,
        matchesSource: current === null ? null : current === sourceHash,
      });
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      bundled.push({ name, path: null, origin: null, libc, arch: process.arch, sourceHash: null, matchesSource: null, error: err.message });
    }
  }
  const peers = Object.entries(PEERS).map(([name, p]) => {
    const path = findSystemLibrary(p.soname);
    return { name, installed: path !== null, path, debianPackage: p.debianPackage };
  });
  return { version: packageVersion, packageRoot, node: process.version, bundled, peers };
}

export function formatInfo(info: Info): string {
  const lines = [`tsmalloc ${info.version} (${info.packageRoot}, node ${info.node})`, '', 'bundled allocators:'];
  for (const b of info.bundled) {
    if (b.error) {
      lines.push(`  ${b.name.padEnd(9)} unavailable: ${b.error}`);
      continue;
    }
    const match = b.matchesSource === null ? '' : b.matchesSource ? ', matches csrc/' : ', DIFFERS from csrc/';
    lines.push(`  ${b.name.padEnd(9)} ${b.path}`);
    lines.push(`  ${''.padEnd(9)} from ${b.origin}, ${b.libc}, ${b.arch}, source ${b.sourceHash ?? 'unknown'}${match}`);
  }
  lines.push('', 'peer allocators:');
  for (const p of info.peers) {
    lines.push(`  ${p.name.padEnd(9)} ${p.installed ? p.path : `not installed (apt-get install -y ${p.debianPackage})`}`);
  }
  return lines.join('\n') + '\n';
}

export function register(program: Command): void {
  program
    .command('info')
    .description('show the bundled allocators (path, origin, source hash) and which peer allocators are installed')
    .option('--json', 'print one JSON object instead of text')
    .addHelpText('after', '\nExamples:\n  $ tsmalloc info\n  $ tsmalloc info --json | jq .bundled')
    .action(async (opts: { json?: boolean }) => {
      const info = await collectInfo();
      process.stdout.write(opts.json ? JSON.stringify(info, null, 2) + '\n' : formatInfo(info));
    });
}
