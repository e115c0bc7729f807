/**
 * A real redis-server (Debian's, 7.x) for a test: its own process on a free loopback
 * port, nothing saved to disk (unless `appendOnly`), killed when the test is done. It
 * can be stopped and started again on the same port, as a Redis restart looks to the
 * nodes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../../src/free-port.js';

const READY = /Ready to accept connections/;

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Whether the server process is running now. */
  readonly running: boolean;
  /** Ends the server (SIGKILL: no goodbye to clients, as a crash looks) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port: empty, or with `appendOnly` from its append-only file. */
  start(): Promise<void>;
  /** Stops it and removes its directory (with `appendOnly`). */
  dispose(): Promise<void>;
}

export interface RedisOptions {
  /**
   * Persistence: an append-only file, fsynced on every write, in a directory of its own
   * (removed by dispose), so that a restart brings back everything, heartbeat keys with
   * their expiry times included.
   */
  readonly appendOnly?: boolean;
  /** More redis-server arguments (--requirepass, --unixsocket, ...), on every start. */
  readonly args?: readonly string[];
}

/** Starts a redis-server on `port` (default: a free one). */
export async function startRedis(port?: number, options: RedisOptions = {}): Promise<RedisServer> {
  port ??= await findFreePort();
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const dir = options.appendOnly ? await mkdtemp(join(tmpdir(), 'chat-redis-')) : null;
  const persistence = dir ? ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];

  const start = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--loglevel', 'notice', ...(options.args ?? [])];
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let output = '';
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (READY.test(output)) {
          proc.stdout!.off('data', onData);
          proc.stdout!.resume();
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready: ${output}`)));
      proc.once('error', reject);
    });
  };

  const stop = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    child = null;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    stop,
    start,
    dispose: async () => {
      await stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
