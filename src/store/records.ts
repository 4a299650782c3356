/**
 * The in-memory shape of log records, shared by the runtime's buffer, journal chunks, stored
 * segments and the query pivot. Columnar: one array per field, numbers in typed arrays, so a
 * run of a million records is a handful of allocations, not a million objects.
 *
 * A record is (name, frame, value). A frame is one loop iteration: (loop, iter, parent frame);
 * the chain of parents is the record's loop context, outermost last. Frame -1 is top level.
 */
export type TypedArray =
  | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array
  | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

export type Value = number | string | boolean | null | bigint | TypedArray | Value[] | { [k: string]: Value };

/** Kind tag per record: where its value lives. */
export const KIND_NUMBER = 0; // value in `num`
export const KIND_OTHER = 1; // value is the next entry of `other`

export interface FrameColumns {
  parent: Int32Array; // index of the enclosing frame, -1 at top level
  loop: Int32Array; // index into `loops`
  iter: Int32Array; // 0-based iteration
}

export interface RecordColumns {
  names: string[];
  loops: string[];
  frames: FrameColumns;
  name: Int32Array; // per record: index into `names`
  frame: Int32Array; // per record: index into frames, -1 = top level
  num: Float64Array; // per record: the value when kind is KIND_NUMBER (NaN otherwise)
  kind: Uint8Array; // per record: KIND_NUMBER or KIND_OTHER
  other: Value[]; // values of KIND_OTHER records, in record order
  /** flor.memo records: record index -> the stored `memo` tag (memo-records.ts). */
  memo?: Map<number, unknown>;
}

export function emptyColumns(): RecordColumns {
  return {
    names: [],
    loops: [],
    frames: { parent: new Int32Array(0), loop: new Int32Array(0), iter: new Int32Array(0) },
    name: new Int32Array(0),
    frame: new Int32Array(0),
    num: new Float64Array(0),
    kind: new Uint8Array(0),
    other: [],
  };
}

export function recordCount(c: RecordColumns): number {
  return c.name.length;
}

/** Columns sized for `nFrames` frames and `n` records, to be filled in place. */
export function allocColumns(nFrames: number, n: number, names: string[] = [], loops: string[] = []): RecordColumns {
  return {
    names,
    loops,
    frames: { parent: new Int32Array(nFrames), loop: new Int32Array(nFrames), iter: new Int32Array(nFrames) },
    name: new Int32Array(n),
    frame: new Int32Array(n),
    num: new Float64Array(n),
    kind: new Uint8Array(n),
    other: [],
  };
}
