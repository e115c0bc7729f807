/**
 * Connection limits over one shared buffer: two ConnectionLimits on two worker slots stand for two
 * worker threads (the same memory, seen through two instances), plus one test with a real thread.
 */
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import {
  clearWorkerCounts,
  ConnectionLimits,
  createSharedCounts,
  defaultMaxConnections,
  openFileLimit,
  type ConnectionLimitSettings,
  type SharedCounts,
} from '../../src/admission/connection-limits.js';
import { mulberry32 } from '../helpers/random.js';

/** The slot an address hashes to under this buffer's key (the module's documented scheme). */
const slotOf = (shared: SharedCounts, address: string): number => createHmac('sha256', shared.key).update(address).digest().readUInt16LE(0);

/** Addresses guaranteed (under this key) to sit in distinct slots, so per-address tests never depend on luck. */
function distinctAddresses(shared: SharedCounts, count: number): string[] {
  const seen = new Set<number>();
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const address = `192.0.2.${i}`;
    const slot = slotOf(shared, address);
    if (seen.has(slot)) continue;
    seen.add(slot);
    out.push(address);
  }
  return out;
}

/** The seeded PRNG every fuzzing test uses, so cases are the same on every run. */
const prng = mulberry32;

function twoWorkers(settings: ConnectionLimitSettings): { shared: SharedCounts; w0: ConnectionLimits; w1: ConnectionLimits } {
  const shared = createSharedCounts(2);
  return { shared, w0: new ConnectionLimits(shared, 0, settings), w1: new ConnectionLimits(shared, 1, settings) };
}

/** Admits and returns the slot, failing the test if refused. */
const admitted = (limits: ConnectionLimits, address: string): number => {
  const result = limits.admit(address);
  if (!result.ok) throw new Error(`expected ${address} to be admitted, refused by the ${result.limit} limit`);
  return result.slot;
};

describe('createSharedCounts', () => {
  test('one shared buffer with a slice per worker and a 32-byte random key', () => {
    const a = createSharedCounts(3);
    const b = createSharedCounts(3);
    expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(a.workers).toBe(3);
    expect(a.buffer.byteLength).toBe(3 * (65_536 + 1) * 4);
    expect(a.key).toHaveLength(32);
    expect(Buffer.from(a.key).equals(Buffer.from(b.key))).toBe(false);
  });
});

describe('ConnectionLimits: global limit', () => {
  test('counts the connections of both workers', () => {
    const { shared, w0, w1 } = twoWorkers({ maxConnections: 3, maxConnectionsPerIp: 100, rateLimitPerIp: 1_000_000 });
    const [a, b, c, d] = distinctAddresses(shared, 4) as [string, string, string, string];
    expect(w0.admit(a).ok).toBe(true);
    expect(w1.admit(b).ok).toBe(true);
    expect(w0.admit(c).ok).toBe(true);
    expect(w1.admit(d)).toEqual({ ok: false, limit: 'global' });
    expect(w0.admit(d)).toEqual({ ok: false, limit: 'global' });
  });

  test('a release on either worker makes room for one more, anywhere', () => {
    const { shared, w0, w1 } = twoWorkers({ maxConnections: 2, maxConnectionsPerIp: 100, rateLimitPerIp: 1_000_000 });
    const [a, b, c] = distinctAddresses(shared, 3) as [string, string, string];
    admitted(w0, a);
    const slotB = admitted(w1, b);
    expect(w0.admit(c).ok).toBe(false);
    w1.release(slotB);
    expect(w0.admit(c).ok).toBe(true);
    expect(w1.admit(b)).toEqual({ ok: false, limit: 'global' });
  });

  test('the global limit is reported before the per-address one', () => {
    const { w0 } = twoWorkers({ maxConnections: 1, maxConnectionsPerIp: 1, rateLimitPerIp: 1_000_000 });
    admitted(w0, '203.0.113.1');
    expect(w0.admit('203.0.113.1')).toEqual({ ok: false, limit: 'global' });
  });

  test('maxConnections 0 admits nobody', () => {
    const { w0 } = twoWorkers({ maxConnections: 0, maxConnectionsPerIp: 10, rateLimitPerIp: 1_000_000 });
    expect(w0.admit('203.0.113.1')).toEqual({ ok: false, limit: 'global' });
  });
});

describe('ConnectionLimits: per-address limit', () => {
  test('counts the same address across both workers', () => {
    const { shared, w0, w1 } = twoWorkers({ maxConnections: 100, maxConnectionsPerIp: 3, rateLimitPerIp: 1_000_000 });
    const [ip, other] = distinctAddresses(shared, 2) as [string, string];
    admitted(w0, ip);
    admitted(w1, ip);
    admitted(w1, ip);
    expect(w0.admit(ip)).toEqual({ ok: false, limit: 'per-ip' });
    expect(w1.admit(ip)).toEqual({ ok: false, limit: 'per-ip' });
    // Another address is not affected.
    expect(w0.admit(other).ok).toBe(true);
  });

  test("admit gives back the address's slot, the same on every worker", () => {
    const { shared, w0, w1 } = twoWorkers({ maxConnections: 100, maxConnectionsPerIp: 100, rateLimitPerIp: 1_000_000 });
    for (const ip of ['203.0.113.7', '2001:db8::1', '::ffff:127.0.0.1', '']) {
      expect(admitted(w0, ip)).toBe(slotOf(shared, ip));
      expect(admitted(w1, ip)).toBe(slotOf(shared, ip));
    }
  });

  test("release frees the address's count (released on the worker that admitted it)", () => {
    const { shared, w0, w1 } = twoWorkers({ maxConnections: 100, maxConnectionsPerIp: 2, rateLimitPerIp: 1_000_000 });
    const [ip] = distinctAddresses(shared, 1) as [string];
    const s0 = admitted(w0, ip);
    const s1 = admitted(w1, ip);
    expect(w0.admit(ip).ok).toBe(false);
    w0.release(s0);
    expect(admitted(w0, ip)).toBe(s0);
    expect(w1.admit(ip).ok).toBe(false);
    w1.release(s1);
    w0.release(s0);
    admitted(w1, ip);
    admitted(w1, ip);
    expect(w0.admit(ip)).toEqual({ ok: false, limit: 'per-ip' });
  });

  test('admit, release, admit... in a long run never drifts', () => {
    const { shared, w0, w1 } = twoWorkers({ maxConnections: 4, maxConnectionsPerIp: 2, rateLimitPerIp: 1_000_000 });
    const [a, b] = distinctAddresses(shared, 2) as [string, string];
    for (let i = 0; i < 1000; i++) {
      const worker = i % 2 === 0 ? w0 : w1;
      const slot = admitted(worker, i % 3 === 0 ? a : b);
      worker.release(slot);
    }
    admitted(w0, a);
    admitted(w1, a);
    admitted(w0, b);
    admitted(w1, b);
    expect(w0.admit(a).ok).toBe(false);
  });

  test('different addresses do not share a limit (1000 random addresses, 1 each)', () => {
    const shared = createSharedCounts(2);
    const limits = [
      new ConnectionLimits(shared, 0, { maxConnections: 1_000_000, maxConnectionsPerIp: 1, rateLimitPerIp: 1_000_000 }),
      new ConnectionLimits(shared, 1, { maxConnections: 1_000_000, maxConnectionsPerIp: 1, rateLimitPerIp: 1_000_000 }),
    ];
    const random = prng(0xadd7);
    const addresses = new Set<string>();
    while (addresses.size < 1000) {
      addresses.add(
        random() < 0.5
          ? `${[0, 0, 0, 0].map(() => Math.floor(random() * 256)).join('.')}`
          : `2001:db8::${Math.floor(random() * 0x10000).toString(16)}:${Math.floor(random() * 0x10000).toString(16)}`,
      );
    }
    let ok = 0;
    let i = 0;
    for (const address of addresses) if (limits[i++ % 2]!.admit(address).ok) ok++;
    // Two addresses share one of the 65,536 slots only by chance: the admitted count is exactly the
    // number of distinct slots. With a random key the expected number of colliding pairs among 1000
    // addresses is 1000 * 999 / 2 / 65536 = 7.6 (a bound of 990 would fail about one run in seven);
    // 970 is missed with probability below 1e-9.
    expect(ok).toBe(new Set([...addresses].map((a) => slotOf(shared, a))).size);
    expect(ok).toBeGreaterThanOrEqual(970);
  });

  test("the slot depends on the per-process key (nobody can aim at another address's slot)", () => {
    const addresses = Array.from({ length: 50 }, (_, i) => `198.51.100.${i}`);
    const a = createSharedCounts(1);
    const b = createSharedCounts(1);
    const slotsA = addresses.map((ip) =>
      admitted(new ConnectionLimits(a, 0, { maxConnections: 1000, maxConnectionsPerIp: 1000, rateLimitPerIp: 1_000_000 }), ip),
    );
    const slotsB = addresses.map((ip) =>
      admitted(new ConnectionLimits(b, 0, { maxConnections: 1000, maxConnectionsPerIp: 1000, rateLimitPerIp: 1_000_000 }), ip),
    );
    // 50 independent 16-bit draws agreeing everywhere: probability 2^-800.
    expect(slotsA).not.toEqual(slotsB);
  });
});

describe('clearWorkerCounts', () => {
  test("forgets the connections of a dead worker without touching the other's", () => {
    const { shared, w0, w1 } = twoWorkers({ maxConnections: 5, maxConnectionsPerIp: 3, rateLimitPerIp: 1_000_000 });
    const [ip, other] = distinctAddresses(shared, 2) as [string, string];
    admitted(w0, ip);
    admitted(w0, ip);
    admitted(w1, ip);
    admitted(w1, other);
    admitted(w1, other);
    expect(w0.admit(ip)).toEqual({ ok: false, limit: 'global' });

    clearWorkerCounts(shared, 0); // worker 0 died with 2 connections
    // Global: 3 of 5 remain (worker 1's). Per address: ip has 1 of 3 left on worker 1.
    admitted(w0, ip);
    admitted(w0, ip);
    expect(w0.admit(ip)).toEqual({ ok: false, limit: 'global' });
  });

  test("worker 1's per-address counts survive clearing worker 0", () => {
    const { shared, w0, w1 } = twoWorkers({ maxConnections: 100, maxConnectionsPerIp: 2, rateLimitPerIp: 1_000_000 });
    const [ip] = distinctAddresses(shared, 1) as [string];
    admitted(w1, ip);
    admitted(w1, ip);
    clearWorkerCounts(shared, 0);
    expect(w0.admit(ip)).toEqual({ ok: false, limit: 'per-ip' });
    clearWorkerCounts(shared, 1);
    expect(w0.admit(ip).ok).toBe(true);
  });

  test("clears the whole slice of the slot, including the last worker's last address slot", () => {
    const shared = createSharedCounts(3);
    const view = new Int32Array(shared.buffer);
    view.fill(7);
    clearWorkerCounts(shared, 2);
    const slice = 65_536 + 1;
    expect(view.subarray(0, 2 * slice).every((n) => n === 7)).toBe(true);
    expect(view.subarray(2 * slice).every((n) => n === 0)).toBe(true);
    clearWorkerCounts(shared, 0);
    expect(view.subarray(0, slice).every((n) => n === 0)).toBe(true);
    expect(view.subarray(slice, 2 * slice).every((n) => n === 7)).toBe(true);
  });
});

describe('ConnectionLimits with a real worker thread', () => {
  const dist = fileURLToPath(new URL('../../dist/admission/connection-limits.js', import.meta.url));

  // The thread runs the built module (Node 20 cannot load .ts in a worker); `npm test` builds first.
  test("a thread's connections count here, and are forgotten once its slot is cleared", async () => {
    expect(existsSync(dist), `${dist} is missing: run npm run build`).toBe(true);
    const shared = createSharedCounts(2);
    const settings = { maxConnections: 100, maxConnectionsPerIp: 5, rateLimitPerIp: 1_000_000 };
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.url).then(({ ConnectionLimits }) => {
        const limits = new ConnectionLimits(workerData.shared, 1, workerData.settings);
        parentPort.postMessage([0, 1, 2].map(() => limits.admit('203.0.113.9')));
      });`;
    const worker = new Worker(code, { eval: true, workerData: { url: pathToFileURL(dist).href, shared, settings } });
    const results = await new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate(); // dies without releasing anything
    const slot = slotOf(shared, '203.0.113.9');
    expect(results).toEqual([
      { ok: true, slot },
      { ok: true, slot },
      { ok: true, slot },
    ]);

    const here = new ConnectionLimits(shared, 0, settings);
    admitted(here, '203.0.113.9');
    admitted(here, '203.0.113.9');
    expect(here.admit('203.0.113.9')).toEqual({ ok: false, limit: 'per-ip' }); // 3 there + 2 here
    clearWorkerCounts(shared, 1);
    admitted(here, '203.0.113.9');
    admitted(here, '203.0.113.9');
    admitted(here, '203.0.113.9');
    expect(here.admit('203.0.113.9')).toEqual({ ok: false, limit: 'per-ip' });
  });
});

describe('openFileLimit and defaultMaxConnections', () => {
  test.runIf(process.platform === 'linux')('openFileLimit reads a positive integer on Linux', () => {
    const limit = openFileLimit();
    expect(limit).not.toBeNull();
    expect(Number.isInteger(limit)).toBe(true);
    expect(limit!).toBeGreaterThan(0);
  });

  test('without a known limit: 10,000', () => {
    expect(defaultMaxConnections(null)).toBe(10_000);
  });

  test('keeps 1024 descriptors in reserve, or 5% when that is more', () => {
    expect(defaultMaxConnections(20_000)).toBe(18_976); // 20000 - 1024 < 19000
    expect(defaultMaxConnections(1_048_576)).toBe(996_147); // floor(5% less) < limit - 1024
    expect(defaultMaxConnections(4096)).toBe(3072);
  });

  test('never below 16, even for tiny limits', () => {
    expect(defaultMaxConnections(1024)).toBe(16);
    expect(defaultMaxConnections(1040)).toBe(16);
    expect(defaultMaxConnections(1100)).toBe(76);
    expect(defaultMaxConnections(0)).toBe(16);
  });

  test('is always below the open-file limit it was given (for realistic limits)', () => {
    for (const limit of [1100, 2048, 4096, 65_536, 1_048_576]) expect(defaultMaxConnections(limit)).toBeLessThan(limit);
  });
});
