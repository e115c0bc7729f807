/**
 * Equal CPU budgets: with `--cpu-quota CORES` every server target (all its threads
 * and processes: the host's worker threads, a cluster's nodes and redis-server) runs
 * in a cgroup of its own with a CFS quota of CORES per 10 ms period, e.g. 0.5:
 * 5,000 µs every 10,000 µs. The load generator is not limited. On 2 cores the
 * generator shares the machine with the server and costs less per delivery against
 * a server that coalesces writes, so a maximum rate alone flatters that server;
 * under the same quota every server has the same CPU to spend.
 *
 * cgroup v1 (a `cpu` hierarchy: cpu.cfs_quota_us, cpu.cfs_period_us) is used when
 * mounted, else cgroup v2 with the cpu controller (cpu.max). Needs root. A cgroup is
 * named chatbench-<orchestrator pid>-<n>, created when a target starts and removed
 * (rmdir) once its processes are gone, also when the orchestrator is interrupted.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PERIOD_US = 10_000;

export interface CpuQuota {
  /** CPU time per period, in cores (quotaUs / periodUs). */
  readonly cores: number;
  readonly quotaUs: number;
  readonly periodUs: number;
  readonly cgroupVersion: 1 | 2;
  /** The hierarchy the target cgroups are made in. */
  readonly parent: string;
}

/** Throttling counters of a cgroup (cpu.stat), cumulative. */
export interface CgroupStats {
  readonly periods: number;
  readonly throttledPeriods: number;
  readonly throttledSec: number;
}

/** Where a cgroup's cpu controller can be used: v1's `cpu` hierarchy first, else a v2 mount with `cpu`. */
export function detectCgroup(): { version: 1 | 2; parent: string } {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f.length >= 4);
  for (const [, dir, type, options] of mounts) {
    if (type === 'cgroup' && options!.split(',').includes('cpu')) return { version: 1, parent: dir! };
  }
  for (const [, dir, type] of mounts) {
    if (type !== 'cgroup2') continue;
    const controllers = join(dir!, 'cgroup.controllers');
    if (existsSync(controllers) && readFileSync(controllers, 'utf8').split(/\s+/).includes('cpu')) return { version: 2, parent: dir! };
  }
  throw new Error('--cpu-quota: no cgroup cpu controller found (neither a cgroup v1 "cpu" hierarchy nor cgroup v2 with "cpu" in /proc/self/mounts)');
}

let quota: CpuQuota | null = null;
let sequence = 0;
let exitHook = false;
const live = new Set<Cgroup>();

/** The quota in force (null: none, the default). */
export function cpuQuota(): CpuQuota | null {
  return quota;
}

/** One line for logs and reports: "0.5 core (cgroup v1: cpu.cfs_quota_us 5000 / cpu.cfs_period_us 10000)". */
export function describeQuota(q: CpuQuota): string {
  const files = q.cgroupVersion === 1 ? `cpu.cfs_quota_us ${q.quotaUs} / cpu.cfs_period_us ${q.periodUs}` : `cpu.max "${q.quotaUs} ${q.periodUs}"`;
  return `${q.cores} core (cgroup v${q.cgroupVersion}: ${files})`;
}

/**
 * Sets the quota for every target started from now on (null: none). Checks that a
 * cgroup can be made, and removes empty cgroups left by orchestrators that died.
 */
export function setCpuQuota(cores: number | null): CpuQuota | null {
  if (cores === null) {
    quota = null;
    return null;
  }
  if (!(cores >= 0.1 && cores <= 64)) throw new Error(`--cpu-quota must be a number of cores from 0.1 to 64, got ${cores}`);
  const { version, parent } = detectCgroup();
  removeStale(parent);
  if (version === 2) enableCpuController(parent);
  quota = { cores, quotaUs: Math.round(cores * PERIOD_US), periodUs: PERIOD_US, cgroupVersion: version, parent };
  // A first cgroup made and removed at once: a missing permission shows here, not mid-run.
  createCgroup()?.removeSync(0);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => removeAllCgroupsSync(1000));
  }
  return quota;
}

/** v2: a child cgroup gets cpu.max only when its parent delegates the cpu controller. */
function enableCpuController(parent: string): void {
  const control = join(parent, 'cgroup.subtree_control');
  if (!readFileSync(control, 'utf8').split(/\s+/).includes('cpu')) writeFileSync(control, '+cpu');
}

/** Empty chatbench-<pid>-<n> cgroups whose orchestrator is gone (SIGKILL leaves them behind). */
function removeStale(parent: string): void {
  for (const name of readdirSync(parent)) {
    const m = /^chatbench-(\d+)-\d+$/.exec(name);
    if (!m || existsSync(`/proc/${m[1]}`)) continue;
    try {
      rmdirSync(join(parent, name));
    } catch {
      // Still has processes: left alone.
    }
  }
}

const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** A cgroup holding one target's processes. */
export class Cgroup {
  private removed = false;

  constructor(
    readonly path: string,
    readonly quota: CpuQuota,
  ) {}

  /** Moves a process, all its threads, into the cgroup; processes it starts later are born in it. */
  add(pid: number): void {
    writeFileSync(join(this.path, 'cgroup.procs'), String(pid));
  }

  pids(): number[] {
    return readFileSync(join(this.path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  }

  /** Throttling so far (cpu.stat): v1 counts throttled_time in ns, v2 throttled_usec. */
  stats(): CgroupStats {
    const stat = Object.fromEntries(
      readFileSync(join(this.path, 'cpu.stat'), 'utf8')
        .split('\n')
        .map((line) => line.split(' '))
        .filter((f) => f.length === 2)
        .map(([k, v]) => [k, Number(v)]),
    ) as Record<string, number>;
    return {
      periods: stat.nr_periods ?? 0,
      throttledPeriods: stat.nr_throttled ?? 0,
      throttledSec: stat.throttled_time !== undefined ? stat.throttled_time / 1e9 : (stat.throttled_usec ?? 0) / 1e6,
    };
  }

  /** One rmdir: true when the cgroup is gone, false while processes remain in it (EBUSY). */
  private tryRemove(): boolean {
    if (this.removed) return true;
    try {
      rmdirSync(this.path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EBUSY') return false;
      if (code !== 'ENOENT') throw error;
    }
    this.removed = true;
    live.delete(this);
    return true;
  }

  /** rmdir once its processes are gone, waiting for them (blocking) at most waitMs; false if it could not. */
  removeSync(waitMs: number): boolean {
    const deadline = performance.now() + waitMs;
    try {
      while (!this.tryRemove()) {
        if (performance.now() >= deadline) throw new Error(`still holds processes ${this.pids().join(', ')}`);
        sleepSync(10);
      }
      return true;
    } catch (error) {
      process.stderr.write(`cgroup ${this.path} not removed: ${(error as Error).message}\n`);
      return false;
    }
  }

  /** rmdir after the processes in it are gone (call once they exited; waits up to 5 s more). */
  async remove(): Promise<void> {
    for (let i = 0; i < 500; i++) {
      if (this.tryRemove()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    this.removeSync(0);
  }
}

/** A new cgroup under the quota in force; null when there is none. */
export function createCgroup(): Cgroup | null {
  if (!quota) return null;
  const path = join(quota.parent, `chatbench-${process.pid}-${sequence++}`);
  mkdirSync(path);
  const cgroup = new Cgroup(path, quota);
  live.add(cgroup);
  try {
    if (quota.cgroupVersion === 1) {
      // The period first: a quota above the old period is fine either way, but keep the pair consistent.
      writeFileSync(join(path, 'cpu.cfs_period_us'), String(quota.periodUs));
      writeFileSync(join(path, 'cpu.cfs_quota_us'), String(quota.quotaUs));
    } else {
      writeFileSync(join(path, 'cpu.max'), `${quota.quotaUs} ${quota.periodUs}`);
    }
  } catch (error) {
    cgroup.removeSync(0);
    throw error;
  }
  return cgroup;
}

/** Removes every cgroup still present, waiting (blocking) up to waitMs for killed processes to go. */
export function removeAllCgroupsSync(waitMs: number): void {
  for (const cgroup of [...live]) cgroup.removeSync(waitMs);
}
