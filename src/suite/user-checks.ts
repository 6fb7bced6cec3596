// Reads a user's --checks file (a JSON array of checks) and turns each entry into a Check like the built-in ones.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';

import { UserError } from '../lib/errors.js';
import type { Check, ExecResult } from './types.js';

const USAGE_EXIT = 2;

/** What a user check may compare between the reference run and the run on the allocator. */
export const COMPARE_KEYS = ['stdout', 'stderr', 'exit', 'sha256'] as const;
type CompareKey = (typeof COMPARE_KEYS)[number];

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const FIELDS = ['name', 'description', 'command', 'shell', 'stdin', 'env', 'files', 'compare', 'package', 'needs', 'timeout'];

/** The observation for the chosen comparisons, one labelled section each, in a fixed order. */
function observe(r: ExecResult, compare: CompareKey[]): string {
  const parts: string[] = [];
  if (compare.includes('exit')) parts.push(`exit ${r.status}`);
  if (compare.includes('sha256')) parts.push(`stdout sha256 ${createHash('sha256').update(r.stdout).digest('hex')}`);
  if (compare.includes('stdout')) parts.push(`stdout:\n${r.stdout.toString('utf8')}`);
  if (compare.includes('stderr')) parts.push(`stderr:\n${r.stderr.toString('utf8')}`);
  return parts.join('\n');
}

function stringRecord(where: string, field: string, v: unknown): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw new Error(`${where}: "${field}" must be an object of strings`);
  }
  return v as Record<string, string>;
}

function parseOne(raw: unknown, index: number, baseDir: string, taken: Set<string>): Check {
  let where = `check ${index + 1}`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${where}: expected an object`);
  const c = raw as Record<string, unknown>;
  const unknown = Object.keys(c).filter((k) => !FIELDS.includes(k));
  if (unknown.length) throw new Error(`${where}: unknown field "${unknown[0]}" (fields: ${FIELDS.join(', ')})`);
  if (typeof c.name !== 'string' || !NAME.test(c.name)) throw new Error(`${where}: "name" must be letters, digits, '.', '_' or '-'`);
  const name = c.name;
  where = `check ${index + 1} ("${name}")`;
  if (taken.has(name)) throw new Error(`${where}: the name is already used`);
  taken.add(name);
  if ((c.command === undefined) === (c.shell === undefined)) throw new Error(`${where}: give exactly one of "command" and "shell"`);
  let argv: string[];
  if (c.command !== undefined) {
    if (!Array.isArray(c.command) || c.command.length === 0 || c.command.some((a) => typeof a !== 'string')) {
      throw new Error(`${where}: "command" must be a non-empty array of strings`);
    }
    argv = [...(c.command as string[])];
    // A relative path to a program means relative to the checks file: the check itself runs in a temporary directory.
    if (argv[0].includes('/') && !isAbsolute(argv[0])) argv[0] = resolve(baseDir, argv[0]);
  } else {
    if (typeof c.shell !== 'string') throw new Error(`${where}: "shell" must be a string`);
    argv = ['/bin/sh', '-c', c.shell];
  }
  if (c.stdin !== undefined && typeof c.stdin !== 'string') throw new Error(`${where}: "stdin" must be a string`);
  if (c.description !== undefined && typeof c.description !== 'string') throw new Error(`${where}: "description" must be a string`);
  if (c.package !== undefined && typeof c.package !== 'string') throw new Error(`${where}: "package" must be a string`);
  const env = stringRecord(where, 'env', c.env);
  const files = stringRecord(where, 'files', c.files);
  for (const f of Object.keys(files)) {
    if (isAbsolute(f) || f.split('/').includes('..')) throw new Error(`${where}: file "${f}" must be a relative path inside the check's directory`);
  }
  const compareRaw = c.compare === undefined ? ['stdout', 'exit'] : Array.isArray(c.compare) ? c.compare : [c.compare];
  const bad = compareRaw.find((k) => !(COMPARE_KEYS as readonly unknown[]).includes(k));
  if (bad !== undefined || compareRaw.length === 0) {
    throw new Error(`${where}: "compare" must be one or more of ${COMPARE_KEYS.join(', ')}`);
  }
  const needsRaw = c.needs === undefined ? [] : c.needs;
  if (!Array.isArray(needsRaw) || needsRaw.some((n) => typeof n !== 'string')) throw new Error(`${where}: "needs" must be an array of program names`);
  let timeout: number | undefined;
  if (c.timeout !== undefined) {
    if (typeof c.timeout !== 'number' || !(c.timeout > 0)) throw new Error(`${where}: "timeout" must be a number of seconds above 0`);
    timeout = c.timeout;
  }
  const debianPackage = c.package as string | undefined;
  const programs = c.command !== undefined ? [argv[0], ...(needsRaw as string[])] : (needsRaw as string[]);
  const compare = compareRaw as CompareKey[];
  const stdin = c.stdin as string | undefined;
  return {
    name,
    description: (c.description as string | undefined) ?? `user check: ${c.command !== undefined ? argv.join(' ') : String(c.shell)}`,
    needs: programs.map((program) => ({ program, debianPackage })),
    timeout,
    async run(t) {
      for (const [f, content] of Object.entries(files)) t.write(f, content);
      const r = await t.exec(argv, { stdin, env: { TSMALLOC_CHECKS_DIR: baseDir, ...env } });
      return observe(r, compare);
    },
  };
}

/** Loads the checks in `file`; any mistake is a usage error naming the file, the check and the field. */
export function loadUserChecks(file: string, builtinNames: string[]): Check[] {
  const path = resolve(file);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new UserError(`cannot read checks file ${path}: ${why}`, USAGE_EXIT);
  }
  try {
    if (!Array.isArray(raw)) throw new Error('expected a JSON array of checks');
    const taken = new Set(builtinNames);
    return raw.map((c, i) => parseOne(c, i, dirname(path), taken));
  } catch (e) {
    throw new UserError(`invalid checks file ${path}: ${(e as Error).message}`, USAGE_EXIT);
  }
}
