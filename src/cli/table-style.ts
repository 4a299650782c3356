/**
 * What a terminal table shows beyond its values: ids abbreviated as Git abbreviates them, the
 * table fitted to the terminal's width, colour. Other formats keep full ids and every column.
 */
import type { Value } from '../store/records.js';
import type { TableStyle } from '../query/formats.js';
import type { Column, Table } from '../query/table.js';
import { COMMIT_ABBREV, RUN_ABBREV, shortIds } from '../query/short-ids.js';
import { paint, statusStyle } from './color.js';
import { terminal } from './terminal.js';

function mapColumn(col: Column, f: (v: Value) => Value): Column {
  if (col.type === 'dict') return { ...col, dict: col.dict.map(f) };
  if (col.type === 'values') return { type: 'values', values: Array.from(col.values, (v) => f(v ?? null)) };
  return col;
}

/**
 * The table with `run` ids cut to their shortest unique prefix (8+) over `all` runs, and `commit`
 * shas to theirs (7+) over the commits of `all`.
 */
export function abbreviateIds(t: Table, all: ReadonlyArray<{ id: string; meta: { commit: string | null } }>): Table {
  const runs = shortIds(all.map((r) => r.id), RUN_ABBREV);
  const commits = shortIds(all.flatMap((r) => (r.meta.commit ? [r.meta.commit] : [])), COMMIT_ABBREV);
  const short = (m: Map<string, string>) => (v: Value) => (typeof v === 'string' ? (m.get(v) ?? v) : v);
  const cols = t.cols.map((c, i) => (t.columns[i] === 'run' ? mapColumn(c, short(runs)) : t.columns[i] === 'commit' ? mapColumn(c, short(commits)) : c));
  return { ...t, cols };
}

/**
 * The style of a table printed now: the terminal's width, `drop` as the order columns go when it
 * is too narrow, colour when on. A table written to a file (`toFile`) is neither fitted nor coloured.
 */
export function terminalStyle(drop: readonly string[], toFile = false): TableStyle {
  if (toFile) return {};
  const term = terminal();
  const style: TableStyle = { width: term.width, drop };
  if (term.color) {
    style.header = (h) => paint('bold', h, true);
    style.cell = (column, value, text) => {
      const s = column === 'status' ? statusStyle(value) : null;
      return s ? paint(s, text, true) : column === 'run' ? paint('yellow', text, true) : text;
    };
  }
  return style;
}
