// Errors the CLI reports as one line, `error: <what failed>: <why>`, without a stack trace.

/** An expected failure: exit code 1. */
export class CliError extends Error {
  readonly exitCode: number = 1;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The command line itself is wrong (bad flag value, missing argument): exit code 2. */
export class UsageError extends CliError {
  override readonly exitCode: number = 2;
}
