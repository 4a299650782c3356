/**
 * Propagation across a whole project: every file of today's code that holds requested log
 * statements, into the old version of that file (followed across renames).
 */
import { FlorError } from '../errors.js';
import { propagate, type FailureCode } from './propagate.js';
import { isSourcePath, normalise, parseSource } from './source.js';
import { indexAst } from './blocks.js';
import { findLogStatements } from './statements.js';

export type StatementStatus = 'inserted' | 'existing' | 'failed';

export interface StatementReport {
  /** Today's path. */
  file: string;
  /** The path in the old version (differs after a rename); null when the file is absent there. */
  oldFile: string | null;
  name: string | null;
  /** Line in today's file. */
  line: number;
  statement: string;
  status: StatementStatus;
  /** Why it failed (status 'failed'); absent otherwise. */
  reason?: string;
  code?: FailureCode | 'FILE_ABSENT' | 'PARSE_FAILED';
  identifier?: string;
}

export interface ProjectInput {
  /** Today's files: path -> text. Files that are not JS/TS sources are ignored. */
  newFiles: ReadonlyMap<string, string>;
  /** The old version's files: path -> text. */
  oldFiles: ReadonlyMap<string, string>;
  /** Renames between the versions: today's path -> old path (see store/renames.ts). */
  renames: ReadonlyMap<string, string>;
  names?: readonly string[] | undefined;
}

export interface ProjectResult {
  /** Old files that changed, keyed by their OLD path. */
  files: Map<string, string>;
  report: StatementReport[];
}

export function propagateProject(input: ProjectInput): ProjectResult {
  const files = new Map<string, string>();
  const report: StatementReport[] = [];
  const wanted = input.names ? new Set(input.names) : null;
  const paths = [...input.newFiles.keys()].filter(isSourcePath).sort();
  for (const file of paths) {
    const newText = input.newFiles.get(file)!;
    // Most files log nothing: skip them before paying for a parse.
    if (!newText.includes('flor') || !/\blog\b/.test(newText)) continue;
    const oldFile = input.renames.get(file) ?? file;
    const oldText = input.oldFiles.get(oldFile);
    if (oldText === undefined) {
      let logs;
      try {
        logs = findLogStatements(indexAst(parseSource(file, normalise(newText).text)));
      } catch (e) {
        report.push(parseFailure(file, null, e));
        continue;
      }
      for (const l of logs) {
        if (wanted && (l.name === null || !wanted.has(l.name))) continue;
        report.push({
          file,
          oldFile: null,
          name: l.name,
          line: l.startLine,
          statement: l.text,
          status: 'failed',
          code: 'FILE_ABSENT',
          reason: `${file} does not exist in the old version`,
        });
      }
      continue;
    }
    let r;
    try {
      r = propagate({ newText, oldText, path: file, oldPath: oldFile, names: input.names });
    } catch (e) {
      report.push(parseFailure(file, oldFile, e));
      continue;
    }
    if (r.inserted.length > 0) files.set(oldFile, r.text);
    for (const s of r.inserted) report.push({ file, oldFile, name: s.name, line: s.line, statement: s.text, status: 'inserted' });
    for (const s of r.existing) report.push({ file, oldFile, name: s.name, line: s.line, statement: s.text, status: 'existing' });
    for (const f of r.failed) {
      report.push({
        file,
        oldFile,
        name: f.name,
        line: f.line,
        statement: f.statement,
        status: 'failed',
        code: f.code,
        reason: f.reason,
        ...(f.identifier ? { identifier: f.identifier } : {}),
      });
    }
  }
  report.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
  return { files, report };
}

/** Today's file does not parse (or is too large to align): every statement in it is unknown. */
function parseFailure(file: string, oldFile: string | null, e: unknown): StatementReport {
  if (!(e instanceof FlorError)) throw e;
  return { file, oldFile, name: null, line: (e.data.line as number | undefined) ?? 0, statement: '', status: 'failed', code: 'PARSE_FAILED', reason: e.message };
}
