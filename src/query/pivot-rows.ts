/** Which nodes of a run's tree become rows of the pivot, and in what order (see planRows). */
import type { Arena } from './arena.js';
import type { NameValues, RunTree } from './pivot-tree.js';

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

export interface RowPlan {
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
export function planRows(tree: RunTree, creationOrder: boolean, arena: Arena, temp: Arena): RowPlan {
  // Each pass is a function of its own: small functions are optimized soon after the pivot starts,
  // where one large one ran its first runs unoptimized while it waited to be compiled.
  const N = tree.size;
  const parent = tree.parent;
  const has = temp.u8(N);
  const below = temp.u8(N); // some descendant holds a value
  const onPath = arena.u8(N);
  for (const nv of tree.names) markHas(nv.kind, has, N);
  markPaths(parent, has, below, onPath, N);
  const isRow = temp.u8(N);
  markRows(has, below, isRow, N);
  // open[n]: some row at or below n would take this name from above n. Children come after their
  // parent in node order, so one backward pass sees every child before its parent.
  // Rows given to a node for one name may show another name's outer value: repeat until stable.
  const open = temp.u8(N);
  for (let changed = true; changed; ) {
    changed = false;
    for (const nv of tree.names) {
      if (!nv.any) continue;
      open.fill(0);
      if (openRows(nv, parent, onPath, below, isRow, open, N)) changed = true;
    }
  }
  // Children of path nodes, grouped by parent (counting sort keeps node order within a parent).
  const start = temp.i32(N + 1);
  const kids = childrenOf(parent, onPath, start, temp, N);
  // Sibling loops keep the order they first ran in (loops that ran concurrently are not
  // interleaved); within a loop, iterations ascend.
  const { loop, iter } = tree;
  for (let p = nextUnordered(loop, kids, start, creationOrder, 0, N); p < N; p = nextUnordered(loop, kids, start, creationOrder, p + 1, N)) {
    const a = start[p]!;
    const b = start[p + 1]!;
    const ch = Array.from(kids.subarray(a, b));
    const rank = new Map<number, number>();
    for (const c of ch) if (!rank.has(loop[c]!)) rank.set(loop[c]!, rank.size);
    ch.sort((x, y) => rank.get(loop[x]!)! - rank.get(loop[y]!)! || (creationOrder ? 0 : iter[x]! - iter[y]!) || x - y);
    kids.set(ch, a);
  }
  const nRows = countOnes(isRow, N);
  const rows = arena.i32(nRows);
  if (onPath[0]) postOrder(kids, start, isRow, rows, temp.i32(N), temp.i32(N));
  const copies = arena.i32(nRows).fill(1);
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

/** A row: a node holding a value with none below it. */
function markRows(has: Uint8Array, below: Uint8Array, isRow: Uint8Array, N: number): void {
  for (let n = 0; n < N; n++) if (has[n] && !below[n]) isRow[n] = 1;
}

function countOnes(a: Uint8Array, N: number): number {
  let k = 0;
  for (let n = 0; n < N; n++) k += a[n]!;
  return k;
}

/** The first node from `p` on whose children (two or more) need sorting; N when none does. */
function nextUnordered(loop: Int32Array, kids: Int32Array, start: Int32Array, creationOrder: boolean, p: number, N: number): number {
  for (; p < N; p++) {
    const a = start[p]!;
    const b = start[p + 1]!;
    if (b - a >= 2 && !(creationOrder && grouped(loop, kids, a, b))) return p;
  }
  return N;
}

/** has[n] = 1 where the name holds a value at node n. */
function markHas(kind: Uint8Array, has: Uint8Array, N: number): void {
  for (let n = 0; n < N; n++) if (kind[n] !== 0) has[n] = 1;
}

/** Nodes that are a row or lie above one (onPath), and those with a value below them (below). */
function markPaths(parent: Int32Array, has: Uint8Array, below: Uint8Array, onPath: Uint8Array, N: number): void {
  for (let n = N - 1; n >= 0; n--) {
    if (has[n] || below[n]) {
      onPath[n] = 1;
      if (n > 0) below[parent[n]!] = 1;
    }
  }
}

/** One backward pass of planRows' open rule for one name; true when it gave a node rows. */
function openRows(nv: NameValues, parent: Int32Array, onPath: Uint8Array, below: Uint8Array, isRow: Uint8Array, open: Uint8Array, N: number): boolean {
  let changed = false;
  const kind = nv.kind;
  for (let n = N - 1; n >= 0; n--) {
    if (!onPath[n]) continue;
    if (kind[n] !== 0) {
      if (!isRow[n] && below[n] && !(open[n] && nv.count(n) === 1)) {
        isRow[n] = 1;
        changed = true;
      }
    } else if (n > 0 && (isRow[n] || open[n])) open[parent[n]!] = 1;
  }
  return changed;
}

/** Path nodes' children, grouped by parent in node order: kids[start[p]..start[p+1]) are p's. */
function childrenOf(parent: Int32Array, onPath: Uint8Array, start: Int32Array, temp: Arena, N: number): Int32Array {
  for (let n = 1; n < N; n++) if (onPath[n]) start[parent[n]! + 1]!++;
  for (let i = 0; i < N; i++) start[i + 1]! += start[i]!;
  const kids = temp.i32(start[N]!);
  const fill = temp.i32(N);
  fill.set(start.subarray(0, N));
  for (let n = 1; n < N; n++) if (onPath[n]) kids[fill[parent[n]!]!++] = n;
  return kids;
}

/** Depth-first, post-order from the top level: a row node is written to rows when its last child is done. */
function postOrder(kids: Int32Array, start: Int32Array, isRow: Uint8Array, rows: Int32Array, stackN: Int32Array, stackI: Int32Array): void {
  let r = 0;
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
