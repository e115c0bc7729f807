/**
 * ClusterResync: when a cluster node gets back in step and whether it serves
 * meanwhile, driven with scripted steps whose promises the test settles.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ClusterResync, type ResyncSteps } from '../../../src/sequencer/redis/resync.js';
import { silentLog } from '../harness.js';

interface Pending {
  readonly step: string;
  resolve(): void;
  reject(error: Error): void;
}

/** Steps that record each call and wait until the test settles them. */
class ScriptedSteps implements ResyncSteps {
  readonly calls: string[] = [];
  readonly pending: Pending[] = [];
  isConnected = true;

  private wait(step: string): Promise<void> {
    this.calls.push(step);
    return new Promise((resolve, reject) => this.pending.push({ step, resolve, reject }));
  }

  heartbeat(): Promise<void> {
    return this.wait('heartbeat');
  }
  subscribeNode(): Promise<void> {
    return this.wait('subscribeNode');
  }
  async syncRooms(full: boolean): Promise<number> {
    await this.wait(full ? 'audit' : 'syncRooms');
    return 2;
  }
  dropLeftRooms(): Promise<void> {
    return this.wait('dropLeftRooms');
  }
  connected(): boolean {
    return this.isConnected;
  }
  /** Every change of availability, in order. */
  readonly availability: boolean[] = [];
  availabilityChanged(available: boolean): void {
    this.availability.push(available);
  }

  /** Settles the oldest pending step (it must be `step`), then lets the resync go on. */
  async next(step: string, error?: Error): Promise<void> {
    const p = this.pending.shift();
    expect(p?.step).toBe(step);
    if (error) p!.reject(error);
    else p!.resolve();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }

  /** Runs a whole resync through. */
  async all(): Promise<void> {
    for (const step of ['heartbeat', 'subscribeNode', 'syncRooms', 'dropLeftRooms']) await this.next(step);
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ClusterResync', () => {
  test('runs the steps in order and is available only once they are all done', async () => {
    const steps = new ScriptedSteps();
    const sync = new ClusterResync(steps, 60_000, silentLog);
    expect(sync.available).toBe(false);
    sync.resync('connected');
    await steps.next('heartbeat');
    await steps.next('subscribeNode');
    await steps.next('syncRooms');
    expect(sync.available).toBe(false);
    await steps.next('dropLeftRooms');
    expect(sync.available).toBe(true);
    expect(steps.calls).toEqual(['heartbeat', 'subscribeNode', 'syncRooms', 'dropLeftRooms']);
    sync.stop();
  });

  test('a resync asked for while one runs runs once after it, however often it was asked', async () => {
    const steps = new ScriptedSteps();
    const sync = new ClusterResync(steps, 60_000, silentLog);
    sync.resync('connected');
    sync.resync('room missing');
    sync.resync('room missing');
    await steps.all();
    await steps.all();
    expect(steps.pending).toEqual([]);
    expect(steps.calls.filter((c) => c === 'heartbeat')).toHaveLength(2);
    sync.stop();
  });

  test('lost(): not available until the next resync is done; says whether it was', async () => {
    const steps = new ScriptedSteps();
    const sync = new ClusterResync(steps, 60_000, silentLog);
    sync.resync('connected');
    await steps.all();
    expect(sync.lost()).toBe(true);
    expect(sync.available).toBe(false);
    expect(sync.lost()).toBe(false);
    sync.stop();
  });

  test('taken for dead (still serving): available throughout; after a lost connection: not', async () => {
    const steps = new ScriptedSteps();
    const sync = new ClusterResync(steps, 60_000, silentLog);
    sync.resync('connected');
    await steps.all();
    sync.resync('taken for dead', true);
    await steps.next('heartbeat');
    expect(sync.available).toBe(true);
    await steps.next('subscribeNode');
    await steps.next('syncRooms');
    await steps.next('dropLeftRooms');
    expect(sync.available).toBe(true);
    sync.resync('connected');
    expect(sync.available).toBe(false);
    await steps.all();
    expect(sync.available).toBe(true);
    // Told of each change once (what /readyz and chat_redis_up follow): none for the resync that kept serving.
    expect(steps.availability).toEqual([true, false, true]);
    sync.stop();
  });

  test('a failed step leaves the node unavailable; it tries again at once only while connected', async () => {
    const steps = new ScriptedSteps();
    const sync = new ClusterResync(steps, 60_000, silentLog);
    sync.resync('connected');
    await steps.next('heartbeat');
    await steps.next('subscribeNode', new Error('connection lost'));
    expect(sync.available).toBe(false);
    // Still connected: a retry starts by itself.
    await steps.all();
    expect(sync.available).toBe(true);
    steps.isConnected = false;
    sync.lost();
    sync.resync('connected');
    await steps.next('heartbeat', new Error('connection lost'));
    expect(steps.pending).toEqual([]); // not connected: the next ready event starts one
    expect(sync.available).toBe(false);
    sync.stop();
  });

  test('one audit (a full sync) a node TTL after the node is in step; none once it is unavailable or stopped', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const steps = new ScriptedSteps();
    const sync = new ClusterResync(steps, 20_000, silentLog);
    sync.resync('connected');
    await steps.all();
    vi.advanceTimersByTime(19_999);
    expect(steps.pending).toEqual([]);
    vi.advanceTimersByTime(1);
    await steps.next('audit');
    // In step again and then lost before the audit: no audit.
    sync.resync('room missing', true);
    await steps.all();
    sync.lost();
    vi.advanceTimersByTime(20_000);
    expect(steps.pending).toEqual([]);
    sync.resync('connected');
    await steps.all();
    sync.stop();
    vi.advanceTimersByTime(20_000);
    expect(steps.pending).toEqual([]);
    sync.resync('connected');
    expect(steps.pending).toEqual([]); // stopped: no more resyncs
  });
});
