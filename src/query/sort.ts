/**
 * Comparing and ordering values of the view, for `--where` and `--sort`.
 * Numbers compare as numbers (a bigint as its number), strings by code unit (ISO times sort
 * chronologically), false < true. Values of different types are not comparable in a condition;
 * in a sort they group by type (booleans, numbers, strings, then anything else as JSON text).
 */
import type { Value } from '../store/records.js';
import { toJson } from './json-rows.js';

type Tri = boolean | null;

function num(v: Value): number | null {
  if (typeof v === 'number') return Number.isNaN(v) ? null : v;
  if (typeof v === 'bigint') return Number(v);
  return null;
}

/** <0, 0, >0, or null when the two cannot be compared (null, NaN, different types, structures). */
export function compareScalars(a: Value, b: Value): number | null {
  const x = num(a);
  if (x !== null) {
    const y = num(b);
    return y === null ? null : x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'string') return typeof b === 'string' ? (a < b ? -1 : a > b ? 1 : 0) : null;
  if (typeof a === 'boolean') return typeof b === 'boolean' ? Number(a) - Number(b) : null;
  return null;
}

function isStructure(v: Value): boolean {
  return v !== null && typeof v === 'object';
}

/** Equality in a condition: unknown (null) when either is null or the types differ. */
export function sameValue(a: Value, b: Value): Tri {
  if (a === null || b === null) return null;
  if (isStructure(a) || isStructure(b)) return isStructure(a) && isStructure(b) ? JSON.stringify(toJson(a)) === JSON.stringify(toJson(b)) : null;
  const c = compareScalars(a, b);
  return c === null ? null : c === 0;
}

function rank(v: Value): number {
  if (typeof v === 'boolean') return 0;
  if (typeof v === 'number' || typeof v === 'bigint') return Number.isNaN(v) ? 3 : 1;
  if (typeof v === 'string') return 2;
  return 3;
}

/** Total order for sorting non-null values. */
export function compareForSort(a: Value, b: Value): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 3) {
    const x = JSON.stringify(toJson(a));
    const y = JSON.stringify(toJson(b));
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return compareScalars(a, b)!;
}

export interface SortKey {
  get: (row: number) => Value;
  desc: boolean;
}

/**
 * Row indices in sorted order. Stable (ties keep the given order) and nulls last in either
 * direction, as a reader looking for the best value expects.
 */
export function sortRows(rows: ArrayLike<number>, keys: SortKey[]): number[] {
  const n = rows.length;
  if (keys.length === 0) return Array.from(rows);
  // Each key read once per row, not once per comparison; positions break ties (stable).
  const vals = keys.map((k) => {
    const a = new Array<Value>(n);
    for (let i = 0; i < n; i++) a[i] = k.get(rows[i]!);
    return a;
  });
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => {
    for (let k = 0; k < keys.length; k++) {
      const x = vals[k]![a]!;
      const y = vals[k]![b]!;
      if (x === null || y === null) {
        if (x === y) continue;
        return x === null ? 1 : -1;
      }
      const c = compareForSort(x, y);
      if (c !== 0) return keys[k]!.desc ? -c : c;
    }
    return a - b;
  });
  return order.map((i) => rows[i]!);
}
