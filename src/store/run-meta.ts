/** A run's metadata (`run.msgpack`) between its stored and its in-memory form. */
import { unpack, encodeValue, decodeValue, noteDamage } from './pack.js';
import { packPlain } from './msgpack-write.js';
import { validateRunMeta } from './schema.js';
import type { RunMeta } from './types.js';
import type { Value } from './records.js';

/**
 * Plain data once its values are encoded, so written by msgpack-write.ts (the bytes msgpackr's
 * packer writes): the capturer, which writes one per run, then never loads msgpackr, whose
 * compile was ~15M instructions of a capture's ~200M (callgrind).
 */
export function encodeRunMeta(meta: RunMeta): Buffer {
  return packPlain({ ...meta, args: encodeValue(meta.args), ...(meta.argCalls ? { argCalls: encodeValue(meta.argCalls) } : {}) });
}

export function decodeRunMeta(buf: Uint8Array, where: string): RunMeta {
  const raw = unpack(buf, where);
  const meta = validateRunMeta(raw, where);
  const calls = (raw as { argCalls?: unknown }).argCalls;
  const hurt: string[] = [];
  // Optional (a reader of older runs finds none); anything but a map of arrays is ignored.
  const argCalls = calls && typeof calls === 'object' ? (decodeValue(calls, (why) => hurt.push(`argCalls: ${why}`)) as Record<string, Value>) : null;
  const lists = argCalls ? Object.fromEntries(Object.entries(argCalls).filter(([, v]) => Array.isArray(v))) : null;
  const given = meta.args as Record<string, unknown>;
  let args: Record<string, Value> = {};
  // Arg by arg, so a damaged value is named; an args map that is itself tagged (it had a `$flor` key) decodes whole.
  if ('$flor' in given) args = decodeValue(given, (why) => hurt.push(`args: ${why}`)) as Record<string, Value>;
  else for (const [k, v] of Object.entries(given)) args[k] = decodeValue(v, (why) => hurt.push(`arg ${k}: ${why}`));
  const out = { ...meta, args, ...(lists ? { argCalls: lists as Record<string, Value[]> } : {}) };
  noteDamage(out, hurt);
  return out;
}
