export { flor } from './runtime/index.js';
export { FlorError, isFlorError, FLOR_ERROR_CODES, type FlorErrorCode } from './errors.js';
