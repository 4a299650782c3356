/**
 * `node dist/store/capture-main.cjs <journal>` — what a finished run starts, detached, as its
 * process exits (runtime/start.ts), to move its journal into the ledger, then to recover any
 * orphaned journals. Built (scripts/bundle.ts) into dist/store/capturer.cjs, which
 * capture-main.cjs runs with a V8 code cache; capture-main.js, an ES module, runs the same. A reader that lists runs meanwhile waits for its claim (store/settle.ts);
 * killed, it leaves a claim the next reader or capture takes over. Its stdio is /dev/null: a
 * journal it could not capture stays, and the next reader or `git flor doctor` reports it. The
 * repository comes from the journal's own path (`<commonDir>/flor/journal/<id>.jrnl`): no
 * discovery, and nothing of the work tree is read.
 */
import { safeText } from '../terminal-text.js';
import { dirname, resolve } from 'node:path';
import { captureJournal, recoverJournals } from './capture.js';
import { closeReaders } from './objects.js';
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
    // Started once the run's process has ended (or finished its run): a journal without an end
    // frame is one whose process died (SIGKILL), captured as crashed like any orphan.
    const r = await captureJournal(repo, resolve(journal), { orphan: true });
    if (r.notesError) process.stderr.write(`git flor: run ${r.id} captured, but the notes index was not updated: ${r.notesError}\n`);
  } catch (e) {
    if (!isFlorError(e, 'JOURNAL_CLAIMED')) {
      process.stderr.write(safeText(`git flor: run not captured: ${e instanceof Error ? e.message : String(e)} (it stays in ${journal}; \`git flor doctor\` retries)`) + '\n');
      code = 1;
    }
  }
  try {
    const rec = await recoverJournals(repo);
    for (const f of rec.failed) process.stderr.write(safeText(`git flor: orphaned journal ${f.path} not captured: ${f.error}`) + '\n');
  } catch (e) {
    process.stderr.write(`git flor: recovering orphaned journals failed: ${e instanceof Error ? e.message : String(e)}\n`);
  }
  return code;
}

/** Git children are reaped before exit: none is left to an init that may not reap it. */
async function exit(code: number): Promise<never> {
  await closeReaders().catch(() => {});
  process.exit(code);
}

main(process.argv.slice(2)).then(
  (code) => exit(code),
  (e) => {
    process.stderr.write(`git flor: ${e instanceof Error ? e.message : String(e)}\n`);
    return exit(1);
  },
);
