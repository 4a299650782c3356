/**
 * flor.arg for one session: each call's value (from the command line, or the recorded one in
 * replay), what the journal still has to get, and the judging of the script's flags (`--help`,
 * unknown flags) at the first loop or at exit.
 */
import { writeSync } from 'node:fs';
import { FlorError } from '../errors.js';
import { florConfigSync } from '../store/code-select.js';
import type { Value } from '../store/records.js';
import { parseArg, recordableArg } from './args.js';
import { ScriptFlags, scriptHelpEnabled, wantsHelp } from './flags.js';
import type { ReplaySpec } from './replay-spec.js';
import { locateRepo, scriptPath } from './start.js';

/** Two recorded arg values are the same (they are plain data: compared as msgpack would write them). */
function sameArg(a: Value, b: Value): boolean {
  if (Object.is(a, b)) return true;
  try {
    return JSON.stringify(a, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)) === JSON.stringify(b, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
  } catch {
    return false;
  }
}

function argText(v: Value): string {
  const t = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'bigint' ? `${v}n` : (JSON.stringify(v) ?? String(v));
  return t.length > 40 ? t.slice(0, 39) + '…' : t;
}

/** What the args need from their session. */
export interface ArgHost {
  /** The replay's spec while replaying, else null. */
  replaySpec(): ReplaySpec | null;
  recording(): boolean;
  /** A value did not parse: the run fails with `message` (the process exits with 2 right after). */
  failed(message: string): void;
}

export class ArgCalls {
  /** The script's flags as flor.arg declares them (runtime/flags.ts); not judged in replay. */
  readonly flags = new ScriptFlags(process.argv.slice(2));
  private helpMode = false;
  private flagsJudged = false;
  private pendingArgs: Record<string, Value> | null = null;
  /** flor.arg calls per name: the first value, how many calls, and every value once they differ. */
  private readonly calls = new Map<string, { first: Value; n: number; list: Value[] | null }>();
  private pendingCalls: Record<string, Value[]> | null = null;
  private readonly said = new Set<string>();

  constructor(private readonly host: ArgHost) {}

  /** `node script --help`: nothing is recorded; the args are listed at the first loop or at exit. */
  startHelp(): boolean {
    if (!wantsHelp(process.argv.slice(2))) return false;
    let config: Map<string, string> | null = null;
    try {
      const at = locateRepo();
      if (at) config = florConfigSync(at.repo);
    } catch {
      // no repository: the environment alone decides
    }
    if (!scriptHelpEnabled(process.env, config)) return false;
    this.helpMode = true;
    process.on('exit', () => this.judgeFlags());
    return true;
  }

  /** At the first loop, or at exit: the help (and exit 0), or the warning about unknown flags. */
  judgeFlags(): void {
    // Once: process.exit below runs the exit hook, which comes here again.
    if (this.host.replaySpec() || this.flagsJudged) return;
    this.flagsJudged = true;
    if (this.helpMode) {
      writeSync(1, this.flags.help(scriptPath(process.cwd()) || 'script'));
      process.exit(0);
    }
    const warning = this.flags.judge();
    if (warning) process.stderr.write(warning);
  }

  /** A value that does not parse ends the process with exit 2, as a script's own parser would; the run is recorded as failed. */
  private parsedArg<T>(name: string, def: T): T {
    try {
      return parseArg(name, def, process.argv.slice(2));
    } catch (e) {
      if (!(e instanceof FlorError) || e.code !== 'BAD_ARG') throw e;
      if (this.helpMode) return def;
      this.host.failed(e.message);
      process.stderr.write(`git flor: ${e.message}\n`);
      process.exit(2);
    }
  }

  arg<T>(name: string, def: T): T {
    const seen = this.calls.get(name);
    const n = seen ? seen.n : 0; // this call's index among the name's calls
    let v: T;
    const spec = this.host.replaySpec();
    const replayed = spec ? spec.argCalls[name] : undefined;
    if (replayed && n < replayed.length) v = replayed[n] as T;
    else if (spec && Object.hasOwn(spec.args, name)) v = spec.args[name] as T;
    else {
      this.flags.declare(name, def);
      v = this.parsedArg(name, def);
    }
    const rec = recordableArg(v);
    if (!seen) {
      this.calls.set(name, { first: rec, n: 1, list: null });
      if (this.host.recording()) (this.pendingArgs ??= {})[name] = rec;
      return v;
    }
    seen.n++;
    // A name given different values: `args` keeps the first, and every call's value is recorded
    // so that replay gives each call its own.
    if (!seen.list && !sameArg(seen.first, rec)) seen.list = new Array<Value>(n).fill(seen.first);
    if (!seen.list) return v;
    seen.list.push(rec);
    if (this.host.recording()) (this.pendingCalls ??= {})[name] = seen.list;
    if (!this.said.has(name)) {
      this.said.add(name);
      process.stderr.write(
        `git flor: flor.arg('${name}', …) is called more than once with different values (${argText(seen.first)}, then ${argText(rec)}); ` +
          `the run records each call's value (its args show the first) and replay gives each call its own\n`,
      );
    }
    return v;
  }

  /** The args frame the journal has not had yet, or null. */
  takePending(): { args: Record<string, Value>; calls?: Record<string, Value[]> } | null {
    if (!this.pendingArgs && !this.pendingCalls) return null;
    const frame = { args: this.pendingArgs ?? {}, ...(this.pendingCalls ? { calls: this.pendingCalls } : {}) };
    this.pendingArgs = null;
    this.pendingCalls = null;
    return frame;
  }
}
