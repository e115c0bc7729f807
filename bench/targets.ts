/**
 * The servers under test, each its own process on loopback: the chat host (1 or
 * 2 workers), a cluster of 2 host processes sharing one redis-server, and the
 * peers in bench/peers/. A target is started, reports its port
 * on stdout, is read through /proc/PID (utime+stime, RSS: the host's workers are
 * threads of that one process), and stopped with SIGTERM. Under `--cpu-quota`
 * (cpu-quota.ts) each target, all its processes together, runs in a cgroup of its own.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreePort } from '../src/free-port.js';
import { type Adapter, bareAdapter, chatAdapter, compatAdapter, socketIoAdapter } from './adapters.js';
import { type Cgroup, createCgroup, removeAllCgroupsSync } from './cpu-quota.js';
import type { ServerProbe } from './generator.js';

/** The repository root, from dist-bench/bench/ or from bench/ (vitest). */
export const ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

/** `chat-host-compat`: the chat host driven through its workerman-chat port (--compat-port), JSON clients of the seed's protocol. */
export type TargetName = 'chat-host' | 'chat-host-compat' | 'chat-cluster' | 'uws-bare' | 'ws' | 'socket.io';

export interface TargetSpec {
  readonly name: TargetName;
  /** Chat host and cluster: workers per host process; 0: the host's default (no --workers: its CPUs, or its CPU quota when lower). */
  readonly workers?: number;
  /** Chat host only: flags added to its command line (e.g. --max-backpressure). */
  readonly hostFlags?: readonly string[];
  /** Cluster only: host processes (nodes). */
  readonly nodes?: number;
}

export interface RunningTarget {
  readonly port: number;
  /** Every node's port, for a cluster. */
  readonly ports?: readonly number[];
  readonly pid: number;
  readonly probe: ServerProbe;
  /** The target's cgroup under `--cpu-quota` (its throttling counters). */
  readonly cgroup?: Cgroup;
  /** Why the process ended by itself (signal or code, last stderr); null while it runs or once stopped. */
  readonly exitedBy?: () => string | null;
  stop(): Promise<void>;
}

/** The targets by the names the scripts take (`--targets`). */
export const NAMED_TARGETS: Record<string, TargetSpec> = {
  'chat-host-2w': { name: 'chat-host', workers: 2 },
  'chat-host-1w': { name: 'chat-host', workers: 1 },
  'chat-host': { name: 'chat-host', workers: 0 },
  compat: { name: 'chat-host-compat', workers: 2 },
  'chat-cluster': { name: 'chat-cluster', nodes: 2, workers: 1 },
  'uws-bare': { name: 'uws-bare' },
  ws: { name: 'ws' },
  'socket.io': { name: 'socket.io' },
};

export function label(spec: TargetSpec): string {
  if (spec.name === 'chat-cluster') return `chat-host cluster (${spec.nodes ?? 2} nodes x ${spec.workers ?? 1}w + redis)`;
  if (spec.name === 'chat-host-compat') return `chat-host workerman-chat port (${spec.workers ?? 2}w)`;
  if (spec.name === 'chat-host' && spec.workers === 0) return 'chat-host (default workers)';
  return spec.name === 'chat-host' ? `chat-host (${spec.workers ?? 2}w)` : spec.name;
}

export function adapterFor(name: TargetName): Adapter {
  if (name === 'chat-host-compat') return compatAdapter;
  return name === 'chat-host' || name === 'chat-cluster' ? chatAdapter : name === 'socket.io' ? socketIoAdapter : bareAdapter;
}

let hostHelp: string | null = null;

/** Whether the built host (dist/main.js) lists `--flag` in its --help (asked once per process). */
export function hostHasFlag(flag: string): boolean {
  hostHelp ??= execFileSync(process.execPath, ['dist/main.js', '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  return hostHelp.includes(`--${flag} `);
}

/**
 * The host's admission limits are for people, not for one load generator on one
 * address: per-connection and per-address request rates (every sender goes far past
 * them), connections per address, and connections in all (F4 opens as many as the
 * peers accept), rooms in all and new rooms per address (F3 makes 5,000). They are
 * lifted, as the peers have none. Older builds have no such flags and refuse
 * unknown ones: each is passed only when --help lists it.
 */
export function liftedLimitFlags(): string[] {
  const unlimited = '1000000';
  const flags: string[] = [];
  for (const flag of [
    'rate-limit',
    'rate-burst',
    'rate-limit-per-ip',
    'max-connections-per-ip',
    'max-connections',
    'new-rooms-per-minute',
    'max-rooms-total',
  ]) {
    if (hostHasFlag(flag)) flags.push(`--${flag}`, unlimited);
  }
  // The peers keep HTTP connections alive, as autocannon expects; the host closes them by default (see its README).
  if (hostHasFlag('http-keep-alive')) flags.push('--http-keep-alive');
  return flags;
}

/** The chat host's command line for a benchmark: loopback, any free port; `workers` 0: the host's default. */
export function hostCommand(workers: number, extraFlags: readonly string[] = []): string[] {
  const workerFlags = workers === 0 ? [] : ['--workers', String(workers)];
  return ['dist/main.js', '--host', '127.0.0.1', '--port', '0', ...workerFlags, '--log-level', 'info', ...liftedLimitFlags(), ...extraFlags];
}

/** The command line that starts a target (also printed in RESULTS.md). */
export function commandFor(spec: TargetSpec): string[] {
  switch (spec.name) {
    case 'chat-host':
      return hostCommand(spec.workers ?? 2, spec.hostFlags);
    case 'chat-host-compat':
      return hostCommand(spec.workers ?? 2, ['--compat-port', '0', ...(spec.hostFlags ?? [])]);
    case 'chat-cluster':
      // Per node; startCluster adds --redis.
      return hostCommand(spec.workers ?? 1, spec.hostFlags);
    case 'uws-bare':
      return ['dist-bench/bench/peers/uws-bare.js', '--port', '0'];
    case 'ws':
      return ['dist-bench/bench/peers/ws.js', '--port', '0'];
    case 'socket.io':
      return ['dist-bench/bench/peers/socket-io.js', '--port', '0'];
  }
}

const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux x86-64
const PAGE = 4096;

/** utime+stime (seconds) and RSS (bytes) of a process, from /proc/PID/stat. */
export function procProbe(pid: number): ServerProbe {
  const fields = (): string[] => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  };
  return {
    cpuSeconds: () => {
      const f = fields();
      return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
    },
    rssBytes: () => Number(fields()[21]) * PAGE,
  };
}

/** Every target process still running. */
const live = new Set<ChildProcess>();

/** Kills every target process still running and removes their cgroups (the orchestrator calls it when interrupted). */
export function killAllTargets(): void {
  for (const child of live) child.kill('SIGKILL');
  removeAllCgroupsSync(3000);
}

/**
 * Runs a benchmark script's main and exits: 0 when it resolves, 1 when it throws,
 * 130 on SIGINT/SIGTERM; target processes still running are killed on the way out.
 */
export function runUntilDone(main: () => Promise<void>, log: (line: string) => void): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAllTargets();
      process.exit(130);
    });
  }
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      log(`${process.argv[1] ?? 'bench'} failed: ${(error as Error).stack ?? String(error)}`);
      killAllTargets();
      process.exit(1);
    },
  );
}

/**
 * Starts a target process and resolves once it listens. `cgroup`: the cgroup to put
 * it in (a cluster's, shared by its processes); undefined: a cgroup of its own under
 * `--cpu-quota` (none without), removed when it stops; null: none.
 */
export function startProcess(
  args: readonly string[],
  extraArgs: readonly string[] = [],
  cgroup?: Cgroup | null,
  /** The log field naming the port clients use (`compatPort`: the host's workerman-chat port). */
  portField = 'port',
): Promise<RunningTarget> {
  return new Promise((resolve, reject) => {
    const own = cgroup === undefined ? createCgroup() : null;
    const group = cgroup ?? own;
    const command = [process.execPath, ...extraArgs, ...args];
    // In a cgroup from node's first instruction: a shell joins it and becomes node (exec), so the host
    // reads its CPU quota (its default worker count) inside it and its threads are born there.
    const child: ChildProcess = group
      ? spawn('sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', group.path, ...command], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(command[0]!, command.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    child.once('exit', () => live.delete(child));
    let out = '';
    let err = '';
    let exitedBy: string | null = null;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args[0]} did not report a port in 20 s: ${out}${err}`));
    }, 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000); // the last of it says why a process died
    });
    // Until stop() replaces it: a target that ends by itself is a finding, said at once.
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const why = `${args[0]} (pid ${child.pid}) exited by itself with ${signal ?? `code ${code}`}; its last stderr: ${err.slice(-2000) || '(none)'}`;
      exitedBy = why;
      process.stderr.write(`${why}\n`);
      void own?.remove();
      reject(new Error(why));
    });
    const onData = (d: Buffer): void => {
      out += d.toString();
      for (const line of out.split('\n')) {
        const m = new RegExp(`"${portField}":(\\d+)`).exec(line);
        if (!m) continue;
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.resume(); // keep draining later log lines
        const pid = child.pid!;
        resolve({
          port: Number(m[1]),
          pid,
          probe: procProbe(pid),
          ...(group ? { cgroup: group } : {}),
          exitedBy: () => exitedBy,
          stop: async () => {
            await new Promise<void>((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done();
              const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
              child.removeAllListeners('exit');
              child.once('exit', () => {
                clearTimeout(kill);
                live.delete(child);
                done();
              });
              child.kill('SIGTERM');
            });
            await own?.remove();
          },
        });
        return;
      }
    };
    child.stdout!.on('data', onData);
  });
}

/** Node's own flags for the chat host, as `npm start` gives them (package.json): the main thread's young generation. */
export const HOST_NODE_FLAGS = ['--max-semi-space-size=2'];

export function startTarget(spec: TargetSpec, extraNodeArgs: readonly string[] = []): Promise<RunningTarget> {
  if (spec.name === 'chat-cluster') return startCluster(spec);
  if (spec.name === 'chat-host-compat') return startProcess(commandFor(spec), [...HOST_NODE_FLAGS, ...extraNodeArgs], undefined, 'compatPort');
  return startProcess(commandFor(spec), spec.name === 'chat-host' ? [...HOST_NODE_FLAGS, ...extraNodeArgs] : extraNodeArgs);
}

/** The command line of the cluster's redis-server (also printed in RESULTS.md); PORT is filled in. */
export const REDIS_COMMAND = ['redis-server', '--port', 'PORT', '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

/**
 * A redis-server on a free port and `nodes` host processes joined to it; the probe
 * counts all of them (Redis's CPU is part of what a cluster costs).
 */
async function startCluster(spec: TargetSpec): Promise<RunningTarget> {
  const port = await findFreePort();
  // Under --cpu-quota one cgroup holds the nodes and redis-server: the quota is the cluster's.
  const cgroup = createCgroup();
  const redis = spawn(
    REDIS_COMMAND[0]!,
    REDIS_COMMAND.slice(1).map((a) => (a === 'PORT' ? String(port) : a)),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(redis);
  redis.once('exit', () => live.delete(redis));
  cgroup?.add(redis.pid!);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    redis.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    redis.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out.slice(0, 2000)}`)));
  });
  const nodes = await Promise.all(
    Array.from({ length: spec.nodes ?? 2 }, () => startProcess([...commandFor(spec), '--redis', `redis://127.0.0.1:${port}`], HOST_NODE_FLAGS, cgroup)),
  );
  const probes = [...nodes.map((n) => n.probe), procProbe(redis.pid!)];
  return {
    port: nodes[0]!.port,
    ports: nodes.map((n) => n.port),
    pid: nodes[0]!.pid,
    ...(cgroup ? { cgroup } : {}),
    probe: {
      cpuSeconds: () => probes.reduce((sum, p) => sum + p.cpuSeconds(), 0),
      rssBytes: () => probes.reduce((sum, p) => sum + p.rssBytes(), 0),
    },
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await new Promise<void>((done) => {
        if (redis.exitCode !== null || redis.signalCode !== null) return done();
        redis.once('exit', () => done());
        redis.kill('SIGKILL');
      });
      await cgroup?.remove();
    },
  };
}
