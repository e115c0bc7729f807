/**
 * The main thread: starts the worker pool on one port, carries relay batches
 * between workers and the hub, restarts a worker that dies, and shuts the pool
 * down on request. It holds no client sockets.
 */
import { Worker } from 'node:worker_threads';
import type { Sequencer } from '../broker/broker.js';
import type { RelayBatch } from '../broker/relay.js';
import type { Config } from '../config.js';
import { findFreePort } from '../free-port.js';
import type { Logger } from '../log.js';
import type { FromWorker, ToWorker, WorkerData } from './messages.js';

const WORKER_URL = new URL('./worker.js', import.meta.url);
/** How many times port 0 is retried when the free port found is taken before the workers bind it. */
const FREE_PORT_ATTEMPTS = 5;
/** Restarts within this window count towards the crash-loop backoff. */
const RESTART_WINDOW_MS = 10_000;

interface Slot {
  readonly index: number;
  worker: Worker | null;
  recentRestarts: number[];
}

export class Supervisor {
  private readonly sequencer: Sequencer;
  private readonly slots: Slot[] = [];
  private port = 0;
  private incarnations = 0;
  private stopping = false;

  /** `nodeId` prefixes every connection id, so that ids are unique across the nodes of a cluster. */
  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    sequencer: Sequencer,
    private readonly nodeId: string,
  ) {
    this.sequencer = sequencer;
    for (let index = 0; index < config.workers; index++) this.slots.push({ index, worker: null, recentRestarts: [] });
  }

  /** Starts every worker on the configured port; resolves with the port they listen on. */
  async start(): Promise<number> {
    await this.sequencer.start();
    const [first, ...rest] = this.slots as [Slot, ...Slot[]];
    // uSockets sets SO_REUSEPORT only for a non-zero port, so port 0 becomes a
    // concrete free port first; the first worker binds it, the rest share it.
    for (let attempt = 1; ; attempt++) {
      const port = this.config.port === 0 ? await findFreePort(this.config.host) : this.config.port;
      const bound = await this.spawn(first, port, false);
      if (bound !== false) {
        this.port = bound;
        break;
      }
      if (this.config.port !== 0 || attempt >= FREE_PORT_ATTEMPTS) {
        throw new Error(`cannot listen on ${this.config.host}:${port} (in use by another program, or not an address of this machine)`);
      }
    }
    const others = await Promise.all(rest.map((slot) => this.spawn(slot, this.port, false)));
    if (others.some((bound) => bound === false)) {
      await this.shutdown();
      throw new Error(`a worker could not listen on ${this.config.host}:${this.port} beside the first one`);
    }
    return this.port;
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
    await this.sequencer.stop();
  }

  /** Resolves with the port, false when the port could not be bound; rejects when the worker failed otherwise. */
  private spawn(slot: Slot, port: number, isRestart: boolean): Promise<number | false> {
    const incarnation = ++this.incarnations;
    const data: WorkerData = { index: slot.index, incarnation, nodeId: this.nodeId, port, config: this.config };
    const worker = new Worker(WORKER_URL, { workerData: data });
    slot.worker = worker;
    this.sequencer.attach(slot.index, incarnation, worker, isRestart);

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
              this.sequencer.receive(slot.index, message as RelayBatch);
            } catch (error) {
              // A bug in the sequencer must not take every worker's clients down with the main thread:
              // say so loudly and keep serving the next batches.
              this.log.error({ err: error, worker: slot.index }, 'sequencer failed on a batch; the rest of that batch is lost');
            }
            break;
          case 'listening':
            listened = true;
            settle(message.port);
            break;
          case 'listen-failed':
            settle(false);
            break;
          case 'crashed':
            crashedWith = message.error;
            this.log.error({ worker: slot.index, incarnation, error: message.error }, 'worker crashed');
            break;
        }
      });
      worker.on('error', (error) => {
        // Reached only if the worker's own crash handler could not run (e.g. a failure while loading).
        crashedWith ??= error.message;
        this.log.error({ worker: slot.index, incarnation, err: error }, 'worker thread error');
      });
      worker.on('exit', (code) => {
        this.sequencer.detach(slot.index);
        if (slot.worker === worker) slot.worker = null;
        settle(false);
        if (this.stopping || code === 0 || !listened) {
          this.log.info({ worker: slot.index, incarnation, code }, 'worker exited');
          return;
        }
        this.restart(slot, code);
      });
    });
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
          else this.log.info({ worker: slot.index }, 'worker restarted');
        },
        (error: unknown) => this.log.error({ err: error, worker: slot.index }, 'restarting worker failed'),
      );
    }, delay);
  }
}
