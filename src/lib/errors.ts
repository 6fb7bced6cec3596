// The one error type the CLI turns into a single `tsmalloc: ...` line and an exit code (no stack trace).
export class UserError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}
