/**
 * Tokens of the query language shared by `--where`, `--col` and `--sort`. Positions are kept so
 * that an error can point at the column where reading failed.
 */
import { FlorError } from '../errors.js';

export type Token =
  | { t: 'num'; v: number; pos: number; end: number }
  | { t: 'str'; v: string; pos: number; end: number }
  /** A bare word; `quoted` when it came from backticks (then never a keyword or a function). */
  | { t: 'word'; v: string; quoted: boolean; pos: number; end: number }
  | { t: 'op'; v: string; pos: number; end: number }
  | { t: 'end'; pos: number; end: number };

/** Which option the text came from, for messages (`--where`, `--col`, `--sort`). */
export class QuerySyntaxError extends FlorError {
  constructor(
    readonly option: string,
    readonly text: string,
    readonly pos: number,
    what: string,
  ) {
    // The caret line makes the column obvious even in a long expression.
    super('BAD_QUERY', `${option}: ${what} at column ${pos + 1}\n  ${text}\n  ${' '.repeat(pos)}^`, {
      hint: `see \`git flor runs --help\` for the grammar; quote odd names with backticks, strings with 'single quotes'`,
    });
    this.name = 'QuerySyntaxError';
  }
}

const WORD_START = /[A-Za-z_]/;
const WORD = /[A-Za-z0-9_.]/;
const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;
const OPS = ['<=', '>=', '!=', '<>', '=', '<', '>', '(', ')', ',', '@'];

export function describe(tok: Token): string {
  switch (tok.t) {
    case 'end':
      return 'end of text';
    case 'num':
      return `number ${tok.v}`;
    case 'str':
      return `string '${tok.v}'`;
    case 'word':
      return tok.quoted ? `\`${tok.v}\`` : `'${tok.v}'`;
    case 'op':
      return `'${tok.v}'`;
  }
}

export function tokenize(text: string, option: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '`') {
      // Doubling the quote escapes it, as in SQL.
      let v = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new QuerySyntaxError(option, text, start, `unterminated ${c === "'" ? 'string' : 'quoted name'}`);
        if (text[i] === c) {
          if (text[i + 1] === c) {
            v += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += text[i++];
      }
      if (c === '`' && v === '') throw new QuerySyntaxError(option, text, start, 'empty quoted name');
      out.push(c === "'" ? { t: 'str', v, pos: start, end: i } : { t: 'word', v, quoted: true, pos: start, end: i });
      continue;
    }
    // A minus sign only ever starts a number: the grammar has no arithmetic.
    const num = /[0-9.-]/.test(c) ? NUMBER.exec(text.slice(i)) : null;
    if (num && !(num[0] === '-' || num[0] === '.')) {
      i += num[0].length;
      if (i < text.length && WORD.test(text[i]!)) throw new QuerySyntaxError(option, text, start, `cannot read '${text.slice(start, i + 1)}' as a number`);
      out.push({ t: 'num', v: Number(num[0]), pos: start, end: i });
      continue;
    }
    if (WORD_START.test(c)) {
      while (i < text.length && WORD.test(text[i]!)) i++;
      out.push({ t: 'word', v: text.slice(start, i), quoted: false, pos: start, end: i });
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (op) {
      i += op.length;
      out.push({ t: 'op', v: op === '<>' ? '!=' : op, pos: start, end: i });
      continue;
    }
    if (c === '"') throw new QuerySyntaxError(option, text, start, `unexpected '"' (strings take 'single quotes', odd names \`backticks\`)`);
    throw new QuerySyntaxError(option, text, start, `unexpected '${c}'`);
  }
  out.push({ t: 'end', pos: text.length, end: text.length });
  return out;
}

/** A cursor over tokens, for the recursive-descent readers of spec.ts and expr.ts. */
export class Cursor {
  i = 0;
  constructor(
    readonly toks: Token[],
    readonly text: string,
    readonly option: string,
  ) {}

  peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)]!;
  }

  next(): Token {
    const t = this.peek();
    if (t.t !== 'end') this.i++;
    return t;
  }

  isOp(v: string, k = 0): boolean {
    const t = this.peek(k);
    return t.t === 'op' && t.v === v;
  }

  /** A keyword: a bare (not backticked) word, any case. */
  isKw(v: string, k = 0): boolean {
    const t = this.peek(k);
    return t.t === 'word' && !t.quoted && t.v.toLowerCase() === v;
  }

  expectOp(v: string, what: string): Token {
    if (!this.isOp(v)) this.fail(`expected ${what}, found ${describe(this.peek())}`);
    return this.next();
  }

  fail(what: string, at: Token = this.peek()): never {
    throw new QuerySyntaxError(this.option, this.text, at.pos, what);
  }
}
