/**
 * One version of one source file, as propagation sees it: text with LF line ends, its lines, and its
 * Babel AST. Line numbers are 1-based everywhere (Babel's convention); index 0 of `lines` is unused.
 */
import type { ParserOptions, ParserPlugin } from '@babel/parser';
import { parse } from './packages.js';
import type { File } from '@babel/types';
import { FlorError } from '../errors.js';

export const SOURCE_EXTENSIONS = ['.js', '.mjs', '.cjs', '.jsx', '.ts', '.mts', '.cts', '.tsx'] as const;

export function extensionOf(path: string): string {
  const m = /\.[A-Za-z]+$/.exec(path);
  return m ? m[0].toLowerCase() : '';
}

export function isSourcePath(path: string): boolean {
  return (SOURCE_EXTENSIONS as readonly string[]).includes(extensionOf(path));
}

/** Babel options for a source file by extension: shared by propagation and the replay planner. */
export function parserOptions(path: string): ParserOptions {
  const ext = extensionOf(path);
  const ts = ext === '.ts' || ext === '.mts' || ext === '.cts' || ext === '.tsx';
  // `.ts` cannot take the jsx plugin: `<T>x` casts would parse as elements.
  const plugins: ParserPlugin[] = ts ? (ext === '.tsx' ? ['typescript', 'jsx'] : ['typescript']) : ['jsx'];
  if (ts) plugins.push('decorators-legacy');
  const script = ext === '.cjs' || ext === '.cts';
  return {
    sourceType: script ? 'script' : 'module',
    plugins,
    // Recover from what an old version may legitimately contain (duplicate declarations a bundler
    // tolerated, a stray `await`): propagation needs statement boundaries, not a compiler's verdict.
    errorRecovery: true,
    allowReturnOutsideFunction: script,
    allowAwaitOutsideFunction: true,
    allowUndeclaredExports: true,
    attachComment: false,
  };
}

export interface Source {
  path: string;
  /** LF-normalised text, always ending in exactly one '\n' when non-empty. */
  text: string;
  /** lines[1..n]; lines[0] is ''. No line terminators. */
  lines: string[];
  /** Offset of the first character of line i (1-based); lineStart[n+1] = text.length. */
  lineStart: number[];
  ast: File;
}

export interface Normalised {
  text: string;
  eol: '\n' | '\r\n';
  finalNewline: boolean;
}

/** CRLF and a missing final newline would make identical lines differ in the diff. */
export function normalise(raw: string): Normalised {
  const crlf = (raw.match(/\r\n/g) ?? []).length;
  const lf = (raw.match(/\n/g) ?? []).length;
  const eol = crlf > 0 && crlf * 2 >= lf ? '\r\n' : '\n';
  let text = raw.replace(/\r\n?/g, '\n');
  const finalNewline = text.length === 0 || text.endsWith('\n');
  if (!finalNewline) text += '\n';
  return { text, eol, finalNewline };
}

export function splitLines(text: string): { lines: string[]; lineStart: number[] } {
  const lines = [''];
  const lineStart = [0];
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    lineStart.push(pos);
    lines.push(text.slice(pos, end));
    pos = end + 1;
  }
  lineStart.push(text.length);
  return { lines, lineStart };
}

/** Parses LF-normalised text. Throws PARSE_FAILED with the parser's position. */
export function parseSource(path: string, text: string): Source {
  let ast: File;
  try {
    ast = parse(text, parserOptions(path));
  } catch (e) {
    const err = e as { message?: string; loc?: { line: number; column: number } };
    throw new FlorError('PARSE_FAILED', `${path} does not parse: ${String(err.message ?? e).replace(/\s*\(\d+:\d+\)$/, '')}${err.loc ? ` (line ${err.loc.line})` : ''}`, {
      hint: 'fix the syntax error, or leave this file out',
      data: { path, line: err.loc?.line },
    });
  }
  return { path, text, ...splitLines(text), ast };
}

export function leadingWhitespace(line: string): string {
  return /^[ \t]*/.exec(line)![0];
}

/** The whitespace-insensitive form two statements are compared in ("already present"). */
export function normaliseStatement(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .replace(/ ?([^\w$ ]) ?/g, '$1')
    .replace(/;+$/, '')
    .trim();
}
