/**
 * The in-memory record buffer: columnar, typed arrays grown by doubling, so flor.log of a number
 * is a Map lookup and three typed-array stores — no allocation. Flushing hands the records and
 * the table entries added since the last flush to the journal as one chunk, then reuses the
 * arrays: the journal, not memory, holds a run's history. Record and frame indices stay global
 * (`frameBase` counts frames already flushed), so chunks append to the run's tables.
 */
import { KIND_NUMBER, KIND_OTHER, type Value, type TypedArray } from '../store/records.js';
import { MemoRecord, Unstorable } from '../store/pack.js';
import type { ChunkFrame } from '../store/journal.js';

function grownI32(a: Int32Array, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}

function isTyped(v: unknown): v is TypedArray {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

/** Deeper than this a value is cut (a circular structure ends here too). */
export const MAX_DEPTH = 64;
export const TOO_DEEP = '[too deep]';

/** What freezing a value had to give up: said once per name (see RecordBuffer's onIssue). */
export interface FreezeIssues {
  /** The first error met while reading the value, when some part of it could not be read. */
  unstorable: string | null;
  /** Some part lay deeper than MAX_DEPTH and was cut. */
  tooDeep: boolean;
}

function describe(e: unknown): string {
  try {
    return (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).split('\n')[0]!.slice(0, 300);
  } catch {
    return 'an error that cannot be described';
  }
}

/**
 * A copy of a logged value as it is now: the user may mutate arrays and objects after logging,
 * and the record must keep the value it had at log time. Immutable values are kept as they are.
 * Never throws: a part that cannot be read (a throwing getter or Proxy trap, an invalid Date)
 * becomes an Unstorable marker, so logging never breaks the training. docs/format.md §5.3 lists
 * what each JS type becomes.
 */
export function freezeValue(v: unknown, issues?: FreezeIssues, depth = 0): Value {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object') return v as Value; // number, string, boolean, bigint; functions become text at encoding
  if (depth > MAX_DEPTH) {
    if (issues) issues.tooDeep = true;
    return TOO_DEEP;
  }
  try {
    return freezeObject(v, issues, depth);
  } catch (e) {
    const why = describe(e);
    if (issues) issues.unstorable ??= why;
    return new Unstorable(why) as unknown as Value;
  }
}

function freezeObject(v: object, issues: FreezeIssues | undefined, depth: number): Value {
  if (v instanceof MemoRecord) return v as unknown as Value; // flor.memo copied its value already
  if (isTyped(v)) return v.slice() as TypedArray;
  if (Array.isArray(v)) {
    const out = new Array<Value>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = freezeValue(v[i], issues, depth + 1);
    return out;
  }
  if (v instanceof Date) return v.toISOString(); // RangeError for an invalid Date: caught by the caller
  if (v instanceof RegExp) return String(v);
  if (v instanceof Map) {
    const out: Record<string, Value> = {};
    for (const [k, x] of v) out[String(k)] = freezeValue(x, issues, depth + 1);
    return out;
  }
  if (v instanceof Set) return [...v].map((x) => freezeValue(x, issues, depth + 1));
  if (v instanceof ArrayBuffer) return new Uint8Array(v.slice(0));
  if (v instanceof DataView) return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  if (v instanceof Number || v instanceof String || v instanceof Boolean) return v.valueOf();
  const out: Record<string, Value> = {};
  if (v instanceof Error) {
    // Their fields are not enumerable: an Error would otherwise be stored as {}.
    out.name = String(v.name);
    out.message = String(v.message);
    out.stack = v.stack === undefined ? null : String(v.stack);
    if ('cause' in v && v.cause !== undefined) out.cause = freezeValue(v.cause, issues, depth + 1);
  }
  for (const k of Object.keys(v)) {
    let x: unknown;
    try {
      x = (v as Record<string, unknown>)[k];
    } catch (e) {
      const why = describe(e);
      if (issues) issues.unstorable ??= why;
      out[k] = new Unstorable(why) as unknown as Value;
      continue;
    }
    if (x !== undefined && typeof x !== 'function') out[k] = freezeValue(x, issues, depth + 1);
  }
  return out;
}

const issues: FreezeIssues = { unstorable: null, tooDeep: false };

export class RecordBuffer {
  /** Told when a logged value could not be stored whole (the session warns once per name). */
  constructor(private readonly onIssue: ((name: string, issues: FreezeIssues) => void) | null = null) {}

  private readonly nameIndex = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly loopIndex = new Map<string, number>();
  private readonly loops: string[] = [];
  private namesFlushed = 0;
  private loopsFlushed = 0;

  private fParent = new Int32Array(256);
  private fLoop = new Int32Array(256);
  private fIter = new Int32Array(256);
  /** Frames in the arrays above; their global index is frameBase + i. */
  private fCount = 0;
  private frameBase = 0;

  private rName = new Int32Array(4096);
  private rFrame = new Int32Array(4096);
  private rNum = new Float64Array(4096);
  private rKind = new Uint8Array(4096);
  private other: Value[] = [];
  /** Records in the arrays above (not yet flushed). */
  count = 0;
  /** Records flushed so far. */
  flushedRecords = 0;

  /** Global index of the frame that records are logged in; -1 = top level. Kept by flor.loop. */
  curFrame = -1;

  nameId(name: string): number {
    let i = this.nameIndex.get(name);
    if (i === undefined) {
      i = this.names.length;
      this.names.push(name);
      this.nameIndex.set(name, i);
    }
    return i;
  }

  loopId(name: string): number {
    let i = this.loopIndex.get(name);
    if (i === undefined) {
      i = this.loops.length;
      this.loops.push(name);
      this.loopIndex.set(name, i);
    }
    return i;
  }

  /** Opens a frame (one loop iteration) and returns its global index. */
  newFrame(parent: number, loop: number, iter: number): number {
    if (this.fCount === this.fParent.length) {
      const n = this.fCount * 2;
      this.fParent = grownI32(this.fParent, n);
      this.fLoop = grownI32(this.fLoop, n);
      this.fIter = grownI32(this.fIter, n);
    }
    const k = this.fCount++;
    this.fParent[k] = parent;
    this.fLoop[k] = loop;
    this.fIter[k] = iter;
    return this.frameBase + k;
  }

  private grow(): void {
    const n = this.rName.length * 2;
    this.rName = grownI32(this.rName, n);
    this.rFrame = grownI32(this.rFrame, n);
    const num = new Float64Array(n);
    num.set(this.rNum);
    this.rNum = num;
    const kind = new Uint8Array(n);
    kind.set(this.rKind);
    this.rKind = kind;
  }

  /** Appends one record. Returns the count of unflushed records (callers check the clock every 1024). */
  push(name: string, value: unknown, frame = this.curFrame): number {
    // The value first: the name is registered only with a record to show for it.
    let frozen: Value = null;
    const isNum = typeof value === 'number';
    if (!isNum) {
      issues.unstorable = null;
      issues.tooDeep = false;
      frozen = freezeValue(value, issues);
      if (issues.unstorable !== null || issues.tooDeep) this.onIssue?.(name, issues);
    }
    let ni = this.nameIndex.get(name);
    if (ni === undefined) ni = this.nameId(name);
    const k = this.count;
    if (k === this.rName.length) this.grow();
    this.rName[k] = ni;
    this.rFrame[k] = frame;
    if (isNum) {
      this.rNum[k] = value;
      this.rKind[k] = KIND_NUMBER;
    } else {
      this.rNum[k] = NaN;
      this.rKind[k] = KIND_OTHER;
      this.other.push(frozen);
    }
    return (this.count = k + 1);
  }

  /** True when a chunk would carry anything. */
  dirty(): boolean {
    return this.count > 0 || this.fCount > 0 || this.names.length > this.namesFlushed || this.loops.length > this.loopsFlushed;
  }

  /**
   * Everything new since the last call, as a journal chunk. The typed arrays are views of the
   * buffer's own arrays: the caller must write the chunk before the next push.
   */
  takeChunk(): ChunkFrame {
    const n = this.count;
    const f = this.fCount;
    const chunk: ChunkFrame = {
      t: 'chunk',
      names: this.names.slice(this.namesFlushed),
      loops: this.loops.slice(this.loopsFlushed),
      frames: { parent: this.fParent.subarray(0, f), loop: this.fLoop.subarray(0, f), iter: this.fIter.subarray(0, f) },
      name: this.rName.subarray(0, n),
      frame: this.rFrame.subarray(0, n),
      num: this.rNum.subarray(0, n),
      kind: this.rKind.subarray(0, n),
      other: this.other,
    };
    this.namesFlushed = this.names.length;
    this.loopsFlushed = this.loops.length;
    this.frameBase += f;
    this.fCount = 0;
    this.flushedRecords += n;
    this.count = 0;
    this.other = [];
    return chunk;
  }

  /** Records ever pushed. */
  total(): number {
    return this.flushedRecords + this.count;
  }
}
