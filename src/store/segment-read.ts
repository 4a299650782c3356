/**
 * Reading segments and checkpoint manifests by blob id, alone or through a SegmentCache that one
 * command shares between two readers of the same runs.
 */
import { FlorError, isFlorError } from '../errors.js';
import type { GitObject, RepoInfo } from './git.js';
import { unpack } from './pack.js';
import { validateCheckpointManifest } from './schema.js';
import { decodeSegment } from './segment.js';
import { reader } from './objects.js';
import type { CheckpointManifest, Segment } from './types.js';
import { objectState } from './object-state.js';
import { BoundedMap } from './bounded-map.js';

/**
 * oid -> "run X segment Y", so a corrupt segment read by oid alone is still named. Filled by every
 * listing; bounded because a long-lived process (the UI server) lists again after every new run.
 * A forgotten label only makes an error name the bare oid.
 */
const objectLabels = new BoundedMap<string, string>(200_000);

/** Names `oid` in the errors of later reads (the union of ledgers calls it for every segment and manifest it lists). */
export function labelObject(oid: string, label: string): void {
  objectLabels.set(oid, label);
}

/** An object read for a reader of runs: a corrupt one (Git cannot read its body) is named with its run. */
async function readBlobOf(repo: RepoInfo, oid: string, label: string): Promise<GitObject | null> {
  try {
    return await reader(repo).read(oid);
  } catch (e) {
    if (!isFlorError(e, 'OBJECT_UNREADABLE')) throw e;
    throw new FlorError('OBJECT_CORRUPT', `${label}: object ${oid} is corrupt`, { hint: 'run `git flor doctor` (`--repair` drops what cannot be read)' });
  }
}

export async function readSegment(repo: RepoInfo, oid: string): Promise<Segment> {
  return (await readSegmentSized(repo, oid)).seg;
}

async function readSegmentSized(repo: RepoInfo, oid: string): Promise<{ seg: Segment; bytes: number }> {
  const label = objectLabels.get(oid) ?? `segment ${oid}`;
  const o = await readBlobOf(repo, oid, label);
  if (o?.type !== 'blob') {
    throw new FlorError('OBJECT_MISSING', `${label}: object ${oid} is ${o ? `a ${o.type}` : await objectState(repo, oid)}`, { hint: 'run `git flor doctor` (`--repair` drops what cannot be read)' });
  }
  // The blob was read for this decode alone: its columns are made in its own bytes.
  return { seg: decodeSegment(o.data, label, true), bytes: o.data.byteLength };
}

/** Where a reader of many runs gets decoded segments: `readSegment`, or a SegmentCache shared with an earlier reader. */
export interface SegmentReader {
  read(oid: string): Promise<Segment>;
}

export interface SegmentCache extends SegmentReader {
  readonly stats: { hits: number; misses: number; bytes: number; entries: number };
}

/** Default budget of a SegmentCache, in encoded segment bytes (decoded numeric columns take about as much; `other` values more). */
export const SEGMENT_CACHE_BYTES = 128 * 1024 * 1024;

/**
 * Decoded segments of one repository kept by blob oid, for one command that reads the same runs
 * twice (`log --replay`: the replay decides what is missing, then the table is built). A segment is
 * content-addressed and never rewritten, so an entry cannot go stale; a segment a replay added is
 * a new oid. Callers share the returned objects and must not modify them. Memory stays bounded:
 * once `maxBytes` of segments are held, further ones are read but not kept — not evicting keeps
 * the earliest runs, which a second pass in the same order reads first, instead of churning.
 * Failed reads are not kept, so the second reader meets the same error.
 */
export function segmentCache(repo: RepoInfo, maxBytes: number = SEGMENT_CACHE_BYTES): SegmentCache {
  const held = new Map<string, Segment>();
  const stats = { hits: 0, misses: 0, bytes: 0, entries: 0 };
  return {
    stats,
    async read(oid: string): Promise<Segment> {
      const hit = held.get(oid);
      if (hit) {
        stats.hits++;
        return hit;
      }
      stats.misses++;
      const { seg, bytes } = await readSegmentSized(repo, oid);
      if (!held.has(oid) && stats.bytes + bytes <= maxBytes) {
        held.set(oid, seg);
        stats.bytes += bytes;
        stats.entries++;
      }
      return seg;
    },
  };
}

export async function readCheckpointManifest(repo: RepoInfo, oid: string): Promise<CheckpointManifest> {
  const label = objectLabels.get(oid) ?? `checkpoint manifest ${oid}`;
  const o = await readBlobOf(repo, oid, label);
  if (o?.type !== 'blob') {
    throw new FlorError('OBJECT_MISSING', `${label}: object ${oid} is ${o ? `a ${o.type}` : await objectState(repo, oid)}`, { hint: 'run `git flor doctor` (`--repair` drops what cannot be read)' });
  }
  return validateCheckpointManifest(unpack(o.data, label), label);
}

