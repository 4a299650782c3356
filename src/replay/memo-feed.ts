/**
 * flor.memo in a replay, on the orchestrator's side: the recorded memo values a run's replay
 * children get (a feed file per run, ReplaySpec.memo; the child runs no Git), which replayed
 * records are memo records, how many calls a replay made live, and the check that every memo
 * value a replay used is the one the run recorded. docs/replay.md ("Memoised calls").
 */
import { writeFileSync } from 'node:fs';
import { decodeValue, isMemoTag, type MemoTag } from '../store/pack.js';
import { packPlain } from '../store/msgpack-write.js';
import type { RecordColumns } from '../store/records.js';
import { memoId, type MemoFeedFile } from '../runtime/replay-spec.js';
import { frameContexts, sameValue, type Mismatch } from './assemble.js';

export interface MemoEntry {
  /** Record index in the columns it came from. */
  i: number;
  name: string;
  /** Loop iterations, `epoch=3/step=7` ('' at top level). */
  ctx: string;
  tag: MemoTag;
  id: string;
}

/** The flor.memo records of `c` (a run's segments, or a replay task's records). */
export function memoEntries(c: RecordColumns): MemoEntry[] {
  if (!c.memo?.size) return [];
  const out: MemoEntry[] = [];
  const ctxOf = frameContexts(c);
  for (const [i, tag] of [...c.memo].sort((a, b) => a[0] - b[0])) {
    if (!isMemoTag(tag)) continue;
    const name = c.names[c.name[i]!]!;
    const ctx = ctxOf(c.frame[i]!);
    const key = typeof tag.key === 'string' || typeof tag.key === 'number' ? tag.key : null;
    out.push({ i, name, ctx, tag, id: memoId(name, ctx, key, typeof tag.occ === 'number' ? tag.occ : 0) });
  }
  return out;
}

/**
 * The feed is written by the plain encoder (msgpack-write.ts): the tags are already encoded values,
 * and loading msgpackr for it held up every run's first task by its load (~10-40 ms here).
 */
export function writeMemoFeed(path: string, entries: MemoEntry[]): void {
  const file: MemoFeedFile = { format: 'flor-memo-feed', entries: entries.map((e) => [e.name, e.ctx, e.tag]) };
  writeFileSync(path, packPlain(file));
}

/** Calls a replay made live (no recorded value), per name. */
export function liveCalls(replayed: MemoEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of replayed) if (e.tag.live === true) out[e.name] = (out[e.name] ?? 0) + 1;
  return out;
}

function shown(t: MemoTag | undefined): ReturnType<typeof decodeValue> | undefined {
  return t === undefined ? undefined : decodeValue(t);
}

/**
 * RULE: fidelity covers memoised values. Each memo value a replay used (not made live) must be the
 * value, or the error, the run recorded for that call (name, iterations, key, occurrence), and
 * given the same way (a Promise or not). Compared by identity, not by record order: calls under
 * Promise.all finish in another order when nothing has to be waited for.
 */
export function checkMemo(run: string, recorded: MemoEntry[], replayed: MemoEntry[]): Mismatch[] {
  const rec = new Map(recorded.map((e) => [e.id, e.tag]));
  const out: Mismatch[] = [];
  for (const e of replayed) {
    if (e.tag.live === true) continue;
    const t = rec.get(e.id);
    const same = t !== undefined && (t.async === true) === (e.tag.async === true) && sameValue(decodeValue(t), decodeValue(e.tag));
    if (!same) out.push({ run, name: e.name, at: e.ctx, occurrence: typeof e.tag.occ === 'number' ? e.tag.occ : 0, recorded: shown(t), replayed: decodeValue(e.tag) });
  }
  return out;
}
