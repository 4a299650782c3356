/**
 * The relational view of docs/design.md, as a pure function: log segments of runs in, one table out.
 *
 * A run's records hang on a tree of loop iterations (frames). Each requested name is a column.
 * A row is a deepest iteration that holds a value of some requested name; values logged at an
 * outer level are inherited by the inner rows of the same iteration that have none of their own
 * (the outer join on common loop keys that FlorDB's dataframe does); an outer iteration whose inner
 * loops logged none of the names gets a row of its own, with the inner loop columns null, and so
 * does an outer value that no inner row can carry (see planRows). The rule, which a property test
 * checks: every value appears on a row of its own iteration, nothing appears elsewhere, no row is
 * all null.
 *
 * Replay segments of a run are merged onto the same tree by loop path (loop name + iteration,
 * level by level). A forward value is never replaced: replays only fill names the forward segment
 * lacks at that iteration (docs/design.md: replay never overwrites forward records); between replays the
 * newest wins. Rows holding a replayed value list those names in a `replayed` column, which exists
 * only when some value came from a replay, so plain results keep exactly the documented keys. Of
 * those, the names whose statement was carried into the run's old code (not in that version
 * already) are listed in a `carried` column, made the same way.
 */
import { FlorError } from '../errors.js';
import { KIND_NUMBER } from '../store/records.js';
import type { Value } from '../store/records.js';
import type { RunMeta, Segment } from '../store/types.js';
import type { Column, Table } from './table.js';

export const KEY_COLUMNS = ['run', 'version', 'time', 'file'] as const;
export const REPLAYED_COLUMN = 'replayed';
export const CARRIED_COLUMN = 'carried';

export interface PivotRun {
  meta: Pick<RunMeta, 'id' | 'start' | 'commit' | 'script' | 'args'>;
  segments: Segment[];
}

export interface PivotResult {
  table: Table;
  /** Requested names that no run logged (nor has as an arg). */
  missing: string[];
  /** Every name logged by the given runs, plus their args, sorted: for "did you mean" hints. */
  known: string[];
}

/** Segment precedence: forward first, then replays newest first. */
function ordered(segments: Segment[]): Segment[] {
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
class NameValues {
  num: Float64Array;
  /** 0 none, 1 number in num, 2 value in other; where the name was logged several times, the last value */
  kind: Uint8Array;
  /** index of the segment that gave the value; meaningful where kind > 0 */
  src: Int32Array;
  other = new Map<number, Value>();
  /** Nodes where one segment logged the name more than once: every value, in log order. */
  many = new Map<number, Value[]>();
  any = false;

  constructor(capacity: number) {
    this.num = new Float64Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.src = new Int32Array(capacity);
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
class RunTree {
  size = 1;
  parent: Int32Array;
  /** Run-local loop id (index into loopNames); -1 for the top level. */
  loop: Int32Array;
  iter: Int32Array;
  loopNames: string[] = [];
  private loopIds = new Map<string, number>();
  names: NameValues[];
  private index: Map<string, number> | null = null;

  /** capacity: nodes expected (grows past it when a replay adds iterations). */
  constructor(readonly k: number, capacity: number) {
    capacity = Math.max(16, capacity);
    this.parent = new Int32Array(capacity);
    this.loop = new Int32Array(capacity);
    this.iter = new Int32Array(capacity);
    this.parent[0] = this.loop[0] = this.iter[0] = -1;
    this.names = Array.from({ length: k }, () => new NameValues(capacity));
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
  columnKeys(onPath: Uint8Array): { keyOf: Int32Array; keys: Array<{ name: string; occ: number; depth: number }> } {
    const keyOf = new Int32Array(this.size).fill(-1);
    const depth = new Int32Array(this.size);
    const keys: Array<{ name: string; occ: number; depth: number }> = [];
    const ids = new Map<string, number>();
    for (let n = 1; n < this.size; n++) {
      if (!onPath[n]) continue;
      const l = this.loop[n]!;
      const d = (depth[n] = depth[this.parent[n]!]! + 1);
      let occ = 0;
      for (let a = this.parent[n]!; a > 0; a = this.parent[a]!) if (this.loop[a] === l) occ++;
      const id = `${l},${occ}`;
      let key = ids.get(id);
      if (key === undefined) {
        key = keys.push({ name: this.loopNames[l]!, occ, depth: d }) - 1;
        ids.set(id, key);
      } else if (d < keys[key]!.depth) keys[key]!.depth = d;
      keyOf[n] = key;
    }
    return { keyOf, keys };
  }
}

/** Adds a segment's values of the wanted names; false when it holds none of them. */
function loadSegment(tree: RunTree, seg: Segment, segIndex: number, want: Map<string, number>): boolean {
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
  const node = new Int32Array(nf);
  if (tree.size === 1) {
    // Frame f is node f + 1 (the top level, parent -1, becomes node 0).
    tree.reserve(nf + 1);
    const { parent, loop, iter } = tree;
    for (let f = 0; f < nf; f++) {
      parent[f + 1] = frames.parent[f]! + 1;
      loop[f + 1] = loopIds[frames.loop[f]!] ?? tree.loopId('?');
      iter[f + 1] = frames.iter[f]!;
      node[f] = f + 1;
    }
    tree.size = nf + 1;
  } else {
    for (let f = 0; f < nf; f++) {
      const p = frames.parent[f]!;
      const pn = p < 0 ? 0 : node[p]!;
      const loop = loopIds[frames.loop[f]!] ?? tree.loopId('?');
      node[f] = tree.find(pn, loop, frames.iter[f]!);
    }
  }
  // `other` holds the non-number values in record order.
  let o = 0;
  const n = seg.name.length;
  for (let r = 0; r < n; r++) {
    const isNum = seg.kind[r] === KIND_NUMBER;
    const k = nameToK[seg.name[r]!]!;
    if (k >= 0) {
      const f = seg.frame[r]!;
      const v: Value = isNum ? seg.num[r]! : (seg.other[o] ?? null);
      tree.set(k, f < 0 ? 0 : node[f]!, v, segIndex);
    }
    if (!isNum) o++;
  }
  return true;
}

/** Whether the nodes kids[a..b) come loop by loop (each loop's iterations together). */
function grouped(loop: Int32Array, kids: Int32Array, a: number, b: number): boolean {
  let seen: Set<number> | null = null;
  for (let i = a + 1; i < b; i++) {
    const prev = loop[kids[i - 1]!]!;
    const l = loop[kids[i]!]!;
    if (l === prev) continue;
    (seen ??= new Set()).add(prev);
    if (seen.has(l)) return false;
  }
  return true;
}

interface RowPlan {
  /** Nodes that get rows, in output order. */
  rows: Int32Array;
  /** Rows per row node: one per occurrence of the name logged most often there (at least 1). */
  copies: Int32Array;
  total: number;
  /** Nodes that are a row or lie above one. */
  onPath: Uint8Array;
}

/**
 * Which nodes get rows, and in what order.
 *
 * A deepest node holding a value of some requested name gets rows. A value logged at an outer node
 * is shown on the rows below it that have no value of that name nearer to them. A value that no
 * row below would show — every row below has its own value of that name, or the name was logged
 * several times there, so no single value can stand for the iteration — gives its node rows of
 * its own (inner loop columns null). So every value appears, and only where it was logged.
 *
 * Order: depth first, a node's own rows after the rows below it. `creationOrder`: node index order
 * is execution order (one segment), which keeps a loop entered twice as two passes.
 */
function planRows(tree: RunTree, creationOrder: boolean): RowPlan {
  const N = tree.size;
  const parent = tree.parent;
  const has = new Uint8Array(N);
  const below = new Uint8Array(N); // some descendant holds a value
  const onPath = new Uint8Array(N);
  for (let n = N - 1; n >= 0; n--) {
    if (tree.has(n)) has[n] = 1;
    if (has[n] || below[n]) {
      onPath[n] = 1;
      if (n > 0) below[parent[n]!] = 1;
    }
  }
  const isRow = new Uint8Array(N);
  for (let n = 0; n < N; n++) if (has[n] && !below[n]) isRow[n] = 1;
  // open[n]: some row at or below n would take this name from above n. Children come after their
  // parent in node order, so one backward pass sees every child before its parent.
  // Rows given to a node for one name may show another name's outer value: repeat until stable.
  const open = new Uint8Array(N);
  for (let changed = true; changed; ) {
    changed = false;
    for (const nv of tree.names) {
      if (!nv.any) continue;
      open.fill(0);
      for (let n = N - 1; n >= 0; n--) {
        if (!onPath[n]) continue;
        if (nv.kind[n] !== 0) {
          if (!isRow[n] && below[n] && !(open[n] && nv.count(n) === 1)) {
            isRow[n] = 1;
            changed = true;
          }
        } else if (n > 0 && (isRow[n] || open[n])) open[parent[n]!] = 1;
      }
    }
  }
  // Children of path nodes, grouped by parent (counting sort keeps node order within a parent).
  const start = new Int32Array(N + 1);
  for (let n = 1; n < N; n++) if (onPath[n]) start[parent[n]! + 1]!++;
  for (let i = 0; i < N; i++) start[i + 1]! += start[i]!;
  const kids = new Int32Array(start[N]!);
  const fill = start.slice(0, N);
  for (let n = 1; n < N; n++) if (onPath[n]) kids[fill[parent[n]!]!++] = n;
  // Sibling loops keep the order they first ran in (loops that ran concurrently are not
  // interleaved); within a loop, iterations ascend.
  const { loop, iter } = tree;
  for (let p = 0; p < N; p++) {
    const a = start[p]!;
    const b = start[p + 1]!;
    if (b - a < 2 || (creationOrder && grouped(loop, kids, a, b))) continue;
    const ch = Array.from(kids.subarray(a, b));
    const rank = new Map<number, number>();
    for (const c of ch) if (!rank.has(loop[c]!)) rank.set(loop[c]!, rank.size);
    ch.sort((x, y) => rank.get(loop[x]!)! - rank.get(loop[y]!)! || (creationOrder ? 0 : iter[x]! - iter[y]!) || x - y);
    kids.set(ch, a);
  }
  let nRows = 0;
  for (let n = 0; n < N; n++) nRows += isRow[n]!;
  const rows = new Int32Array(nRows);
  let r = 0;
  if (onPath[0]) {
    // Depth-first, post-order: a node is emitted when its last child is done.
    const stackN = new Int32Array(N);
    const stackI = new Int32Array(N);
    let sp = 1;
    stackN[0] = 0;
    stackI[0] = start[0]!;
    while (sp > 0) {
      const n = stackN[sp - 1]!;
      const i = stackI[sp - 1]!;
      if (i < start[n + 1]!) {
        stackI[sp - 1] = i + 1;
        const c = kids[i]!;
        stackN[sp] = c;
        stackI[sp] = start[c]!;
        sp++;
      } else {
        sp--;
        if (isRow[n]) rows[r++] = n;
      }
    }
  }
  const copies = new Int32Array(nRows).fill(1);
  let total = nRows;
  for (const nv of tree.names) {
    if (nv.many.size === 0) continue;
    for (let j = 0; j < nRows; j++) {
      const c = nv.count(rows[j]!);
      if (c > copies[j]!) {
        total += c - copies[j]!;
        copies[j] = c;
      }
    }
  }
  return { rows, copies, total, onPath };
}

interface OutColumns {
  runIndex: Int32Array;
  loopCells: Int32Array[];
  nameCols: Array<{ num: Float64Array; kind: Uint8Array; other: Map<number, Value> }>;
  /** Made on the first replayed value. */
  replayed: Value[] | null;
  /** Made on the first value of a statement carried into old code. */
  carried: Value[] | null;
}

/** Writes one run's rows into the output columns from row `out` on; returns the next free row. */
function emitRun(tree: RunTree, plan: RowPlan, segs: Segment[], ri: number, colOfNode: Int32Array, wanted: string[], cols: OutColumns, out: number, total: number): number {
  const K = wanted.length;
  const isReplay = segs.map((s) => s.source === 'replay');
  // Segments of older writers do not say: every statement of theirs counts as carried.
  const carriedBy = segs.map((s) => (s.source === 'replay' ? s.provenance?.carried ?? null : []));
  const { runIndex, loopCells, nameCols } = cols;
  const { rows, copies } = plan;
  const nvs = tree.names;
  const parent = tree.parent;
  const iter = tree.iter;
  const at = new Int32Array(K); // per name: the node (self or ancestor) holding the row's value, -1 none
  for (let j = 0; j < rows.length; j++) {
    const n = rows[j]!;
    for (let k = 0; k < K; k++) {
      const kind = nvs[k]!.kind;
      let a = n;
      while (a > 0 && kind[a] === 0) a = parent[a]!;
      at[k] = kind[a] === 0 ? -1 : a;
    }
    const cp = copies[j]!;
    for (let c = 0; c < cp; c++, out++) {
      runIndex[out] = ri;
      for (let a = n; a > 0; a = parent[a]!) {
        const lc = loopCells[colOfNode[a]!]!;
        if (lc[out] === -1) lc[out] = iter[a]!;
      }
      let replayed: string[] | null = null;
      let carried: string[] | null = null;
      for (let k = 0; k < K; k++) {
        const a = at[k]!;
        if (a < 0) continue;
        const nv = nvs[k]!;
        const col = nameCols[k]!;
        const list = nv.many.size === 0 ? undefined : nv.many.get(a);
        if (list) {
          // Several values in one iteration: the row node's own give one row each, in log order;
          // an outer node's stand for no single inner row (they have rows of their own there).
          const v = a === n ? list[c] : undefined;
          if (v === undefined) continue;
          if (typeof v === 'number') {
            col.kind[out] = 1;
            col.num[out] = v;
          } else {
            col.kind[out] = 2;
            col.other.set(out, v);
          }
        } else {
          const kind = nv.kind[a]!;
          if (kind === 1) col.num[out] = nv.num[a]!;
          else col.other.set(out, nv.other.get(a) ?? null);
          col.kind[out] = kind;
        }
        if (isReplay[nv.src[a]!]) {
          (replayed ??= []).push(wanted[k]!);
          const by = carriedBy[nv.src[a]!];
          if (by === null || by!.includes(wanted[k]!)) (carried ??= []).push(wanted[k]!);
        }
      }
      if (replayed) {
        cols.replayed ??= new Array<Value>(total).fill(null);
        cols.replayed[out] = replayed;
      }
      if (carried) {
        cols.carried ??= new Array<Value>(total).fill(null);
        cols.carried[out] = carried;
      }
    }
  }
  return out;
}

export function pivot(runs: PivotRun[], names: string[]): PivotResult {
  // A loop's name (`log epoch loss`) already is a column: asking for it adds nothing, unless some
  // run also logged a value under that name.
  const loopNames = new Set<string>();
  const logged = new Set<string>();
  for (const r of runs) {
    for (const seg of r.segments) {
      for (const l of seg.loops) loopNames.add(l);
      for (const n of seg.names) logged.add(n);
    }
    for (const a of Object.keys(r.meta.args ?? {})) logged.add(a);
  }
  const want = new Map<string, number>();
  for (const name of names) if (!want.has(name) && !(loopNames.has(name) && !logged.has(name))) want.set(name, want.size);
  const wanted = [...want.keys()];
  for (const name of wanted) {
    if ((KEY_COLUMNS as readonly string[]).includes(name) || name === REPLAYED_COLUMN || name === CARRIED_COLUMN) {
      throw new FlorError('NAME_CLASH', `'${name}' is a key column of the view, not a logged name`, {
        hint: `the view always has the columns ${KEY_COLUMNS.join(', ')}; ask for logged names`,
      });
    }
  }
  const K = wanted.length;
  const known = new Set<string>();
  const found = new Set<string>();

  const sortedRuns = [...runs].sort((a, b) => (a.meta.start < b.meta.start ? -1 : a.meta.start > b.meta.start ? 1 : a.meta.id < b.meta.id ? -1 : 1));

  // Rows are gathered per run first (loop columns are known only at the end).
  const perRun: Array<{ run: PivotRun; tree: RunTree; plan: RowPlan; segs: Segment[]; keyOf: Int32Array; keyIds: string[] }> = [];
  // Loop columns, by (loop name, nesting depth among loops of that name): shallowest depth seen, for ordering.
  const loopKeys = new Map<string, { name: string; occ: number; depth: number; first: number }>();

  for (const run of sortedRuns) {
    for (const seg of run.segments) for (const nm of seg.names) known.add(nm);
    for (const a of Object.keys(run.meta.args ?? {})) known.add(a);
    const segs = ordered(run.segments);
    const tree = new RunTree(K, 1 + (segs[0]?.frames.parent.length ?? 0));
    let loaded = 0;
    segs.forEach((seg, i) => (loaded += loadSegment(tree, seg, i, want) ? 1 : 0));
    // An arg reads as a top-level value of its run, so `log lr loss` puts lr beside loss.
    const args = run.meta.args ?? {};
    for (const [name, k] of want) {
      if (tree.names[k]!.kind[0] === 0 && Object.hasOwn(args, name)) tree.set(k, 0, args[name]!, 0);
    }
    // One segment: its frames are in execution order, which is iteration order (and keeps a loop
    // entered twice as two passes rather than interleaving them).
    const plan = planRows(tree, loaded <= 1);
    if (plan.rows.length === 0) continue;
    const { keyOf, keys } = tree.columnKeys(plan.onPath);
    const keyIds = keys.map((k) => {
      const id = `${k.occ}\u0000${k.name}`;
      const seen = loopKeys.get(id);
      if (!seen) loopKeys.set(id, { ...k, first: loopKeys.size });
      else if (k.depth < seen.depth) seen.depth = k.depth;
      return id;
    });
    for (let k = 0; k < K; k++) if (tree.names[k]!.any) found.add(wanted[k]!);
    perRun.push({ run, tree, plan, segs, keyOf, keyIds });
  }

  const ordKeys = [...loopKeys.entries()].sort(([, a], [, b]) => a.depth - b.depth || a.first - b.first);
  // A loop's own name is its column; a loop inside a loop of the same name is `name.1` (deeper:
  // `name.2`...), primed when a loop is really called that.
  const taken = new Set(ordKeys.filter(([, k]) => k.occ === 0).map(([, k]) => k.name));
  const loops = ordKeys.map(([, k]) => {
    if (k.occ === 0) return k.name;
    let label = `${k.name}.${k.occ}`;
    while (taken.has(label)) label += "'";
    taken.add(label);
    return label;
  });
  for (const l of loops) {
    if ((KEY_COLUMNS as readonly string[]).includes(l) || want.has(l) || l === REPLAYED_COLUMN || l === CARRIED_COLUMN) {
      throw new FlorError('NAME_CLASH', `loop '${l}' has the same name as a column of the view`, {
        hint: 'rename the loop (flor.loop name) or ask for other names',
      });
    }
  }
  const loopCol = new Map(ordKeys.map(([id], i) => [id, i] as const));
  const L = loops.length;

  let total = 0;
  for (const p of perRun) total += p.plan.total;
  // Key columns are dictionary-encoded by run: one entry per run, not per row.
  const runIndex = new Int32Array(total);
  const ids: Value[] = [];
  const versions: Value[] = [];
  const times: Value[] = [];
  const files: Value[] = [];
  const loopCells = Array.from({ length: L }, () => new Int32Array(total).fill(-1));
  const nameCols = Array.from({ length: K }, () => ({ num: new Float64Array(total), kind: new Uint8Array(total), other: new Map<number, Value>() }));
  let out = 0;

  const outCols: OutColumns = { runIndex, loopCells, nameCols, replayed: null, carried: null };
  for (const { run, tree, plan, segs, keyOf, keyIds } of perRun) {
    const ri = ids.length;
    ids.push(run.meta.id);
    versions.push(run.meta.commit ? run.meta.commit.slice(0, 7) : null);
    times.push(run.meta.start);
    files.push(run.meta.script);
    const colOfKey = keyIds.map((id) => loopCol.get(id)!);
    const colOfNode = keyOf.map((key) => (key < 0 ? -1 : colOfKey[key]!));
    out = emitRun(tree, plan, segs, ri, colOfNode, wanted, outCols, out, total);
  }
  const replayedCol = outCols.replayed;

  const columns = [...KEY_COLUMNS, ...loops, ...wanted];
  const cols: Column[] = [
    { type: 'dict', dict: ids, index: runIndex },
    { type: 'dict', dict: versions, index: runIndex },
    { type: 'dict', dict: times, index: runIndex },
    { type: 'dict', dict: files, index: runIndex },
    ...loopCells.map((ints) => ({ type: 'int' as const, ints })),
    ...nameCols.map((c) => ({ type: 'num' as const, ...c })),
  ];
  if (replayedCol) {
    columns.push(REPLAYED_COLUMN);
    cols.push({ type: 'values', values: replayedCol });
  }
  if (outCols.carried) {
    columns.push(CARRIED_COLUMN);
    cols.push({ type: 'values', values: outCols.carried });
  }
  return {
    table: { columns, cols, length: total },
    missing: wanted.filter((n) => !found.has(n)),
    known: [...known].sort(),
  };
}
