/**
 * Curves of logged values, one per run: the data a chart draws. Pure, so the terminal chart, the
 * SVG writer and the page share one definition of "the curve of NAME in run R".
 *
 * A point is one record. Its x is either the iteration of a chosen loop in the record's own loop
 * context, or its ordinal among the run's records of that name (a flattened step). Records are
 * read from segments, not from the pivot table: the table repeats an outer value on every inner
 * row, which would draw one logged value as many points.
 */
import type { Segment } from '../store/types.js';
import { KIND_NUMBER } from '../store/records.js';

export interface Curve {
  xs: number[];
  ys: number[];
}

/**
 * The loop columns of a record's context, outermost first: a loop nested in a loop of the same
 * name is `name.1`, then `name.2` (as the view names them), so `--x epoch` never means two loops.
 */
export function contextOf(seg: Segment, record: number): Map<string, number> {
  const chain: Array<[string, number]> = [];
  for (let f = seg.frame[record]!; f >= 0; f = seg.frames.parent[f]!) chain.push([seg.loops[seg.frames.loop[f]!]!, seg.frames.iter[f]!]);
  const ctx = new Map<string, number>();
  const seen = new Map<string, number>();
  for (let i = chain.length - 1; i >= 0; i--) {
    const [loop, iter] = chain[i]!;
    const n = seen.get(loop) ?? 0;
    seen.set(loop, n + 1);
    ctx.set(n === 0 ? loop : `${loop}.${n}`, iter);
  }
  return ctx;
}

/**
 * The segments whose records of `name` make the curve: the run's own (forward) records when it
 * logged the name, else the first replay segment that has it. A replay re-executes statements
 * that already existed (for the fidelity check); drawing both copies would double every point.
 */
export function segmentsFor(segments: Segment[], name: string): Segment[] {
  const has = (s: Segment) => s.names.includes(name);
  const forward = segments.filter((s) => s.source === 'forward' && has(s));
  if (forward.length > 0) return forward;
  const replay = segments.find((s) => s.source !== 'forward' && has(s));
  return replay ? [replay] : [];
}

/**
 * The curve of `name` in one run. Without `x`, every numeric record in order. With `x` naming the
 * outermost loop of the record, x is that loop's iteration; with `x` naming an inner loop, x counts
 * that loop's iterations across the loops enclosing it (a global step: step 3 of epoch 1 is not
 * step 3 of epoch 0). Within one x, the last value logged is drawn; records outside loop `x` are
 * not drawn. Values that are not finite numbers (strings, arrays, NaN) are not drawn.
 */
export function curveOf(segments: Segment[], name: string, x?: string): Curve {
  const from = segmentsFor(segments, name);
  if (from.length === 0) return { xs: [], ys: [] };
  let memo = curveMemo.get(from[0]!);
  if (!memo) curveMemo.set(from[0]!, (memo = new Map()));
  const key = JSON.stringify([name, x ?? null]);
  const hit = memo.get(key);
  if (hit && hit.from.length === from.length && hit.from.every((s, i) => s === from[i])) return hit.curve;
  const curve = computeCurve(from, name, x);
  memo.set(key, { from, curve });
  return curve;
}

/**
 * Curves kept while their segments live (segments are never rewritten; a live run's journal is
 * read into new segment objects each time). The ui server draws the same curves again on every
 * change and every chart switch: 200 curves of 5,000 points made ~45 MB of young garbage per
 * chart, whose copying by the GC took longer than making them. A curve returned is shared: never
 * change it.
 */
const curveMemo = new WeakMap<Segment, Map<string, { from: Segment[]; curve: Curve }>>();

function computeCurve(from: Segment[], name: string, x: string | undefined): Curve {
  const byX = new Map<number, number>();
  const xs: number[] = [];
  const ys: number[] = [];
  let step = 0;
  const ordinal = new Map<string, number>();
  for (const seg of from) {
    const id = seg.names.indexOf(name);
    const frameX = new Map<number, number | undefined>();
    for (let r = 0; r < seg.name.length; r++) {
      if (seg.name[r] !== id) continue;
      const y = seg.num[r]!;
      const numeric = seg.kind[r] === KIND_NUMBER && Number.isFinite(y);
      if (x === undefined) {
        if (numeric) {
          xs.push(step);
          ys.push(y);
        }
        step++;
        continue;
      }
      const f = seg.frame[r]!;
      let at = frameX.get(f);
      if (!frameX.has(f)) {
        const ctx = [...contextOf(seg, r)];
        const i = ctx.findIndex(([k]) => k === x);
        if (i === 0) at = ctx[0]![1];
        else if (i > 0) {
          const key = ctx.slice(0, i + 1).map(([, v]) => v).join(',');
          at = ordinal.get(key);
          if (at === undefined) ordinal.set(key, (at = ordinal.size));
        }
        frameX.set(f, at);
      }
      if (at === undefined) continue;
      if (numeric) byX.set(at, y);
      else byX.delete(at);
    }
  }
  if (x === undefined) return { xs, ys };
  const keys = [...byX.keys()].sort((a, b) => a - b);
  return { xs: keys, ys: keys.map((k) => byX.get(k)!) };
}

/**
 * Every loop column any record of `name` has in its context: what `--x` may name. One pass over
 * the frames (parents come before their children), so 200 runs of 5,000 frames cost 1M array
 * steps rather than 1M context maps.
 */
export function loopsOf(segments: Segment[], name: string): string[] {
  const found = new Set<string>();
  for (const seg of segmentsFor(segments, name)) for (const l of segmentLoops(seg, name)) found.add(l);
  return [...found];
}

/**
 * A segment's loop columns of one name, kept while the segment object lives: segments are never
 * rewritten, and a long-lived reader (the ui server) asks again for every chart it draws.
 */
const loopsMemo = new WeakMap<Segment, Map<string, string[]>>();

function segmentLoops(seg: Segment, name: string): string[] {
  let memo = loopsMemo.get(seg);
  if (!memo) loopsMemo.set(seg, (memo = new Map()));
  let found = memo.get(name);
  if (found) return found;
  const out = new Set<string>();
  const n = seg.frames.parent.length;
  // chain[f]: the frame's chain of loop-table indices from the outermost, as a number: chains
  // are interned (parent chain, own loop) pairs, so no text is made per frame.
  const chain = new Int32Array(n);
  const interned = new Map<number, number>();
  const up: number[] = [];
  const own: number[] = [];
  const width = seg.loops.length + 1;
  for (let f = 0; f < n; f++) {
    const p = seg.frames.parent[f]!;
    const pc = p >= 0 && p < f ? chain[p]! : -1;
    const loop = seg.frames.loop[f]!;
    const key = (pc + 1) * width + loop;
    let c = interned.get(key);
    if (c === undefined) {
      c = up.length;
      interned.set(key, c);
      up.push(pc);
      own.push(loop);
    }
    chain[f] = c;
  }
  const id = seg.names.indexOf(name);
  const chains = new Set<number>();
  for (let r = 0; r < seg.name.length; r++) if (seg.name[r] === id && seg.frame[r]! >= 0) chains.add(chain[seg.frame[r]!]!);
  for (const c of chains) {
    const path: number[] = [];
    for (let k = c; k >= 0; k = up[k]!) path.push(own[k]!);
    const seen = new Map<string, number>();
    for (let i = path.length - 1; i >= 0; i--) {
      const loop = seg.loops[path[i]!]!;
      const k = seen.get(loop) ?? 0;
      seen.set(loop, k + 1);
      out.add(k === 0 ? loop : `${loop}.${k}`);
    }
  }
  memo.set(name, (found = [...out]));
  return found;
}

/**
 * At most `buckets` points, each the mean of the points whose x falls in its slice of the x range.
 * A terminal chart 70 columns wide cannot show 5,000 points, and the chart package spends ~50 ms
 * per 1,000 points placing them (measured: 10 curves of 5,000 points took 530 ms, of 280 points 47 ms).
 */
export function downsample(c: Curve, buckets: number): Curve {
  if (c.xs.length <= buckets || buckets < 1) return c;
  const lo = c.xs[0]!;
  const hi = c.xs[c.xs.length - 1]!;
  const span = hi - lo || 1;
  const sx = new Float64Array(buckets);
  const sy = new Float64Array(buckets);
  const n = new Uint32Array(buckets);
  for (let i = 0; i < c.xs.length; i++) {
    const b = Math.min(buckets - 1, Math.floor(((c.xs[i]! - lo) / span) * buckets));
    sx[b]! += c.xs[i]!;
    sy[b]! += c.ys[i]!;
    n[b]!++;
  }
  const out: Curve = { xs: [], ys: [] };
  for (let b = 0; b < buckets; b++) {
    if (n[b] === 0) continue;
    out.xs.push(sx[b]! / n[b]!);
    out.ys.push(sy[b]! / n[b]!);
  }
  return out;
}

/**
 * TensorBoard's smoothing: an exponential moving average debiased by the weight of its start, so
 * the first points are not pulled toward zero. `weight` 0 returns the curve as it is.
 */
export function smooth(ys: number[], weight: number): number[] {
  if (!(weight > 0)) return ys.slice();
  const out: number[] = [];
  let last = 0;
  let debias = 0;
  for (const y of ys) {
    last = last * weight + (1 - weight) * y;
    debias = debias * weight + (1 - weight);
    out.push(last / debias);
  }
  return out;
}
