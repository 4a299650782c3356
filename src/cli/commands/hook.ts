import type { CommandModule } from 'yargs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ExitError } from '../print.js';

/**
 * Hidden: `git flor hook <name> [args]` runs a hook's flor part by hand (the installed stubs call
 * dist/sync/hook-main.js directly, which starts faster than the whole CLI). Same stdin, same exit.
 */
export const command: CommandModule<object, { name: string; args?: string[] }> = {
  command: 'hook <name> [args..]',
  describe: false,
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true, choices: ['post-commit', 'post-merge', 'post-rewrite', 'pre-push'] })
      .positional('args', { type: 'string', array: true })
      .example('$0 hook post-commit', 'what the post-commit hook does, by hand'),
  handler: (argv) => {
    const entry = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../sync/hook-main.ts' : '../../sync/hook-main.js', import.meta.url));
    const r = spawnSync(process.execPath, [...process.execArgv, entry, argv.name, ...(argv.args ?? []).map(String)], { stdio: 'inherit' });
    if (r.status) throw new ExitError(r.status);
  },
};
