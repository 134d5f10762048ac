// Errors as kubectl prints them: `Error from server (NotFound): pods "x" not found`.
import { isApiError, type ApiError } from '@bramble/api';
import { CliError } from '../errors.js';

/**
 * A failure whose text is already in kubectl's form (no `error: ` prefix added by the
 * program): `text` is written to stderr as is (empty when the command printed its
 * failures as they happened), then the command exits with `exitCode`.
 */
export class KubectlError extends CliError {
  override readonly exitCode: number;

  constructor(
    readonly text: string,
    exitCode = 1,
  ) {
    super(text.replace(/\n$/, ''));
    this.exitCode = exitCode;
  }
}

/** `Error from server (Code): <context: >message` plus a newline. */
export function serverErrorText(err: ApiError, context?: string): string {
  return `Error from server (${err.code}): ${context ? `${context}: ` : ''}${err.message}\n`;
}

/** The kubectl line for an error, or undefined when it is not an API error. */
export function kubectlErrorText(err: unknown): string | undefined {
  if (err instanceof KubectlError) return err.text === '' || err.text.endsWith('\n') ? err.text : `${err.text}\n`;
  if (isApiError(err)) return serverErrorText(err);
  return undefined;
}
