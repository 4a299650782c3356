/**
 * The `--where` grammar shared by `runs` and `log` (and any client of the query engine):
 *
 *   expr    := and ('or' and)*
 *   and     := not ('and' not)*
 *   not     := 'not' not | '(' expr ')' | pred
 *   pred    := operand [ cmp operand | ['not'] 'in' '(' literal, ... ')' | 'is' ['not'] 'null' ]
 *   cmp     := = | != | <> | < | <= | > | >=
 *   operand := literal | spec            (spec.ts: NAME, arg.NAME, max(NAME), NAME@LOOP=K, `odd name`)
 *   literal := number | 'string' | true | false
 *
 * Keywords are case-insensitive. Logic is SQL's three-valued one: a comparison with a null (or
 * between values of different types) is unknown, and a row is kept only when the whole condition
 * is true. An operand alone must hold true/false (`--where dirty`).
 */
import { FlorError } from '../errors.js';
import type { Value } from '../store/records.js';
import { Cursor, describe, tokenize } from './lex.js';
import { readSpec, type Spec } from './spec.js';
import { compareScalars, sameValue } from './sort.js';

export type Literal = number | string | boolean;
export type CmpOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

export interface Ref {
  t: 'ref';
  spec: Spec;
  /** The text as written, for messages. */
  text: string;
  pos: number;
}
export type Operand = Ref | { t: 'lit'; v: Literal; pos: number };

export type Expr =
  | { t: 'or' | 'and'; a: Expr; b: Expr }
  | { t: 'not'; e: Expr }
  | { t: 'cmp'; op: CmpOp; l: Operand; r: Operand }
  | { t: 'in'; x: Operand; list: Literal[]; neg: boolean }
  | { t: 'null'; x: Operand; neg: boolean }
  | { t: 'truth'; x: Operand };

const CMP = new Set(['=', '!=', '<', '<=', '>', '>=']);
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'null', 'true', 'false']);

class Parser {
  constructor(private c: Cursor) {}

  or(): Expr {
    let e = this.and();
    while (this.c.isKw('or')) {
      this.c.next();
      e = { t: 'or', a: e, b: this.and() };
    }
    return e;
  }

  and(): Expr {
    let e = this.not();
    while (this.c.isKw('and')) {
      this.c.next();
      e = { t: 'and', a: e, b: this.not() };
    }
    return e;
  }

  not(): Expr {
    const c = this.c;
    if (c.isKw('not')) {
      c.next();
      return { t: 'not', e: this.not() };
    }
    if (c.isOp('(')) {
      c.next();
      const e = this.or();
      c.expectOp(')', "')'");
      return e;
    }
    return this.pred();
  }

  pred(): Expr {
    const c = this.c;
    const x = this.operand();
    const t = c.peek();
    if (t.t === 'op' && CMP.has(t.v)) {
      c.next();
      if (c.isKw('null')) c.fail(`use 'is null' or 'is not null' to test for null`);
      return { t: 'cmp', op: t.v as CmpOp, l: x, r: this.operand() };
    }
    if (c.isKw('in') || (c.isKw('not') && c.isKw('in', 1))) {
      const neg = c.isKw('not');
      if (neg) c.next();
      c.next();
      c.expectOp('(', "'(' and a list of values after in");
      const list: Literal[] = [this.literal()];
      while (c.isOp(',')) {
        c.next();
        list.push(this.literal());
      }
      c.expectOp(')', "',' or ')'");
      return { t: 'in', x, list, neg };
    }
    if (c.isKw('is')) {
      c.next();
      const neg = c.isKw('not');
      if (neg) c.next();
      if (!c.isKw('null')) c.fail(`expected null after 'is${neg ? ' not' : ''}', found ${describe(c.peek())}`);
      c.next();
      return { t: 'null', x, neg };
    }
    if (x.t === 'lit' && typeof x.v !== 'boolean') c.fail(`expected a comparison after ${describe(c.toks[c.i - 1]!)}, found ${describe(c.peek())}`);
    // A bare operand stands for itself being true; anything but a column or true/false is a typo.
    if (x.t === 'ref' && !(t.t === 'end' || (t.t === 'op' && t.v === ')') || c.isKw('and') || c.isKw('or'))) {
      c.fail(`expected a comparison (= != < <= > >= in, is null) after ${x.text}, found ${describe(t)}`);
    }
    return { t: 'truth', x };
  }

  literal(): Literal {
    const t = this.c.peek();
    if (t.t === 'num' || t.t === 'str') {
      this.c.next();
      return t.v;
    }
    if (this.c.isKw('true') || this.c.isKw('false')) {
      this.c.next();
      return (t as { v: string }).v.toLowerCase() === 'true';
    }
    return this.c.fail(`expected a value (a number, 'string', true or false), found ${describe(t)}`);
  }

  operand(): Operand {
    const c = this.c;
    const t = c.peek();
    if (t.t === 'num' || t.t === 'str' || c.isKw('true') || c.isKw('false')) return { t: 'lit', v: this.literal(), pos: t.pos };
    if (t.t === 'word' && !t.quoted && KEYWORDS.has(t.v.toLowerCase())) c.fail(`expected a column or a value, found the keyword '${t.v}' (quote a column of that name in backticks)`);
    if (t.t !== 'word') c.fail(`expected a column or a value, found ${describe(t)}`);
    const start = c.i;
    const spec = readSpec(c);
    const end = c.toks[c.i - 1]!.end;
    return { t: 'ref', spec, text: c.text.slice(c.toks[start]!.pos, end), pos: t.pos };
  }
}

export function parseExpr(text: string, option = '--where'): Expr {
  const c = new Cursor(tokenize(text, option), text, option);
  if (c.peek().t === 'end') c.fail('expected a condition');
  const e = new Parser(c).or();
  if (c.peek().t !== 'end') c.fail(`expected 'and', 'or' or the end, found ${describe(c.peek())}`);
  return e;
}

/** Every column reference, in the order written. */
export function refsOf(e: Expr, out: Ref[] = []): Ref[] {
  const op = (o: Operand) => {
    if (o.t === 'ref') out.push(o);
  };
  switch (e.t) {
    case 'or':
    case 'and':
      refsOf(e.a, out);
      refsOf(e.b, out);
      break;
    case 'not':
      refsOf(e.e, out);
      break;
    case 'cmp':
      op(e.l);
      op(e.r);
      break;
    case 'in':
    case 'null':
    case 'truth':
      op(e.x);
  }
  return out;
}

/** The top-level `and` terms: each one alone must hold for a row to be kept. */
export function conjuncts(e: Expr): Expr[] {
  return e.t === 'and' ? [...conjuncts(e.a), ...conjuncts(e.b)] : [e];
}

export function conjoin(es: Expr[]): Expr | null {
  return es.length === 0 ? null : es.reduce((a, b) => ({ t: 'and', a, b }));
}

/** How a reference reads a row. `prefix`: a string literal compared for equality matches as a prefix, any case (commit and run ids). */
export interface Binding {
  get: (row: number) => Value;
  prefix?: boolean;
  /** A list (a run's tags): `=`, `!=` and `in` test whether any item matches. */
  member?: boolean;
}

type Tri = boolean | null;
export type Predicate = (row: number) => boolean;

function literalMatches(v: Value, lit: Literal, prefix: boolean): Tri {
  if (v === null) return null;
  if (prefix && typeof v === 'string' && typeof lit === 'string') return lit.length > 0 && v.toLowerCase().startsWith(lit.toLowerCase());
  return sameValue(v, lit);
}

/** Compiles a parsed condition against a view; `bind` resolves each reference once (and throws for unknown ones). */
export function compile(e: Expr, bind: (r: Ref) => Binding): Predicate {
  const tri = build(e, bind);
  return (row) => tri(row) === true;
}

function operandFn(o: Operand, bind: (r: Ref) => Binding): { get: (row: number) => Value; prefix: boolean; member: boolean; ref: Ref | null } {
  if (o.t === 'lit') {
    const v = o.v;
    return { get: () => v, prefix: false, member: false, ref: null };
  }
  const b = bind(o);
  return { get: b.get, prefix: !!b.prefix, member: !!b.member, ref: o };
}

/** Whether any item of a list value equals `x` (a non-list compares as itself). */
function anyItem(list: Value, x: Value): boolean {
  return Array.isArray(list) ? list.some((item) => sameValue(item, x) === true) : sameValue(list, x) === true;
}

function build(e: Expr, bind: (r: Ref) => Binding): (row: number) => Tri {
  switch (e.t) {
    case 'and': {
      const a = build(e.a, bind);
      const b = build(e.b, bind);
      return (row) => {
        const x = a(row);
        if (x === false) return false;
        const y = b(row);
        return y === false ? false : x === null || y === null ? null : true;
      };
    }
    case 'or': {
      const a = build(e.a, bind);
      const b = build(e.b, bind);
      return (row) => {
        const x = a(row);
        if (x === true) return true;
        const y = b(row);
        return y === true ? true : x === null || y === null ? null : false;
      };
    }
    case 'not': {
      const a = build(e.e, bind);
      return (row) => {
        const x = a(row);
        return x === null ? null : !x;
      };
    }
    case 'null': {
      const x = operandFn(e.x, bind);
      return (row) => (x.get(row) === null) !== e.neg;
    }
    case 'in': {
      const x = operandFn(e.x, bind);
      return (row) => {
        const v = x.get(row);
        if (v === null) return null;
        const hit = e.list.some((lit) => (x.member ? anyItem(v, lit) : literalMatches(v, lit, x.prefix) === true));
        return hit !== e.neg;
      };
    }
    case 'truth': {
      const x = operandFn(e.x, bind);
      const name = x.ref?.text ?? String((e.x as { v: Literal }).v);
      return (row) => {
        const v = x.get(row);
        if (v === null || typeof v === 'boolean') return v;
        throw new FlorError('BAD_QUERY', `--where: ${name} holds ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)}, not true or false`, {
          hint: `compare it, e.g. --where '${name} > 0' or '${name} is not null'`,
        });
      };
    }
    case 'cmp': {
      const l = operandFn(e.l, bind);
      const r = operandFn(e.r, bind);
      const op = e.op;
      // A commit prefix written as a literal matches the commit it starts.
      const prefixL = l.prefix && e.r.t === 'lit';
      const prefixR = r.prefix && e.l.t === 'lit';
      return (row) => {
        const a = l.get(row);
        const b = r.get(row);
        if (a === null || b === null) return null;
        if ((op === '=' || op === '!=') && (prefixL || prefixR)) {
          const m = prefixL ? literalMatches(a, b as Literal, true) : literalMatches(b, a as Literal, true);
          return m === null ? null : m === (op === '=');
        }
        if ((op === '=' || op === '!=') && (l.member || r.member)) return anyItem(l.member ? a : b, l.member ? b : a) === (op === '=');
        if (op === '=') return sameValue(a, b);
        if (op === '!=') return !sameValue(a, b);
        const c = compareScalars(a, b);
        if (c === null) return null;
        return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
      };
    }
  }
}
