/**
 * Entry the hook stubs run: `node dist/sync/hook-main.js <hook> [args…]` (stdin as Git gave it).
 * Not the CLI: loading yargs and every command would cost a hook more than its whole budget, so
 * each hook imports only the modules it uses. Exit 0 always, except 3 = deliberate refusal
 * (pre-push of local-only refs); a failure is one warning on stderr, never a blocked Git operation.
 * This is a process entry (like the CLI), so it is the one place in src/sync that prints and exits.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findRepoSync } from '../store/git.js';
import type { RepoInfo } from '../store/git.js';
import { FlorError } from '../errors.js';

const REFUSED = 3;

// hooks/lib.sh started this process with NODE_EXTRA_CA_CERTS moved aside (Node parses it at
// start, and a hook makes no TLS connection): what the hook starts gets it as the user set it.
// Before anything runs: the imports above start no process.
if (process.env.FLOR_NODE_EXTRA_CA_CERTS !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS = process.env.FLOR_NODE_EXTRA_CA_CERTS;
  delete process.env.FLOR_NODE_EXTRA_CA_CERTS;
}

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return ''; // no stdin (a TTY, or closed)
  }
}

function hasJournals(repo: RepoInfo): boolean {
  const dir = join(repo.commonDir, 'flor', 'journal');
  return existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.jrnl'));
}

function readStamp(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // never rebuilt: empty, like refs/flor/remotes in a clone that never fetched
  }
}

async function afterCommitOrMerge(repo: RepoInfo): Promise<void> {
  const { remotesStamp, remotesStampPath, refreshNotes } = await import('./transport.js');
  let recovered = false;
  if (hasJournals(repo)) {
    const { recoverOrphans } = await import('../store/capture.js');
    recovered = (await recoverOrphans(repo)).length > 0;
  }
  if ((await remotesStamp(repo)) !== readStamp(remotesStampPath(repo))) {
    await refreshNotes(repo);
  } else if (recovered) {
    // A capture wrote notes for the run's original commit; rewritten commits get them too.
    const { reapplyRewrites } = await import('./rewrite.js');
    await reapplyRewrites(repo);
  }
}

async function postRewrite(repo: RepoInfo): Promise<void> {
  const { parseRewrites, recordRewrites, carryNotes } = await import('./rewrite.js');
  const pairs = parseRewrites(readStdin());
  recordRewrites(repo, pairs);
  const { remotesStamp, remotesStampPath, refreshNotes } = await import('./transport.js');
  // A rebuild re-applies every recorded rewrite, these included; otherwise carry just these.
  if ((await remotesStamp(repo)) !== readStamp(remotesStampPath(repo))) await refreshNotes(repo);
  else await carryNotes(repo, pairs);
}

async function prePush(repo: RepoInfo, args: string[]): Promise<number> {
  const [remoteName = '', url = ''] = args;
  const { parsePushLines, checkPush, pushFlags } = await import('./prepush.js');
  const { configValue, configuredRemotes } = await import('../store/git-config.js');
  const { gitPushArgs } = await import('./gitproc.js');
  const writer = configValue(repo, 'flor.writer');
  const configured = configuredRemotes(repo).includes(remoteName);
  const mirrorRemote = configured && ['true', 'yes', 'on', '1'].includes((configValue(repo, `remote.${remoteName}.mirror`) ?? '').toLowerCase());
  const flags = pushFlags(gitPushArgs() ?? []);
  const refusal = checkPush(parsePushLines(readStdin()), writer, flags.mirror ? 'flag' : mirrorRemote ? 'remote' : null);
  if (refusal) {
    process.stderr.write(`git flor: ${refusal.message}\nhint: ${refusal.hint}\n`);
    return REFUSED;
  }
  if (flags.dryRun) return 0; // `git push --dry-run` runs this hook too: push nothing
  const { pushLedger, remoteConfigLine } = await import('./transport.js');
  // For a configured remote this also gives it flor's fetch refspecs if it was added after init
  // (the stub starts node for that); silent when that works, one warning when it does not.
  const to = configured ? remoteName : url || remoteName;
  const r = await pushLedger(repo, to);
  if (r.remoteConfig && 'error' in r.remoteConfig) process.stderr.write(remoteConfigLine(r.remote, r.remoteConfig));
  if (r.status === 'pushed') process.stderr.write(`git flor: run history (${r.ref}) pushed to ${r.remote}\n`);
  // Replay plans go along: shards fetch the plan from the remote the planner pushed to. Saving a
  // plan moves this clone's ledger (its writer vouches for it there), which is what starts node.
  const { pushPlans } = await import('./plans.js');
  const plans = await pushPlans(repo, to);
  if (plans.pushed.length) process.stderr.write(`git flor: replay plan${plans.pushed.length === 1 ? '' : 's'} ${plans.pushed.join(', ')} pushed to ${r.remote}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [hook = '', ...args] = argv;
  const repo = findRepoSync(process.cwd());
  if (!repo) return 0;
  switch (hook) {
    case 'post-commit':
    case 'post-merge':
      await afterCommitOrMerge(repo);
      return 0;
    case 'post-rewrite':
      await postRewrite(repo);
      return 0;
    case 'pre-push':
      return prePush(repo, args);
    default:
      throw new FlorError('UNKNOWN_HOOK', `unknown hook: ${hook}`, { hint: 'run `git flor init` to reinstall the hooks' });
  }
}

/** Long-lived git children (object readers) are ended and reaped first: none outlives the hook. */
async function exit(code: number): Promise<never> {
  await (await import('../store/objects.js')).closeReaders().catch(() => {});
  process.exit(code);
}

main(process.argv.slice(2)).then(
  (code) => exit(code),
  (e: unknown) => {
    const what = process.argv[2] ?? 'hook';
    const msg = e instanceof FlorError ? e.message + (e.hint ? `\nhint: ${e.hint}` : '') : e instanceof Error ? (e.stack ?? e.message) : String(e);
    process.stderr.write(`git flor: ${what} hook: ${msg}\ngit flor: (your Git operation is not affected)\n`);
    return exit(0);
  },
);
