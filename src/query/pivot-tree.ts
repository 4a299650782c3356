/**
 * One run's iteration tree for the pivot (pivot.ts): the frames of its segments merged by loop path,
 * with the requested names' values on the nodes. Replay segments fill only what the forward one lacks.
 */
import { KIND_NUMBER } from '../store/records.js';
import type { Value } from '../store/records.js';
import type { Segment } from '../store/types.js';
import type { Arena } from './arena.js';

/** Segment precedence: forward first, then replays newest first. */
export function ordered(segments: Segment[]): Segment[] {
  const time = (s: Segment) => s.provenance?.time ?? '';
  return [...segments].sort((a, b) => {
    if (a.source !== b.source) return a.source === 'forward' ? -1 : 1;
    return time(a) < time(b) ? 1 : time(a) > time(b) ? -1 : 0;
  });
}

/** Growable typed arrays: the run tree gains nodes when a replay segment adds iterations. */
function grow<T extends Int32Array | Float64Array | Uint8Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/** Values of one requested name on the nodes of one run's tree. */
export class NameValues {
  num: Float64Array;
  /** 0 none, 1 number in num, 2 value in other; where the name was logged several times, the last value */
  kind: Uint8Array;
  /** index of the segment that gave the value; meaningful where kind > 0 */
  src: Int32Array;
  other = new Map<number, Value>();
  /** Nodes where one segment logged the name more than once: every value, in log order. */
  many = new Map<number, Value[]>();
  any = false;

  constructor(capacity: number, arena: Arena) {
    this.num = arena.f64(capacity);
    this.kind = arena.u8(capacity);
    this.src = arena.i32(capacity);
  }

  reserve(n: number): void {
    this.num = grow(this.num, n);
    this.kind = grow(this.kind, n);
    this.src = grow(this.src, n);
  }

  get(node: number): Value {
    const k = this.kind[node];
    return k === 1 ? this.num[node]! : k === 2 ? (this.other.get(node) ?? null) : null;
  }

  /** How many values the node holds. */
  count(node: number): number {
    if (this.kind[node] === 0) return 0;
    return this.many.size === 0 ? 1 : (this.many.get(node)?.length ?? 1);
  }

  put(node: number, v: Value, seg: number): void {
    if (typeof v === 'number') {
      this.kind[node] = 1;
      this.num[node] = v;
    } else {
      this.kind[node] = 2;
      this.other.set(node, v);
    }
    this.src[node] = seg;
    this.any = true;
  }
}

/** One run's iteration tree with the requested names' values on it. Node 0 is the top level. */
export class RunTree {
  size = 1;
  parent: Int32Array;
  /** Run-local loop id (index into loopNames); -1 for the top level. */
  loop: Int32Array;
  iter: Int32Array;
  loopNames: string[] = [];
  private loopIds = new Map<string, number>();
  names: NameValues[];
  private index: Map<string, number> | null = null;

  /** capacity: nodes expected (grows past it when a replay adds iterations); arrays come from `arena`. */
  constructor(readonly k: number, capacity: number, private arena: Arena) {
    capacity = Math.max(16, capacity);
    this.parent = arena.i32(capacity);
    this.loop = arena.i32(capacity);
    this.iter = arena.i32(capacity);
    this.parent[0] = this.loop[0] = this.iter[0] = -1;
    this.names = Array.from({ length: k }, () => new NameValues(capacity, arena));
  }

  loopId(name: string): number {
    let id = this.loopIds.get(name);
    if (id === undefined) {
      id = this.loopNames.push(name) - 1;
      this.loopIds.set(name, id);
    }
    return id;
  }

  reserve(n: number): void {
    if (n <= this.parent.length) return;
    this.parent = grow(this.parent, n);
    this.loop = grow(this.loop, n);
    this.iter = grow(this.iter, n);
    for (const nv of this.names) nv.reserve(this.parent.length);
  }

  add(parent: number, loop: number, iter: number): number {
    const n = this.size++;
    if (this.size > this.parent.length) this.reserve(this.size);
    this.parent[n] = parent;
    this.loop[n] = loop;
    this.iter[n] = iter;
    this.index?.set(`${parent},${loop},${iter}`, n);
    return n;
  }

  /** The node for (parent, loop, iter), made when absent; only needed once a second segment merges in. */
  find(parent: number, loop: number, iter: number): number {
    if (!this.index) {
      this.index = new Map();
      for (let n = 1; n < this.size; n++) {
        const key = `${this.parent[n]},${this.loop[n]},${this.iter[n]}`;
        if (!this.index.has(key)) this.index.set(key, n);
      }
    }
    return this.index.get(`${parent},${loop},${iter}`) ?? this.add(parent, loop, iter);
  }

  set(k: number, node: number, v: Value, seg: number): void {
    const nv = this.names[k]!;
    if (nv.kind[node] === 0) {
      nv.put(node, v, seg);
    } else if (nv.src[node] === seg) {
      let list = nv.many.get(node);
      if (!list) nv.many.set(node, (list = [nv.get(node)]));
      list.push(v);
      nv.put(node, v, seg);
    }
    // else: an earlier segment (forward, or a newer replay) already gave this value; keep it.
  }

  has(node: number): boolean {
    for (let k = 0; k < this.k; k++) if (this.names[k]!.kind[node] !== 0) return true;
    return false;
  }

  /**
   * Loop columns of the nodes on rows' paths: a loop nested in a loop of the same name is a
   * column of its own (depth of nesting `occ` > 0), so no iteration is folded into another.
   * Returns per node an index into `keys` (-1 off the paths), and per key its shallowest depth.
   */
  columnKeys(onPath: Uint8Array, temp: Arena): { keyOf: Int32Array; keys: Array<{ name: string; occ: number; depth: number }> } {
    const keyOf = this.arena.i32(this.size).fill(-1);
    const depth = temp.i32(this.size);
    const keys: Array<{ name: string; occ: number; depth: number }> = [];
    // key by (loop, occ): ids[l] lists the keys of loop l by occ
    const ids: number[][] = [];
    const { parent, loop } = this;
    for (let n = 1; n < this.size; n++) {
      if (!onPath[n]) continue;
      const l = loop[n]!;
      const d = (depth[n] = depth[parent[n]!]! + 1);
      let occ = 0;
      for (let a = parent[n]!; a > 0; a = parent[a]!) if (loop[a] === l) occ++;
      const byOcc = (ids[l] ??= []);
      let key = byOcc[occ];
      if (key === undefined) {
        key = keys.push({ name: this.loopNames[l]!, occ, depth: d }) - 1;
        byOcc[occ] = key;
      } else if (d < keys[key]!.depth) keys[key]!.depth = d;
      keyOf[n] = key;
    }
    return { keyOf, keys };
  }
}

/** Adds a segment's values of the wanted names; false when it holds none of them. */
export function loadSegment(tree: RunTree, seg: Segment, segIndex: number, want: Map<string, number>, temp: Arena): boolean {
  const nameToK = new Int32Array(seg.names.length).fill(-1);
  let any = false;
  for (let i = 0; i < seg.names.length; i++) {
    const k = want.get(seg.names[i]!);
    if (k !== undefined) {
      nameToK[i] = k;
      any = true;
    }
  }
  if (!any) return false;
  const frames = seg.frames;
  const nf = frames.parent.length;
  const loopIds = seg.loops.map((l) => tree.loopId(l));
  // frame -> node. Into an empty tree frames become nodes 1:1, in order (no lookups: this is the
  // hot path of a large query); a later segment is matched by loop path.
  const node = temp.i32(nf);
  if (tree.size === 1) {
    // Frame f is node f + 1 (the top level, parent -1, becomes node 0).
    tree.reserve(nf + 1);
    framesInto(tree, frames.parent, frames.loop, frames.iter, Int32Array.from(loopIds), node, nf);
    tree.size = nf + 1;
  } else {
    for (let f = 0; f < nf; f++) {
      const p = frames.parent[f]!;
      const pn = p < 0 ? 0 : node[p]!;
      const loop = loopIds[frames.loop[f]!] ?? tree.loopId('?');
      node[f] = tree.find(pn, loop, frames.iter[f]!);
    }
  }
  valuesInto(tree, seg, nameToK, node, segIndex);
  return true;
}

/**
 * Frames into an empty tree, frame f as node f + 1; a frame naming a loop the segment does not
 * list gets the loop '?'. Its own function, like valuesInto: small functions are optimized soon
 * after the pivot starts, where loadSegment's loops ran its first runs unoptimized.
 */
function framesInto(tree: RunTree, fp: Int32Array, fl: Int32Array, fi: Int32Array, ids: Int32Array, node: Int32Array, nf: number): void {
  const { parent, loop, iter } = tree;
  let unknown = -1;
  for (let f = 0; f < nf; f++) {
    const l = fl[f]!;
    parent[f + 1] = fp[f]! + 1;
    loop[f + 1] = l >= 0 && l < ids.length ? ids[l]! : unknown >= 0 ? unknown : (unknown = tree.loopId('?'));
    iter[f + 1] = fi[f]!;
    node[f] = f + 1;
  }
}

/** The segment's values of the wanted names (nameToK: segment name -> wanted index, -1 not) onto the nodes of its frames. */
function valuesInto(tree: RunTree, seg: Segment, nameToK: Int32Array, node: Int32Array, segIndex: number): void {
  // `other` holds the non-number values in record order.
  let o = 0;
  const n = seg.name.length;
  const { kind, name, frame, num } = seg;
  const names = tree.names;
  for (let r = 0; r < n; r++) {
    const isNum = kind[r] === KIND_NUMBER;
    const k = nameToK[name[r]!]!;
    if (k >= 0) {
      const f = frame[r]!;
      const nd = f < 0 ? 0 : node[f]!;
      const nv = names[k]!;
      if (isNum && nv.kind[nd] === 0) {
        // The first value of the name at this node, a number: what tree.set does, without boxing
        // the number into a Value (a million records made as many heap numbers for the GC).
        nv.kind[nd] = 1;
        nv.num[nd] = num[r]!;
        nv.src[nd] = segIndex;
        nv.any = true;
      } else tree.set(k, nd, isNum ? num[r]! : (seg.other[o] ?? null), segIndex);
    }
    if (!isNum) o++;
  }
}
