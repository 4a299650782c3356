/** ANSI colours of the CLI's output, applied only when terminal() says so (cli/terminal.ts). */
import { terminal } from './terminal.js';

const SGR = { bold: '1', dim: '2', red: '31', green: '32', yellow: '33', cyan: '36', boldRed: '1;31' } as const;
export type Style = keyof typeof SGR;

export function paint(style: Style, text: string, on: boolean = terminal().color): string {
  return on && text !== '' ? `\u001b[${SGR[style]}m${text}\u001b[m` : text;
}

/** A run's status: green when it ended well, red when it failed or crashed, yellow when stopped. */
export function statusStyle(status: unknown): Style | null {
  switch (status) {
    case 'ok':
      return 'green';
    case 'failed':
      return 'red';
    case 'crashed':
      return 'boldRed';
    case 'interrupted':
      return 'yellow';
    default:
      return null;
  }
}

/** A unified diff coloured as `git diff --color` does: headers bold, hunks cyan, lines red/green. */
export function paintDiff(text: string, on: boolean = terminal().color): string {
  if (!on) return text;
  return text
    .split('\n')
    .map((l) => {
      if (/^(diff --git |index |--- |\+\+\+ |new file mode |deleted file mode |similarity |rename )/.test(l)) return paint('bold', l, true);
      if (l.startsWith('@@')) return l.replace(/^(@@[^@]*@@)/, (m) => paint('cyan', m, true));
      if (l.startsWith('+')) return paint('green', l, true);
      if (l.startsWith('-')) return paint('red', l, true);
      return l;
    })
    .join('\n');
}
