/**
 * Loads uWebSockets.js and makes sure it is the native build. The npm package's
 * loader silently falls back to a slow pure-JS imitation when the binary for this
 * platform and Node ABI does not load; the host refuses to run on it unless told to.
 */
import { createRequire } from 'node:module';

export type UWS = typeof import('uWebSockets.js');

const require = createRequire(import.meta.url);

export class NativeUwsMissing extends Error {
  override readonly name = 'NativeUwsMissing';
}

export function isNative(uws: UWS): boolean {
  return /\[native code\]/.test(Function.prototype.toString.call(uws.App));
}

let loaded: UWS | null = null;

/** The uWS module; throws NativeUwsMissing when only the JS fallback loaded and that is not allowed. */
export function loadUws(allowJsFallback: boolean): UWS {
  if (!loaded) loaded = require('uWebSockets.js') as UWS;
  if (!isNative(loaded) && !allowJsFallback) {
    throw new NativeUwsMissing(
      `the native uWebSockets.js binary did not load for ${process.platform}-${process.arch} with Node ABI ${process.versions.modules} ` +
        '(only its slow pure-JS imitation did); refusing to start. Use Node 20 on linux-x64, or pass --allow-js-fallback to run slowly anyway.',
    );
  }
  return loaded;
}
