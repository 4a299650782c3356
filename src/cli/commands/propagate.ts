/**
 * `git flor propagate REV -- PATH`: PATH as of REV (a commit, or a run's captured code) with the
 * work tree's log statements that REV lacks inserted. The source goes to stdout; every statement
 * that could not be carried gets one line on stderr. Parsing is imported lazily (see main.ts).
 */
import type { CommandModule } from 'yargs';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { requireRepoSync, type RepoInfo } from '../../store/git.js';
import { readAt, resolveRev } from '../../store/revs.js';
import { FlorError, isFlorError } from '../../errors.js';
import { out } from '../print.js';

interface Args {
  rev: string;
  path: string[] | undefined;
  names: string | undefined;
  report: string | undefined;
  _: Array<string | number>;
}

interface OldCode {
  tree: string;
  /** How REV is described in messages. */
  label: string;
}

async function oldCode(repo: RepoInfo, rev: string): Promise<OldCode> {
  const c = await resolveRev(repo, rev);
  if (c) return { tree: c.tree, label: rev };
  const { resolveRun } = await import('../../store/ledger.js');
  try {
    const run = await resolveRun(repo, rev);
    return { tree: run.codeTree, label: `run ${run.id}` };
  } catch (e) {
    if (isFlorError(e, 'RUN_NOT_FOUND')) {
      throw new FlorError('BAD_REVISION', `${rev} is neither a commit nor a run id`, {
        hint: 'give a commit (e.g. HEAD~3, a branch, a hash) or a run id from `git flor runs`',
        data: { rev },
      });
    }
    throw e;
  }
}

export const command: CommandModule<object, Args> = {
  command: 'propagate <rev> [path..]',
  describe: "Print a file as of REV (commit or run id) with today's flor.log statements inserted",
  builder: (y) =>
    y
      .positional('rev', { type: 'string', demandOption: true, describe: 'a commit-ish, or a run id (or unique prefix): that run\'s captured code' })
      .positional('path', { type: 'string', array: true, describe: 'the file, as named in the work tree today (after `--`)' })
      .option('names', { type: 'string', describe: 'only statements logging these names (comma-separated)' })
      .option('report', { type: 'string', choices: ['json'], describe: 'write the per-statement report to stderr as JSON' })
      .example('$0 propagate HEAD~3 -- train.ts', 'train.ts as of three commits ago, with today\'s log statements')
      .example('$0 propagate 01JD3 --names grad_norm -- src/train.ts', 'the code of run 01JD3…, with only grad_norm added'),
  handler: async (argv) => {
    const repo = requireRepoSync(process.cwd());
    if (!repo.top) throw new FlorError('BARE_REPO', 'this repository has no work tree', { hint: 'run inside a clone with a work tree' });
    const extra = argv._.slice(1).map(String); // what follows `--`
    const paths = [...(argv.path ?? []), ...extra];
    // After `--` every word is a path, as in Git: an option there was meant to come before it.
    const misplaced = extra.find((p) => p.startsWith('-'));
    if (misplaced) {
      throw new FlorError('BAD_USAGE', `${misplaced} after \`--\` reads as a path`, { hint: `options go before \`--\`: git flor propagate ${argv.rev} ${misplaced} … -- ${paths.find((p) => !p.startsWith('-')) ?? 'PATH'}` });
    }
    if (paths.length !== 1) {
      throw new FlorError('BAD_USAGE', paths.length ? 'give exactly one PATH' : 'name the file to propagate: git flor propagate REV -- PATH', {
        hint: 'e.g. `git flor propagate HEAD~1 -- train.ts`',
      });
    }
    const given = paths[0]!;
    const abs = resolve(process.cwd(), given);
    const rel = relative(repo.top, abs).split(sep).join('/');
    if (rel.startsWith('..') || isAbsolute(rel) || rel === '') {
      throw new FlorError('PATH_NOT_FOUND', `${given} is outside the work tree`, { hint: `give a file under ${repo.top}` });
    }
    if (!existsSync(abs) || !statSync(abs).isFile()) {
      throw new FlorError('PATH_NOT_FOUND', `${given} does not exist in the work tree`, { hint: 'PATH names the file as it is today; REV says which version to print' });
    }
    const { propagate, isSourcePath } = await import('../../propagate/index.js');
    if (!isSourcePath(rel)) {
      throw new FlorError('UNSUPPORTED_FILE', `${given} is not a JavaScript/TypeScript source`, { hint: 'propagate reads .js .mjs .cjs .jsx .ts .mts .cts .tsx files' });
    }
    const old = await oldCode(repo, argv.rev);
    let oldPath = rel;
    let oldText = await readAt(repo, old.tree, rel);
    if (oldText === null) {
      // Only a path missing from REV can have been renamed since: spare the work-tree snapshot otherwise.
      const { snapshotWorkTree } = await import('../../store/worktree.js');
      const { findRenames } = await import('../../store/renames.js');
      const renames = await findRenames(repo, old.tree, await snapshotWorkTree(repo));
      const from = renames.get(rel);
      if (from !== undefined) {
        oldPath = from;
        oldText = await readAt(repo, old.tree, from);
      }
    }
    if (oldText === null) {
      throw new FlorError('PATH_NOT_FOUND', `${rel} does not exist in ${old.label} (not even under another name)`, {
        hint: 'the file is newer than that version; pick a later REV',
        data: { rev: argv.rev, path: rel },
      });
    }
    const names = argv.names === undefined ? undefined : argv.names.split(',').map((s) => s.trim()).filter(Boolean);
    const newText = readFileSync(abs, 'utf8');
    const r = propagate({ newText, oldText, path: rel, oldPath, names });
    await out(r.text);
    if (argv.report === 'json') {
      const report = { rev: argv.rev, code: old.tree, path: rel, oldPath, inserted: r.inserted, existing: r.existing, failed: r.failed, importAdded: r.importAdded };
      process.stderr.write(JSON.stringify(report, null, 2) + '\n');
      return;
    }
    for (const f of r.failed) {
      const what = f.name !== null ? `flor.log('${f.name}')` : f.statement.split('\n')[0];
      process.stderr.write(`git flor: cannot propagate ${what} (${rel}:${f.line}) into ${old.label}${oldPath !== rel ? ` (${oldPath})` : ''}: ${f.reason}\n`);
    }
  },
};
