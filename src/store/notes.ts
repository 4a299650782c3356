/**
 * `refs/flor/notes`: a tree in Git's notes format, keyed by the user's commit, one line per run
 * made on it. Derived from the ledgers and rebuildable. Written with 2/38 fanout (`ab/cdef…`) from
 * the first note: Git reads any fanout, and a fixed one keeps every writer simple. Updated with CAS
 * because a capture, a rebuild and the post-rewrite hook may race. `git notes` itself is never
 * used: it refuses refs outside refs/notes/ and has no CAS (docs/design.md).
 */
import { NOTES_REF } from './refs.js';
import { git, repoCwd, type CatFile, type RepoInfo, type TreeEntry } from './git.js';
import { blobEntry, editTree, putBlobs, readRef, readTree, reader, updateRefWithRetry, commitTreeOf, type TreeEdits } from './objects.js';
import { listRunsChecked } from './ledger.js';
import type { RunMeta } from './types.js';
import type { Value } from './records.js';
import { safeText } from '../terminal-text.js';


function short(v: Value): string {
  if (typeof v === 'string') return /^[^\s=]{1,40}$/.test(v) ? v : JSON.stringify(v.length > 40 ? v.slice(0, 37) + '...' : v);
  if (typeof v === 'bigint') return v.toString();
  if (v === null || typeof v !== 'object') return String(v);
  const s = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : ArrayBuffer.isView(x) ? `[${(x as unknown as ArrayLike<number>).length}]` : x));
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}

/** The one line a run contributes to its commit's note; a pure function of the metadata, so a rebuild writes the same text. */
export function noteLine(meta: RunMeta): string {
  const args = Object.keys(meta.args)
    .sort()
    .map((k) => `${k}=${short(meta.args[k]!)}`)
    .join(' ');
  const dirty = meta.dirty ? ' dirty' : '';
  // `git log` prints notes raw: a control character from a fetched run's metadata must not reach the terminal.
  return safeText(`flor run ${meta.id} ${meta.status} ${meta.script}${args ? ' ' + args : ''}${dirty} (${meta.records} records)`.replace(/\n/g, ' '));
}

function notePath(commit: string): string {
  return `${commit.slice(0, 2)}/${commit.slice(2)}`;
}

/** A commit's note in a notes tree of any fanout; the path is relative to the root. */
async function findNote(cat: CatFile, tree: string, hex: string, prefix = ''): Promise<{ path: string; oid: string } | null> {
  const entries: TreeEntry[] = await readTree(cat, tree);
  for (const e of entries) if (e.type === 'blob' && e.name === hex) return { path: prefix + e.name, oid: e.oid };
  for (const e of entries) {
    if (e.type === 'tree' && e.name.length < hex.length && hex.startsWith(e.name)) {
      const hit = await findNote(cat, e.oid, hex.slice(e.name.length), prefix + e.name + '/');
      if (hit) return hit;
    }
  }
  return null;
}

/**
 * A note's text is canonical: distinct lines, sorted (so by run id). Incremental updates and a
 * rebuild then write identical blobs, whatever order captures landed in.
 */
function noteText(lines: Iterable<string>): string {
  return [...new Set(lines)].filter(Boolean).sort().join('\n') + '\n';
}

function merged(existing: string, add: string[]): string {
  const have = existing.split('\n').filter(Boolean);
  const seen = new Set(have);
  if (add.every((l) => seen.has(l))) return existing;
  return noteText([...have, ...add]);
}

/**
 * Adds lines to commits' notes (lines already there are kept once). One notes commit for all of
 * them; returns how many notes changed.
 */
export async function addNoteLines(repo: RepoInfo, lines: Array<{ commit: string; line: string }>): Promise<number> {
  const byCommit = new Map<string, string[]>();
  for (const { commit, line } of lines) {
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit)) continue;
    let a = byCommit.get(commit);
    if (!a) byCommit.set(commit, (a = []));
    a.push(line);
  }
  if (byCommit.size === 0) return 0;
  let changed = 0;
  await updateRefWithRetry(repo, NOTES_REF, {
    loose: true,
    message: `flor: notes for ${byCommit.size} commit(s)`,
    tree: async (root, { cat, mk }) => {
      const edits: TreeEdits = new Map();
      const texts: string[] = [];
      const paths: string[] = [];
      for (const [commit, add] of byCommit) {
        const hit = root ? await findNote(cat, root, commit) : null;
        const before = hit ? (await cat.readAs(hit.oid, 'blob')).data.toString() : '';
        const after = merged(before, add);
        if (after === before) continue;
        texts.push(after);
        paths.push(hit?.path ?? notePath(commit));
      }
      changed = texts.length;
      if (!changed) return root;
      const oids = await putBlobs(repo, texts.map((t) => Buffer.from(t)));
      paths.forEach((p, i) => edits.set(p, blobEntry(oids[i]!)));
      return editTree(cat, mk, root, edits);
    },
  });
  return changed;
}

/** The note lines every ledger implies: commit -> lines, in run order. */
export async function expectedNotes(repo: RepoInfo): Promise<Map<string, string[]>> {
  const { runs } = await listRunsChecked(repo);
  const out = new Map<string, string[]>();
  for (const r of runs) {
    if (!r.meta.commit) continue;
    let a = out.get(r.meta.commit);
    if (!a) out.set(r.meta.commit, (a = []));
    a.push(noteLine(r.meta));
  }
  return out;
}

/** Every note of refs/flor/notes: commit -> text (any fanout). */
export async function readNotes(repo: RepoInfo): Promise<Map<string, string>> {
  const tip = await readRef(repo, NOTES_REF);
  const out = new Map<string, string>();
  if (!tip) return out;
  const cat = reader(repo);
  const root = commitTreeOf((await cat.readAs(tip, 'commit')).data);
  if (!root) return out;
  const found: Array<{ commit: string; oid: string }> = [];
  const walk = async (tree: string, prefix: string): Promise<void> => {
    const es = await readTree(cat, tree);
    await Promise.all(
      es.map(async (e) => {
        const name = prefix + e.name;
        if (e.type === 'blob' && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(name)) found.push({ commit: name, oid: e.oid });
        else if (e.type === 'tree' && /^[0-9a-f]+$/.test(e.name) && name.length < 40) await walk(e.oid, name);
      }),
    );
  };
  await walk(root, '');
  const texts = await Promise.all(found.map((f) => cat.readAs(f.oid, 'blob')));
  found.forEach((f, i) => out.set(f.commit, texts[i]!.data.toString()));
  return out;
}

/**
 * Rewrites refs/flor/notes from the ledgers alone (lines carried to rewritten commits are dropped;
 * sync puts them back). Returns the number of commits with notes.
 */
export async function rebuildNotes(repo: RepoInfo): Promise<number> {
  const want = await expectedNotes(repo);
  const commits = [...want.keys()].sort();
  const texts = commits.map((c) => noteText(want.get(c)!));
  const oids = await putBlobs(repo, texts.map((t) => Buffer.from(t)));
  const edits: TreeEdits = new Map();
  commits.forEach((c, i) => edits.set(notePath(c), blobEntry(oids[i]!)));
  await updateRefWithRetry(repo, NOTES_REF, {
    loose: true,
    message: `flor: rebuild notes from ledgers (${commits.length} commits)`,
    replaceDamaged: true, // derived: a damaged index is what a rebuild is for
    tree: async (_root, { cat, mk, tip }) => {
      if (commits.length === 0) return tip === null ? null : emptyTree(repo);
      return editTree(cat, mk, null, edits);
    },
  });
  return commits.length;
}

async function emptyTree(repo: RepoInfo): Promise<string> {
  return (await git(['hash-object', '-w', '-t', 'tree', '--stdin'], { cwd: repoCwd(repo), input: '' })).stdout.toString().trim();
}

/**
 * What the notes index holds that no ledger implies: entries that are not notes (a file or
 * directory not named by commit hex), and lines that are not the line of any run the ledgers hold
 * (a fake "flor run …" line; a line carried to an amended commit is the line of a real run). Each
 * is one string saying what it is; empty when the index is clean.
 */
export async function notesJunk(repo: RepoInfo): Promise<string[]> {
  const tip = await readRef(repo, NOTES_REF);
  if (!tip) return [];
  const cat = reader(repo);
  const root = commitTreeOf((await cat.readAs(tip, 'commit')).data);
  if (!root) return ['notes commit without a tree'];
  const known = new Set<string>();
  for (const lines of (await expectedNotes(repo)).values()) for (const l of lines) known.add(l);
  const junk: string[] = [];
  const walk = async (tree: string, prefix: string, dir: string): Promise<void> => {
    for (const e of await readTree(cat, tree)) {
      const name = prefix + e.name;
      if (e.type === 'blob' && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(name)) {
        const text = (await cat.readAs(e.oid, 'blob')).data.toString();
        for (const line of text.split('\n')) if (line && !known.has(line)) junk.push(`line ${JSON.stringify(line.slice(0, 60))} in the note of ${name.slice(0, 12)}`);
      } else if (e.type === 'tree' && /^[0-9a-f]{2,38}$/.test(e.name) && name.length < 40) await walk(e.oid, name, `${dir}${e.name}/`);
      else junk.push(`entry ${JSON.stringify(dir + e.name)}`);
    }
  };
  await walk(root, '', '');
  return junk;
}

/** Lines the ledgers imply that the notes lack (extra lines, e.g. carried across a rebase, are fine). */
export async function missingNoteLines(repo: RepoInfo): Promise<Array<{ commit: string; line: string }>> {
  const [want, have] = await Promise.all([expectedNotes(repo), readNotes(repo)]);
  const missing: Array<{ commit: string; line: string }> = [];
  for (const [commit, lines] of want) {
    const got = new Set((have.get(commit) ?? '').split('\n'));
    for (const line of lines) if (!got.has(line)) missing.push({ commit, line });
  }
  return missing;
}
