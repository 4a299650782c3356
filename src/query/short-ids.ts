/**
 * Abbreviated ids, as Git abbreviates commits: the shortest prefix of at least `min` characters
 * that no other id of the set shares. The set is every run this clone can read, not only the
 * rows shown, so a prefix copied from a filtered table still names one run.
 */
export function shortIds(ids: Iterable<string>, min: number): Map<string, string> {
  const sorted = [...new Set(ids)].sort();
  const out = new Map<string, string>();
  const common = (a: string | undefined, b: string): number => {
    if (a === undefined) return 0;
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return i;
  };
  sorted.forEach((id, i) => {
    // In sorted order the ids sharing the longest prefix with this one are its neighbours.
    const shared = Math.max(common(sorted[i - 1], id), common(sorted[i + 1], id));
    out.set(id, id.slice(0, Math.max(min, shared + 1)));
  });
  return out;
}

/** Runs are abbreviated to at least this many characters (a ULID's first 8 change every ~1 s). */
export const RUN_ABBREV = 8;
/** Commits to at least this many, as Git's default. */
export const COMMIT_ABBREV = 7;
