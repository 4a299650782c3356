/**
 * The CLI's path around yargs (src/cli/fast.ts) must answer exactly as yargs would: the same
 * top-level help, and the same parsed arguments for every argv it accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allCommands, buildCli } from '../src/cli/main.ts';
import { helpText } from '../src/cli/help.ts';
import { fastArgs, type FastModule } from '../src/cli/fast.ts';

test('`git flor -h` without yargs is the help yargs prints, at every width', async () => {
  const commands = await allCommands();
  for (const width of [40, 60, 80, 100, 110]) {
    const cli = await buildCli([], commands);
    const expected = await cli.wrap(width).getHelp();
    assert.equal(helpText(width), expected, `width ${width}`);
  }
});

/** What yargs hands the command's handler for `argv`, minus yargs' own keys. */
async function yargsArgs(mod: FastModule, argv: string[]): Promise<Record<string, unknown>> {
  let got: Record<string, unknown> | null = null;
  const name = String(mod.command.command).split(' ')[0]!;
  const cmd = { ...mod.command, handler: (a: Record<string, unknown>) => void (got = a) };
  const cli = await buildCli([name, ...argv], [cmd]);
  await cli.parseAsync();
  assert.ok(got, `yargs ran the handler for ${argv.join(' ')}`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(got as Record<string, unknown>)) if (k !== '_' && k !== '$0' && v !== undefined) out[k] = v;
  return out;
}

const CASES: Record<string, string[][]> = {
  runs: [[], ['--format', 'json'], ['--format=csv'], ['--only-changed', '--col', 'lr', 'max(acc)', '--where', 'lr > 1'], ['--sort', 'acc', 'lr', '--format', 'md'], ['--limit', '20', '--sort=-time'], ['--limit=3', '--output', 'x.csv', '--format', 'csv']],
  show: [['01ABC'], ['01ABC', '--no-diff'], ['--format', 'json', '0123'], ['01ABC', '--diff']],
  log: [
    ['loss'],
    ['loss', 'acc', '--format', 'csv'],
    ['loss', '--run', 'A', 'B', '--since', '2 days ago'],
    ['loss', '--run=A', 'acc'],
    ['loss', '--replay', '--workers', '2'],
    ['--format', 'md', 'a', 'b', 'c'],
    ['0.5', '1e3', 'x'],
    ['loss', '--no-replay', '--workers=1.5'],
    ['loss', '--limit', '5', '--sort=-loss', '--output=rows.csv'],
  ],
  replay: [
    [],
    ['gnorm'],
    ['gnorm', 'acc', '--run', 'A', 'B', '--workers', '4', '--dry-run'],
    ['--plan', '1a2b3c4d5e6f', '--shard', '0/2', '--workers', '1', '--allow-writer', 'f6709ba2dc0c6492', '--no-fetch'],
    ['--plan=1a2b3c4d5e6f', '--shard=auto', '--shards', '4', '--accept-mismatch', '--no-live-calls'],
    ['gnorm', '--version', 'HEAD~1', 'main', '--allow-writer=*'],
    ['gnorm', '--plan', 'x', '--shards', '2', '--json', '--from', 'HEAD', '--fetch'],
  ],
};

test('the fast parser gives each handler what yargs gives it', async () => {
  const commands = await allCommands();
  for (const [name, argvs] of Object.entries(CASES)) {
    const mod = { command: commands.find((c) => String(c.command).split(' ')[0] === name)!, options: (await import(`../src/cli/commands/${name}.ts`)).options };
    assert.ok(mod.options, `${name} declares its options`);
    for (const argv of argvs) {
      const fast = fastArgs(mod, argv);
      assert.ok(fast, `${name} ${argv.join(' ')} takes the fast path`);
      assert.deepEqual(fast, await yargsArgs(mod, argv), `${name} ${argv.join(' ')}`);
    }
  }
});

test('anything the fast parser is unsure of goes to yargs', async () => {
  const log = (await import('../src/cli/commands/log.ts')) as FastModule;
  const show = (await import('../src/cli/commands/show.ts')) as FastModule;
  for (const argv of [[], ['loss', '-h'], ['loss', '--help'], ['loss', '--format', 'xml'], ['loss', '--nope'], ['loss', '--workers', 'many'], ['loss', '--', 'x'], ['loss', '--format', 'csv', '--format', 'json'], ['loss', '--replay=yes'], ['loss', '--run']]) {
    assert.equal(fastArgs(log, argv), null, `log ${argv.join(' ')}`);
  }
  for (const argv of [[], ['a', 'b'], ['--no-format', 'a']]) assert.equal(fastArgs(show, argv), null, `show ${argv.join(' ')}`);
  const replay = (await import('../src/cli/commands/replay.ts')) as FastModule;
  // --plan without an id (yargs: ''), a count without a number, a short option, help.
  for (const argv of [['acc', '--plan', '--shards', '2'], ['acc', '--workers'], ['acc', '-h'], ['--plan', 'x', '--shard']]) assert.equal(fastArgs(replay, argv), null, `replay ${argv.join(' ')}`);
});
