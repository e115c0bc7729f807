/**
 * Loads uWebSockets.js and makes sure it is the native build. The npm package's
 * loader silently falls back to a slow pure-JS imitation when the binary for this
 * platform and Node ABI does not load; the host refuses to run on it unless told to.
 */
import { createRequire } from 'node:module';
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { closeReason } from '../protocol/index.js';

export type UWS = typeof import('uWebSockets.js');

/**
 * The native build of uWS.js 20.30 has app.close() (close the listen sockets and
 * every socket, HTTP keep-alive ones included), but its typings do not declare it.
 */
type ClosableApp = TemplatedApp & { close(): void };

/**
 * The slow-reader policy, on one port or the other: each socket whose send buffer
 * passed `limit` bytes is handed to `close` with the reason of its 4001 close.
 */
export function forEachSlowReader<T>(sockets: Iterable<WebSocket<T>>, limit: number, close: (ws: WebSocket<T>, reason: string) => void): void {
  for (const ws of sockets) {
    const buffered = ws.getBufferedAmount();
    if (buffered > limit) close(ws, `too slow: ${buffered} bytes waiting to be sent, over the ${limit}-byte limit; reconnect`);
  }
}

/**
 * Ends every one of `sockets` with `code` and `reason`, gives the closing handshakes
 * `graceMs`, then closes whatever `app` still holds (idle HTTP connections included),
 * so that the thread has no uWS handle left and can end: a worker thread that ends
 * with uWS handles open aborts the whole process. The caller stops listening first.
 */
export function endAllThenClose<T>(app: TemplatedApp, sockets: Iterable<WebSocket<T>>, code: number, reason: string, graceMs: number): Promise<void> {
  const text = closeReason(reason);
  for (const ws of [...sockets]) ws.end(code, text);
  return new Promise((resolve) =>
    setTimeout(() => {
      // The pure-JS fallback (--allow-js-fallback) has no close(); its worker is ended by process.exit.
      const closable = app as Partial<ClosableApp>;
      if (typeof closable.close === 'function') closable.close();
      resolve();
    }, graceMs),
  );
}

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
