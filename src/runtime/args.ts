/**
 * flor.arg: a named hyper-parameter whose default can be overridden on the command line as
 * `--name value` or `--name=value`, parsed to the type of the default. Only reads argv, so the
 * user's own parser still sees every argument.
 */
import { FlorError } from '../errors.js';
import type { Value } from '../store/records.js';
import { freezeValue } from './buffer.js';

function badArg(name: string, why: string): FlorError {
  return new FlorError('BAD_ARG', `--${name}: ${why}`, {
    hint: `pass --${name} <value> or --${name}=<value>`,
    data: { name },
  });
}

function looksLikeOption(tok: string): boolean {
  return tok.startsWith('--') || (tok.startsWith('-') && tok.length > 1 && Number.isNaN(Number(tok)));
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** The text given for `--name` in argv (last one wins), or a boolean for bare flags; undefined when absent. */
function findRaw(name: string, argv: readonly string[], isBool: boolean): string | boolean | undefined {
  let found: string | boolean | undefined;
  const flag = `--${name}`;
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') break; // conventional end of options
    if (tok === flag) {
      const next = argv[i + 1];
      if (isBool) {
        // A bare boolean flag takes the next token only when it is clearly a boolean word.
        if (next !== undefined && (TRUE.has(next) || FALSE.has(next))) {
          found = next;
          i++;
        } else found = true;
      } else if (next === undefined || next === '--' || looksLikeOption(next)) {
        throw badArg(name, 'missing value');
      } else {
        found = next;
        i++;
      }
    } else if (tok.startsWith(flag + '=')) {
      found = tok.slice(flag.length + 1);
    } else if (isBool && tok === `--no-${name}`) {
      found = false;
    }
  }
  return found;
}

/** Parses `--name` from argv to the type of `def`; returns `def` when absent. Throws BAD_ARG. */
export function parseArg<T>(name: string, def: T, argv: readonly string[]): T {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_][\w.-]*$/.test(name)) {
    throw new FlorError('BAD_ARG_NAME', `flor.arg name ${JSON.stringify(name)} is not usable as --name`, {
      hint: 'use letters, digits, _ . - (and start with a letter, digit or _)',
    });
  }
  const isBool = typeof def === 'boolean';
  const raw = findRaw(name, argv, isBool);
  if (raw === undefined) return def;
  if (typeof raw === 'boolean') return raw as T;
  switch (typeof def) {
    case 'boolean': {
      const t = raw.toLowerCase();
      if (TRUE.has(t)) return true as T;
      if (FALSE.has(t)) return false as T;
      throw badArg(name, `${JSON.stringify(raw)} is not a boolean (true/false)`);
    }
    case 'number': {
      const n = raw.trim() === '' ? NaN : Number(raw);
      if (Number.isNaN(n)) throw badArg(name, `${JSON.stringify(raw)} is not a number`);
      return n as T;
    }
    case 'bigint':
      try {
        return BigInt(raw) as T;
      } catch {
        throw badArg(name, `${JSON.stringify(raw)} is not an integer`);
      }
    case 'string':
      return raw as T;
    case 'object': {
      let v: unknown;
      try {
        v = JSON.parse(raw);
      } catch {
        throw badArg(name, `${JSON.stringify(raw)} is not JSON`);
      }
      if (def === null) return v as T;
      if (Array.isArray(def) && !Array.isArray(v)) throw badArg(name, 'expected a JSON array');
      if (!Array.isArray(def) && (typeof v !== 'object' || v === null || Array.isArray(v))) throw badArg(name, 'expected a JSON object');
      return v as T;
    }
    default:
      return raw as T;
  }
}

/**
 * Arg values as they are recorded: JSON-like data, never functions or undefined. A copy taken now,
 * as flor.log takes one: the journal is written up to 100 ms later (or at exit), and a script that
 * changes the object it got (`cfg.lr *= 0.5`) must not change what replay hands back as the original.
 */
export function recordableArg(v: unknown): Value {
  if (v === undefined) return null;
  if (typeof v === 'function' || typeof v === 'symbol') return String(v);
  return freezeValue(v);
}
