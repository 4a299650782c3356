/**
 * Column specs of `runs --col`, `--sort` and the identifiers of `--where`:
 *   NAME                 a key column, a loop column, a logged name (its last value) or an arg
 *   arg.NAME             the arg NAME, when NAME is also a key column or a logged name
 *   last|first|min|max|mean|count(NAME)
 *   NAME@LOOP=K          NAME at iteration K of LOOP
 * Names with other characters are written in backticks: `val/loss`, max(`val/loss`).
 */
import { Cursor, describe, tokenize, QuerySyntaxError } from './lex.js';

export const AGGREGATES = ['last', 'first', 'min', 'max', 'mean', 'count'] as const;
export type Aggregate = (typeof AGGREGATES)[number];

export type Spec =
  | { t: 'name'; name: string }
  | { t: 'arg'; name: string }
  | { t: 'agg'; fn: Aggregate; name: string }
  | { t: 'at'; name: string; loop: string; k: number };

function isAggregate(w: string): w is Aggregate {
  return (AGGREGATES as readonly string[]).includes(w);
}

function readName(c: Cursor, what: string): string {
  const t = c.peek();
  if (t.t !== 'word') c.fail(`expected ${what}, found ${describe(t)}`);
  c.next();
  return t.v;
}

/** One spec at the cursor. */
export function readSpec(c: Cursor): Spec {
  const t = c.peek();
  if (t.t !== 'word') c.fail(`expected a column name, found ${describe(t)}`);
  c.next();
  if (!t.quoted && c.isOp('(')) {
    const fn = t.v.toLowerCase();
    if (!isAggregate(fn)) c.fail(`unknown function '${t.v}' (use one of ${AGGREGATES.join(', ')})`, t);
    c.next();
    const name = readName(c, 'a logged name');
    c.expectOp(')', "')'");
    return { t: 'agg', fn, name };
  }
  if (c.isOp('@')) {
    c.next();
    const loop = readName(c, 'a loop name after @');
    c.expectOp('=', "'=' and an iteration after the loop name");
    const k = c.peek();
    if (k.t !== 'num' || !Number.isInteger(k.v) || k.v < 0) c.fail(`expected an iteration (a whole number >= 0), found ${describe(k)}`);
    c.next();
    return { t: 'at', name: t.v, loop, k: k.v };
  }
  if (!t.quoted && t.v.startsWith('arg.') && t.v.length > 4) return { t: 'arg', name: t.v.slice(4) };
  return { t: 'name', name: t.v };
}

/**
 * A whole `--col`/`--sort` text as a spec. A text that is not a spec at all (`val/loss`) is taken
 * as a plain name: it came as one argument, so nothing else can be meant.
 */
export function parseSpec(text: string, option = '--col'): Spec {
  if (text.trim() === '') throw new QuerySyntaxError(option, text, 0, 'expected a column name');
  let spec: Spec;
  try {
    const c = new Cursor(tokenize(text, option), text, option);
    spec = readSpec(c);
    if (c.peek().t !== 'end') c.fail(`unexpected ${describe(c.peek())} after the column`);
  } catch (e) {
    if (e instanceof QuerySyntaxError && !/[()@`]/.test(text)) return { t: 'name', name: text };
    throw e;
  }
  return spec;
}

/** The same spec however it was spaced or cased: `max( acc )` and `MAX(acc)` are `max(acc)`. */
export function specKey(s: Spec): string {
  switch (s.t) {
    case 'name':
      return `n\0${s.name}`;
    case 'arg':
      return `a\0${s.name}`;
    case 'agg':
      return `f\0${s.fn}\0${s.name}`;
    case 'at':
      return `@\0${s.name}\0${s.loop}\0${s.k}`;
  }
}

const PLAIN = /^[A-Za-z_][A-Za-z0-9_.]*$/;

function quote(name: string): string {
  return PLAIN.test(name) && !name.startsWith('arg.') ? name : '`' + name.replace(/`/g, '``') + '`';
}

/** Canonical text of a spec (the title of a column the summary chose itself). */
export function specText(s: Spec): string {
  switch (s.t) {
    case 'name':
      return quote(s.name);
    case 'arg':
      return PLAIN.test(s.name) ? `arg.${s.name}` : `arg.${quote(s.name)}`;
    case 'agg':
      return `${s.fn}(${quote(s.name)})`;
    case 'at':
      return `${quote(s.name)}@${quote(s.loop)}=${s.k}`;
  }
}

