/**
 * A YAML reader for the subset the examples/ files are written in (the project has no YAML
 * dependency): block mappings and sequences by indentation, `|` / `|-` literal scalars, flow
 * sequences of scalars (`["a", "b"]`), quoted and plain scalars, comments. Anything else it
 * meets (anchors, flow mappings, multi-document streams, folded scalars) is an error, so an
 * example that leaves the subset fails its test instead of being misread.
 */
export type Yaml = string | number | boolean | null | Yaml[] | { [k: string]: Yaml };

interface Line {
  indent: number;
  text: string;
  no: number;
}

/** Per position of `s`: whether it lies outside a quoted string. */
function unquoted(s: string): boolean[] {
  const out: boolean[] = [];
  let q: string | null = null;
  for (const c of s) {
    if (q) {
      out.push(false);
      if (c === q) q = null;
    } else {
      if (c === '"' || c === "'") q = c;
      out.push(q === null);
    }
  }
  return out;
}

function stripComment(s: string): string {
  const free = unquoted(s);
  for (let i = 0; i < s.length; i++) if (free[i] && s[i] === '#' && (i === 0 || /\s/.test(s[i - 1]!))) return s.slice(0, i).trimEnd();
  return s.trimEnd();
}

function scalar(raw: string, no: number): Yaml {
  const s = raw.trim();
  if (s === '' || s === '~' || s === 'null') return null;
  if (s.startsWith('"')) {
    if (!s.endsWith('"') || s.length < 2) throw new Error(`line ${no}: unterminated string`);
    return JSON.parse(s) as string;
  }
  if (s.startsWith("'")) {
    if (!s.endsWith("'") || s.length < 2) throw new Error(`line ${no}: unterminated string`);
    return s.slice(1, -1).replace(/''/g, "'");
  }
  if (s.startsWith('[')) {
    if (!s.endsWith(']')) throw new Error(`line ${no}: flow sequence not closed on its line`);
    const inner = s.slice(1, -1).trim();
    if (!inner) return [];
    const items: string[] = [];
    let cur = '';
    let q: string | null = null;
    for (const c of inner) {
      if (q) {
        cur += c;
        if (c === q) q = null;
      } else if (c === '"' || c === "'") {
        q = c;
        cur += c;
      } else if (c === ',') {
        items.push(cur);
        cur = '';
      } else if (c === '[' || c === '{') throw new Error(`line ${no}: nested flow collections are outside the subset`);
      else cur += c;
    }
    items.push(cur);
    return items.map((i) => scalar(i, no));
  }
  if (s.startsWith('{') || s.startsWith('&') || s.startsWith('*') || s.startsWith('>')) throw new Error(`line ${no}: '${s[0]}' is outside the subset`);
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  return s;
}

/** `key: rest` split at the first `: ` (or a trailing `:`) outside quotes; null when the text is no mapping entry. */
function splitKey(text: string): [string, string] | null {
  const free = unquoted(text);
  for (let i = 0; i < text.length; i++) {
    if (!free[i]) continue;
    const c = text[i]!;
    if (c === ':' && (i === text.length - 1 || text[i + 1] === ' ')) {
      const k = text.slice(0, i).trim();
      return [k.startsWith('"') || k.startsWith("'") ? (scalar(k, 0) as string) : k, text.slice(i + 1).trim()];
    }
    if (c === '[' || c === '{') return null;
  }
  return null;
}

export function parseYaml(src: string): Yaml {
  const raw = src.split('\n');
  if (raw.some((l) => /^(---|\.\.\.)\s*$/.test(l)) && raw.filter((l) => /^---\s*$/.test(l)).length > 1) throw new Error('multi-document streams are outside the subset');
  let i = 0;
  const lines: Array<Line & { raw: string }> = raw.map((r, n) => ({ indent: r.length - r.trimStart().length, text: stripComment(r.trim() === '' ? '' : r.trimStart()), no: n + 1, raw: r }));
  if (lines.some((l) => /^\t/.test(l.raw))) throw new Error('tabs for indentation are not YAML');
  const skip = (): void => {
    while (i < lines.length && (lines[i]!.text === '' || lines[i]!.text === '---')) i++;
  };

  /** A `|` block: every following line indented deeper than `parent` (blank lines kept). */
  const block = (parent: number, chomp: boolean): string => {
    const body: string[] = [];
    let ind = -1;
    while (i < lines.length) {
      const l = lines[i]!;
      if (l.raw.trim() !== '') {
        if (l.indent <= parent) break;
        if (ind < 0) ind = l.indent;
        if (l.indent < ind) throw new Error(`line ${l.no}: block scalar line less indented than its first`);
      }
      body.push(l.raw.trim() === '' ? '' : l.raw.slice(ind));
      i++;
    }
    while (body.length && body.at(-1) === '') body.pop();
    return body.join('\n') + (chomp || body.length === 0 ? '' : '\n');
  };

  const value = (rest: string, indent: number, no: number): Yaml => {
    if (rest === '|' || rest === '|-') return block(indent, rest === '|-');
    if (rest !== '') return scalar(rest, no);
    skip();
    const next = lines[i];
    if (!next || next.indent < indent || (next.indent === indent && !next.text.startsWith('- '))) return null;
    return node(next.indent);
  };

  const node = (indent: number): Yaml => {
    skip();
    const first = lines[i]!;
    if (first.text.startsWith('- ') || first.text === '-') {
      const out: Yaml[] = [];
      while (true) {
        skip();
        const l = lines[i];
        if (!l || l.indent !== indent || !(l.text.startsWith('- ') || l.text === '-')) break;
        const rest = l.text.slice(1).trim();
        const kv = splitKey(rest);
        if (kv) {
          // `- key: v` opens a mapping whose keys sit two columns in.
          const inner = indent + (l.text.length - l.text.slice(1).trimStart().length);
          lines[i] = { ...l, indent: inner, text: rest };
          out.push(node(inner));
        } else {
          i++;
          out.push(value(rest, indent, l.no));
        }
      }
      return out;
    }
    const out: { [k: string]: Yaml } = {};
    while (true) {
      skip();
      const l = lines[i];
      if (!l || l.indent !== indent) {
        if (l && l.indent > indent) throw new Error(`line ${l.no}: unexpected indentation`);
        break;
      }
      if (l.text.startsWith('- ')) break;
      const kv = splitKey(l.text);
      if (!kv) throw new Error(`line ${l.no}: expected 'key: value', got '${l.text}'`);
      if (kv[0] in out) throw new Error(`line ${l.no}: duplicate key ${kv[0]}`);
      i++;
      out[kv[0]] = value(kv[1], indent, l.no);
    }
    return out;
  };

  skip();
  if (i >= lines.length) return null;
  const doc = node(lines[i]!.indent);
  skip();
  if (i < lines.length) throw new Error(`line ${lines[i]!.no}: unexpected content '${lines[i]!.text}'`);
  return doc;
}
