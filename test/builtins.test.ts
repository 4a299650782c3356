/**
 * store/builtins.ts answers what node:os and node:tty would, without loading them (a recorded run
 * loads neither: runtime-bundle.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, homedir, hostname } from 'node:os';
import { isatty } from 'node:tty';
import { homeDir, hostName, signalNumber, stderrIsTTY } from '../src/store/builtins.js';

test("the host name, home directory, signal numbers and stderr's terminal check are node:os's and node:tty's", () => {
  assert.equal(hostName(), hostname());
  assert.equal(homeDir(), homedir());
  assert.equal(signalNumber('SIGTERM'), constants.signals.SIGTERM);
  assert.equal(signalNumber('SIGINT'), constants.signals.SIGINT);
  assert.equal(stderrIsTTY(), isatty(2));
});
