/**
 * What the marks of every ledger (store/marks.ts) say about each run. A mark counts only when its
 * writer wrote that run or is trusted (store/trust.ts): anyone may push a ledger to a shared
 * remote, and a stranger's tombstone must not hide a colleague's run. Marks that do not count are
 * kept apart so `show` can report them. Counting marks apply in time order: the last tag/untag of
 * a tag, the last note, the last rm/unrm decide.
 */
import type { ReadMark } from '../store/marks.js';
import { trusts, type Trust } from '../store/trust.js';

export interface RunMarks {
  tags: string[];
  /** The note, or null. */
  note: string | null;
  /** Removed by `git flor rm` (and not restored): hidden from every view but `--all`. */
  removed: boolean;
  /** Marks on the run that do not count (their writer neither wrote it nor is trusted). */
  ignored: ReadMark[];
}

export const NO_MARKS: RunMarks = Object.freeze({ tags: [], note: null, removed: false, ignored: [] }) as RunMarks;

/** Marks per run id, for the runs given (id -> writer of the run). */
export function applyMarks(runs: ReadonlyArray<{ id: string; writer: string }>, marks: readonly ReadMark[], trust: Trust): Map<string, RunMarks> {
  const writerOf = new Map(runs.map((r) => [r.id, r.writer]));
  // The same ledger can be read twice (own, and fetched back from a remote): one mark once.
  const seen = new Set<string>();
  const unique = marks.filter((m) => {
    const k = `${m.writer}\0${m.run}\0${m.op}\0${m.value}\0${m.time}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const sorted = [...unique].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  const out = new Map<string, { tags: Map<string, boolean>; note: string | null; removed: boolean; ignored: ReadMark[] }>();
  for (const m of sorted) {
    const runWriter = writerOf.get(m.run);
    if (runWriter === undefined) continue; // a mark on a run this clone cannot read
    let e = out.get(m.run);
    if (!e) out.set(m.run, (e = { tags: new Map(), note: null, removed: false, ignored: [] }));
    if (m.writer !== runWriter && !trusts(trust, m.writer)) {
      e.ignored.push(m);
      continue;
    }
    if (m.op === 'tag' || m.op === 'untag') e.tags.set(m.value ?? '', m.op === 'tag');
    else if (m.op === 'note') e.note = m.value ? m.value : null;
    else e.removed = m.op === 'rm';
  }
  return new Map(
    [...out].map(([id, e]) => [
      id,
      { tags: [...e.tags].filter(([, on]) => on).map(([t]) => t).sort(), note: e.note, removed: e.removed, ignored: e.ignored },
    ]),
  );
}
