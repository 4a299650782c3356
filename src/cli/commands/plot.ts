import type { CommandModule } from 'yargs';
import { writeFileSync } from 'node:fs';
import { FlorError } from '../../errors.js';
import { requireRepoSync } from '../../store/git.js';
import { parseSince } from '../../query/since.js';
import { curvesView } from '../../query/curve-view.js';
import { unknownName } from '../../query/names.js';
import { repoHistory } from '../../query/runs.js';
import { downsample, smooth, type Curve } from '../../query/curve.js';
import { svgCharts, type SvgChartOptions } from '../svg-chart.js';
import { out, warnBroken } from '../print.js';
import { stdoutInfo, terminal } from '../terminal.js';
import { noRunsHint } from '../hints.js';
import { runFilter } from '../../query/select.js';

interface Args {
  names: string[];
  x: string | undefined;
  run: string[] | undefined;
  since: string | undefined;
  width: number | undefined;
  height: number;
  smooth: number;
  output: string | undefined;
  color: boolean | undefined;
  version: string[] | undefined;
}

const ANSI = ['ansiBlue', 'ansiRed', 'ansiGreen', 'ansiMagenta', 'ansiCyan', 'ansiYellow'] as const;
const ESC: Record<(typeof ANSI)[number], string> = { ansiBlue: '34', ansiRed: '31', ansiGreen: '32', ansiMagenta: '35', ansiCyan: '36', ansiYellow: '33' };
/** A legend longer than this hides the chart it explains. */
const LEGEND_ROWS = 20;

function terminalColumns(): number {
  const c = stdoutInfo().columns || Number(process.env.COLUMNS) || 80;
  return Math.max(30, c);
}

/** `--color`/`--no-color` are read by the CLI for every command (cli/terminal.ts), as are NO_COLOR and color.ui. */
function useColor(flag: boolean | undefined): boolean {
  return flag ?? terminal().color;
}

export const command: CommandModule<object, Args> = {
  command: 'plot <names..>',
  describe: 'Line chart of logged values, one line per run, in the terminal or as SVG',
  builder: (y) =>
    y
      .positional('names', { type: 'string', array: true, demandOption: true, describe: 'logged names to draw, one chart each' })
      .option('x', { type: 'string', describe: 'x axis: a loop (its iteration; the last value within each); default: the record\'s step in its run' })
      .option('run', { type: 'string', array: true, describe: 'only this run (id or unique prefix); repeatable' })
      .option('since', { type: 'string', describe: "only runs started since this date ('2026-01-31', '3 days ago')" })
      .option('version', { type: 'string', array: true, describe: 'only runs of this commit: a branch, tag, rev (HEAD~2) or commit prefix; repeatable' })
      .option('width', { type: 'number', describe: 'chart width in columns (default: fit the terminal)' })
      .option('height', { type: 'number', default: 15, describe: 'chart height in rows' })
      .option('smooth', { type: 'number', default: 0, describe: 'debiased EMA weight in [0, 1), as TensorBoard smooths' })
      .option('output', { type: 'string', describe: 'write the charts to this SVG file instead of the terminal' })
      .option('color', { type: 'boolean', describe: 'colour the lines (default: on a terminal, unless NO_COLOR is set)' })
      .example('$0 plot loss', 'every run\'s loss, by step')
      .example('$0 plot acc --x epoch', 'one point per epoch')
      .example('$0 plot loss acc --run 01JD3 --run 01JD4 --smooth 0.6', 'two runs, smoothed, two charts')
      .example('$0 plot loss --output loss.svg', 'the same chart as a standalone SVG file'),
  handler: async (argv) => {
    if (!(argv.smooth >= 0 && argv.smooth < 1)) throw new FlorError('BAD_OPTION', `--smooth must be in [0, 1), not ${argv.smooth}`, { hint: 'e.g. --smooth 0.6' });
    if (!(argv.height >= 3 && Number.isInteger(argv.height))) throw new FlorError('BAD_OPTION', `--height must be a whole number of rows, at least 3, not ${argv.height}`, { hint: 'e.g. --height 20' });
    if (argv.width !== undefined && !(argv.width >= 10 && Number.isInteger(argv.width))) throw new FlorError('BAD_OPTION', `--width must be a whole number of columns, at least 10, not ${argv.width}`, { hint: 'e.g. --width 100' });
    const names = argv.names.map(String);
    const since = argv.since === undefined ? undefined : parseSince(argv.since);
    const repo = requireRepoSync(process.cwd());
    const history = await repoHistory(repo);
    const byVersion = await runFilter(repo, { version: argv.version?.map(String) }, history.runs);
    const view = await curvesView(history, { names, runs: argv.run, since, x: argv.x, filter: byVersion ? (r) => byVersion(r.meta) : undefined });
    warnBroken(view.broken);
    if (view.runCount === 0) {
      const chosen = argv.run || argv.since || byVersion;
      throw new FlorError('NO_RUNS', chosen ? 'no run matches --run/--since/--version' : 'no runs recorded yet', {
        hint: chosen ? '`git flor runs` lists them all' : noRunsHint(repo),
      });
    }
    if (view.missing.length > 0) {
      throw unknownName(view.missing[0]!, view.known, view.runCount === 1 ? 'this run never logged' : `these ${view.runCount} runs never logged`);
    }
    if (argv.x !== undefined) {
      for (const name of names) {
        const loops = view.loops.get(name) ?? [];
        if (!loops.includes(argv.x)) {
          throw new FlorError('NO_SUCH_LOOP', `'${name}' is never logged inside a loop named '${argv.x}'`, {
            hint: loops.length ? `its loops: ${loops.join(', ')}` : `'${name}' is logged outside any loop; drop --x`,
          });
        }
      }
    }
    const xLabel = argv.x ?? 'record order';
    const labelOf = (r: { short: string; version: string | null }) => `${r.short} ${r.version ?? '(none)'}`;
    const shape = (c: Curve, buckets: number): Curve => {
      const d = downsample(c, buckets);
      return { xs: d.xs, ys: smooth(d.ys, argv.smooth) };
    };

    if (argv.output !== undefined) {
      const panels: SvgChartOptions[] = names.map((name) => ({
        title: argv.smooth > 0 ? `${name} (smoothed ${argv.smooth})` : name,
        xLabel,
        series: view.runs.filter((r) => r.curves.has(name)).map((r) => ({ label: labelOf(r), ...shape(r.curves.get(name)!, 2000) })),
        width: argv.width !== undefined ? argv.width * 8 : 800,
        height: Math.max(240, argv.height * 16 + 18 * view.runs.length),
      }));
      writeFileSync(argv.output, svgCharts(panels));
      await out(`wrote ${argv.output}: ${names.length} chart${names.length === 1 ? '' : 's'}, ${view.runCount} run${view.runCount === 1 ? '' : 's'}\n`);
      return;
    }

    // Loaded here: only `plot` pays for the chart package.
    const { plot } = await import('simple-ascii-chart');
    const color = useColor(argv.color);
    const cols = argv.width ?? terminalColumns();
    const plotWidth = Math.max(10, cols - 14);
    let text = '';
    for (const name of names) {
      const drawn = view.runs.filter((r) => r.curves.has(name) && r.curves.get(name)!.xs.length > 0);
      if (drawn.length === 0) {
        text += `${name}: no numeric values to draw\n\n`;
        continue;
      }
      const lines = drawn.map((r) => {
        const c = shape(r.curves.get(name)!, plotWidth * 2);
        return c.xs.map((x, i) => [x, c.ys[i]!] as [number, number]);
      });
      const render = (width: number) =>
        plot(lines, {
          width,
          height: argv.height,
          title: argv.smooth > 0 ? `${name} (smoothed ${argv.smooth}) by ${xLabel}` : `${name} by ${xLabel}`,
          ...(color ? { color: drawn.map((_, i) => ANSI[i % ANSI.length]!) } : {}),
        });
      // The y labels' width depends on the values: draw, measure, and narrow once to fit.
      let chart = render(plotWidth);
      const widest = Math.max(...chart.split('\n').map((l) => l.replace(/\u001b\[[0-9;]*m/g, '').trimEnd().length));
      if (widest > cols) chart = render(Math.max(5, plotWidth - (widest - cols)));
      text += chart.replace(/^\n/, '').split('\n').map((l) => l.trimEnd()).join('\n') + '\n';
      drawn.slice(0, LEGEND_ROWS).forEach((r, i) => {
        const a = ANSI[i % ANSI.length]!;
        const mark = color ? `\u001b[${ESC[a]}m━━\u001b[0m` : '──';
        text += `  ${mark} ${labelOf(r)}\n`;
      });
      if (drawn.length > LEGEND_ROWS) text += `  … and ${drawn.length - LEGEND_ROWS} more runs (narrow with --run or --since)\n`;
      if (!color && drawn.length > 1) text += '  (no colour here: --run picks runs apart)\n';
      text += '\n';
    }
    await out(text);
  },
};
