// The built-in checks: small deterministic jobs for real programs, each returning what must not depend on malloc.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

import type { Check, Trial } from './types.js';

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const text = (b: Buffer): string => b.toString('utf8');

/** A fixed time for every file a check creates, so `ls -l` and `tar` see the same dates in both trials. */
const FIXED_TIME = new Date('2024-01-02T03:04:05Z');

/** A seeded generator (mulberry32): the same inputs in every trial and on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa'.split(' ');

/** `n` lines of pseudo-random words and numbers. */
function lines(n: number, seed: number): string {
  const r = prng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(`${WORDS[Math.floor(r() * WORDS.length)]} ${Math.floor(r() * 1e6)} ${WORDS[Math.floor(r() * WORDS.length)]}${i % 97}`);
  }
  return out.join('\n') + '\n';
}

/** `bytes` pseudo-random bytes. */
function blob(bytes: number, seed: number): Buffer {
  const r = prng(seed);
  const words = new Uint32Array(Math.ceil(bytes / 4));
  for (let i = 0; i < words.length; i++) words[i] = Math.floor(r() * 4294967296);
  return Buffer.from(words.buffer, 0, bytes);
}

/** A tree of `dirs` directories of `files` small files each under `root`, every date fixed. */
function makeTree(t: Trial, root: string, dirs: number, files: number): void {
  for (let d = 0; d < dirs; d++) {
    for (let f = 0; f < files; f++) t.write(`${root}/dir${d}/sub${f % 3}/file${f}.txt`, `${root} ${d} ${f}\n`.repeat(f % 5));
  }
  fixDates(join(t.dir, root));
}

function fixDates(path: string): void {
  if (statSync(path).isDirectory()) for (const e of readdirSync(path)) fixDates(join(path, e));
  utimesSync(path, FIXED_TIME, FIXED_TIME);
}

/** The exit status and output, the usual observation. */
const outcome = (r: { status: number; stdout: Buffer }): string => `exit ${r.status}\n${text(r.stdout)}`;

const JAVA = `import java.util.*;
public class Alloc {
  public static void main(String[] args) throws Exception {
    Map<String, List<Integer>> m = new HashMap<>();
    for (int i = 0; i < 100000; i++) m.computeIfAbsent("k" + (i % 1000), k -> new ArrayList<>()).add(i);
    StringBuilder sb = new StringBuilder();
    List<String> keys = new ArrayList<>(m.keySet());
    Collections.sort(keys);
    for (String k : keys.subList(0, 5)) sb.append(k).append('=').append(m.get(k).size()).append(' ');
    Thread[] ts = new Thread[4];
    long[] sums = new long[4];
    for (int t = 0; t < 4; t++) { final int n = t; ts[t] = new Thread(() -> { long s = 0; for (int i = 0; i < 50000; i++) s += ("x" + i + n).length(); sums[n] = s; }); ts[t].start(); }
    for (Thread t : ts) t.join();
    System.out.println(sb.toString().trim());
    System.out.println("keys " + m.size() + " last " + m.get("k999").get(99) + " sums " + Arrays.toString(sums));
  }
}
`;

const BASH = `set -eu
declare -a list=()
declare -A count=()
for i in $(seq 1 400); do list+=("item$((i * 7 % 101))"); done
for w in "\${list[@]}"; do count[$w]=$(( \${count[$w]:-0} + 1 )); done
echo "items \${#list[@]} distinct \${#count[@]}"
sorted=$(printf '%s\\n' "\${!count[@]}" | sort | head -n 5 | tr '\\n' ' ')
echo "first keys: $sorted"
total=0
for k in "\${!count[@]}"; do total=$(( total + count[$k] )); done
echo "total $total"
( cd /; echo "subshell in $(pwd)"; exit 3 ) || echo "subshell exit $?"
out=$( { for i in 1 2 3; do ( echo "nested $i $(echo $((i * i)))" ); done; } | tac )
echo "$out"
str=""
for i in $(seq 1 200); do str+="ab"; done
echo "len \${#str} upper \${str:0:6}" | tr a-z A-Z
cat <<EOF | while read -r a b; do echo "read $b $a"; done
one 1
two 2
EOF
`;

const PYTHON = `import threading, hashlib, json
d = {}
for i in range(1500):
    d['key%d' % i] = ['v' * (i % 13), i, {'n': i % 7}]
s = json.dumps(d, sort_keys=True)
words = ' '.join('w%d' % (i % 50) for i in range(3000)).split()
out = {}
def work(n):
    local = {str(i * n): str(i) * (i % 5) for i in range(800)}
    out[n] = hashlib.sha256(repr(sorted(local.items())).encode()).hexdigest()[:12]
ts = [threading.Thread(target=work, args=(n,)) for n in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(len(d), hashlib.sha256(s.encode()).hexdigest()[:16], len(set(words)))
print(sorted(out.items()))
print('-'.join(sorted(set(words)))[:60].upper())
`;

const NODE = `const m = new Map();
for (let i = 0; i < 20000; i++) m.set('k' + (i % 997), (m.get('k' + (i % 997)) ?? 0) + i);
const json = JSON.stringify([...m.entries()].sort());
const buf = Buffer.alloc(1 << 20, 'ab');
const h = require('crypto').createHash('sha256').update(json).update(buf).digest('hex');
console.log(m.size, json.length, h.slice(0, 16), 'x'.repeat(1000).replace(/x/g, 'yz').length);
`;

const C_PROGRAM = `#include <emmintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; char *s; size_t n; };
int main(void) {
  struct node *head = NULL;
  unsigned long sum = 0;
  for (int i = 0; i < 20000; i++) {
    struct node *n = malloc(sizeof *n);
    n->n = (size_t)(i % 200) + 1;
    n->s = malloc(n->n);
    memset(n->s, 'a' + i % 26, n->n);
    n->next = head;
    head = n;
    if (i % 3 == 0) { n->s = realloc(n->s, n->n * 3); memset(n->s, 'z', n->n * 3); n->n *= 3; }
  }
  for (struct node *n = head; n; ) { struct node *next = n->next; for (size_t k = 0; k < n->n; k++) sum += (unsigned char)n->s[k]; free(n->s); free(n); n = next; }
  /* malloc must return memory aligned for any type, SSE vectors included (the compiler uses aligned moves). */
  int misaligned = 0;
  __m128i acc = _mm_setzero_si128();
  for (int i = 1; i < 200; i++) {
    __m128i *v = malloc((size_t)i * sizeof *v);
    misaligned += (uintptr_t)v % 16 != 0;
    for (int k = 0; k < i; k++) v[k] = _mm_set1_epi32(i + k);
    for (int k = 0; k < i; k++) acc = _mm_add_epi32(acc, v[k]);
    free(v);
  }
  void *p = NULL;
  int rc = posix_memalign(&p, 64, 1000);
  printf("sum %lu vectors %d misaligned %d memalign %d %d\\n", sum, _mm_cvtsi128_si32(acc), misaligned, rc, (int)((uintptr_t)p % 64));
  free(p);
  return 0;
}
`;

const PERL = `use strict; use warnings;
my %h; my @words = map { "w" . ($_ * 31 % 211) } 1..5000;
$h{$_}++ for @words;
my @top = (sort { $h{$b} <=> $h{$a} || $a cmp $b } keys %h)[0..4];
my $s = join ",", map { sprintf "%s:%d", $_, $h{$_} } @top;
(my $t = "abc" x 1000) =~ s/b/BB/g;
my @m = ("2024-01-02 x=1 y=22 z=333" =~ /(\\w)=(\\d+)/g);
print scalar(keys %h), " $s ", length($t), " @m\\n";
`;

const SQL = `CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
INSERT INTO t SELECT x, 'name' || (x * 7919 % 10007), x % 17, x * 0.5 FROM c;
CREATE INDEX t_name ON t(name);
SELECT grp, count(*), sum(val), min(name), max(name) FROM t GROUP BY grp ORDER BY grp LIMIT 5;
SELECT count(DISTINCT name), group_concat(id) FROM (SELECT * FROM t WHERE name LIKE 'name12%' ORDER BY id LIMIT 8);
UPDATE t SET name = upper(name) WHERE id % 5 = 0;
DELETE FROM t WHERE grp = 3;
SELECT count(*), sum(length(name)) FROM t;
`;

const MAKEFILE = `WORDS := $(shell cat words.txt)
OBJS := $(patsubst %,out/%.o,$(WORDS))
all: out/total
out/%.o: | out
\t@echo "build $*"
\t@echo "$*" | tr a-z A-Z > $@
out:
\t@mkdir -p out
out/total: $(OBJS)
\t@cat $^ | sort > $@
\t@echo "total $(words $^) $$(wc -l < $@)"
.PHONY: all
`;

export const CATALOGUE: Check[] = [
  {
    name: 'ls-l',
    description: 'ls -l of a directory of 2000 files',
    needs: [{ program: 'ls', debianPackage: 'coreutils' }],
    async run(t) {
      for (let i = 0; i < 2000; i++) t.write(`flat/f${i}.dat`, 'x'.repeat(i % 300));
      fixDates(join(t.dir, 'flat'));
      return outcome(await t.ok(['ls', '-l', '--time-style=+%Y-%m-%d', 'flat']));
    },
  },
  {
    name: 'ls-R',
    description: 'ls -R of a tree of 40 directories and 2400 files',
    needs: [{ program: 'ls', debianPackage: 'coreutils' }],
    async run(t) {
      makeTree(t, 'tree', 40, 60);
      return outcome(await t.ok(['ls', '-R', 'tree']));
    },
  },
  {
    name: 'ps',
    description: 'ps aux: the header and a line for ps itself (the rest changes from run to run)',
    needs: [{ program: 'ps', debianPackage: 'procps' }],
    async run(t) {
      const r = await t.ok(['ps', 'aux']);
      const rows = text(r.stdout).trimEnd().split('\n');
      const self = rows.some((row) => row.trim().split(/\s+/)[1] === String(r.pid) && /ps aux$/.test(row));
      return `exit ${r.status}\nheader: ${rows[0].replace(/\s+/g, ' ')}\nlists itself: ${self}\nmore rows: ${rows.length > 2}`;
    },
  },
  {
    name: 'cat',
    description: 'cat of a 16 MiB file, compared by checksum',
    needs: [{ program: 'cat', debianPackage: 'coreutils' }],
    async run(t) {
      const data = blob(16 << 20, 1);
      t.write('big.bin', data);
      const r = await t.ok(['cat', 'big.bin']);
      return `exit ${r.status}\nsha256 ${sha256(r.stdout)}\nsame as input: ${sha256(data) === sha256(r.stdout)}`;
    },
  },
  {
    name: 'hostname',
    description: 'hostname',
    needs: [{ program: 'hostname', debianPackage: 'hostname' }],
    run: async (t) => outcome(await t.ok(['hostname'])),
  },
  {
    name: 'uname',
    description: 'uname -a',
    needs: [{ program: 'uname', debianPackage: 'coreutils' }],
    run: async (t) => outcome(await t.ok(['uname', '-a'])),
  },
  {
    name: 'java',
    description: 'javac compiles, java runs a program with maps, strings and threads',
    needs: [
      { program: 'javac', debianPackage: 'default-jdk-headless' },
      { program: 'java', debianPackage: 'default-jre-headless' },
    ],
    async run(t) {
      t.write('Alloc.java', JAVA);
      // No options from the caller's environment (the JVM announces them on stderr); a small fixed heap.
      const opts = { env: { JAVA_TOOL_OPTIONS: undefined, _JAVA_OPTIONS: undefined, JDK_JAVA_OPTIONS: undefined } };
      await t.ok(['javac', '-J-Xmx256m', 'Alloc.java'], opts);
      return outcome(await t.ok(['java', '-Xmx256m', '-cp', '.', 'Alloc'], opts));
    },
  },
  {
    name: 'vim-ex',
    description: 'vim in ex mode: substitute, delete, append, sort, write',
    needs: [{ program: 'vim', debianPackage: 'vim' }],
    async run(t) {
      t.write('notes.txt', lines(500, 2));
      const script = '%s/alpha/ALPHA/g\ng/bravo/d\n$a\nappended line\n.\nsort\nwq\n';
      const r = await t.ok(['vim', '-u', 'NONE', '-i', 'NONE', '-n', '-es', 'notes.txt'], { stdin: script });
      const file = t.read('notes.txt');
      return `exit ${r.status}\nlines ${text(file).split('\n').length}\nsha256 ${sha256(file)}`;
    },
  },
  {
    name: 'vim-tty',
    description: 'vim in a pseudo-terminal: open, insert, save, quit',
    needs: [
      { program: 'vim', debianPackage: 'vim' },
      { program: 'script', debianPackage: 'bsdutils' },
    ],
    async run(t) {
      t.write('notes.txt', 'first line\n');
      const r = await t.exec(['vim', '-u', 'NONE', '-i', 'NONE', '-n', 'notes.txt'], {
        keys: ['Ohello from vim\x1b', 'Gyyp', ':wq\r'],
        env: { TERM: 'xterm' },
      });
      return `exit ${r.status}\nfile:\n${text(t.read('notes.txt'))}`;
    },
  },
  {
    name: 'bash',
    description: 'bash runs a script with arrays, associative arrays, subshells and pipes',
    needs: [{ program: 'bash', debianPackage: 'bash' }],
    async run(t) {
      t.write('script.sh', BASH);
      return outcome(await t.ok(['bash', 'script.sh']));
    },
  },
  {
    name: 'python3',
    description: 'python3 with PYTHONMALLOC=malloc: dicts, strings, json, threads',
    needs: [{ program: '/usr/bin/python3', debianPackage: 'python3' }],
    async run(t) {
      t.write('work.py', PYTHON);
      return outcome(await t.ok(['/usr/bin/python3', '-s', '-B', 'work.py'], { env: { PYTHONMALLOC: 'malloc' } }));
    },
  },
  {
    name: 'node',
    description: 'node: maps, JSON, buffers, hashing',
    needs: [{ program: 'node', debianPackage: 'nodejs' }],
    async run(t) {
      t.write('work.js', NODE);
      return outcome(await t.ok(['node', 'work.js'], { env: { NODE_OPTIONS: undefined } }));
    },
  },
  {
    name: 'gcc',
    description: 'gcc compiles a C program that allocates, and it runs',
    needs: [{ program: 'gcc', debianPackage: 'gcc' }],
    async run(t) {
      t.write('prog.c', C_PROGRAM);
      await t.ok(['gcc', '-O1', '-Wall', '-o', 'prog', 'prog.c']);
      return outcome(await t.ok(['./prog']));
    },
  },
  {
    name: 'git',
    description: 'git init, add, commit, log, gc with fixed dates',
    needs: [{ program: 'git', debianPackage: 'git' }],
    async run(t) {
      const env = {
        HOME: t.dir,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_AUTHOR_NAME: 'Suite',
        GIT_AUTHOR_EMAIL: 'suite@example.com',
        GIT_COMMITTER_NAME: 'Suite',
        GIT_COMMITTER_EMAIL: 'suite@example.com',
        GIT_AUTHOR_DATE: '2024-01-02T03:04:05Z',
        GIT_COMMITTER_DATE: '2024-01-02T03:04:05Z',
      };
      const git = (...args: string[]) => t.ok(['git', '-C', 'repo', ...args], { env });
      await t.ok(['git', 'init', '-q', '-b', 'main', 'repo'], { env });
      makeTree(t, 'repo/src', 5, 20);
      await git('config', 'user.name', 'Suite');
      await git('config', 'user.email', 'suite@example.com');
      await git('add', '.');
      await git('commit', '-q', '-m', 'first');
      t.write('repo/src/dir0/sub0/file0.txt', lines(200, 3));
      await git('commit', '-q', '-am', 'second');
      await git('gc', '--quiet');
      const log = await git('log', '--stat', '--format=%H %an %ad %s', '--date=iso-strict');
      const fsck = await git('fsck', '--full', '--no-progress');
      return `${outcome(log)}fsck: ${text(fsck.stdout)}`;
    },
  },
  {
    name: 'perl',
    description: 'perl: hashes, sort, regular expressions, sprintf',
    needs: [{ program: 'perl', debianPackage: 'perl-base' }],
    async run(t) {
      t.write('work.pl', PERL);
      return outcome(await t.ok(['perl', 'work.pl']));
    },
  },
  {
    name: 'sqlite3',
    description: 'sqlite3: create, insert 20000 rows, index, query, update, delete',
    needs: [{ program: 'sqlite3', debianPackage: 'sqlite3' }],
    async run(t) {
      return outcome(await t.ok(['sqlite3', 'test.db'], { stdin: SQL }));
    },
  },
  {
    name: 'sort',
    description: 'sort of a 200000-line file, plain and numeric by field, compared by checksum',
    needs: [{ program: 'sort', debianPackage: 'coreutils' }],
    async run(t) {
      t.write('in.txt', lines(200_000, 4));
      const a = await t.ok(['sort', 'in.txt']);
      const b = await t.ok(['sort', '-k2,2n', '-k1,1', '-S', '4M', 'in.txt']);
      return `exit ${a.status} ${b.status}\nsort ${sha256(a.stdout)}\nsort -n ${sha256(b.stdout)}`;
    },
  },
  {
    name: 'tar-gzip',
    description: 'tar with gzip: archive a tree and a large file, list, extract, compare',
    needs: [
      { program: 'tar', debianPackage: 'tar' },
      { program: 'gzip', debianPackage: 'gzip' },
    ],
    async run(t) {
      makeTree(t, 'data', 10, 30);
      t.write('data/big.txt', lines(50_000, 5));
      fixDates(join(t.dir, 'data'));
      await t.ok(['tar', '-czf', 'data.tar.gz', '--owner=0', '--group=0', '--numeric-owner', '--sort=name', 'data']);
      const list = await t.ok(['tar', '-tzvf', 'data.tar.gz']);
      t.write('out/.keep', '');
      await t.ok(['tar', '-xzf', '../data.tar.gz'], { cwd: 'out' });
      const same = treeHash(join(t.dir, 'data')) === treeHash(join(t.dir, 'out', 'data'));
      return `${outcome(list)}round trip identical: ${same}`;
    },
  },
  {
    name: 'make',
    description: 'make builds pattern rules with variables and functions',
    needs: [
      { program: 'make', debianPackage: 'make' },
    ],
    async run(t) {
      t.write('Makefile', MAKEFILE);
      t.write('words.txt', WORDS.join(' ') + '\n');
      const r = await t.ok(['make', '--no-print-directory']);
      return `${outcome(r)}total:\n${text(t.read('out/total'))}`;
    },
  },
];

/** A checksum of every file's relative path and content under `root`. */
function treeHash(root: string): string {
  const h = createHash('sha256');
  const walk = (dir: string, rel: string): void => {
    for (const e of readdirSync(dir).sort()) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p, `${rel}${e}/`);
      else h.update(`${rel}${e}\0`).update(readFileSync(p));
    }
  };
  walk(root, '');
  return h.digest('hex');
}
