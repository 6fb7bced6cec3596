// `npm run install-peers`: installs the Debian packages of the peer allocators the bench compares against.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { $ } from 'zx';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist/lib/allocators.js');
if (!existsSync(dist)) {
  console.error(`install-peers: ${dist} not found: run npm run build first`);
  process.exit(1);
}
const { PEERS, findSystemLibrary } = await import(pathToFileURL(dist).href);

$.verbose = false;
const peers = Object.entries(PEERS);
const missing = peers.filter(([, p]) => !findSystemLibrary(p.soname));
if (missing.length === 0) {
  console.log(`install-peers: all present (${peers.map(([name]) => name).join(', ')})`);
  process.exit(0);
}
const pkgs = missing.map(([, p]) => p.debianPackage);
if (!(await $`command -v apt-get`.nothrow()).ok) {
  console.error(`install-peers: apt-get not found: install ${pkgs.join(' ')} with your package manager`);
  process.exit(1);
}
const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
console.log(`install-peers: apt-get install -y ${pkgs.join(' ')}`);
// apt-get install -y is idempotent; an empty or stale package list is refreshed once and the install retried.
let r = await $({ stdio: 'inherit', nothrow: true })`${sudo} apt-get install -y ${pkgs}`;
if (!r.ok) {
  await $({ stdio: 'inherit', nothrow: true })`${sudo} apt-get update`;
  r = await $({ stdio: 'inherit', nothrow: true })`${sudo} apt-get install -y ${pkgs}`;
}
const still = missing.filter(([, p]) => !findSystemLibrary(p.soname));
for (const [name, p] of still) console.error(`install-peers: ${name} still missing: ${p.soname} from ${p.debianPackage}`);
process.exit(still.length === 0 ? 0 : 1);
