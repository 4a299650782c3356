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
import type { Value } from '../store/records.js';
import type { RunMeta, Segment } from '../store/types.js';
import type { Column, Table } from './table.js';
import { loadSegment, ordered, RunTree } from './pivot-tree.js';
import { planRows, type RowPlan } from './pivot-rows.js';
import { Arena } from './arena.js';

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

interface OutColumns {
  runIndex: Int32Array;
  loopCells: Int32Array[];
  nameCols: Array<{ num: Float64Array; kind: Uint8Array; other: Map<number, Value> }>;
  /** Made on the first replayed value. */
  replayed: Value[] | null;
  /** Made on the first value of a statement carried into old code. */
  carried: Value[] | null;
}

/**
 * emitRun for a run of forward values only, each logged at most once per iteration (the common
 * case): the same writes, in a function small enough to be optimized soon after the pivot starts
 * (a cold `log` of 160 runs ran a third of its pivot in unoptimized code while the larger
 * functions waited to be compiled).
 */
function emitPlain(tree: RunTree, rows: Int32Array, ri: number, colOfNode: Int32Array, cols: OutColumns, out: number): number {
  const { runIndex, loopCells, nameCols } = cols;
  const nvs = tree.names;
  const K = nvs.length;
  const parent = tree.parent;
  const iter = tree.iter;
  for (let j = 0; j < rows.length; j++, out++) {
    const n = rows[j]!;
    runIndex[out] = ri;
    for (let a = n; a > 0; a = parent[a]!) {
      const lc = loopCells[colOfNode[a]!]!;
      if (lc[out] === -1) lc[out] = iter[a]!;
    }
    for (let k = 0; k < K; k++) {
      const nv = nvs[k]!;
      const kind = nv.kind;
      let a = n;
      while (a > 0 && kind[a] === 0) a = parent[a]!;
      const kd = kind[a]!;
      if (kd === 0) continue;
      const col = nameCols[k]!;
      if (kd === 1) col.num[out] = nv.num[a]!;
      else col.other.set(out, nv.other.get(a) ?? null);
      col.kind[out] = kd;
    }
  }
  return out;
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

/**
 * One run's tree and rows, before the loop columns of the whole table are known. Its arrays are
 * reused for the next run once the visitor returns: a visitor keeps what it needs, not these.
 */
export interface RunRows {
  run: PivotRun;
  tree: RunTree;
  plan: RowPlan;
  segs: Segment[];
  /** Per node, an index into `keys` (-1 off the rows' paths). */
  keyOf: Int32Array;
  /** Per run-local loop key, its loop key's index in first-seen order over all runs so far. */
  keys: Int32Array;
}

/** What the table's columns are, once every run was visited. */
export interface Gathered {
  wanted: string[];
  /** Loop column titles, in column order, and each one's loop key (first-seen index, as in RunRows.keys). */
  loops: string[];
  loopKey: number[];
  known: Set<string>;
  found: Set<string>;
}

/**
 * Every run's tree and row plan, handed to `visit` one run at a time, and the loop columns they
 * make (refused when one clashes with a column of the view): all of the pivot but writing the
 * rows out. One run's arrays serve the next: holding every run's (about 40 bytes per record) until
 * the end made the pivot of a million records fault in as many fresh pages as it computed with.
 * Run-level values of one name (series.ts) read the rows in `visit` without making the table.
 * `begin` learns the names asked for (name -> column) before the first run.
 */
export function gatherRows(runs: PivotRun[], names: string[], visit: (r: RunRows) => void, begin?: (want: Map<string, number>, sorted: PivotRun[]) => void): Gathered {
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
  begin?.(want, sortedRuns);

  // Loop columns, by (loop name, nesting depth among loops of that name): shallowest depth seen, for ordering.
  const loopKeys = new Map<string, { name: string; occ: number; depth: number; first: number }>();

  // One run's arrays, and its temporaries: both reused by the next run.
  const arena = new Arena(1 << 20);
  const temp = new Arena(1 << 20);
  for (const run of sortedRuns) {
    for (const seg of run.segments) for (const nm of seg.names) known.add(nm);
    for (const a of Object.keys(run.meta.args ?? {})) known.add(a);
    const segs = ordered(run.segments);
    arena.reset();
    temp.reset();
    const tree = new RunTree(K, 1 + (segs[0]?.frames.parent.length ?? 0), arena);
    let loaded = 0;
    segs.forEach((seg, i) => (loaded += loadSegment(tree, seg, i, want, temp) ? 1 : 0));
    // An arg reads as a top-level value of its run, so `log lr loss` puts lr beside loss.
    const args = run.meta.args ?? {};
    for (const [name, k] of want) {
      if (tree.names[k]!.kind[0] === 0 && Object.hasOwn(args, name)) tree.set(k, 0, args[name]!, 0);
    }
    // One segment: its frames are in execution order, which is iteration order (and keeps a loop
    // entered twice as two passes rather than interleaving them).
    const plan = planRows(tree, loaded <= 1, arena, temp);
    if (plan.rows.length === 0) continue;
    const { keyOf, keys: runKeys } = tree.columnKeys(plan.onPath, temp);
    const keys = Int32Array.from(runKeys, (k) => {
      const id = `${k.occ}\u0000${k.name}`;
      const seen = loopKeys.get(id);
      if (!seen) {
        loopKeys.set(id, { ...k, first: loopKeys.size });
        return loopKeys.size - 1;
      }
      if (k.depth < seen.depth) seen.depth = k.depth;
      return seen.first;
    });
    for (let k = 0; k < K; k++) if (tree.names[k]!.any) found.add(wanted[k]!);
    visit({ run, tree, plan, segs, keyOf, keys });
  }

  const ordKeys = [...loopKeys.values()].sort((a, b) => a.depth - b.depth || a.first - b.first);
  // A loop's own name is its column; a loop inside a loop of the same name is `name.1` (deeper:
  // `name.2`...), primed when a loop is really called that.
  const taken = new Set(ordKeys.filter((k) => k.occ === 0).map((k) => k.name));
  const loops = ordKeys.map((k) => {
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
  return { wanted, loops, loopKey: ordKeys.map((k) => k.first), known, found };
}

/**
 * At least as many rows as the pivot of `runs` has: every row holds a value logged at its node,
 * and a node has no more rows than values, so the records of the names asked for (and each name's
 * arg) bound them. The output columns are made this long at once and cut to the rows made: the
 * pages past the end are never touched.
 */
function rowBound(runs: PivotRun[], want: Map<string, number>): number {
  let n = 0;
  for (const r of runs) {
    n += want.size;
    for (const seg of r.segments) {
      const hit = Uint8Array.from(seg.names, (nm) => (want.has(nm) ? 1 : 0));
      if (!hit.includes(1)) continue;
      n += hit.includes(0) ? countHits(seg.name, hit) : seg.name.length;
    }
  }
  return n;
}

/** Per node, its loop column (its run-local key's first-seen index), -1 off the rows' paths. */
function columnOfNodes(keyOf: Int32Array, keys: Int32Array, colOfNode: Int32Array): void {
  for (let n = 0; n < keyOf.length; n++) colOfNode[n] = keyOf[n]! < 0 ? -1 : keys[keyOf[n]!]!;
}

/**
 * How many of `name`'s records name a hit. A loop of its own, four records a step: it runs first,
 * mostly before it is optimized, and unoptimized code pays per step.
 */
function countHits(name: Int32Array, hit: Uint8Array): number {
  let n = 0;
  let i = 0;
  for (const end = name.length - 3; i < end; i += 4) n += (hit[name[i]!]! | 0) + (hit[name[i + 1]!]! | 0) + (hit[name[i + 2]!]! | 0) + (hit[name[i + 3]!]! | 0);
  for (; i < name.length; i++) n += hit[name[i]!]! | 0;
  return n;
}

export function pivot(runs: PivotRun[], names: string[]): PivotResult {
  // Key columns are dictionary-encoded by run: one entry per run, not per row.
  const ids: Value[] = [];
  const versions: Value[] = [];
  const times: Value[] = [];
  const files: Value[] = [];
  // Loop cells by loop key (first-seen order): made as keys appear, put in column order at the end.
  const cells: Int32Array[] = [];
  let cap = 0;
  let runIndex = new Int32Array(0);
  let nameCols: OutColumns['nameCols'] = [];
  let outCols: OutColumns | null = null;
  let wanted: string[] = [];
  let out = 0;
  let colOfNodes = new Int32Array(0);
  const g = gatherRows(
    runs,
    names,
    ({ run, tree, plan, segs, keyOf, keys }) => {
      const cols = outCols!;
      // The bound is a proof, not a guess; a row past it would be lost without a word.
      if (out + plan.total > cap) throw new Error('pivot: more rows than rowBound allows');
      const ri = ids.length;
      ids.push(run.meta.id);
      versions.push(run.meta.commit ? run.meta.commit.slice(0, 7) : null);
      times.push(run.meta.start);
      files.push(run.meta.script);
      for (const k of keys) {
        while (cells.length <= k) cells.push(new Int32Array(cap).fill(-1, 0, out));
      }
      for (const c of cells) c.fill(-1, out, out + plan.total);
      // One buffer for every run's node -> loop column (a typed array per run costs its own backing store).
      if (colOfNodes.length < keyOf.length) colOfNodes = new Int32Array(keyOf.length * 2);
      const colOfNode = colOfNodes;
      columnOfNodes(keyOf, keys, colOfNode);
      const plain = segs.every((sg) => sg.source !== 'replay') && tree.names.every((nv) => nv.many.size === 0);
      out = plain ? emitPlain(tree, plan.rows, ri, colOfNode, cols, out) : emitRun(tree, plan, segs, ri, colOfNode, wanted, cols, out, cap);
    },
    (want, sorted) => {
      wanted = [...want.keys()];
      cap = rowBound(sorted, want);
      runIndex = new Int32Array(cap);
      nameCols = wanted.map(() => ({ num: new Float64Array(cap), kind: new Uint8Array(cap), other: new Map<number, Value>() }));
      outCols = { runIndex, loopCells: cells, nameCols, replayed: null, carried: null };
    },
  );
  const { loops, loopKey, known, found } = g;
  const total = out;
  const replayedCol = outCols!.replayed;
  const carriedCol = outCols!.carried;

  const columns = [...KEY_COLUMNS, ...loops, ...wanted];
  const index = runIndex.subarray(0, total);
  const cols: Column[] = [
    { type: 'dict', dict: ids, index },
    { type: 'dict', dict: versions, index },
    { type: 'dict', dict: times, index },
    { type: 'dict', dict: files, index },
    ...loopKey.map((k) => ({ type: 'int' as const, ints: cells[k]!.subarray(0, total) })),
    ...nameCols.map((c) => ({ type: 'num' as const, num: c.num.subarray(0, total), kind: c.kind.subarray(0, total), other: c.other })),
  ];
  if (replayedCol) {
    replayedCol.length = total;
    columns.push(REPLAYED_COLUMN);
    cols.push({ type: 'values', values: replayedCol });
  }
  if (carriedCol) {
    carriedCol.length = total;
    columns.push(CARRIED_COLUMN);
    cols.push({ type: 'values', values: carriedCol });
  }
  return {
    table: { columns, cols, length: total },
    missing: g.wanted.filter((n) => !found.has(n)),
    known: [...known].sort(),
  };
}
