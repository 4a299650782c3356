/**
 * Segments built in memory, as the runtime would write them, for the pure tests of the query part.
 */
import { KIND_NUMBER, KIND_OTHER, type RecordColumns, type Value } from '../../src/store/records.js';
import type { Segment, SegmentKind } from '../../src/store/types.js';

export type Rec = [ctx: Array<[string, number]>, name: string, value: Value];

/** A segment as the runtime would write it: frames made in execution order, parents first. */
export function segment(run: string, recs: Rec[], source: SegmentKind = 'forward', time = ''): Segment {
  const names: string[] = [];
  const loops: string[] = [];
  const fp: number[] = [];
  const fl: number[] = [];
  const fi: number[] = [];
  const frameIds = new Map<string, number>();
  const name: number[] = [];
  const frame: number[] = [];
  const num: number[] = [];
  const kind: number[] = [];
  const other: Value[] = [];
  const idx = (arr: string[], s: string) => (arr.includes(s) ? arr.indexOf(s) : arr.push(s) - 1);
  for (const [ctx, n, v] of recs) {
    let parent = -1;
    let key = '';
    for (const [loop, iter] of ctx) {
      key += `/${loop}:${iter}`;
      let f = frameIds.get(key);
      if (f === undefined) {
        f = fp.length;
        fp.push(parent);
        fl.push(idx(loops, loop));
        fi.push(iter);
        frameIds.set(key, f);
      }
      parent = f;
    }
    name.push(idx(names, n));
    frame.push(parent);
    if (typeof v === 'number') {
      num.push(v);
      kind.push(KIND_NUMBER);
    } else {
      num.push(NaN);
      kind.push(KIND_OTHER);
      other.push(v);
    }
  }
  return {
    format: 'flor-segment',
    version: 1,
    run,
    source,
    provenance: source === 'replay' ? { statements: [], code: '', time, writer: 'w', segments: [] } : null,
    names,
    loops,
    frames: { parent: Int32Array.from(fp), loop: Int32Array.from(fl), iter: Int32Array.from(fi) },
    name: Int32Array.from(name),
    frame: Int32Array.from(frame),
    num: Float64Array.from(num),
    kind: Uint8Array.from(kind),
    other,
  };
}


/**
 * What a replay of epoch 1 of a recorded run writes: grad_norm (a new name) at step 0, and loss
 * re-executed with another value (999), which the view must keep out of the recorded column.
 */
export function replayOfEpoch1() {
  return {
    names: ['loss', 'grad_norm'],
    loops: ['epoch', 'step'],
    frames: { parent: Int32Array.from([-1, 0]), loop: Int32Array.from([0, 1]), iter: Int32Array.from([1, 0]) },
    name: Int32Array.from([0, 1]),
    frame: Int32Array.from([1, 1]),
    num: Float64Array.from([999, 0.5]),
    kind: Uint8Array.from([KIND_NUMBER, KIND_NUMBER]),
    other: [],
  };
}

/** A record as the fidelity rule names it: name, loop iterations outermost first, occurrence among those two. */
export interface KeyedRecord {
  name: string;
  ctx: string;
  occurrence: number;
  value: Value;
}

/**
 * Every record of `c` whose name passes `keep`, with its identity, found the plain way (each
 * record's frames walked to the top): the reference the replay's own context naming
 * (replay/assemble.ts frameContexts) and fidelity check are compared with.
 */
export function keyed(c: RecordColumns, keep: (name: string, i: number) => boolean = () => true): KeyedRecord[] {
  const seen = new Map<string, number>();
  const out: KeyedRecord[] = [];
  let other = 0;
  for (let i = 0; i < c.name.length; i++) {
    const value = c.kind[i] === KIND_NUMBER ? c.num[i]! : c.other[other++]!;
    const name = c.names[c.name[i]!]!;
    if (!keep(name, i)) continue;
    const parts: string[] = [];
    for (let f = c.frame[i]!; f >= 0; f = c.frames.parent[f]!) parts.push(`${c.loops[c.frames.loop[f]!]}=${c.frames.iter[f]}`);
    const ctx = parts.reverse().join('/');
    const k = `${name}\u0000${ctx}`;
    const occurrence = seen.get(k) ?? 0;
    seen.set(k, occurrence + 1);
    out.push({ name, ctx, occurrence, value });
  }
  return out;
}
