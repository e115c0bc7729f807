/**
 * Connection limits shared by every worker thread of the process: a global maximum
 * (the open-file limit is per process) and a per-address maximum.
 *
 * Counts live in a SharedArrayBuffer with one slice per worker slot, so that the
 * supervisor can zero the slice of a worker that died without running its close
 * handlers. Per-address counts sit in 65,536 slots picked by a keyed hash of the
 * address (the key is random per process, so nobody can aim at another's slot);
 * two addresses share a slot only by chance. Check and count are not one atomic
 * step across workers, so a burst may pass a limit by at most one per worker.
 *
 * The same slots hold each address's requests of the current second (all workers
 * count into one counter per slot), for the per-address request budget.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

const ADDRESS_SLOTS = 1 << 16;
/** Per worker: the address slots, then the worker's connection count. */
const SLICE = ADDRESS_SLOTS + 1;

export interface ConnectionLimitSettings {
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  /** Requests a second all connections of one address may make together. */
  readonly rateLimitPerIp: number;
}

/** The memory every worker shares; made once by the supervisor. */
export interface SharedCounts {
  readonly buffer: SharedArrayBuffer;
  /** Per address slot: the second being counted, and the requests counted in it. */
  readonly requests: SharedArrayBuffer;
  readonly key: Uint8Array;
  readonly workers: number;
}

export function createSharedCounts(workers: number): SharedCounts {
  return { buffer: new SharedArrayBuffer(workers * SLICE * 4), requests: new SharedArrayBuffer(ADDRESS_SLOTS * 2 * 4), key: randomBytes(32), workers };
}

/** Forgets what a stopped worker counted (its sockets are gone). */
export function clearWorkerCounts(shared: SharedCounts, worker: number): void {
  new Int32Array(shared.buffer, worker * SLICE * 4, SLICE).fill(0);
}

export type Admission = { readonly ok: true; readonly slot: number } | { readonly ok: false; readonly limit: 'global' | 'per-ip' };

export class ConnectionLimits {
  private readonly counts: Int32Array;
  private readonly requests: Int32Array;
  private readonly base: number;

  constructor(
    private readonly shared: SharedCounts,
    worker: number,
    private readonly settings: ConnectionLimitSettings,
  ) {
    this.counts = new Int32Array(shared.buffer);
    this.requests = new Int32Array(shared.requests);
    this.base = worker * SLICE;
  }

  /**
   * Counts one request of the address in `slot` (from admit) in the second `nowMs` falls
   * in; false when its connections together made --rate-limit-per-ip already. Fixed
   * one-second windows: across a window's edge an address may make up to twice the rate.
   */
  takeRequest(slot: number, nowMs: number): boolean {
    if (slot < 0) return true;
    const second = Math.floor(nowMs / 1000) & 0x7fffffff;
    const at = slot * 2;
    const counted = Atomics.load(this.requests, at);
    // The first request of a new second resets the count (another worker may win the race: it resets instead).
    if (counted !== second && Atomics.compareExchange(this.requests, at, counted, second) === counted) Atomics.store(this.requests, at + 1, 0);
    return Atomics.add(this.requests, at + 1, 1) < this.settings.rateLimitPerIp;
  }

  /** Counts a connection from `address` if both limits allow it; `slot` is given back to release(). */
  admit(address: string): Admission {
    const slot = this.slotOf(address);
    let total = 0;
    let fromAddress = 0;
    for (let w = 0; w < this.shared.workers; w++) {
      total += Atomics.load(this.counts, w * SLICE + ADDRESS_SLOTS);
      fromAddress += Atomics.load(this.counts, w * SLICE + slot);
    }
    if (total >= this.settings.maxConnections) return { ok: false, limit: 'global' };
    if (fromAddress >= this.settings.maxConnectionsPerIp) return { ok: false, limit: 'per-ip' };
    Atomics.add(this.counts, this.base + ADDRESS_SLOTS, 1);
    Atomics.add(this.counts, this.base + slot, 1);
    return { ok: true, slot };
  }

  release(slot: number): void {
    Atomics.sub(this.counts, this.base + ADDRESS_SLOTS, 1);
    Atomics.sub(this.counts, this.base + slot, 1);
  }

  private slotOf(address: string): number {
    return createHmac('sha256', this.shared.key).update(address).digest().readUInt16LE(0);
  }
}

/** The soft open-file limit of this process (Node raises it to the hard limit at start), or null if unknown. */
export function openFileLimit(): number | null {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!match || match[1] === 'unlimited') return null;
  return Number(match[1]);
}

/**
 * The default global maximum: the open-file limit less a margin for everything
 * else the process opens (listen sockets, thread pipes, files, logs). Past the
 * limit uWS spins on failing accepts, so the host refuses upgrades well before.
 */
export function defaultMaxConnections(fileLimit: number | null): number {
  if (fileLimit === null) return 10_000;
  return Math.max(16, Math.min(fileLimit - 1024, Math.floor(fileLimit * 0.95)));
}
