/** "Did you mean" for names nothing logged: a typo must never pass as an empty result. */
import { FlorError } from '../errors.js';

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
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
