/**
 * `node dist/store/capture-main.js <journal>` — what a finishing run spawns (synchronously, with a
 * timeout) to move its journal into the ledger, then to recover any orphaned journals. A process
 * entry, so it is allowed to print (one line on failure) and exit. The repository comes from the
 * journal's own path (`<commonDir>/flor/journal/<id>.jrnl`): no discovery, no dependence on cwd.
 */
import { dirname, resolve } from 'node:path';
import { captureJournal, recoverJournals } from './capture.js';
import { isFlorError } from '../errors.js';
import type { RepoInfo } from './git.js';

async function main(argv: string[]): Promise<number> {
  const journal = argv[0];
  if (!journal) {
    process.stderr.write('git flor: capture-main needs the path of a journal\n');
    return 2;
  }
  // Variables a hook may have set for the user's own git operation, not for ours.
  delete process.env.GIT_DIR;
  delete process.env.GIT_WORK_TREE;
  delete process.env.GIT_INDEX_FILE;
  const commonDir = dirname(dirname(dirname(resolve(journal))));
  const repo: RepoInfo = { top: null, gitDir: commonDir, commonDir };
  let code = 0;
  try {
    const r = await captureJournal(repo, resolve(journal));
    if (r.notesError) process.stderr.write(`git flor: run ${r.id} captured, but the notes index was not updated: ${r.notesError}\n`);
  } catch (e) {
    if (!isFlorError(e, 'JOURNAL_CLAIMED')) {
      process.stderr.write(`git flor: run not captured: ${e instanceof Error ? e.message : String(e)} (it stays in ${journal}; \`git flor doctor\` retries)\n`);
      code = 1;
    }
  }
  try {
    const rec = await recoverJournals(repo);
    for (const f of rec.failed) process.stderr.write(`git flor: orphaned journal ${f.path} not captured: ${f.error}\n`);
  } catch (e) {
    process.stderr.write(`git flor: recovering orphaned journals failed: ${e instanceof Error ? e.message : String(e)}\n`);
  }
  return code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`git flor: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
