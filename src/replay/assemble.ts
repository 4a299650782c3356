/**
 * From the records of a run's replay tasks to one replay segment, and the fidelity check against
 * the forward records. Pure.
 */
import { KIND_NUMBER, type RecordColumns, type Value } from '../store/records.js';

/**
 * A frame's context, a record's identity across forward and replay with its name and occurrence:
 * its loop iterations outermost first (`epoch=3/step=7`; '' for frame -1, outside every loop).
 * Each frame's is made once, from its parent's: a fidelity check names every record of a run,
 * thousands sharing a few hundred frames, and runs once, cold, after the last task of a replay
 * command (walking each record's frames afresh was ~5 ms of it).
 */
export function frameContexts(c: RecordColumns): (frame: number) => string {
  const known: Array<string | undefined> = [];
  const of = (f: number): string => {
    if (f < 0) return '';
    let k = known[f];
    if (k === undefined) {
      const own = `${c.loops[c.frames.loop[f]!]}=${c.frames.iter[f]}`;
      const parent = c.frames.parent[f]!;
      known[f] = k = parent < 0 ? own : `${of(parent)}/${own}`;
    }
    return k;
  };
  return of;
}

function valueAt(c: RecordColumns, i: number, otherIdx: number[]): Value {
  return c.kind[i] === KIND_NUMBER ? c.num[i]! : c.other[otherIdx[i]!]!;
}

/** Index into `other` for each record (-1 for numbers). */
function otherIndex(c: RecordColumns): number[] {
  const out = new Array<number>(c.name.length);
  let k = 0;
  for (let i = 0; i < c.name.length; i++) out[i] = c.kind[i] === KIND_NUMBER ? -1 : k++;
  return out;
}

/** Exact equality of logged values (NaN equals NaN; typed arrays by type and content). */
export function sameValue(a: Value, b: Value): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b) || a === b;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor) return false;
    const x = a as unknown as ArrayLike<number | bigint>;
    const y = b as unknown as ArrayLike<number | bigint>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => sameValue(v, b[i]!));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => k in (b as object) && sameValue((a as Record<string, Value>)[k]!, (b as Record<string, Value>)[k]!));
}

export interface Mismatch {
  run: string;
  name: string;
  /** Loop iterations, e.g. `epoch=3/step=7` ('' at top level). */
  at: string;
  occurrence: number;
  recorded: Value | undefined;
  replayed: Value;
}

/**
 * RULE: "Statements that already existed are re-executed too: their values are compared with the
 * recorded ones (fidelity check); mismatches are reported, never silently mixed."
 * Every replayed record of a name the run already logged must equal the recorded record with the
 * same (name, loop iterations, occurrence); a replayed record with no recorded twin is a mismatch too.
 * Records `skip` names (flor.memo's, which memo-feed.ts checks by their own identity) are left out.
 */
export function checkFidelity(run: string, recorded: RecordColumns, replayed: RecordColumns, skip: (i: number) => boolean = () => false): Mismatch[] {
  // Keyed by context, then name, with the recorded values in order (an occurrence is an index):
  // the contexts are each frame's one string and the names the tables', so a record makes no key
  // of its own. The check runs cold after a replay command's last task, over every record of the
  // run twice (~1500 each for a run of the shard bench): string keys per record were most of it.
  const rec = new Map<string, Map<string, Value[]>>();
  const rctx = frameContexts(recorded);
  const roi = otherIndex(recorded);
  for (let i = 0; i < recorded.name.length; i++) {
    const ctx = rctx(recorded.frame[i]!);
    const name = recorded.names[recorded.name[i]!]!;
    let byName = rec.get(ctx);
    if (!byName) rec.set(ctx, (byName = new Map()));
    const values = byName.get(name);
    if (values) values.push(valueAt(recorded, i, roi));
    else byName.set(name, [valueAt(recorded, i, roi)]);
  }
  const existing = new Set(recorded.names);
  const seen = new Map<string, Map<string, number>>();
  const pctx = frameContexts(replayed);
  const poi = otherIndex(replayed);
  const out: Mismatch[] = [];
  for (let i = 0; i < replayed.name.length; i++) {
    const name = replayed.names[replayed.name[i]!]!;
    if (!existing.has(name) || skip(i)) continue;
    const ctx = pctx(replayed.frame[i]!);
    let counts = seen.get(ctx);
    if (!counts) seen.set(ctx, (counts = new Map()));
    const occurrence = counts.get(name) ?? 0;
    counts.set(name, occurrence + 1);
    const values = rec.get(ctx)?.get(name);
    const have = values !== undefined && occurrence < values.length;
    const value = valueAt(replayed, i, poi);
    if (!have || !sameValue(values[occurrence]!, value)) out.push({ run, name, at: ctx, occurrence, recorded: have ? values[occurrence] : undefined, replayed: value });
  }
  return out;
}

/**
 * Concatenates task outputs (in segment order) into one set of columns holding only the records
 * whose name passes `keep`, with fresh tables: each task numbered its names, loops and frames on
 * its own. Only frames that some kept record uses are carried.
 */
export function concatRecords(parts: RecordColumns[], keep: (name: string, part: number, i: number) => boolean): RecordColumns {
  const names: string[] = [];
  const nameIdx = new Map<string, number>();
  const loops: string[] = [];
  const loopIdx = new Map<string, number>();
  const fParent: number[] = [];
  const fLoop: number[] = [];
  const fIter: number[] = [];
  const rName: number[] = [];
  const rFrame: number[] = [];
  const rNum: number[] = [];
  const rKind: number[] = [];
  const other: Value[] = [];
  const memo = new Map<number, unknown>();
  for (const [pi, c] of parts.entries()) {
    const local = new Map<number, number>(); // task frame -> output frame
    const mapFrame = (f: number): number => {
      if (f < 0) return -1;
      const hit = local.get(f);
      if (hit !== undefined) return hit;
      const parent = mapFrame(c.frames.parent[f]!);
      const loopName = c.loops[c.frames.loop[f]!]!;
      let li = loopIdx.get(loopName);
      if (li === undefined) {
        li = loops.push(loopName) - 1;
        loopIdx.set(loopName, li);
      }
      // Tasks cover disjoint outer iterations, so their frames never coincide: each is copied as
      // is, keeping the runtime's structure (two passes of one inner loop stay two frames).
      const out = fParent.length;
      fParent.push(parent);
      fLoop.push(li);
      fIter.push(c.frames.iter[f]!);
      local.set(f, out);
      return out;
    };
    const oi = otherIndex(c);
    for (let i = 0; i < c.name.length; i++) {
      const name = c.names[c.name[i]!]!;
      if (!keep(name, pi, i)) continue;
      let ni = nameIdx.get(name);
      if (ni === undefined) {
        ni = names.push(name) - 1;
        nameIdx.set(name, ni);
      }
      const tag = c.memo?.get(i);
      if (tag !== undefined) memo.set(rName.length, tag);
      rName.push(ni);
      rFrame.push(mapFrame(c.frame[i]!));
      if (c.kind[i] === KIND_NUMBER) {
        rNum.push(c.num[i]!);
        rKind.push(KIND_NUMBER);
      } else {
        rNum.push(NaN);
        rKind.push(c.kind[i]!);
        other.push(c.other[oi[i]!]!);
      }
    }
  }
  return {
    names,
    loops,
    frames: { parent: Int32Array.from(fParent), loop: Int32Array.from(fLoop), iter: Int32Array.from(fIter) },
    name: Int32Array.from(rName),
    frame: Int32Array.from(rFrame),
    num: Float64Array.from(rNum),
    kind: Uint8Array.from(rKind),
    other,
    ...(memo.size ? { memo } : {}),
  };
}

/** Names that have at least one record in `c`. */
export function namesLogged(c: RecordColumns): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < c.name.length; i++) out.add(c.names[c.name[i]!]!);
  return out;
}

/** Where a run's records end: its last record, with its loop iterations and occurrence. */
export interface RecordsEnd {
  name: string;
  /** Loop iterations, outermost first; empty at top level. */
  at: Array<[string, number]>;
  occurrence: number;
  /** A top-level last record that some record inside a loop precedes (code after the loops). */
  afterLoops: boolean;
}

/** The last record of `c` (a forward segment: records in the order they were logged), or null. */
export function recordsEnd(c: RecordColumns): RecordsEnd | null {
  const n = c.name.length;
  if (n === 0) return null;
  // Its occurrence: earlier records of its name in the same loop iterations (frames compared by
  // their context, as the fidelity check does: two passes of one inner loop are two frames, one context).
  const nameId = c.name[n - 1]!;
  const ctx = frameContexts(c);
  const lastCtx = ctx(c.frame[n - 1]!);
  let occurrence = 0;
  for (let i = 0; i < n - 1; i++) if (c.name[i] === nameId && ctx(c.frame[i]!) === lastCtx) occurrence++;
  const at: Array<[string, number]> = [];
  for (let f = c.frame[n - 1]!; f >= 0; f = c.frames.parent[f]!) at.push([c.loops[c.frames.loop[f]!]!, c.frames.iter[f]!]);
  at.reverse();
  let afterLoops = false;
  if (at.length === 0) for (let i = 0; i < n - 1 && !afterLoops; i++) afterLoops = c.frame[i]! >= 0;
  return { name: c.names[nameId]!, at, occurrence, afterLoops };
}
