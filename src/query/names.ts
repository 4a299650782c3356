/** "Did you mean" for names nothing logged: a typo must never pass as an empty result. */
import { FlorError } from '../errors.js';

/** Edit distance where swapping two neighbours counts as one edit (`lgo` is one from `log`). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidates, if any is close enough to be a plausible typo (case differences count little). */
export function suggest(name: string, candidates: Iterable<string>): string[] {
  let best = Infinity;
  let out: string[] = [];
  for (const c of new Set(candidates)) {
    const d = c.toLowerCase() === name.toLowerCase() ? 0.5 : distance(name.toLowerCase(), c.toLowerCase());
    if (d > Math.max(1, Math.floor(Math.max(name.length, c.length) / 3))) continue;
    if (d < best) {
      best = d;
      out = [c];
    } else if (d === best) out.push(c);
  }
  return out.sort();
}

export function unknownName(name: string, candidates: string[], what = 'no run logged', context = ''): FlorError {
  const near = suggest(name, candidates);
  const known = [...new Set(candidates)].sort();
  const list = known.length > 20 ? known.slice(0, 20).join(', ') + `, … (${known.length} in all)` : known.join(', ');
  return new FlorError('UNKNOWN_NAME', `${what} '${name}'${context}`, {
    hint: near.length ? `did you mean ${near.map((n) => `'${n}'`).join(' or ')}? known: ${list || '(none)'}` : `known: ${list || '(none)'}`,
  });
}
