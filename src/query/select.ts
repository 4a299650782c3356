/**
 * Run-set options shared by the listing commands: `--version REV`, `--status`, `--script` and
 * `--since`. Each keeps the runs it describes; given together, a run must satisfy every one.
 */
import { FlorError } from '../errors.js';
import type { RepoInfo } from '../store/git.js';
import { resolveRev } from '../store/revs.js';
import type { RunMeta } from '../store/types.js';
import { parseSince } from './since.js';
import { resolveIn } from '../store/run-id.js';
import type { BrokenRun, RunEntry } from '../store/ledger-union.js';

export interface RunSelection {
  /** Revisions: a branch, a tag, any rev Git reads, or a prefix of a run's commit. */
  version?: string[];
  status?: string[];
  /** Entry scripts, as recorded (relative to the top of the work tree) or by a trailing part of the path. */
  script?: string[];
  /** `--since` text, as `log` reads it. */
  since?: string;
}

export const STATUSES = ['ok', 'failed', 'interrupted', 'crashed'] as const;

/** A run's commit is one of these: full shas, and prefixes of commits this clone does not have. */
interface VersionSet {
  commits: Set<string>;
  prefixes: string[];
}

/**
 * Each REV as a commit of this clone, else as a prefix of some run's commit (a fetched run's
 * commit may not be here). A REV that is neither is an error naming it.
 */
async function versions(repo: RepoInfo, revs: string[], known: Array<string | null>): Promise<VersionSet> {
  const set: VersionSet = { commits: new Set(), prefixes: [] };
  for (const rev of revs) {
    const sha = (await resolveRev(repo, rev))?.commit;
    if (sha) {
      set.commits.add(sha);
      continue;
    }
    const p = rev.toLowerCase();
    if (/^[0-9a-f]{4,}$/.test(p) && known.some((c) => c?.startsWith(p))) set.prefixes.push(p);
    else throw new FlorError('BAD_REVISION', `--version ${rev}: not a commit, branch or tag of this repository, nor the commit of a run`, { hint: 'give a branch, a tag, a commit (a prefix of 4+ hex digits) or a rev such as HEAD~2' });
  }
  return set;
}

function scriptMatches(script: string, wanted: string): boolean {
  const w = wanted.replace(/^\.\//, '');
  return script === w || script.endsWith('/' + w);
}

/** A filter over runs for the options given; null when none was given (keep every run). */
export async function runFilter(repo: RepoInfo, sel: RunSelection, all: Array<{ meta: RunMeta }>): Promise<((m: RunMeta) => boolean) | null> {
  const tests: Array<(m: RunMeta) => boolean> = [];
  if (sel.version?.length) {
    const v = await versions(repo, sel.version, all.map((r) => r.meta.commit));
    tests.push((m) => m.commit !== null && (v.commits.has(m.commit) || v.prefixes.some((p) => m.commit!.startsWith(p))));
  }
  if (sel.status?.length) {
    const s = new Set(sel.status);
    tests.push((m) => s.has(m.status));
  }
  if (sel.script?.length) {
    const wanted = sel.script;
    tests.push((m) => wanted.some((w) => scriptMatches(m.script, w)));
  }
  if (sel.since !== undefined) {
    const t = parseSince(sel.since);
    tests.push((m) => Date.parse(m.start) >= t);
  }
  return tests.length ? (m) => tests.every((f) => f(m)) : null;
}

/**
 * The ids of the runs `--run` names (prefixes; every run when none) that the selection keeps, in
 * listing order: what a command that takes run ids (replay) runs on.
 */
export async function chosenRunIds(repo: RepoInfo, all: RunEntry[], broken: BrokenRun[], run: string[] | undefined, sel: RunSelection): Promise<string[]> {
  const named = run?.length ? new Set(run.map((p) => resolveIn(all, p, broken).id)) : null;
  const keep = await runFilter(repo, sel, all);
  return all.filter((r) => (!named || named.has(r.id)) && (!keep || keep(r.meta))).map((r) => r.id);
}
