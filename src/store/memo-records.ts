/**
 * flor.memo records between their stored and their in-memory form. Stored, a memo record is a
 * `memo` tag in `other` (docs/format.md §5.3). In memory it is what readers see — its value as for
 * a logged one, a number in `num` like any logged number — and the tag is kept beside the columns
 * (`RecordColumns.memo`, by record index), so copying records (capture, replay segments) writes
 * the tag back and a replay can read what it needs of it.
 */
import { decodeValue, encodeValue, isMemoTag } from './pack.js';
import { KIND_NUMBER, KIND_OTHER, type RecordColumns, type Value } from './records.js';

/**
 * Decodes the stored `raw` values of records `r0 .. r0+n-1` (whose `kind` and `num` are already
 * in place, and changed here for numeric memo values); returns their `other` values and their memo
 * tags by record index.
 */
export function decodeRecordValues(
  kind: Uint8Array, num: Float64Array, raw: unknown[], r0: number, n: number, onDamage?: (valueIndex: number, why: string) => void,
): { other: Value[]; memo: Map<number, unknown> | null } {
  let memo: Map<number, unknown> | null = null;
  let k = 0;
  const other: Value[] = [];
  // A crafted tagged value from another clone reads back as damaged text, reported (pack.ts).
  const told = (at: number) => (onDamage ? (why: string) => onDamage(at, why) : undefined);
  for (let i = r0; i < r0 + n && k < raw.length; i++) {
    if (kind[i] !== KIND_OTHER) continue;
    const at = k;
    const v = raw[k++];
    const value = decodeValue(v, told(at));
    if (isMemoTag(v)) {
      (memo ??= new Map()).set(i, v);
      if (typeof value === 'number') {
        kind[i] = KIND_NUMBER;
        num[i] = value;
        continue;
      }
    }
    other.push(value);
  }
  // Values past the records (a malformed segment) are kept for checkColumns to report.
  while (k < raw.length) {
    const at = k;
    other.push(decodeValue(raw[k++], told(at)));
  }
  return { other, memo };
}

/** The columns as stored: memo records in `other` as their tags. */
export function storedValues(c: RecordColumns): { kind: Uint8Array; num: Float64Array; other: unknown[] } {
  if (!c.memo?.size) return { kind: c.kind, num: c.num, other: c.other.map((x) => encodeValue(x)) };
  const kind = c.kind.slice();
  const num = c.num.slice();
  const other: unknown[] = [];
  let k = 0;
  for (let i = 0; i < kind.length; i++) {
    const tag = c.memo.get(i);
    if (tag !== undefined) {
      if (kind[i] === KIND_OTHER) k++;
      kind[i] = KIND_OTHER;
      num[i] = NaN;
      other.push(tag);
    } else if (kind[i] === KIND_OTHER) other.push(encodeValue(c.other[k++]));
  }
  return { kind, num, other };
}
