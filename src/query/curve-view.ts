/**
 * Gathering for charts: the runs a chart draws and the curve of each name in each. The I/O half of
 * curve.ts, as runs.ts is of pivot.ts.
 */
import { FlorError } from '../errors.js';
import { resolveIn } from '../store/run-id.js';
import type { BrokenRun, RunEntry } from '../store/ledger-union.js';
import type { Segment } from '../store/types.js';
import type { History, HistoryRun } from './run-values.js';
import { curveOf, loopsOf, type Curve } from './curve.js';
import { RUN_ABBREV, shortIds } from './short-ids.js';

export interface RunCurves {
  run: string;
  /** Shortest prefix of at least 8 characters that names this run alone among all readable runs. */
  short: string;
  /** Short commit the run's code was based on, or null on an unborn branch. */
  version: string | null;
  start: string;
  /** name -> curve; a name the run never logged has no entry. */
  curves: Map<string, Curve>;
}

export interface CurvesView {
  runs: RunCurves[];
  broken: BrokenRun[];
  /** Loop columns each name's records carry, for `--x` suggestions. */
  loops: Map<string, string[]>;
  /** Names no chosen run logged. */
  missing: string[];
  /** Every name the chosen runs logged, for suggestions. */
  known: string[];
  runCount: number;
}

export interface CurvesOptions {
  names: string[];
  runs?: string[];
  since?: number;
  /** Only runs this accepts (`--version`). */
  filter?: (run: HistoryRun) => boolean;
  x?: string;
}

/** The runs of a history (stored, and live ones from journals when the caller adds them). */
export type CurveHistory = History<HistoryRun> & { broken: BrokenRun[]; removed?: HistoryRun[] };

export async function curvesView(history: CurveHistory, opts: CurvesOptions): Promise<CurvesView> {
  if (opts.names.length === 0) throw new FlorError('NO_NAMES', 'name at least one logged value', { hint: 'e.g. `git flor plot loss`' });
  const { runs, broken } = history;
  let chosen = runs;
  if (opts.runs && opts.runs.length > 0) {
    // resolveIn reads only ids; a live run (from its journal) resolves like a stored one.
    const ids = new Set(opts.runs.map((p) => resolveIn(runs as unknown as RunEntry[], p, broken).id));
    chosen = chosen.filter((r) => ids.has(r.id));
  }
  if (opts.since !== undefined) chosen = chosen.filter((r) => Date.parse(r.meta.start) >= opts.since!);
  if (opts.filter) chosen = chosen.filter(opts.filter);
  chosen = [...chosen].sort((a, b) => (a.meta.start < b.meta.start ? -1 : a.meta.start > b.meta.start ? 1 : a.id < b.id ? -1 : 1));
  const unreadable: BrokenRun[] = [...broken];
  const loaded = await Promise.all(
    chosen.map(async (r) => {
      try {
        return { entry: r, segments: await history.segments(r) };
      } catch (e) {
        // One bad segment hides one run's curve, never the chart.
        unreadable.push({ id: r.id, ledger: (r as Partial<RunEntry>).ledgers?.[0] ?? '', code: e instanceof FlorError ? e.code : 'UNREADABLE', error: e instanceof Error ? e.message : String(e) });
        return null;
      }
    }),
  );
  // Over every readable run, removed ones too: a prefix in the legend names one run.
  const short = shortIds([...runs, ...(history.removed ?? [])].map((r) => r.id), RUN_ABBREV);
  const out: RunCurves[] = [];
  const loops = new Map<string, Set<string>>(opts.names.map((n) => [n, new Set()]));
  const logged = new Set<string>();
  const known = new Set<string>();
  for (const l of loaded) {
    if (!l) continue;
    for (const s of l.segments) for (const n of s.names) known.add(n);
    const curves = new Map<string, Curve>();
    for (const name of opts.names) {
      if (!l.segments.some((s: Segment) => s.names.includes(name))) continue;
      logged.add(name);
      for (const k of loopsOf(l.segments, name)) loops.get(name)!.add(k);
      curves.set(name, curveOf(l.segments, name, opts.x));
    }
    out.push({ run: l.entry.id, short: short.get(l.entry.id)!, version: l.entry.meta.commit ? l.entry.meta.commit.slice(0, 7) : null, start: l.entry.meta.start, curves });
  }
  return {
    runs: out,
    broken: unreadable,
    loops: new Map([...loops].map(([k, v]) => [k, [...v]])),
    missing: opts.names.filter((n) => !logged.has(n)),
    known: [...known].sort(),
    runCount: out.length,
  };
}
