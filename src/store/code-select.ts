/**
 * Which files make up the code of a run: every tracked file (the code that ran must be exact),
 * plus the untracked files Git would not ignore, minus what is not code: `node_modules/`, nested
 * repositories, what `.florignore` names, and untracked files over the size cap. One `git
 * ls-files` process lists both kinds; sizes come from lstat here.
 */
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gitSync, type RepoInfo } from './git.js';
import { configMatching } from './git-config.js';
import { FlorError } from '../errors.js';
import type { SkippedCode, SkippedPath } from './types.js';

/** Untracked files larger than this are not captured, unless `git config flor.captureMaxBytes` says otherwise. */
export const DEFAULT_CAPTURE_MAX_BYTES = 1 << 20;
/** Extra exclusions, gitignore syntax, at the top of the work tree. */
export const FLORIGNORE = '.florignore';
/** A run's metadata lists at most this many skipped paths (the counts cover all of them). */
export const SKIPPED_LISTED = 100;

/** The metadata summary of what was skipped (none: undefined, and the key stays out of run.msgpack). */
export function skippedSummary(skipped: SkippedPath[]): SkippedCode | undefined {
  if (!skipped.length) return undefined;
  return { count: skipped.length, bytes: skipped.reduce((a, s) => a + (s.bytes ?? 0), 0), paths: skipped.slice(0, SKIPPED_LISTED) };
}

export interface TrackedEntry {
  path: string;
  mode: string;
  /** The user's index has it at this oid (stage 0), or null when it is unmerged. */
  oid: string | null;
}

export interface CodeSelection {
  tracked: TrackedEntry[];
  /** Untracked files that are captured. */
  untracked: string[];
  skipped: SkippedPath[];
}

function cwdOf(repo: RepoInfo): string {
  if (!repo.top) throw new FlorError('BARE_REPO', 'this repository has no work tree', { hint: 'run inside a clone with a work tree' });
  return repo.top;
}

/** `1048576`, `512k`, `1m`, `1g` (Git's integer suffixes); null when it is none of those. */
export function parseBytes(text: string): number | null {
  const m = /^\s*(\d+)\s*([kmg]?)\s*$/i.exec(text);
  if (!m) return null;
  const mult = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}

/** The cap from `flor.captureMaxBytes` (git config), or the default; a value that does not parse is said once and ignored. */
export function captureMaxBytes(config: Map<string, string>, warn: (line: string) => void = () => {}): number {
  const text = config.get('flor.capturemaxbytes');
  if (text === undefined) return DEFAULT_CAPTURE_MAX_BYTES;
  const n = parseBytes(text);
  if (n === null) {
    warn(`git flor: git config flor.captureMaxBytes is ${JSON.stringify(text)}, not a size (bytes, or with k, m, g); capturing with the default cap of 1 MiB\n`);
    return DEFAULT_CAPTURE_MAX_BYTES;
  }
  return n;
}

/**
 * Every `flor.*` setting (keys lower-cased, as Git reports them; the last value of each), from
 * Git's config listing (git-config.ts): no git process while no config file changed.
 */
export function florConfigSync(repo: RepoInfo): Map<string, string> {
  const m = new Map<string, string>();
  for (const [key, values] of configMatching(repo, /^flor\./)) m.set(key, values[values.length - 1]!);
  return m;
}

/**
 * Whether the top-level .gitignore already ignores every node_modules directory: then leaving them
 * out is the user's rule, not flor's, and is not reported. Only reporting depends on this guess;
 * what is captured never does.
 */
function ignoredByUser(top: string): boolean {
  let text: string;
  try {
    text = readFileSync(join(top, '.gitignore'), 'utf8');
  } catch {
    return false;
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines.some((l) => l.startsWith('!') && l.includes('node_modules'))) return false;
  return lines.some((l) => /^(\*\*\/)?node_modules\/?(\*\*)?$/.test(l));
}

/** node_modules directories beside the listed paths that flor left out (not ignored by the user's .gitignore). */
function skippedNodeModules(top: string, paths: Iterable<string>): SkippedPath[] {
  if (ignoredByUser(top)) return [];
  const dirs = new Set<string>(['']);
  for (const p of paths) {
    let i = p.lastIndexOf('/');
    while (i > 0) {
      const d = p.slice(0, i);
      if (dirs.has(d)) break;
      dirs.add(d);
      i = d.lastIndexOf('/');
    }
  }
  const out: SkippedPath[] = [];
  for (const d of dirs) {
    if (d.split('/').includes('node_modules')) continue;
    const rel = d ? `${d}/node_modules` : 'node_modules';
    try {
      if (lstatSync(join(top, rel)).isDirectory()) out.push({ path: `${rel}/`, why: 'node_modules', bytes: null });
    } catch {
      // none here
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** The `git ls-files` arguments (run in the work tree's top directory `top`) that list its code. */
export function codeListArgs(top: string): string[] {
  const args = ['ls-files', '-z', '--cached', '--others', '--stage', '-t', '--exclude-standard', '--exclude=node_modules/'];
  if (existsSync(join(top, FLORIGNORE))) args.push(`--exclude-from=${join(top, FLORIGNORE)}`);
  return args;
}

/**
 * Lists the work tree's code as described above: one git process, or none when `listed` is the
 * output of codeListArgs, run by another process (the waiting capturer's shell) for this start.
 */
export function selectCode(repo: RepoInfo, maxBytes: number, listed?: string | null): CodeSelection {
  const top = cwdOf(repo);
  const out = listed ?? gitSync(codeListArgs(top), { cwd: top }).stdout.toString();
  const tracked = new Map<string, TrackedEntry>();
  const others: string[] = [];
  for (const rec of out.split('\0')) {
    if (rec.length < 3) continue;
    if (rec.startsWith('? ')) {
      others.push(rec.slice(2));
      continue;
    }
    // `<tag> <mode> <oid> <stage>\t<path>`; an unmerged path comes once per stage.
    const tab = rec.indexOf('\t');
    const [, mode, oid, stage] = rec.slice(0, tab).split(' ');
    const path = rec.slice(tab + 1);
    const prev = tracked.get(path);
    if (!prev) tracked.set(path, { path, mode: mode!, oid: stage === '0' ? oid! : null });
  }
  const untracked: string[] = [];
  const skipped: SkippedPath[] = [];
  for (const p of others) {
    // Git lists a nested repository as its directory, with a trailing slash, and does not enter it.
    if (p.endsWith('/')) {
      skipped.push({ path: p, why: 'repository', bytes: null });
      continue;
    }
    let size = 0;
    try {
      const st = lstatSync(join(top, p));
      size = st.isFile() ? st.size : 0;
    } catch {
      continue; // gone since Git listed it
    }
    if (size > maxBytes) skipped.push({ path: p, why: 'size', bytes: size });
    else untracked.push(p);
  }
  skipped.push(...skippedNodeModules(top, [...tracked.keys(), ...others]));
  return { tracked: [...tracked.values()], untracked, skipped };
}

export function sizeText(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KB` : `${n} B`;
}

function why(s: SkippedPath, maxBytes: number): string {
  if (s.why === 'size') return `${sizeText(s.bytes ?? 0)}, over the ${sizeText(maxBytes)} cap`;
  return s.why === 'node_modules' ? 'dependencies' : 'a nested repository';
}

/** The one stderr line a run start prints about what its capture left out ('' when nothing). */
export function skippedLine(runId: string, skipped: SkippedPath[], maxBytes: number): string {
  if (!skipped.length) return '';
  const total = skipped.reduce((a, s) => a + (s.bytes ?? 0), 0);
  const named = skipped.slice(0, 3).map((s) => `${s.path} (${why(s, maxBytes)})`).join(', ');
  const more = skipped.length > 3 ? `, and ${skipped.length - 3} more` : '';
  const size = total > 0 ? `, ${sizeText(total)} in files` : '';
  return `git flor: run ${runId} does not capture ${skipped.length} untracked path(s)${size}: ${named}${more}; see \`git flor show ${runId}\`, \`git config flor.captureMaxBytes\` and .florignore\n`;
}

/** The stderr line for tracked files over the cap that were modified: captured all the same. */
export function largeTrackedLine(large: Array<{ path: string; bytes: number }>, maxBytes: number): string {
  if (!large.length) return '';
  const named = large.slice(0, 3).map((l) => `${l.path} (${sizeText(l.bytes)})`).join(', ');
  return `git flor: warning: captured ${large.length} modified tracked file(s) over the ${sizeText(maxBytes)} cap: ${named}${large.length > 3 ? ', …' : ''} (tracked files are always captured as they are)\n`;
}
