// The shapes shared by the test-suite modules: a check, the trial it runs in, what a program run returns, a result.

/** A program a check needs; when it is not installed the check is a skip naming the Debian package. */
export interface Need {
  /** A name looked up in PATH, or an absolute path. */
  program: string;
  /** The Debian package that provides it, for the skip message; undefined when unknown. */
  debianPackage?: string;
}

export interface ExecOptions {
  /** Bytes written to standard input, which is then closed. */
  stdin?: string | Buffer;
  /** Variables on top of the trial's environment; undefined removes one. */
  env?: Record<string, string | undefined>;
  /** Working directory relative to the trial directory (default: the trial directory). */
  cwd?: string;
  /**
   * Keys to type into a pseudo-terminal: the program is run under `script -qfec ... /dev/null`; each string is
   * written once the program has drawn something and the previous key was given time to take effect.
   */
  keys?: string[];
}

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  /** The exit code (a death by signal throws CrashError instead). */
  status: number;
  pid: number;
}

/** One run of a check: a fresh temporary directory and an environment with or without the allocator preloaded. */
export interface Trial {
  readonly dir: string;
  /** True for the run on the allocator under test, false for the reference run (nothing preloaded). */
  readonly preloaded: boolean;
  /** Runs a program in the trial directory; a death by signal throws a CrashError. */
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** exec, but a non-zero exit status throws a StepError quoting the first lines of stderr. */
  ok(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Writes a file (parents created) relative to the trial directory. */
  write(rel: string, content: string | Buffer): void;
  read(rel: string): Buffer;
}

export interface Check {
  name: string;
  /** One line for --list. */
  description: string;
  needs: Need[];
  /** Seconds this check may take, overriding --timeout (user checks only). */
  timeout?: number;
  /**
   * Runs the check and returns what must be the same with and without the allocator: output, a checksum, a
   * shape. It is called once per trial, each in its own directory.
   */
  run(t: Trial): Promise<string>;
}

export type Status = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  status: Status;
  seconds: number;
  /** Why it failed or was skipped (the first lines of the difference, of stderr, or the crash); '' for a pass. */
  detail: string;
}

export interface SuiteReport {
  allocator: string;
  results: CheckResult[];
  passed: number;
  failed: number;
  skipped: number;
}
