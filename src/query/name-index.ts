/**
 * What `git flor names` lists: every name the runs logged and every arg they took, with how many
 * runs have it, how many values were logged, and the loops it was logged in (`epoch/step`: in
 * loop step inside loop epoch; `-`: outside every loop).
 */
import type { Segment } from '../store/types.js';

export interface NameRow {
  name: string;
  kind: 'logged' | 'arg';
  /** Runs that logged it (or took the arg). */
  runs: number;
  /** Values logged, replays included; null for an arg. */
  records: number | null;
  /** Where it was logged: loop paths, outermost first, sorted; `-` for outside every loop. */
  loops: string[];
  /** Runs where only a hindsight replay logged it. */
  replayedOnly: number;
}

/** Each frame's loop path (`epoch/step`), '' for none, computed once per segment. */
function framePaths(seg: Segment): string[] {
  const { parent, loop } = seg.frames;
  const paths = new Array<string>(parent.length);
  const at = (f: number): string => {
    if (f < 0) return '';
    if (paths[f] !== undefined) return paths[f]!;
    const up = at(parent[f]!);
    return (paths[f] = up ? `${up}/${seg.loops[loop[f]!]!}` : seg.loops[loop[f]!]!);
  };
  for (let f = 0; f < parent.length; f++) at(f);
  return paths;
}

export function nameIndex(runs: ReadonlyArray<{ meta: { args: Record<string, unknown> | null }; segments: Segment[] }>): NameRow[] {
  const logged = new Map<string, { runs: number; records: number; loops: Set<string>; replayedOnly: number }>();
  const args = new Map<string, number>();
  for (const r of runs) {
    for (const a of Object.keys(r.meta.args ?? {})) args.set(a, (args.get(a) ?? 0) + 1);
    const forward = new Set<string>();
    const here = new Set<string>();
    for (const seg of r.segments) {
      const paths = framePaths(seg);
      for (let i = 0; i < seg.name.length; i++) {
        const name = seg.names[seg.name[i]!]!;
        let e = logged.get(name);
        if (!e) logged.set(name, (e = { runs: 0, records: 0, loops: new Set(), replayedOnly: 0 }));
        e.records++;
        const f = seg.frame[i]!;
        e.loops.add(f < 0 ? '-' : paths[f]!);
        here.add(name);
        if (seg.source === 'forward') forward.add(name);
      }
    }
    for (const n of here) {
      const e = logged.get(n)!;
      e.runs++;
      if (!forward.has(n)) e.replayedOnly++;
    }
  }
  const rows: NameRow[] = [...logged].map(([name, e]) => ({ name, kind: 'logged', runs: e.runs, records: e.records, loops: [...e.loops].sort(), replayedOnly: e.replayedOnly }));
  for (const [name, n] of args) rows.push({ name, kind: 'arg', runs: n, records: null, loops: [], replayedOnly: 0 });
  return rows.sort((a, b) => (a.kind !== b.kind ? (a.kind === 'logged' ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
