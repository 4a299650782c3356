import { flor as runtime } from './runtime/index.js';
import type { Flor } from './runtime/api.js';

/** The API scripts call: `import { flor } from 'git-flor'` (typed by runtime/api.ts alone). */
export const flor: Flor = runtime;
export type { ArgValue, CheckpointState, Flor, LoggedValue, Memoizable, MemoKey, Stateful } from './runtime/api.js';
export { FlorError, isFlorError, FLOR_ERROR_CODES, type FlorErrorCode } from './errors.js';
