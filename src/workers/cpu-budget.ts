/**
 * How many CPUs the host may really use, for the default worker count. Node's
 * availableParallelism() counts the CPUs the process may run on (affinity) but not a
 * CFS quota: in a container limited to half a core it still says 2. Workers beyond
 * the quota only add threads that wait for the next period, and every room message
 * crosses threads twice, so each extra thread costs latency (measured in
 * bench/RESULTS.md: 2 workers under half a core fail at 100,000 deliveries/s where 1
 * passes 300,000). Like Go's automaxprocs: the quota rounded down, at least 1.
 *
 * The quota is the smallest along the process's cgroup and its ancestors: cgroup v2's
 * cpu.max ("max 100000" or "50000 100000"), or v1's cpu.cfs_quota_us (-1: none) over
 * cpu.cfs_period_us in the hierarchy with the cpu controller.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, posix, relative } from 'node:path';

export interface CpuBudget {
  /** CPUs the process may run on (affinity). */
  readonly cpus: number;
  /** The CFS quota in cores (quota / period), or null when none is set. */
  readonly quotaCores: number | null;
  /** Where the quota was read ("cgroup v1 /sys/fs/cgroup/cpu/x"), or null. */
  readonly quotaSource: string | null;
  /** The worker count to use by default: min(cpus, floor(quota)), at least 1. */
  readonly workers: number;
}

/** The files the quota is read from; a test points them at a made-up tree. */
export interface CgroupFiles {
  /** /proc/self/cgroup */
  readonly selfCgroup: string;
  /** /proc/self/mountinfo */
  readonly mountInfo: string;
  /** Maps a path from mountinfo to where it is read (the identity on a real machine). */
  readonly resolve?: (path: string) => string;
}

const REAL: CgroupFiles = { selfCgroup: '/proc/self/cgroup', mountInfo: '/proc/self/mountinfo' };

export function cpuBudget(files: CgroupFiles = REAL, cpus: number = availableParallelism()): CpuBudget {
  const quota = cpuQuota(files);
  const workers = quota === null ? cpus : Math.max(1, Math.min(cpus, Math.floor(quota.cores)));
  return { cpus, quotaCores: quota?.cores ?? null, quotaSource: quota?.source ?? null, workers };
}

/** The smallest CFS quota over the process's cgroup and its ancestors, or null (none, not Linux, or unreadable). */
export function cpuQuota(files: CgroupFiles = REAL): { cores: number; source: string } | null {
  const selfCgroup = readOptional(files.selfCgroup);
  const mountInfo = readOptional(files.mountInfo);
  // Not Linux, or /proc not mounted: no quota can be known, so none is assumed.
  if (selfCgroup === null || mountInfo === null) return null;
  const resolvePath = files.resolve ?? ((path: string) => path);
  const mounts = parseMountInfo(mountInfo);

  for (const line of selfCgroup.split('\n')) {
    // "hierarchy-id:controller-list:path"; the path may itself hold colons.
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    const v1 = controllers !== '' && controllers.split(',').includes('cpu');
    const v2 = line.slice(0, first) === '0' && controllers === '';
    if (!v1 && !v2) continue;
    const mount = mounts.find((m) => (v1 ? m.type === 'cgroup' && m.options.includes('cpu') : m.type === 'cgroup2'));
    if (!mount) continue;
    const found = smallestQuota(mount, path, v1 ? 1 : 2, resolvePath);
    if (found) return found;
  }
  return null;
}

interface Mount {
  /** The cgroup path the mount shows at its mount point (its "root" field). */
  readonly root: string;
  readonly mountPoint: string;
  readonly type: string;
  readonly options: readonly string[];
}

/** /proc/self/mountinfo: "id parent major:minor root mount-point options [optional...] - type source super-options". */
function parseMountInfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 5 || fields.length < dash + 4) continue;
    mounts.push({
      root: unescapeMountPath(fields[3]!),
      mountPoint: unescapeMountPath(fields[4]!),
      type: fields[dash + 1]!,
      options: fields[dash + 3]!.split(','),
    });
  }
  return mounts;
}

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Walks from the process's cgroup up to the mount's root; the smallest quota found wins. */
function smallestQuota(mount: Mount, cgroupPath: string, version: 1 | 2, resolvePath: (path: string) => string): { cores: number; source: string } | null {
  // A cgroup outside what this mount shows (another namespace's view) cannot be read here.
  const below = relative(mount.root, cgroupPath);
  if (below.startsWith('..')) return null;
  let best: { cores: number; source: string } | null = null;
  let dir = below;
  for (;;) {
    const directory = posix.join(mount.mountPoint, dir);
    const cores = version === 2 ? readCpuMax(resolvePath(join(directory, 'cpu.max'))) : readCfsQuota(resolvePath(directory));
    if (cores !== null && (best === null || cores < best.cores)) best = { cores, source: `cgroup v${version} ${directory}` };
    if (dir === '' || dir === '.') break;
    dir = posix.dirname(dir);
    if (dir === '.') dir = '';
  }
  return best;
}

/** cgroup v2: "max 100000" (none) or "QUOTA PERIOD". */
function readCpuMax(file: string): number | null {
  const text = readOptional(file);
  if (text === null) return null;
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return null;
  return ratio(Number(quota), Number(period));
}

/** cgroup v1: cpu.cfs_quota_us (-1: none) over cpu.cfs_period_us. */
function readCfsQuota(directory: string): number | null {
  const quota = readOptional(join(directory, 'cpu.cfs_quota_us'));
  const period = readOptional(join(directory, 'cpu.cfs_period_us'));
  if (quota === null || period === null) return null;
  return ratio(Number(quota.trim()), Number(period.trim()));
}

function ratio(quotaUs: number, periodUs: number): number | null {
  if (!Number.isFinite(quotaUs) || !Number.isFinite(periodUs) || quotaUs <= 0 || periodUs <= 0) return null;
  return quotaUs / periodUs;
}

/** A file's text, or null when it does not exist or cannot be read (a cgroup level without the controller). */
function readOptional(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR' || code === 'EPERM') return null;
    throw error;
  }
}
