/**
 * The page's API. Each answer is what the CLI would print with `--format json` (runs), or the
 * chart data of `git flor plot` (curves, aligned for uPlot as binary columns: chart-data.ts): the
 * page holds no query logic of its own.
 */
import { FlorError } from '../errors.js';
import type { RepoInfo } from '../store/git.js';
import { SEGMENT_CACHE_BYTES, type SegmentReader } from '../store/ledger.js';
import { boundedSegments, gitSegments } from '../query/history.js';
import { commitSubjects } from '../store/commits.js';
import { runDetail } from '../query/runs.js';
import { liveHistory } from '../query/live-history.js';
import { summarizeRuns } from '../query/summary.js';
import { curvesView } from '../query/curve-view.js';
import { RUN_ABBREV, shortIds } from '../query/short-ids.js';
import { toJson } from '../query/json-rows.js';
import type { Hindsight } from './hindsight.js';
import { alignCurves, encodeChart, smoothColumn } from './chart-data.js';
import { diffRuns } from '../query/diff.js';
import { treeDiff } from '../store/tree-diff.js';
import type { Value } from '../store/records.js';

/**
 * Decoded segments kept for the server's lifetime (bounded), read through the derived cache on
 * disk (so a restarted server does not decode them again). Segments are content-addressed and
 * never rewritten, so a kept one is never stale; a new run or replay is a new oid.
 */
const caches = new Map<string, SegmentReader>();
function segmentsFor(repo: RepoInfo): SegmentReader {
  let c = caches.get(repo.commonDir);
  if (!c) caches.set(repo.commonDir, (c = boundedSegments(gitSegments(repo), SEGMENT_CACHE_BYTES)));
  return c;
}

export interface ApiResult {
  status: number;
  body: unknown;
}

function errorBody(e: unknown): ApiResult {
  if (e instanceof FlorError && e.code === 'REPLAY_RUNNING') return { status: 409, body: { error: { code: e.code, message: e.message, hint: e.hint ?? null } } };
  if (e instanceof FlorError) return { status: 400, body: { error: { code: e.code, message: e.message, hint: e.hint ?? null } } };
  throw e;
}

function num(v: string | null, what: string): number | undefined {
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new FlorError('BAD_OPTION', `${what} must be a whole number, not '${v}'`);
  return n;
}

async function runs(repo: RepoInfo, q: URLSearchParams): Promise<ApiResult> {
  const history = await liveHistory(repo, segmentsFor(repo));
  const sum = await summarizeRuns(history, {
    cols: q.getAll('col').filter(Boolean),
    where: q.get('where') || undefined,
    sort: q.getAll('sort').filter(Boolean),
    limit: num(q.get('limit'), 'limit'),
    onlyChanged: q.get('onlyChanged') === '1',
  });
  const subjects = await commitSubjects(repo, history.runs.map((r) => r.meta.commit).filter((c): c is string => !!c));
  const live = sum.rows.filter((r) => history.live.has(r.run as string)).map((r) => r.run);
  return {
    status: 200,
    body: {
      columns: sum.jsonColumns,
      flat: sum.columns,
      rows: sum.rows,
      notes: sum.notes,
      broken: [...history.broken.map((b) => ({ id: b.id, error: b.error, code: b.code })), ...sum.broken],
      subjects: Object.fromEntries(subjects),
      // Runs read from their journals: still recording, or not captured yet.
      live,
      // Abbreviated over every readable run, so a prefix copied from a filtered list names one run.
      short: Object.fromEntries(shortIds(history.runs.map((r) => r.id), RUN_ABBREV)),
    },
  };
}

/** Record counts per name over every run: the page opens on the chart of the most-logged one. */
async function names(repo: RepoInfo): Promise<ApiResult> {
  const history = await liveHistory(repo, segmentsFor(repo));
  const count = new Map<string, { records: number; runs: number }>();
  const broken: Array<{ id: string; error: string }> = [];
  await Promise.all(
    history.runs.map(async (r) => {
      try {
        const segs = await history.segments(r);
        // A replay re-executes statements the run already had: count those records once, from
        // the run itself; a name only a replay logged counts from its first replay.
        const own = new Set(segs.filter((s) => s.source === 'forward').flatMap((s) => s.names));
        const seen = new Set<string>();
        for (const s of segs) {
          const per = new Uint32Array(s.names.length);
          for (let i = 0; i < s.name.length; i++) per[s.name[i]!]!++;
          s.names.forEach((n, i) => {
            if (per[i] === 0 || (s.source !== 'forward' && (own.has(n) || seen.has(n)))) return;
            const c = count.get(n) ?? { records: 0, runs: 0 };
            c.records += per[i]!;
            if (!seen.has(n)) c.runs++;
            seen.add(n);
            count.set(n, c);
          });
        }
      } catch (e) {
        broken.push({ id: r.id, error: e instanceof Error ? e.message : String(e) });
      }
    }),
  );
  const list = [...count].map(([name, c]) => ({ name, ...c })).sort((a, b) => b.records - a.records || (a.name < b.name ? -1 : 1));
  return { status: 200, body: { names: list, broken } };
}

async function curves(repo: RepoInfo, q: URLSearchParams): Promise<ApiResult> {
  const wanted = q.getAll('name').filter(Boolean);
  const x = q.get('x') || undefined;
  const weight = q.get('smooth') ? Number(q.get('smooth')) : 0;
  if (!(weight >= 0 && weight < 1)) throw new FlorError('BAD_OPTION', `smooth must be in [0, 1), not '${q.get('smooth')}'`);
  // uPlot draws 166k points in ~25 ms; a curve wider than the screen is bucket means.
  const points = num(q.get('points'), 'points') ?? 1000;
  const view = await curvesView(await liveHistory(repo, segmentsFor(repo)), { names: wanted, runs: q.getAll('run').filter(Boolean), x });
  const columns: Float64Array[] = [];
  const column = (c: Float64Array) => columns.push(c) - 1;
  const charts: Record<string, unknown> = {};
  for (const name of wanted) {
    const runs = view.runs.filter((r) => r.curves.has(name));
    const aligned = alignCurves(runs.map((r) => r.curves.get(name)!), points);
    charts[name] = {
      x: column(aligned.xs),
      runs: runs.map((r, i) => ({
        run: r.run,
        short: r.short,
        version: r.version,
        points: aligned.points[i],
        y: column(aligned.ys[i]!),
        smooth: weight > 0 ? column(smoothColumn(aligned.ys[i]!, weight)) : null,
      })),
    };
  }
  const header = { x: x ?? null, charts, loops: Object.fromEntries(view.loops), missing: view.missing, known: view.known, broken: view.broken.map((b) => ({ id: b.id, error: b.error })) };
  return { status: 200, body: encodeChart(header, columns) };
}

/** How two runs differ: args, the code trees that ran, status, duration, version, each name's values. */
async function diff(repo: RepoInfo, q: URLSearchParams): Promise<ApiResult> {
  const a = q.get('a');
  const b = q.get('b');
  if (!a || !b) throw new FlorError('BAD_REQUEST', 'name two runs: ?a=RUN&b=RUN');
  return { status: 200, body: await diffRuns(repo, a, b, { segments: segmentsFor(repo) }) };
}

async function run(repo: RepoInfo, id: string): Promise<ApiResult> {
  const d = await runDetail(repo, id);
  const m = d.run.meta;
  // The code that ran against its commit: what was uncommitted (a fetched run's commit may be
  // missing here; then there is nothing to diff against).
  let code: { files: unknown[]; patch: string } | { error: string } = { files: [], patch: '' };
  if (m.commit && m.dirty) {
    try {
      code = await treeDiff(repo, m.commit, d.run.codeTree);
    } catch (e) {
      code = { error: `cannot diff against ${m.commit.slice(0, 7)}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
    }
  }
  return {
    status: 200,
    body: {
      run: d.run.id,
      meta: toJson(m as unknown as Value),
      segments: d.segments.map((s) => ({ name: s.name, source: s.source, records: s.records, names: s.names, provenance: s.provenance })),
      ledgers: d.run.ledgers,
      code,
    },
  };
}

export async function api(repo: RepoInfo, method: string, url: URL, body: unknown, hindsight: Hindsight): Promise<ApiResult> {
  const p = url.pathname;
  // Work is started only by POST (with the token, like every request): a link or an image tag
  // in another page can never start a replay.
  const post = p === '/api/replay/plan' || p === '/api/replay/start';
  if (method !== (post ? 'POST' : 'GET')) return { status: 405, body: { error: { code: 'METHOD', message: `${method} is not served at ${p}` } } };
  try {
    if (p === '/api/replay/plan') return { status: 200, body: await hindsight.plan(body) };
    if (p === '/api/replay/start') return { status: 202, body: { job: hindsight.start(body) } };
    if (p === '/api/replay') return { status: 200, body: { job: hindsight.job } };
    if (p === '/api/runs') return await runs(repo, url.searchParams);
    if (p === '/api/names') return await names(repo);
    if (p === '/api/curves') return await curves(repo, url.searchParams);
    if (p === '/api/diff') return await diff(repo, url.searchParams);
    const m = /^\/api\/run\/([0-9A-Za-z]{1,26})$/.exec(p);
    if (m) return await run(repo, m[1]!);
    return { status: 404, body: { error: { code: 'NOT_FOUND', message: `no API at ${p}` } } };
  } catch (e) {
    return errorBody(e);
  }
}
