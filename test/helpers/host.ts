/** Starts the real host (dist/main.js) as a child process on a free loopback port. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface Host {
  readonly port: number;
  readonly http: string;
  readonly ws: string;
  /** With --compat-port: the workerman-chat listener's port and ws:// URL (from the listening line); else null. */
  readonly compatPort: number | null;
  readonly compatWs: string | null;
  readonly process: ChildProcess;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  /** The same lines as printed (parsing keeps only the last of repeated keys). */
  readonly rawLogs: string[];
  /** Resolves with the first log line matching `predicate` (already seen or future). */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** SIGTERM; resolves with the exit code and signal. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/**
 * Every test client comes from 127.0.0.1, as a load generator's do: the per-address
 * budgets meant for people are lifted (as the benchmarks lift them). The tests of those
 * limits pass the flags, which take precedence over the environment.
 */
const ONE_ADDRESS_FOR_ALL = { CHAT_RATE_LIMIT_PER_IP: '1000000', CHAT_NEW_ROOMS_PER_MINUTE: '1000000' };

/**
 * `openFiles`: the host's open-file limit (soft and hard, set with prlimit, which then runs node in its place).
 * `cgroup`: a cgroup directory the host runs in from its first instruction (a shell joins it, then runs node in its place).
 */
export async function startHost(args: string[] = [], env: Record<string, string> = {}, limits: { openFiles?: number; cgroup?: string } = {}): Promise<Host> {
  const command = [MAIN, '--host', '127.0.0.1', '--port', '0', ...args];
  let [file, argv] =
    limits.openFiles === undefined
      ? [process.execPath, command]
      : ['prlimit', [`--nofile=${limits.openFiles}:${limits.openFiles}`, '--', process.execPath, ...command]];
  if (limits.cgroup !== undefined) [file, argv] = ['sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', limits.cgroup, file, ...argv]];
  const child = spawn(file, argv, {
    env: { ...process.env, ...ONE_ADDRESS_FOR_ALL, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const rawLogs: string[] = [];
  const waiters: { predicate: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    rawLogs.push(text);
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      line = { msg: text, unparsed: String(error) };
    }
    logs.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close', not 'exit': by then stdout and stderr have been read to the end.
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const waitForLog = (predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    const seen = logs.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      waiters.push({ predicate, resolve });
      void exited.then(({ code, signal }) => reject(new Error(`host exited (${code ?? signal}) before the expected log line; stderr: ${stderr}`)));
    });
  };
  const listening = await waitForLog((line) => typeof line.port === 'number' && String(line.msg).startsWith('chat host listening'));
  const port = listening.port as number;
  const compatPort = typeof listening.compatPort === 'number' ? listening.compatPort : null;
  return {
    port,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}`,
    compatPort,
    compatWs: compatPort === null ? null : `ws://127.0.0.1:${compatPort}`,
    process: child,
    logs,
    rawLogs,
    waitForLog,
    stop: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    stderr: () => stderr,
  };
}

/** Runs the host with `args` until it exits by itself; for configuration errors and --help. */
export function runHost(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * GETs `url` until its JSON body satisfies `accept`, and returns that body. /healthz and
 * /api/rooms answer from a directory the hub pushes at most every 100 ms, so a change
 * shows there shortly after it happened; the test's timeout bounds the wait.
 */
export async function waitForJson<T>(url: string, accept: (body: T) => boolean): Promise<T> {
  for (;;) {
    const res = await fetch(url);
    if (res.ok) {
      const body = (await res.json()) as T;
      if (accept(body)) return body;
    } else await res.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
