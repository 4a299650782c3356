/**
 * store/builtins.ts answers what node:os and node:tty would, without loading them (a recorded run
 * loads neither: runtime-bundle.test.ts).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { constants, homedir, hostname } from 'node:os';
import { isatty } from 'node:tty';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { homeDir, hostName, signalNumber, stderrIsTTY } from '../src/store/builtins.js';
import { writeFileSync } from 'node:fs';
import { ROOT, cleanup, tempDir } from './helpers/repo.js';

after(cleanup);

test("the host name, home directory, signal numbers and stderr's terminal check are node:os's and node:tty's", () => {
  assert.equal(hostName(), hostname());
  assert.equal(homeDir(), homedir());
  assert.equal(signalNumber('SIGTERM'), constants.signals.SIGTERM);
  assert.equal(signalNumber('SIGINT'), constants.signals.SIGINT);
  assert.equal(stderrIsTTY(), isatty(2));
});

test("stderr's terminal check says true on a terminal (util-linux's script gives the process one), false on a pipe", () => {
  const probe = join(tempDir('flor-tty-'), 'probe.mjs');
  writeFileSync(probe, `import { stderrIsTTY } from ${JSON.stringify(join(ROOT, 'dist/store/builtins.js'))};\nimport { isatty } from 'node:tty';\nconsole.log(JSON.stringify([stderrIsTTY(), isatty(2)]));\n`);
  const onTerminal = spawnSync('script', ['-qec', `"${process.execPath}" "${probe}"`, '/dev/null'], { encoding: 'utf8' });
  assert.equal(onTerminal.stdout.trim(), '[true,true]', onTerminal.stderr);
  const onPipe = spawnSync(process.execPath, [probe], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(onPipe.stdout.trim(), '[false,false]', onPipe.stderr);
});
