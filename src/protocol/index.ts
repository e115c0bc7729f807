export * from './codec.js';
export * from './close-codes.js';
export * from './errors.js';
export * from './limits.js';
export { isValidUtf8 } from './verify.js';
