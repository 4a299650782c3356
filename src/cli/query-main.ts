/**
 * `git flor runs`, `show` and `log` as a bundle of their own, dist/cli/query.cjs, which boot.ts
 * runs first for those commands: they need the store and the query engine, not the replay,
 * propagation, sync, ui and sql parts that make up half of cli.cjs, whose text every start read and
 * whose functions' skeletons every start deserialised from the code cache (measured in
 * scripts/bundle.ts bundleQuery). It answers what main.ts's fast path answers, the same way, for
 * an argv it fully understands; any other (one the fast parser leaves to yargs, `log --replay`,
 * a global flag before the command) it declines before it has done anything, and boot.ts runs
 * cli.cjs, whose main.ts answers as before.
 */
import { attachSortValues, fastArgs, type FastModule } from './fast.js';
import { takeGlobalFlags, useDirectStdout } from './terminal.js';
import { leave, runInTerminal } from './entry.js';
import { isQueryCommand, type QueryCommand } from './query-commands.js';
import { settleCacheWrites } from '../store/derived-cache.js';
import { closeReaders } from '../store/objects.js';

// Keyed by query-commands.ts, which boot.ts also reads: it runs this bundle only for them.
const QUERIES: Record<QueryCommand, () => Promise<FastModule>> = {
  runs: () => import('./commands/runs.js'),
  show: () => import('./commands/show.js'),
  log: () => import('./commands/log.js'),
};

interface Plan {
  name: string;
  mod: FastModule;
  args: Record<string, unknown>;
}

/** The command and its parsed arguments, or null: cli.cjs answers. */
async function plan(argv: string[]): Promise<Plan | null> {
  const name = argv[0];
  if (!isQueryCommand(name)) return null;
  const mod = await QUERIES[name]();
  const args = fastArgs(mod, argv.slice(1));
  // The replay machinery is cli.cjs's alone (scripts/bundle.ts leaves it out of this bundle).
  if (!args || args.replay === true) return null;
  return { name, mod, args };
}

/** Answers argv and ends the process, or resolves false having done nothing (cli.cjs answers). */
export async function main(argv: string[]): Promise<boolean> {
  const global = takeGlobalFlags(argv);
  const p = await plan(attachSortValues(global.argv)).catch(() => null);
  if (!p) return false;
  useDirectStdout();
  // What main.ts's run does for a command its fast path answers.
  const code = await runInTerminal(
    p.name,
    global.flags,
    async () => {
      await p.mod.command.handler!({ ...p.args, _: [p.name], $0: 'git flor' });
    },
    settleCacheWrites,
  );
  process.exitCode = code;
  await closeReaders();
  await leave(code);
  return true;
}
