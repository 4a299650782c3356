/**
 * `git flor -h` (`--help`, `help`) as a bundle of its own, dist/cli/help.cjs, which boot.ts runs
 * instead of cli.cjs for those argvs: the help needs the command list and the terminal, not the
 * 626 KB of every command, whose text every start read and whose code cache it deserialised
 * (callgrind and timings in scripts/bundle.ts bundleHelp). The same steps as main.ts's run and main
 * take for that argv; a test compares the two.
 */
import { printHelp } from './help.js';
import { takeGlobalFlags, useDirectStdout } from './terminal.js';
import { leave, runInTerminal } from './entry.js';

export async function main(argv: string[]): Promise<void> {
  useDirectStdout();
  const global = takeGlobalFlags(argv);
  // main.ts takes `help` alone as `-h`.
  const code = await runInTerminal(global.argv[0] === 'help' ? '-h' : (global.argv[0] ?? ''), global.flags, printHelp);
  process.exitCode = code;
  await leave(code);
}
