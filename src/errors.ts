/**
 * Every error a user can meet carries a stable `code` (callers branch on it, never on the
 * message), a one-line message, and a hint saying what to do. Parts throw these; only the CLI
 * prints them and chooses the exit status.
 */
/**
 * Every code a part may throw. A union, so a typo in `isFlorError(e, 'RUN_NOT_FOUND')` or in a
 * `new FlorError(…)` fails to compile; docs/cli.md's exit statuses key on these.
 */
export const FLOR_ERROR_CODES = [
  'AMBIGUOUS_PLAN',
  'BAD_ARG',
  'BAD_ARG_NAME',
  'BAD_CKPT_KEY',
  'BAD_COLUMN_VALUE',
  'BAD_DATE',
  'BAD_FORMAT',
  'BAD_LIMIT',
  'BAD_LOOP',
  'BAD_MEMO',
  'BAD_NAME',
  'BAD_OPTION',
  'BAD_PLAN_ID',
  'BAD_QUERY',
  'BAD_REPLAY_SPEC',
  'BAD_REQUEST',
  'BAD_REVISION',
  'BAD_RUN_ID',
  'BAD_SEGMENT_NAME',
  'BAD_SHARD',
  'BAD_SHARDS',
  'BAD_TREE',
  'BAD_USAGE',
  'BAD_WORKERS',
  'BAD_WRITER',
  'BARE_REPO',
  'CKPT_CORRUPT',
  'CKPT_MISSING',
  'CKPT_REMOTE_MISSING',
  'CKPT_REMOTE_UNSUPPORTED',
  'CKPT_RESTORE',
  'CKPT_UNSUPPORTED',
  'CKPT_WRITE',
  'CODE_MISSING',
  'CORRUPT_DATA',
  'CORRUPT_JOURNAL',
  'CORRUPT_LOCK',
  'CORRUPT_PLAN',
  'CORRUPT_REF',
  'CORRUPT_RUN',
  'CORRUPT_SEGMENT',
  'CORRUPT_TREE',
  'DUCKDB_MISSING',
  'E',
  'F',
  'FETCH_FAILED',
  'FILE_TOO_LARGE',
  'GIT_FAILED',
  'GIT_MISSING',
  'GIT_TOO_OLD',
  'HISTORY_CLOSED',
  'HOOK_INSTALL',
  'INTERNAL',
  'JOURNAL_CLAIMED',
  'JOURNAL_CLOSED',
  'JOURNAL_MISSING',
  'JOURNAL_RECOVERY',
  'LEDGER_GONE',
  'LEDGER_REWRITTEN',
  'LEDGER_SHRANK',
  'MEMO_UNSTORABLE',
  'NAME_CLASH',
  'NOT_A_COLUMN',
  'NOT_A_REPO',
  'NO_NAMES',
  'NO_REMOTE',
  'NO_RUNS',
  'NO_SUCH_LOOP',
  'OBJECT_CORRUPT',
  'OBJECT_MISSING',
  'OBJECT_TYPE',
  'OBJECT_UNREADABLE',
  'OUTPUT_FAILED',
  'OUTPUT_REQUIRED',
  'PARQUET_WRITE',
  'PARSE_FAILED',
  'PATH_NOT_FOUND',
  'PLAN_NOT_FOUND',
  'PORT_IN_USE',
  'PUSH_FAILED',
  'REF_CONTENDED',
  'REPLAY_LOCKED',
  'REPLAY_NOT_IN_CODE',
  'REPLAY_NO_NAMES',
  'REPLAY_REFUSED',
  'REPLAY_RUNNING',
  'REPLAY_SNAPSHOT',
  'RUN_AMBIGUOUS',
  'RUN_INCOMPLETE',
  'RUN_NOT_FOUND',
  'SEGMENT_EXISTS',
  'SHARD_COUNT',
  'SQL_ERROR',
  'UI_LISTEN',
  'UNKNOWN_HOOK',
  'UNKNOWN_NAME',
  'UNSUPPORTED_FILE',
  // Not thrown: names a run a listing could not read for a reason that was no FlorError.
  'UNREADABLE',
] as const;

export type FlorErrorCode = (typeof FLOR_ERROR_CODES)[number];

export class FlorError extends Error {
  readonly code: FlorErrorCode;
  readonly hint: string | undefined;
  readonly data: Record<string, unknown>;

  constructor(code: FlorErrorCode, message: string, opts: { hint?: string; data?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'FlorError';
    this.code = code;
    this.hint = opts.hint;
    this.data = opts.data ?? {};
  }
}

export function isFlorError(e: unknown, code?: FlorErrorCode): e is FlorError {
  return e instanceof FlorError && (code === undefined || e.code === code);
}
