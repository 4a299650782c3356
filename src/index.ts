export { flor } from './runtime/index.js';
