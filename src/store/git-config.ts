/** Git's configuration, remotes and version, as the other parts need them (only the store runs Git). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { configStamp } from './config-files.js';
import { gitRepoSync, type RepoInfo } from './git.js';

/**
 * Every setting Git reads in this repository, from one `git config --list` (a replay used to start
 * eight `git config` processes). Values are kept while the stamp of Git's config files
 * (config-files.ts) is unchanged: a write anywhere changes it, and the next read lists again. A
 * config with `include`/`includeIf` (files the stamp does not cover) is listed afresh for every read.
 */
interface Snapshot {
  stamp: string;
  /** Canonical key (section and name lower-cased, subsection as written) -> values in order; null for a key without `=`. */
  values: Map<string, Array<string | null>>;
  cacheable: boolean;
}

const snapshots = new Map<string, Snapshot>();

/** `section.sub.Name` -> the form Git lists it in: section and name lower-cased, subsection as written. */
function canonical(key: string): string {
  const first = key.indexOf('.');
  const last = key.lastIndexOf('.');
  if (first < 0) return key.toLowerCase();
  return key.slice(0, first).toLowerCase() + key.slice(first, last) + key.slice(last).toLowerCase();
}

function snapshot(repo: RepoInfo): Snapshot {
  const stamp = configStamp(repo);
  const have = snapshots.get(repo.gitDir);
  if (have?.cacheable && have.stamp === stamp) return have;
  const kept = listingOnDisk(repo, stamp);
  const listing = kept ?? gitRepoSync(repo, ['config', '--list', '-z'], { okCodes: [1] }).stdout.toString();
  const values = new Map<string, Array<string | null>>();
  let cacheable = true;
  for (const rec of listing.split('\0')) {
    if (!rec) continue;
    const nl = rec.indexOf('\n');
    const key = nl < 0 ? rec : rec.slice(0, nl);
    if (key.startsWith('include.') || key.startsWith('includeif.')) cacheable = false;
    const list = values.get(key);
    const v = nl < 0 ? null : rec.slice(nl + 1);
    if (list) list.push(v);
    else values.set(key, [v]);
  }
  const s = { stamp, values, cacheable };
  snapshots.set(repo.gitDir, s);
  if (cacheable && kept === null) keepListing(repo, stamp, listing);
  return s;
}

/**
 * The listing is also kept on disk under its stamp, for the next process: each capture and most
 * commands are a new process, and `git config --list` was one of a capture's git processes. The
 * stamp is taken before Git lists, so a file changed meanwhile gives a stamp that no longer matches.
 */
function listingFile(repo: RepoInfo): string {
  return join(repo.gitDir, 'flor', 'config-list.json');
}

function listingOnDisk(repo: RepoInfo, stamp: string): string | null {
  try {
    const c = JSON.parse(readFileSync(listingFile(repo), 'utf8')) as { stamp?: unknown; listing?: unknown };
    return c.stamp === stamp && typeof c.listing === 'string' ? c.listing : null;
  } catch {
    return null; // none yet, or torn: Git is asked
  }
}

function keepListing(repo: RepoInfo, stamp: string, listing: string): void {
  writeFileAtomic(listingFile(repo), JSON.stringify({ stamp, listing }));
}

/** As `git config --get key`: the last value, '' for a key without `=`, null when unset. */
export function configValue(repo: RepoInfo, key: string): string | null {
  const list = snapshot(repo).values.get(canonical(key));
  return list?.length ? (list[list.length - 1] ?? '') : null;
}

/** As `git config --get-all key`, without empty values. */
export function configValues(repo: RepoInfo, key: string): string[] {
  return (snapshot(repo).values.get(canonical(key)) ?? []).filter((v): v is string => !!v);
}

/** As `git config --get-regexp pattern`: canonical key -> its last value ('true' for a key without `=`). */
export function configMatching(repo: RepoInfo, pattern: RegExp): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [k, list] of snapshot(repo).values) if (pattern.test(k)) out.set(k, list.map((v) => v ?? 'true'));
  return out;
}

/** As `git config --type=bool --get key`: null when unset or not a boolean Git accepts. */
export function configBoolValue(repo: RepoInfo, key: string): boolean | null {
  const list = snapshot(repo).values.get(canonical(key));
  if (!list?.length) return null;
  const v = list[list.length - 1];
  if (v === null || v === undefined) return true;
  const t = v.trim().toLowerCase();
  if (t === 'true' || t === 'yes' || t === 'on') return true;
  if (t === 'false' || t === 'no' || t === 'off' || t === '') return false;
  return /^[-+]?\d+$/.test(t) ? Number(t) !== 0 : null;
}

/** Where a key's value comes from (`local`, `global`, `system`, ...), or null when it is unset. */
export function configScope(repo: RepoInfo, key: string): string | null {
  const r = gitRepoSync(repo, ['config', '--show-scope', '--get', key], { okCodes: [1] });
  return r.code === 0 ? (r.stdout.toString().split('\t')[0] ?? null) : null;
}

/** `git config ARGS…` that writes (`--add`, `--unset-all`, …). */
export function setConfig(repo: RepoInfo, args: string[]): void {
  // 5: `--unset`/`--unset-all` of a value that another process removed meanwhile
  gitRepoSync(repo, ['config', ...args], { okCodes: [5] });
  forgetConfig(repo);
}

/** After a write through Git: the next read lists again (the file stamp would say so too, unless within the clock's tick). */
export function forgetConfig(repo: RepoInfo): void {
  snapshots.delete(repo.gitDir);
}

export function configuredRemotes(repo: RepoInfo): string[] {
  return gitRepoSync(repo, ['remote']).stdout.toString().split('\n').filter(Boolean);
}

export function currentBranch(repo: RepoInfo): string | null {
  const r = gitRepoSync(repo, ['symbolic-ref', '-q', '--short', 'HEAD'], { okCodes: [1, 128] });
  return r.code === 0 ? r.stdout.toString().trim() : null;
}

export function gitAtLeast(repo: RepoInfo, major: number, minor: number): boolean {
  const m = /(\d+)\.(\d+)/.exec(gitRepoSync(repo, ['version']).stdout.toString());
  if (!m) return true;
  return Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor);
}

/** Whether `ref` exists. */
export function hasRef(repo: RepoInfo, ref: string): boolean {
  return gitRepoSync(repo, ['rev-parse', '-q', '--verify', ref], { okCodes: [1] }).code === 0;
}
