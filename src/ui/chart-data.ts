/**
 * A chart's curves as uPlot draws them: one shared x column and one y column per run, aligned (NaN
 * where a run has no point), sent as raw float64 columns behind a small JSON header.
 *
 * Measured on 200 runs x 5,000 records: the per-point JSON of the curves was 6.4 MB; its
 * stringify, transfer and parse, and uPlot.join over 200 tables in the page, took most of a
 * chart's time. The columns here are 1.6 MB that the page wraps as Float64Arrays without reading.
 */
import { smooth, type Curve } from '../query/curve.js';

export interface AlignedCurves {
  xs: Float64Array;
  /** One column per curve, as long as `xs`; NaN where the curve has no point at that x. */
  ys: Float64Array[];
  /** Points each curve has on the chart (its non-NaN cells). */
  points: number[];
}

/**
 * The curves on one x column of at most `points` values. When every curve fits and their x values
 * together are at most `points` distinct values, the points are drawn as they are; otherwise each
 * curve becomes bucket means on a grid shared by all of them ([lo + b*width, lo + (b+1)*width),
 * the point at the bucket's centre), so the chart never has more columns than `points`.
 */
export function alignCurves(curves: Curve[], points: number): AlignedCurves {
  const exact = curves.every((c) => c.xs.length <= points) ? exactUnion(curves, points) : null;
  return exact ? alignExact(curves, exact) : alignOnGrid(curves, points);
}

/** The sorted distinct x values of the curves, or null when there are more than `limit`. */
function exactUnion(curves: Curve[], limit: number): Float64Array | null {
  const seen = new Set<number>();
  for (const c of curves) {
    for (const x of c.xs) {
      seen.add(x);
      if (seen.size > limit) return null;
    }
  }
  return Float64Array.from(seen).sort();
}

function alignExact(curves: Curve[], xs: Float64Array): AlignedCurves {
  const at = new Map<number, number>();
  xs.forEach((x, i) => at.set(x, i));
  const ys: Float64Array[] = [];
  const points: number[] = [];
  for (const c of curves) {
    const col = new Float64Array(xs.length).fill(NaN);
    for (let i = 0; i < c.xs.length; i++) col[at.get(c.xs[i]!)!] = c.ys[i]!;
    ys.push(col);
    points.push(countPoints(col));
  }
  return { xs, ys, points };
}

function alignOnGrid(curves: Curve[], buckets: number): AlignedCurves {
  let lo = Infinity;
  let hi = -Infinity;
  for (const { xs } of curves) {
    for (let i = 0; i < xs.length; i++) {
      if (xs[i]! < lo) lo = xs[i]!;
      if (xs[i]! > hi) hi = xs[i]!;
    }
  }
  const width = (hi - lo) / buckets || 1;
  // One pass over the points: sums and counts of every curve's buckets side by side.
  const sums = new Float64Array(curves.length * buckets);
  const counts = new Uint32Array(curves.length * buckets);
  const used = new Uint8Array(buckets);
  for (let k = 0; k < curves.length; k++) {
    const { xs, ys } = curves[k]!;
    const base = k * buckets;
    for (let i = 0; i < xs.length; i++) {
      // The maximum itself would open a bucket past the end: it belongs to the last one.
      const b = Math.min(buckets - 1, Math.floor((xs[i]! - lo) / width));
      sums[base + b]! += ys[i]!;
      counts[base + b]!++;
      used[b] = 1;
    }
  }
  // Only buckets some curve has a point in are columns.
  const cols: number[] = [];
  for (let b = 0; b < buckets; b++) if (used[b]) cols.push(b);
  const xs = Float64Array.from(cols, (b) => lo + (b + 0.5) * width);
  const ys: Float64Array[] = [];
  const points: number[] = [];
  for (let k = 0; k < curves.length; k++) {
    const base = k * buckets;
    const col = new Float64Array(cols.length);
    let n = 0;
    for (let j = 0; j < cols.length; j++) {
      const at = base + cols[j]!;
      if (counts[at]) (col[j] = sums[at]! / counts[at]!), n++;
      else col[j] = NaN;
    }
    ys.push(col);
    points.push(n);
  }
  return { xs, ys, points };
}

function countPoints(col: Float64Array): number {
  let n = 0;
  for (const y of col) if (!Number.isNaN(y)) n++;
  return n;
}

/** The debiased EMA of a column's own points, in their cells (smoothing skips the gaps). */
export function smoothColumn(col: Float64Array, weight: number): Float64Array {
  const own: number[] = [];
  for (const y of col) if (!Number.isNaN(y)) own.push(y);
  const sm = smooth(own, weight);
  const out = new Float64Array(col.length).fill(NaN);
  let j = 0;
  for (let i = 0; i < col.length; i++) if (!Number.isNaN(col[i])) out[i] = sm[j++]!;
  return out;
}

/**
 * The binary body: a little-endian uint32 header length, the header (UTF-8 JSON), zero padding
 * to a multiple of 8 bytes, then the columns back to back. The header's `columns` lists each
 * column's [offset, length] in float64 units from the start of the column area.
 */
export function encodeChart(header: Record<string, unknown>, columns: Float64Array[]): Buffer {
  const at: Array<[number, number]> = [];
  let total = 0;
  for (const c of columns) {
    at.push([total, c.length]);
    total += c.length;
  }
  const head = Buffer.from(JSON.stringify({ ...header, columns: at }), 'utf8');
  const start = (4 + head.length + 7) & ~7;
  const out = Buffer.alloc(start + total * 8);
  out.writeUInt32LE(head.length, 0);
  head.copy(out, 4);
  const body = new Float64Array(out.buffer, out.byteOffset + start, total);
  for (let i = 0; i < columns.length; i++) body.set(columns[i]!, at[i]![0]);
  return out;
}
