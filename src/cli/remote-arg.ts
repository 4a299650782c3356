/**
 * The remote a `push` or `fetch` names. Git users write `git flor push -- backup`; yargs puts words
 * after `--` in `argv._`, not in the positional, and a command that then fell back to its default
 * remote would send the history somewhere the user did not ask for.
 */
import { UsageError } from './print.js';

export function namedRemote(command: string, argv: { remote?: string; _: Array<string | number> }): string | undefined {
  const words = [...(argv.remote !== undefined ? [argv.remote] : []), ...argv._.slice(1).map(String)];
  if (words.length > 1) throw new UsageError(`name one remote, not ${words.length} (${words.join(', ')})`, command);
  return words[0];
}
