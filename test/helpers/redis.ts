/**
 * A real redis-server (Debian's, 7.x) for a test: its own process on a free loopback
 * port, nothing saved to disk, killed when the test is done. It can be stopped and
 * started again on the same port, as a Redis restart looks to the nodes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { findFreePort } from '../../src/free-port.js';

const READY = /Ready to accept connections/;

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Whether the server process is running now. */
  readonly running: boolean;
  /** Ends the server (SIGKILL: no goodbye to clients, as a crash looks) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port, empty (nothing is saved). */
  start(): Promise<void>;
}

/** Starts a redis-server on `port` (default: a free one). */
export async function startRedis(port?: number): Promise<RedisServer> {
  port ??= await findFreePort();
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'notice'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    stop: async (signal = 'SIGKILL') => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
      child = null;
    },
    start,
  };
}
