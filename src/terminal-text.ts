/**
 * Text that reaches a terminal from stored data. Metadata and logged values may come from another
 * clone's ledger: an escape sequence in a script name would clear the screen or retitle the
 * terminal, a newline in an arg would forge a line. Every control character (C0, DEL, C1) and the
 * Unicode bidirectional overrides are shown as visible escapes instead. JSON and CSV output quote
 * on their own and do not use this.
 */

// C0 controls, DEL, C1 controls, and the bidi embeddings/overrides/isolates (U+202A-202E, U+2066-2069).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g');

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' };

function escapeOne(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `s` with every control character made visible (`\e`, `\n`, `\x07`, `\u202e`). */
export function safeText(s: string): string {
  return UNSAFE.test(s) ? s.replace(UNSAFE_ALL, escapeOne) : s;
}

/** Like safeText, but keeps line breaks: for multi-line text flor itself composed (messages, reports). */
export function safeLines(s: string): string {
  return s.split('\n').map(safeText).join('\n');
}
