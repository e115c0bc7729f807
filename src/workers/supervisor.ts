/**
 * The main thread: starts the worker pool on one port, carries relay batches
 * between workers and the sequencer (relay/main-end.ts), restarts a worker that dies, and shuts the pool
 * down on request. It holds no client sockets.
 */
import { Worker } from 'node:worker_threads';
import { clearWorkerCounts, createSharedCounts, type SharedCounts } from '../admission/connection-limits.js';
import { newWorkerCounts, type WorkerCounts, type WorkerSnapshot } from '../metrics/counters.js';
import { addCounts, HostMetrics } from '../metrics/host-metrics.js';
import { LagMonitor } from '../metrics/lag.js';
import type { Config } from '../config.js';
import { findFreePort } from '../free-port.js';
import type { Logger } from '../log.js';
import type { RelayBatch } from '../relay/batch.js';
import type { MainEnd } from '../relay/main-end.js';
import type { FromWorker, ToWorker, WorkerData } from './messages.js';

const WORKER_URL = new URL('./worker.js', import.meta.url);
/** How many times port 0 is retried when the free port found is taken before the workers bind it. */
const FREE_PORT_ATTEMPTS = 5;
/** Restarts within this window count towards the crash-loop backoff. */
const RESTART_WINDOW_MS = 10_000;
/** A worker that does not report its counts within this long is left out of a scrape. */
const SCRAPE_TIMEOUT_MS = 1000;

interface Slot {
  readonly index: number;
  worker: Worker | null;
  recentRestarts: number[];
  /** The latest counts the current incarnation reported. */
  latest: WorkerSnapshot | null;
}

/** A scrape waiting for these worker slots to report (each report lands in its slot's `latest`). */
interface Scrape {
  readonly waiting: Set<number>;
  readonly done: () => void;
}

export class Supervisor {
  /** The main thread's end of the relay: every worker's batches go there, and its answers come back. */
  private readonly relay: MainEnd;
  private readonly slots: Slot[] = [];
  private port = 0;
  /** The workerman-chat listener's port once chosen (--compat-port; a free one for 0); -1: off. */
  private compatPortBound = -1;
  private incarnations = 0;
  private stopping = false;
  private readonly shared: SharedCounts;
  private readonly metrics = new HostMetrics();
  private readonly mainLag = new LagMonitor();
  /** Counts of worker incarnations that have ended. */
  private retired: WorkerCounts = newWorkerCounts();
  private readonly scrapes = new Map<number, Scrape>();
  private nextScrape = 1;

  /** `nodeId` prefixes every connection id, so that ids are unique across the nodes of a cluster. */
  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    relay: MainEnd,
    private readonly nodeId: string,
  ) {
    this.relay = relay;
    for (let index = 0; index < config.workers; index++) this.slots.push({ index, worker: null, recentRestarts: [], latest: null });
    this.shared = createSharedCounts(config.workers);
  }

  /** Starts every worker on the configured port; resolves with the port they listen on. */
  async start(): Promise<number> {
    await this.relay.start();
    const [first, ...rest] = this.slots as [Slot, ...Slot[]];
    // uSockets sets SO_REUSEPORT only for a non-zero port, so port 0 becomes a
    // concrete free port first; the first worker binds it, the rest share it.
    for (let attempt = 1; ; attempt++) {
      const port = this.config.port === 0 ? await findFreePort(this.config.host) : this.config.port;
      this.compatPortBound = await this.chooseCompatPort(port);
      const bound = await this.spawn(first, port, false);
      if (bound !== false) {
        this.port = bound;
        break;
      }
      if ((this.config.port !== 0 && this.config.compatPort !== 0) || attempt >= FREE_PORT_ATTEMPTS) {
        const compat = this.compatPortBound >= 0 ? ` or ${this.config.host}:${this.compatPortBound} (--compat-port)` : '';
        throw new Error(`cannot listen on ${this.config.host}:${port}${compat} (in use by another program, or not an address of this machine)`);
      }
    }
    const others = await Promise.all(rest.map((slot) => this.spawn(slot, this.port, false)));
    if (others.some((bound) => bound === false)) {
      await this.shutdown();
      throw new Error(`a worker could not listen on ${this.config.host}:${this.port} beside the first one`);
    }
    return this.port;
  }

  /** The port the workerman-chat listener of every worker listens on; null when --compat-port is off. */
  get compatPort(): number | null {
    return this.compatPortBound >= 0 ? this.compatPortBound : null;
  }

  /**
   * --compat-port as a concrete port (uSockets sets SO_REUSEPORT only for a non-zero one):
   * for 0 a free port other than the main one, which both apps of a worker would otherwise
   * share, splitting its connections between the protocols.
   */
  private async chooseCompatPort(mainPort: number): Promise<number> {
    if (this.config.compatPort !== 0) return this.config.compatPort;
    for (;;) {
      const port = await findFreePort(this.config.host);
      if (port !== mainPort) return port;
    }
  }

  /** Closes every worker's sockets (1001) and waits for every worker to exit. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    const exits = this.slots.map((slot) => {
      const worker = slot.worker;
      if (!worker) return Promise.resolve();
      return new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.postMessage({ kind: 'shutdown' } satisfies ToWorker);
      });
    });
    await Promise.all(exits);
    await this.relay.stop();
    this.mainLag.stop();
  }

  /** Resolves with the port, false when the port could not be bound; rejects when the worker failed otherwise. */
  private spawn(slot: Slot, port: number, isRestart: boolean): Promise<number | false> {
    const incarnation = ++this.incarnations;
    const data: WorkerData = {
      index: slot.index,
      incarnation,
      nodeId: this.nodeId,
      port,
      compatPort: this.compatPortBound,
      config: this.config,
      shared: this.shared,
    };
    // A small young generation: a worker's garbage is short-lived, and V8's default lets each
    // thread's new space grow to 32 MB, which is most of the host's memory at rest.
    const resourceLimits = this.config.workerYoungMb > 0 ? { maxYoungGenerationSizeMb: this.config.workerYoungMb } : {};
    const worker = new Worker(WORKER_URL, { workerData: data, resourceLimits });
    slot.worker = worker;
    this.relay.attach(slot.index, incarnation, worker, isRestart);

    return new Promise((resolve, reject) => {
      let settled = false;
      let listened = false;
      let crashedWith: string | null = null;
      const settle = (value: number | false): void => {
        if (!settled) {
          settled = true;
          if (value === false && crashedWith !== null) reject(new Error(`worker ${slot.index} failed to start: ${crashedWith.split('\n')[0]}`));
          else resolve(value);
        }
      };
      worker.on('message', (message: FromWorker) => {
        switch (message.kind) {
          case 'relay':
            try {
              this.relay.receive(slot.index, message as RelayBatch);
            } catch (error) {
              // A bug in the sequencer must not take every worker's clients down with the main thread:
              // say so loudly and keep serving the next batches.
              this.log.error({ err: error, worker: slot.index }, 'sequencer failed on a batch; the rest of that batch is lost');
            }
            break;
          case 'listening':
            listened = true;
            if (isRestart) this.log.info({ worker: slot.index, incarnation }, 'worker restarted');
            settle(message.port);
            break;
          case 'listen-failed':
            // Settled by 'exit' instead: a worker whose main port listened still holds uWS handles until it
            // has closed them, and a host that stopped (process.exit) meanwhile would abort in that worker.
            break;
          case 'crashed':
            crashedWith = message.error;
            this.log.error({ worker: slot.index, incarnation, error: message.error }, 'worker crashed');
            break;
          case 'metrics-request':
            this.scrape().then(
              (text) => worker.postMessage({ kind: 'metrics-text', id: message.id, text } satisfies ToWorker),
              (error: unknown) => {
                this.log.error({ err: error }, 'metrics scrape failed');
                worker.postMessage({ kind: 'metrics-text', id: message.id, text: '' } satisfies ToWorker);
              },
            );
            break;
          case 'metrics-snapshot':
            slot.latest = message.snapshot;
            this.scrapeAnswered(message.id, slot.index);
            break;
          case 'final-counts':
            slot.latest = message.snapshot;
            break;
        }
      });
      worker.on('error', (error) => {
        // Reached only if the worker's own crash handler could not run (e.g. a failure while loading).
        crashedWith ??= error.message;
        this.log.error({ worker: slot.index, incarnation, err: error }, 'worker thread error');
      });
      worker.on('exit', (code) => {
        this.relay.detach(slot.index);
        if (slot.worker === worker) slot.worker = null;
        this.retire(slot);
        settle(false);
        if (this.stopping || code === 0 || !listened) {
          this.log.info({ worker: slot.index, incarnation, code }, 'worker exited');
          return;
        }
        this.restart(slot, code);
      });
    });
  }

  /** Keeps the counts of an ended incarnation and forgets its connections. */
  private retire(slot: Slot): void {
    if (slot.latest) this.retired = addCounts(this.retired, { ...slot.latest, connections: 0 });
    slot.latest = null;
    clearWorkerCounts(this.shared, slot.index);
    for (const scrape of this.scrapes.values()) {
      scrape.waiting.delete(slot.index);
      if (scrape.waiting.size === 0) scrape.done();
    }
  }

  /** Asks every live worker for its counts and renders /metrics. */
  private async scrape(): Promise<string> {
    const id = this.nextScrape++;
    const live = this.slots.filter((slot) => slot.worker !== null);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(), SCRAPE_TIMEOUT_MS);
      const finish = (): void => {
        clearTimeout(timer);
        this.scrapes.delete(id);
        resolve();
      };
      this.scrapes.set(id, { waiting: new Set(live.map((slot) => slot.index)), done: finish });
      for (const slot of live) slot.worker!.postMessage({ kind: 'metrics-collect', id } satisfies ToWorker);
      if (live.length === 0) finish();
    });
    // Every live worker as it last reported: just now, or before, if it did not answer in time.
    const snapshots = new Map<number, WorkerSnapshot>();
    for (const slot of this.slots) if (slot.worker && slot.latest) snapshots.set(slot.index, slot.latest);
    return this.metrics.render({
      workers: snapshots,
      retired: this.retired,
      hub: { ...this.relay.sequencer.counts, ...this.relay.counts },
      links: this.relay.linkCounts(),
      rooms: this.relay.sequencer.roomCount,
      workerRestarts: this.relay.workerRestarts,
      mainLag: this.mainLag.window(),
      redis: this.relay.sequencer.redisHealth,
    });
  }

  private scrapeAnswered(id: number, index: number): void {
    const scrape = this.scrapes.get(id);
    if (!scrape) return;
    scrape.waiting.delete(index);
    if (scrape.waiting.size === 0) scrape.done();
  }

  private restart(slot: Slot, code: number): void {
    const now = Date.now();
    slot.recentRestarts = slot.recentRestarts.filter((t) => now - t < RESTART_WINDOW_MS);
    slot.recentRestarts.push(now);
    // Immediately at first; a worker that keeps dying waits longer each time (at most 5 s).
    const delay = slot.recentRestarts.length <= 3 ? 0 : Math.min(5000, 250 * 2 ** (slot.recentRestarts.length - 3));
    this.log.warn({ worker: slot.index, code, delayMs: delay }, 'restarting worker');
    setTimeout(() => {
      if (this.stopping) return;
      this.spawn(slot, this.port, true).then(
        (port) => {
          if (port === false) this.log.error({ worker: slot.index }, 'restarted worker could not listen');
        },
        (error: unknown) => this.log.error({ err: error, worker: slot.index }, 'restarting worker failed'),
      );
    }, delay);
  }
}
