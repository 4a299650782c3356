/**
 * The pre-push guard, pure: given what Git is about to push, is it safe for flor's refs?
 *
 * Only this clone's ledger may go to a remote, and only under its own name. Anything else under
 * refs/flor/ is local to this clone (fetched copies of other ledgers, the derived notes index) or
 * someone else's ledger; `git push --mirror` would send the former and delete the latter on the
 * remote. So such a push is refused as a whole: Git offers no way to drop refs from it.
 */
import { FLOR_REFS, LEDGERS } from '../store/refs.js';

export interface PushLine {
  localRef: string;
  localSha: string;
  remoteRef: string;
  remoteSha: string;
}

/** Parses pre-push's stdin: `<local ref> SP <local sha> SP <remote ref> SP <remote sha>` per line. */
export function parsePushLines(text: string): PushLine[] {
  const out: PushLine[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    if (f.length !== 4) continue;
    out.push({ localRef: f[0]!, localSha: f[1]!, remoteRef: f[2]!, remoteSha: f[3]! });
  }
  return out;
}

export interface Refusal {
  message: string;
  hint: string;
  refs: string[];
}

/** Options of `git push` that matter here, from its arguments (after `push`). */
export function pushFlags(args: string[]): { dryRun: boolean; mirror: boolean } {
  let dryRun = false;
  let mirror = false;
  for (const a of args) {
    if (a === '--') break;
    if (a === '--dry-run') dryRun = true;
    else if (a === '--mirror') mirror = true;
    // short options that take no argument, clustered (`-nv`); `-o` takes one, so stop at it
    else if (/^-[fuvqnd46]+$/.test(a) && a.includes('n')) dryRun = true;
  }
  return { dryRun, mirror };
}

/**
 * `mirror`: 'remote' when the remote is configured as a mirror, 'flag' for `git push --mirror`.
 */
export function checkPush(lines: PushLine[], writer: string | null, mirror: 'remote' | 'flag' | null): Refusal | null {
  const own = writer ? LEDGERS + writer : null;
  const bad = lines
    .filter((l) => l.localRef.startsWith(FLOR_REFS) || l.remoteRef.startsWith(FLOR_REFS))
    .filter((l) => !(own && l.localRef === own && l.remoteRef === own))
    .map((l) => (l.localRef === '(delete)' ? `delete ${l.remoteRef}` : l.localRef === l.remoteRef ? l.localRef : `${l.localRef} -> ${l.remoteRef}`));
  if (!bad.length && !mirror) return null;
  const shown = bad.slice(0, 3).join(', ') + (bad.length > 3 ? `, and ${bad.length - 3} more` : '');
  const why = "it would copy refs/flor/* that are local to this clone and delete other clones' run history there";
  return {
    message:
      mirror === 'flag'
        ? `refusing \`git push --mirror\`: ${why}`
        : mirror === 'remote'
          ? `refusing to push to a mirror remote: ${why}`
          : `refusing to push ${shown}: only this clone's ledger may leave it (\`git push --mirror\` sends and deletes every ref)`,
    hint: 'push branches and tags as usual (`git push`, `git push --tags`) — the run history goes along; `--no-verify` skips this check if you really mean it',
    refs: bad,
  };
}
