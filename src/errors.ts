/**
 * Every error a user can meet carries a stable `code` (callers branch on it, never on the
 * message), a one-line message, and a hint saying what to do. Parts throw these; only the CLI
 * prints them and chooses the exit status.
 */
export class FlorError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly data: Record<string, unknown>;

  constructor(code: string, message: string, opts: { hint?: string; data?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'FlorError';
    this.code = code;
    this.hint = opts.hint;
    this.data = opts.data ?? {};
  }
}

export function isFlorError(e: unknown, code?: string): e is FlorError {
  return e instanceof FlorError && (code === undefined || e.code === code);
}
