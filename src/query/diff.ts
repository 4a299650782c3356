/**
 * `git flor diff A B`: what differs between two runs — args, the code that ran (the two code
 * trees, not their commits: a dirty run ran uncommitted code), status, duration, version, and for
 * every name either run logged its last, min and max side by side.
 */
import { FlorError } from '../errors.js';
import { resolveIn, type RunEntry } from '../store/ledger.js';
import { treeDiff, type TreeDiff } from '../store/tree-diff.js';
import type { RepoInfo } from '../store/git.js';
import type { Value } from '../store/records.js';
import { toJson } from './json-rows.js';
import { gitSegments, listHistory, loadRuns, type Listing } from './history.js';
import { logsColumns } from './sql.js';
import type { SegmentReader } from '../store/ledger.js';

export interface DiffRun {
  run: string;
  version: string | null;
  commit: string | null;
  dirty: boolean;
  time: string;
  end: string | null;
  /** end - start in ms; null while the run has no end (crashed). */
  duration: number | null;
  status: string;
  file: string;
  records: number;
}

export interface NameStats {
  last: unknown;
  min: number | null;
  max: number | null;
  count: number;
}

export interface DiffName {
  name: string;
  /** null where that run never logged the name. */
  a: NameStats | null;
  b: NameStats | null;
  /** b - a, where both are numbers. */
  delta: { last: number | null; min: number | null; max: number | null };
}

export interface RunDiff {
  a: DiffRun;
  b: DiffRun;
  /** Which of version, commit, dirty, status, file differ. */
  changed: string[];
  /** Args whose values differ (absent in one run: null there). */
  args: Array<{ name: string; a: unknown; b: unknown }>;
  code: { a: string; b: string; same: boolean } & TreeDiff;
  names: DiffName[];
}

function runOf(e: RunEntry): DiffRun {
  const m = e.meta;
  const ms = m.end ? Date.parse(m.end) - Date.parse(m.start) : NaN;
  return {
    run: e.id,
    version: m.commit ? m.commit.slice(0, 7) : null,
    commit: m.commit,
    dirty: m.dirty,
    time: m.start,
    end: m.end,
    duration: Number.isFinite(ms) ? ms : null,
    status: m.status,
    file: m.script,
    records: m.records,
  };
}

const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);

function sub(b: unknown, a: unknown): number | null {
  return typeof a === 'number' && typeof b === 'number' ? b - a : null;
}

/** last / min / max / count per name of each run, over the records `git flor log` would show. */
function stats(loaded: Awaited<ReturnType<typeof loadRuns>>['loaded']): Map<string, Map<string, NameStats>> {
  const L = logsColumns(loaded);
  const out = new Map<string, Map<string, NameStats>>(L.run.map((id) => [id, new Map()]));
  for (let i = 0; i < L.length; i++) {
    const per = out.get(L.run[L.runOf[i]!]!)!;
    const name = L.name[L.nameOf[i]!]!;
    let s = per.get(name);
    if (!s) per.set(name, (s = { last: null, min: null, max: null, count: 0 }));
    s.count++;
    if (L.isNum[i]) {
      const v = L.num[i]!;
      s.last = Number.isFinite(v) ? v : null;
      if (!Number.isNaN(v)) {
        if (s.min === null || v < s.min) s.min = v;
        if (s.max === null || v > s.max) s.max = v;
      }
    } else s.last = toJson((L.other.get(i) ?? null) as Value);
  }
  return out;
}

export async function diffRuns(repo: RepoInfo, a: string, b: string, opts: { listing?: Listing; segments?: SegmentReader } = {}): Promise<RunDiff> {
  const { runs, broken } = opts.listing ?? (await listHistory(repo));
  const ea = resolveIn(runs, a, broken);
  const eb = resolveIn(runs, b, broken);
  const { loaded, unreadable } = await loadRuns(ea.id === eb.id ? [ea] : [ea, eb], opts.segments ?? gitSegments(repo));
  if (unreadable.length) throw new FlorError(unreadable[0]!.code, unreadable[0]!.error, { hint: 'run `git flor doctor`' });
  const per = stats(loaded);
  const sa = per.get(ea.id) ?? new Map<string, NameStats>();
  const sb = per.get(eb.id) ?? new Map<string, NameStats>();
  const names = [...new Set([...sa.keys(), ...sb.keys()])].sort();
  const argNames = [...new Set([...Object.keys(ea.meta.args ?? {}), ...Object.keys(eb.meta.args ?? {})])].sort();
  const args = argNames
    .map((name) => ({ name, a: toJson(ea.meta.args?.[name] ?? null), b: toJson(eb.meta.args?.[name] ?? null) }))
    .filter((x) => !same(x.a, x.b) || !Object.hasOwn(ea.meta.args ?? {}, x.name) || !Object.hasOwn(eb.meta.args ?? {}, x.name));
  const ra = runOf(ea);
  const rb = runOf(eb);
  const changed = (['version', 'commit', 'dirty', 'status', 'file'] as const).filter((k) => ra[k] !== rb[k]);
  let code: TreeDiff;
  try {
    code = await treeDiff(repo, ea.codeTree, eb.codeTree);
  } catch (e) {
    throw new FlorError('CODE_MISSING', `cannot compare the code of ${ea.id} and ${eb.id}: ${e instanceof Error ? e.message : String(e)}`, {
      hint: 'a run fetched from another clone needs its code objects: `git flor fetch`',
      cause: e,
    });
  }
  return {
    a: ra,
    b: rb,
    changed,
    args,
    code: { a: ea.codeTree, b: eb.codeTree, same: ea.codeTree === eb.codeTree, ...code },
    names: names.map((name) => {
      const x = sa.get(name) ?? null;
      const y = sb.get(name) ?? null;
      return { name, a: x, b: y, delta: { last: sub(y?.last, x?.last), min: sub(y?.min, x?.min), max: sub(y?.max, x?.max) } };
    }),
  };
}
