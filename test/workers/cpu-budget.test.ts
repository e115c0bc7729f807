/**
 * The default worker count follows a cgroup CPU quota. The parsing is checked on made-up
 * cgroup trees (v1 and v2, quotas on the process's cgroup or an ancestor); the host is
 * checked for real, started inside a cgroup of this machine with a quota of half a core.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBudget, cpuQuota } from '../../src/workers/cpu-budget.js';
import { TestClient } from '../helpers/client.js';
import { startHost } from '../helpers/host.js';

/** A fake / with the given files (path relative to it: text); cgroup files are read through `resolve`. */
function fakeRoot(files: Record<string, string>): { selfCgroup: string; mountInfo: string; resolve: (path: string) => string; root: string } {
  const root = mkdtempSync(join(tmpdir(), 'cgroup-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return { selfCgroup: join(root, 'proc/self/cgroup'), mountInfo: join(root, 'proc/self/mountinfo'), resolve: (path) => join(root, path), root };
}

const V1_MOUNTS = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
].join('\n');
const V2_MOUNTS = '30 23 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate';

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});
function tree(files: Record<string, string>): ReturnType<typeof fakeRoot> {
  const t = fakeRoot(files);
  roots.push(t.root);
  return t;
}

describe('the CPU quota of a cgroup tree', () => {
  it('cgroup v1: the quota of the process cgroup, in cores', () => {
    const t = tree({
      'proc/self/cgroup': '4:memory:/app\n2:cpu,cpuacct:/app\n0::/\n',
      'proc/self/mountinfo': V1_MOUNTS,
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
      'sys/fs/cgroup/cpu,cpuacct/app/cpu.cfs_quota_us': '150000\n',
      'sys/fs/cgroup/cpu,cpuacct/app/cpu.cfs_period_us': '100000\n',
    });
    expect(cpuQuota(t)).toEqual({ cores: 1.5, source: 'cgroup v1 /sys/fs/cgroup/cpu,cpuacct/app' });
    expect(cpuBudget(t, 4)).toEqual({ cpus: 4, quotaCores: 1.5, quotaSource: 'cgroup v1 /sys/fs/cgroup/cpu,cpuacct/app', workers: 1 });
  });

  it('cgroup v1: -1 everywhere is no quota, and the CPUs decide', () => {
    const t = tree({
      'proc/self/cgroup': '2:cpu,cpuacct:/\n',
      'proc/self/mountinfo': V1_MOUNTS,
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    expect(cpuQuota(t)).toBeNull();
    expect(cpuBudget(t, 8).workers).toBe(8);
  });

  it('cgroup v2: the smallest cpu.max along the ancestors wins', () => {
    const t = tree({
      'proc/self/cgroup': '0::/kubepods/pod1/app\n',
      'proc/self/mountinfo': V2_MOUNTS,
      'sys/fs/cgroup/kubepods/cpu.max': 'max 100000\n',
      'sys/fs/cgroup/kubepods/pod1/cpu.max': '300000 100000\n',
      'sys/fs/cgroup/kubepods/pod1/app/cpu.max': 'max 100000\n',
    });
    expect(cpuQuota(t)).toEqual({ cores: 3, source: 'cgroup v2 /sys/fs/cgroup/kubepods/pod1' });
    // Never more workers than CPUs to run them on, whatever the quota.
    expect(cpuBudget(t, 2).workers).toBe(2);
    expect(cpuBudget(t, 16).workers).toBe(3);
  });

  it('a quota under one core still gives one worker', () => {
    const t = tree({
      'proc/self/cgroup': '0::/small\n',
      'proc/self/mountinfo': V2_MOUNTS,
      'sys/fs/cgroup/small/cpu.max': '5000 10000\n',
    });
    expect(cpuBudget(t, 2)).toMatchObject({ quotaCores: 0.5, workers: 1 });
  });

  it('a container that sees its own cgroup as the mount root (cgroup namespace) reads it there', () => {
    const t = tree({
      'proc/self/cgroup': '0::/\n',
      'proc/self/mountinfo': V2_MOUNTS,
      'sys/fs/cgroup/cpu.max': '200000 100000\n',
    });
    expect(cpuBudget(t, 8)).toMatchObject({ quotaCores: 2, workers: 2 });
  });

  it('no cgroup files (not Linux, /proc not mounted): no quota', () => {
    const t = tree({});
    expect(cpuQuota(t)).toBeNull();
    expect(cpuBudget(t, 3).workers).toBe(3);
  });

  it('a cgroup path outside what the mount shows is not read', () => {
    const t = tree({
      'proc/self/cgroup': '2:cpu:/elsewhere/app\n',
      'proc/self/mountinfo': '32 31 0:29 /mine /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu',
      'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '50000\n',
      'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    });
    expect(cpuQuota(t)).toBeNull();
  });
});

/** A cgroup of this machine's cpu controller with `cores` of quota per 10 ms (needs root, as the CPU-quota benchmarks). */
function realCgroup(cores: number): { dir: string; version: 1 | 2 } {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '));
  const v1 = mounts.find((f) => f[2] === 'cgroup' && f[3]!.split(',').includes('cpu'));
  const v2 = mounts.find((f) => f[2] === 'cgroup2');
  const parent = v1?.[1] ?? v2?.[1];
  if (!parent) throw new Error('no cgroup cpu controller in /proc/self/mounts');
  const dir = join(parent, `chat-test-${process.pid}-${cores}`);
  mkdirSync(dir);
  if (v1) {
    writeFileSync(join(dir, 'cpu.cfs_period_us'), '10000');
    writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(Math.round(cores * 10_000)));
    return { dir, version: 1 };
  }
  writeFileSync(join(dir, 'cpu.max'), `${Math.round(cores * 10_000)} 10000`);
  return { dir, version: 2 };
}

describe('a host under a CPU quota', () => {
  it('starts one worker under half a core by default, says why, and serves; --workers still decides when given', async () => {
    const { dir, version } = realCgroup(0.5);
    try {
      const host = await startHost([], {}, { cgroup: dir });
      try {
        const listening = await host.waitForLog((line) => String(line.msg).startsWith('chat host listening'));
        expect(listening).toMatchObject({ workers: 1, cpuQuota: 0.5, cpuQuotaSource: `cgroup v${version} ${dir}` });
        const health = (await (await fetch(`${host.http}/healthz`)).json()) as { workers: number };
        expect(health.workers).toBe(1);
        const ann = await TestClient.connect(host.ws);
        await ann.join('quota', 'ann');
        await ann.say('quota', 'served');
        const heard = await ann.nextWhere((e) => e.type === 'message');
        expect(heard).toMatchObject({ type: 'message', room: 'quota', text: 'served', seq: 1 });
        await ann.close();
      } finally {
        await host.stop();
      }
      const two = await startHost(['--workers', '2'], {}, { cgroup: dir });
      try {
        expect(await two.waitForLog((line) => String(line.msg).startsWith('chat host listening'))).toMatchObject({ workers: 2, cpuQuota: 0.5 });
      } finally {
        await two.stop();
      }
    } finally {
      rmdirSync(dir);
    }
  });
});
