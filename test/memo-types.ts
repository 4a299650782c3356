/**
 * Compile-time checks of flor.memo's signature, run by `npm run check` (tsconfig.check.json): a
 * result flor can store keeps its type (a Promise stays a Promise), one it cannot is a type error.
 * Never executed.
 */
import { flor } from '../src/index.js';

interface Reply {
  text: string;
  n?: number;
  tags: string[];
  at: Date;
  m: Map<string, number>;
}

export function memoTypes(url: string): unknown[] {
  const text: Promise<string> = flor.memo('text', () => fetch(url).then((r) => r.text()));
  const keyed: string = flor.memo('keyed', 'k', () => 'x');
  const reply: Promise<Reply> = flor.memo('reply', 7, async (): Promise<Reply> => ({ text: '', tags: [], at: new Date(), m: new Map() }));
  const nums: number[] = flor.memo('nums', () => [1, 2]);
  const typed: Float32Array = flor.memo('typed', () => new Float32Array(2));
  const json = flor.memo('json', () => fetch(url).then((r) => r.json()));
  const bytes: Promise<ArrayBuffer> = flor.memo('bytes', () => fetch(url).then((r) => r.arrayBuffer()));
  const buf: Buffer = flor.memo('buf', () => Buffer.from('x'));
  const view: DataView = flor.memo('view', () => new DataView(new ArrayBuffer(2)));
  // @ts-expect-error the result keeps its type: a string is not a number
  const wrong: number = flor.memo('wrong', 'k', () => 'x');
  // @ts-expect-error and a Promise is not its value
  const unawaited: string = flor.memo('unawaited', () => fetch(url).then((r) => r.text()));
  // @ts-expect-error a Response cannot be stored: return r.text() or r.json()
  const response = flor.memo('response', () => fetch(url));
  // @ts-expect-error nor a function
  const fn = flor.memo('fn', () => () => 1);
  // @ts-expect-error nor an object holding a stream
  const stream = flor.memo('stream', () => ({ s: new ReadableStream() }));
  return [text, keyed, reply, nums, typed, json, bytes, buf, view, wrong, unawaited, response, fn, stream];
}
