/**
 * JSON Schemas of everything the store reads back: run metadata, segment headers, checkpoint
 * manifests, journal start/end frames. Pure data. They are compiled ahead of time into
 * schema-validators.ts by scripts/gen-schemas.ts (ajv standalone), so neither a CLI start nor a capture
 * at exit pays for loading ajv or compiling a schema; a test fails when the two drift apart.
 * Unknown extra fields are allowed so a newer minor writer stays readable; the `version` fields are
 * what a reader refuses on.
 */
const nullable = (s: object) => ({ anyOf: [s, { type: 'null' }] });
const str = { type: 'string' };
const strArray = { type: 'array', items: str };
const int = { type: 'integer' };
const nonNegInt = { type: 'integer', minimum: 0 };
const oid = { type: 'string', pattern: '^[0-9a-f]{40}([0-9a-f]{24})?$' };
export const ULID_PATTERN = '^[0-9A-HJKMNP-TV-Z]{26}$';

const loopInfo = {
  type: 'object',
  required: ['name', 'parent', 'iterations'],
  properties: { name: str, parent: nullable(str), iterations: nonNegInt },
};

const runStatus = { enum: ['running', 'ok', 'failed', 'interrupted', 'crashed'] };

/** Optional in run metadata: what capture left out of the run's code. */
const skippedCode = {
  type: 'object',
  required: ['count', 'bytes', 'paths'],
  properties: {
    count: nonNegInt,
    bytes: nonNegInt,
    paths: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'why', 'bytes'],
        properties: { path: str, why: { enum: ['size', 'node_modules', 'repository'] }, bytes: nullable(nonNegInt) },
      },
    },
  },
};

export const runMetaSchema = {
  type: 'object',
  required: [
    'format', 'version', 'id', 'writer', 'start', 'end', 'script', 'cwd', 'argv', 'execArgv', 'args', 'commit',
    'branch', 'dirty', 'node', 'status', 'exitCode', 'error', 'loops', 'outerMs', 'checkpointing', 'records',
  ],
  properties: {
    format: { const: 'flor-run' },
    version: { const: 1 },
    id: { type: 'string', pattern: ULID_PATTERN },
    writer: str,
    start: str,
    end: nullable(str),
    script: str,
    cwd: str,
    argv: strArray,
    execArgv: strArray,
    args: { type: 'object' },
    commit: nullable(oid),
    branch: nullable(str),
    dirty: { type: 'boolean' },
    node: str,
    status: runStatus,
    exitCode: nullable(int),
    error: nullable(str),
    loops: { type: 'array', items: loopInfo },
    outerMs: { type: 'array', items: { type: 'number' } },
    memoMs: { type: 'array', items: { type: 'number', minimum: 0 } },
    memoSetupMs: { type: 'number', minimum: 0 },
    checkpointing: strArray,
    records: nonNegInt,
    skipped: skippedCode,
  },
};

const provenanceSchema = {
  type: 'object',
  required: ['statements', 'code', 'time', 'writer', 'segments'],
  properties: {
    statements: strArray,
    code: str,
    time: str,
    writer: str,
    segments: { type: 'array', items: { type: 'array', items: int, minItems: 2, maxItems: 2 } },
    carried: strArray,
    /** The replay plan (refs/flor/plans/<id>) this segment is one shard's share of. */
    plan: { type: 'string', pattern: '^[0-9a-f]{12}$' },
  },
};

/** The non-column part of a segment; columns are checked by segment.ts (they are binary). */
export const segmentHeaderSchema = {
  type: 'object',
  required: ['format', 'version', 'run', 'source', 'provenance', 'names', 'loops', 'frames', 'name', 'frame', 'num', 'kind', 'other'],
  properties: {
    format: { const: 'flor-segment' },
    version: { const: 1 },
    run: { type: 'string', pattern: ULID_PATTERN },
    source: { enum: ['forward', 'replay'] },
    provenance: nullable(provenanceSchema),
    names: strArray,
    loops: strArray,
    frames: { type: 'object', required: ['parent', 'loop', 'iter'] },
    other: { type: 'array' },
  },
};

export const checkpointManifestSchema = {
  type: 'object',
  required: ['format', 'version', 'loop', 'iters', 'keys', 'bytes'],
  properties: {
    format: { const: 'flor-ckpt' },
    version: { const: 1 },
    loop: str,
    iters: { type: 'array', items: nonNegInt },
    keys: { type: 'array', items: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
    bytes: { type: 'array', items: nonNegInt },
  },
};

export const startFrameSchema = {
  type: 'object',
  required: ['t', 'meta', 'codeTree', 'pid', 'host'],
  properties: {
    t: { const: 'start' },
    // The finished RunMeta is validated at capture; here only what identifies the run.
    meta: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: ULID_PATTERN } } },
    codeTree: oid,
    pid: nonNegInt,
    host: str,
  },
};

export const endFrameSchema = {
  type: 'object',
  required: ['t', 'status', 'exitCode', 'error', 'end', 'loops', 'outerMs', 'checkpointing'],
  properties: {
    t: { const: 'end' },
    status: runStatus,
    exitCode: nullable(int),
    error: nullable(str),
    end: str,
    loops: { type: 'array', items: loopInfo },
    outerMs: { type: 'array', items: { type: 'number' } },
    memoMs: { type: 'array', items: { type: 'number', minimum: 0 } },
    memoSetupMs: { type: 'number', minimum: 0 },
    checkpointing: strArray,
  },
};

/** The blob `refs/flor/locks/replay` names: who holds the clone's replay lock (src/store/replay-lock.ts). */
export const lockHolderSchema = {
  type: 'object',
  required: ['pid', 'host', 'since', 'names'],
  properties: {
    pid: nonNegInt,
    host: { type: 'string' },
    since: str,
    names: strArray,
    nonce: { type: 'string' },
  },
};
