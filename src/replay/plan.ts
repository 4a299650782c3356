/**
 * The replay planner: pure (no I/O). From each run's propagated code, its recorded timings and its
 * usable checkpoints it decides which inner loops may be skipped, how outer iterations are cut into
 * segments, and what it will cost. The replay rules of docs/design.md are kept here and in
 * ./replay.ts; each is quoted next to the code that keeps it ("RULE: …").
 */
import type { RunMeta } from '../store/types.js';
import type { Node } from '@babel/types';
import { readCodeShape, type LoopSite, type LogSite, type CodeShape } from './code-shape.js';
import { readsIn, mutatedIn, mutatedThroughCalls, localFunctions, calledIn, functionEffects, codeAfter, assignmentSites, escapingAssigns, contains } from './dataflow.js';

export interface PlanRun {
  id: string;
  meta: Pick<RunMeta, 'script' | 'loops' | 'outerMs' | 'checkpointing' | 'status'> & Partial<Pick<RunMeta, 'start' | 'end' | 'memoMs' | 'memoSetupMs'>>;
  /** Names to replay for this run (default: all requested). */
  names?: string[];
  /** Propagated code of this version: at least the entry script and every file holding a requested statement. */
  files: Record<string, string>;
  /**
   * A run that did not finish: how far its records go (outer iterations to run, whether the last
   * segment goes past the outer loop, where the last record is). The replay stops there.
   */
  reached?: { iterations: number; runToEnd: boolean; where: string } | null;
}

/** Checkpoints of one run that are usable here (manifest present AND files in the local store). */
export interface RunCheckpoints {
  iters: number[];
  keys: string[];
}

export interface PlannedSegment {
  run: string;
  index: number;
  start: number;
  end: number;
  runToEnd: boolean;
  restoreFrom: string | null;
  skipInner: string[];
  ckptKeys: Record<string, string>;
  estMs: number;
  /** Of estMs, what the task costs before its first outer iteration (process start, the script's setup). */
  startupMs: number;
}

export type StatementWhere = 'before' | 'after' | 'outer' | 'inner' | 'unknown';

export interface RunPlan {
  run: string;
  outerLoop: string | null;
  iterations: number;
  statements: Array<{ name: string; file: string; line: number; where: StatementWhere; loop: string | null }>;
  skipInner: string[];
  /** Inner loops that must run, each with the reason. */
  kept: Array<{ loop: string; reason: string }>;
  checkpoints: number;
  segments: PlannedSegment[];
  estMs: number;
  /** What re-running the whole run costs: a process start, its setup and its recorded outer iterations. */
  rerunMs: number;
  /** Why the plan fell back to running everything, when it did. */
  notes: string[];
}

export interface Plan {
  runs: RunPlan[];
  tasks: number;
  workers: number;
  /** Sum of task costs. */
  estSerialMs: number;
  /** Expected wall time on `workers` (longest-first schedule). */
  estWallMs: number;
}

export interface PlanOptions {
  workers: number;
  /**
   * A task's whole start-up, when given: starting the child and the script's setup before its
   * first iteration. Default: DEFAULT_STARTUP_MS (measured: see docs/replay.md) plus the run's own
   * recorded setup (setupMs).
   */
  startupMs?: number;
  /** Cost of one skipped outer iteration (restore a checkpoint, run the rest of the body). */
  skippedIterMs?: number;
  /**
   * Code shapes already read, by code and names: shared by the plans of one replay (a run planned
   * on its own as soon as it is prepared, then all runs together) so each version is parsed once.
   */
  shapes?: Map<string, CodeShape>;
}

/** Measured on this project's fixture (docs/replay.md): node start + git-flor import + tsx hooks. */
export const DEFAULT_STARTUP_MS = 120;
const DEFAULT_SKIPPED_MS = 2;

interface LoopVerdict {
  skip: boolean;
  reason: string;
}

/**
 * RULE: "An inner loop may be skipped (restore the end-of-iteration checkpoint instead) only when
 * no requested statement lies inside it and nothing after it in the same iteration reads a
 * variable it assigns. Otherwise it runs."
 * Kept conservatively: assignments include those made by local functions the loop calls; a
 * variable that outlives the outer iteration and is read anywhere else also keeps the loop; and
 * because the restored state is the END of the iteration, code after the loop that mutates
 * checkpointed objects (member writes, method calls, passing them to a local function that writes
 * into that parameter) would apply twice, so it keeps the loop too.
 */
function judgeInner(inner: LoopSite, outer: LoopSite, logs: LogSite[], root: Node, checkpointed: Set<string>): LoopVerdict {
  if (inner.name === null) return { skip: false, reason: 'loop name is not a string literal' };
  for (const l of logs) {
    for (let p = l.loop; p; p = p.parent) if (p === inner) return { skip: false, reason: `requested statement ${l.name} (line ${l.line}) is inside` };
  }
  // Writes by the binding they reach: to a binding declared inside the inner loop they are the
  // loop's own business; a shadow of the same name elsewhere changes nothing. An object changed
  // in place counts as written unless it is checkpointed: the restored end-of-iteration state
  // carries those changes, and only those.
  const sites = assignmentSites(root).filter((a) => !(a.inPlace && checkpointed.has(a.name)));
  const effects = functionEffects(root, sites);
  const body = inner.node;
  const assigns = escapingAssigns(sites, body);
  for (const f of calledIn(body)) assigns.push(...(effects.get(f)?.assigns ?? []));
  // Objects handed to a local function that changes that parameter (`record(hist, x)`); where
  // they are declared is not looked up, so they count as outliving the iteration.
  const handed = new Set([...readsIn([body])].filter((v) => !checkpointed.has(v)));
  for (const v of mutatedThroughCalls([body], handed, localFunctions(root))) assigns.push({ name: v, pos: body.start ?? 0, scope: null, inPlace: true });

  const after = codeAfter(outer.node, inner.node);
  const reads = readsIn(after, inner.node);
  for (const f of [...reads]) for (const v of effects.get(f)?.reads ?? []) reads.add(v);
  const readEverywhere = readsIn([root], inner.node);
  for (const a of assigns) {
    const what = a.inPlace ? 'changed in place' : 'assigned';
    if (reads.has(a.name)) return { skip: false, reason: `\`${a.name}\` is ${what} inside and read after it` };
    // A binding of the outer loop's head or body is fresh each iteration; any other outlives it.
    const perIteration = a.scope !== null && contains(outer.node, a.scope);
    if (!perIteration && readEverywhere.has(a.name)) return { skip: false, reason: `\`${a.name}\` is ${what} inside and outlives the iteration` };
  }
  const mutated = mutatedIn(after, checkpointed, inner.node);
  for (const v of mutatedThroughCalls(after, checkpointed, localFunctions(root), inner.node)) mutated.add(v);
  if (mutated.size) return { skip: false, reason: `checkpointed \`${[...mutated][0]}\` is modified after it` };
  return { skip: true, reason: '' };
}

/**
 * Where a requested statement runs relative to the outer loop. Only code in the same function as
 * the outer loop (often the module top level, or a `main()`) has a context the syntax shows.
 */
function whereOf(l: LogSite, outer: LoopSite | null): StatementWhere {
  if (!outer || l.fn !== outer.fn || l.file !== outer.file) return 'unknown';
  if (!l.loop) {
    const end = (outer.node.end as number | undefined) ?? outer.pos;
    return l.pos < outer.pos ? 'before' : l.pos >= end ? 'after' : 'unknown';
  }
  if (l.loop === outer) return 'outer';
  for (let p: LoopSite | null = l.loop; p; p = p.parent) if (p === outer) return 'inner';
  return 'unknown';
}

interface Draft {
  plan: Omit<RunPlan, 'segments' | 'estMs'>;
  iterCost: (i: number) => number;
  ck: Map<number, string>;
  wanted: number;
  /** The last segment runs the code after the outer loop. */
  toEnd: boolean;
  /** What each task of this run costs besides its iterations: a process start and the script's own setup. */
  startMs: number;
}

function planRun(run: PlanRun, names: string[], ckpts: RunCheckpoints | undefined, opts: Required<PlanOptions>, shapeOf: typeof readCodeShape, fixedStartup: boolean): Draft {
  const notes: string[] = [];
  const shape = shapeOf(run.files, names);
  const outerInfo = run.meta.loops.find((l) => l.parent === null) ?? null;
  const outerName = outerInfo?.name ?? null;
  const iterations = run.reached ? run.reached.iterations : run.meta.outerMs.length;
  // RULE: a run that did not finish is replayed only as far as it went.
  if (run.reached) notes.push(`the run did not finish (${run.meta.status}): replayed up to its last record (${run.reached.where})`);
  for (const u of shape.unparsed) notes.push(`${u.file} does not parse (${u.error}): nothing is skipped`);
  if (shape.strayLoops) notes.push('a flor.loop is used outside a for-of: nothing is skipped');

  // The outer loop as code: the one flor.loop of the recorded outer name not nested in another.
  const outerSites = shape.loops.filter((l) => l.name === outerName && l.parent === null);
  const outer = outerSites.length === 1 ? outerSites[0]! : null;
  if (outerName && !outer) notes.push(`outer loop '${outerName}' not found exactly once: nothing is skipped`);

  const statements = shape.logs.map((l) => ({ name: l.name, file: l.file, line: l.line, where: whereOf(l, outer), loop: l.loop?.name ?? null }));
  const canSkip = outer !== null && shape.unparsed.length === 0 && shape.strayLoops === 0 && statements.every((s) => s.where !== 'unknown');
  if (outer && statements.some((s) => s.where === 'unknown')) notes.push('a requested statement is in another function than the outer loop: nothing is skipped');

  const skipInner: string[] = [];
  const kept: Array<{ loop: string; reason: string }> = [];
  if (outer) {
    const root = shape.roots.get(outer.file)!;
    const checkpointed = new Set([...run.meta.checkpointing, ...shape.checkpointed]);
    const direct = shape.loops.filter((l) => l.parent === outer);
    const verdicts = new Map<string, LoopVerdict>();
    for (const inner of direct) {
      const v = canSkip ? judgeInner(inner, outer, shape.logs, root, checkpointed) : { skip: false, reason: 'nothing is skipped in this version' };
      const key = inner.name ?? `<line ${inner.line}>`;
      const prev = verdicts.get(key);
      // One name, two loops: the runtime skips by name, so both must be skippable.
      if (!prev || (prev.skip && !v.skip)) verdicts.set(key, v);
    }
    // The runtime skips by name the loops entered directly in an outer iteration, which includes a
    // loop in a function called there: every other flor.loop of that name (nested deeper, in a
    // function, in another file) must not exist, and neither may a loop whose name the syntax
    // does not give.
    const unnamed = shape.loops.find((l) => l.name === null);
    for (const [name, v] of verdicts) {
      const elsewhere = shape.loops.find((l) => l.name === name && l.parent !== outer);
      if (v.skip && unnamed) kept.push({ loop: name, reason: `a flor.loop at ${unnamed.file}:${unnamed.line} has no literal name` });
      else if (v.skip && elsewhere) kept.push({ loop: name, reason: `another flor.loop named '${name}' (${elsewhere.file}:${elsewhere.line}) is not directly in the outer loop` });
      else if (v.skip) skipInner.push(name);
      else kept.push({ loop: name, reason: v.reason });
    }
  }

  // RULE: "A run without usable checkpoints is replayed from the start: slower, still correct."
  if (!ckpts || ckpts.iters.length === 0) {
    if (iterations > 0) notes.push('no usable checkpoints: replayed from the start in one segment');
    for (const name of skipInner.splice(0)) kept.push({ loop: name, reason: 'no checkpoints to restore' });
  }

  // Statements logged only before the outer loop need just its first iteration.
  const onlyBefore = statements.length > 0 && statements.every((s) => s.where === 'before');
  const wanted = onlyBefore ? Math.min(1, iterations) : iterations;

  const ck = new Map<number, string>();
  if (ckpts) ckpts.iters.forEach((it, i) => ck.set(it, ckpts.keys[i]!));
  // A run that died keeps no timings (they are written at its end): the others' mean, else 0.
  const recorded = run.meta.outerMs;
  const mean = recorded.length ? recorded.reduce((a, b) => a + b, 0) / recorded.length : 0;
  const fullCost = (i: number): number => recorded[i] ?? mean;
  // The replay gets memoised calls' results from the record: their time is not spent again.
  const memo = run.meta.memoMs ?? [];
  const iterCost = (i: number): number => {
    const full = Math.max(0, fullCost(i) - (memo[i] ?? 0));
    return skipInner.length && ck.has(i) ? Math.min(full, opts.skippedIterMs) : full;
  };
  // A re-run pays what a task pays besides its iterations (a process start, the setup), memoised
  // calls included: without them a tiny run read "~300 ms (re-run: 1 ms)".
  let rerunMs = opts.startupMs + (fixedStartup ? 0 : setupMs(run.meta, false));
  for (let i = 0; i < Math.max(iterations, recorded.length); i++) rerunMs += fullCost(i);
  return {
    plan: { run: run.id, outerLoop: outerName, iterations, statements, skipInner, kept, checkpoints: ck.size, rerunMs, notes },
    iterCost, ck, wanted, startMs: opts.startupMs + (fixedStartup ? 0 : setupMs(run.meta, true)), toEnd: run.reached ? run.reached.runToEnd : run.meta.status === 'ok',
  };
}

/**
 * The time a finished run spent outside its outer loop (from its first flor call to its end, less
 * its iterations): setup such as loading data, which every replay task of it runs again before its
 * first iteration (and the code after the loop, which only the last one runs: an over-estimate for
 * the others); for a replay (`replayed`), less its memoised calls. 0 when unknown.
 */
function setupMs(meta: PlanRun['meta'], replayed: boolean): number {
  if (meta.status !== 'ok' || !meta.start || !meta.end) return 0;
  const total = Date.parse(meta.end) - Date.parse(meta.start);
  const loop = meta.outerMs.reduce((a, b) => a + b, 0);
  // A replay does not make its memoised calls again (their results come from the record).
  const memo = replayed ? (meta.memoSetupMs ?? 0) : 0;
  return Number.isFinite(total) ? Math.max(0, total - loop - memo) : 0;
}

/**
 * RULE: "Outer iterations are split into segments at checkpointed boundaries; each segment is one
 * task; tasks of all runs share one pool." A segment may start only at 0 or right after an
 * iteration whose END state was checkpointed ("a checkpoint taken at the end of iteration k seeds
 * iteration k+1"). The cut size balances two costs: too few tasks leave workers idle, too many pay
 * a process start each (planReplay tries several sizes and keeps the best schedule).
 */
function cutSegments(d: Draft, targetMs: number): PlannedSegment[] {
  const startupMs = d.startMs;
  const p = d.plan;
  const n = d.wanted;
  const segs: PlannedSegment[] = [];
  const make = (start: number, end: number, cost: number): PlannedSegment => {
    const ckptKeys: Record<string, string> = {};
    if (p.skipInner.length) for (let i = start; i < end; i++) { const k = d.ck.get(i); if (k) ckptKeys[String(i)] = k; }
    return {
      run: p.run, index: segs.length, start, end, runToEnd: false,
      restoreFrom: start === 0 ? null : d.ck.get(start - 1)!,
      skipInner: p.skipInner, ckptKeys, estMs: cost + startupMs, startupMs,
    };
  };
  let start = 0;
  let acc = 0;
  let total = 0;
  for (let i = 0; i < n; i++) total += d.iterCost(i);
  let left = total;
  for (let i = 0; i < n; i++) {
    const c = d.iterCost(i);
    acc += c;
    left -= c;
    if (i < n - 1 && d.ck.has(i) && acc >= targetMs && left >= targetMs / 2) {
      segs.push(make(start, i + 1, acc));
      start = i + 1;
      acc = 0;
    }
  }
  segs.push(make(start, Math.max(n, start), acc));
  // Code after the outer loop runs only in the last segment; a run that only needs its first
  // iteration still stops there.
  // A run that did not finish stops where it stopped: its code after the loop never ran.
  const last = segs[segs.length - 1]!;
  last.runToEnd = p.iterations === 0 || (d.wanted === p.iterations && d.toEnd);
  return segs;
}

export function planReplay(runs: PlanRun[], names: string[], checkpoints: Map<string, RunCheckpoints>, options: PlanOptions): Plan {
  const workers = Math.max(1, Math.floor(options.workers));
  const shapes = options.shapes ?? new Map<string, CodeShape>();
  const opts: Required<PlanOptions> = { workers, startupMs: options.startupMs ?? DEFAULT_STARTUP_MS, skippedIterMs: options.skippedIterMs ?? DEFAULT_SKIPPED_MS, shapes };
  // Runs of one version carry the same code: it is parsed once (the shape is only read afterwards).
  const shapeOf = (files: Record<string, string>, ns: string[]): CodeShape => {
    const key = JSON.stringify([ns, Object.entries(files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
    let shape = shapes.get(key);
    if (!shape) shapes.set(key, (shape = readCodeShape(files, ns)));
    return shape;
  };
  const drafts = runs.map((r) => planRun(r, r.names ?? names, checkpoints.get(r.id), opts, shapeOf, options.startupMs !== undefined));
  let totalMs = 0;
  for (const d of drafts) for (let i = 0; i < d.wanted; i++) totalMs += d.iterCost(i);
  // Candidate task sizes, from whole runs down to a quarter of one worker's share (never below
  // four process starts); the one whose longest-first schedule finishes first wins, fewer tasks
  // on a tie. Whole runs win when there are enough of them to keep every worker busy; one worker
  // never gains from a cut, which only adds a process start.
  const share = totalMs / workers;
  const targets = [Infinity, ...[1, 2, 3, 4].map((k) => Math.max(4 * opts.startupMs, share / k))];
  let best: { runs: RunPlan[]; wall: number; tasks: number } | null = null;
  for (const target of workers === 1 ? [Infinity] : targets) {
    const runsPlanned: RunPlan[] = drafts.map((d) => {
      const segments = cutSegments(d, target);
      return { ...d.plan, segments, estMs: segments.reduce((a, s) => a + s.estMs, 0) };
    });
    const costs = runsPlanned.flatMap((r) => r.segments.map((s) => s.estMs));
    const wall = scheduleMs(costs, workers);
    if (!best || wall < best.wall - 1e-9 || (Math.abs(wall - best.wall) <= 1e-9 && costs.length < best.tasks)) best = { runs: runsPlanned, wall, tasks: costs.length };
  }
  const out = best!.runs;
  const tasks = out.flatMap((r) => r.segments);
  const estSerialMs = tasks.reduce((a, s) => a + s.estMs, 0);
  return { runs: out, tasks: tasks.length, workers, estSerialMs, estWallMs: scheduleMs(tasks.map((t) => t.estMs), workers) };
}

/**
 * The segments planReplay gives a run whose plan does not depend on the other runs: without usable
 * checkpoints it is one task from the start whatever task size the schedule picks. null for a run
 * with checkpoints, whose cuts depend on every run's cost. Lets its task start before the other
 * runs are prepared.
 */
export function planAlone(run: PlanRun, names: string[], ckpts: RunCheckpoints | undefined, options: PlanOptions): PlannedSegment[] | null {
  if (ckpts && ckpts.iters.length > 0) return null;
  return planReplay([run], names, new Map(ckpts ? [[run.id, ckpts]] : []), options).runs[0]!.segments;
}

/** Longest-first list schedule: the finishing time of the busiest worker. */
export function scheduleMs(costs: number[], workers: number): number {
  const load = new Array<number>(Math.max(1, workers)).fill(0);
  for (const c of [...costs].sort((a, b) => b - a)) {
    let m = 0;
    for (let i = 1; i < load.length; i++) if (load[i]! < load[m]!) m = i;
    load[m]! += c;
  }
  return Math.max(...load);
}
