/**
 * The main thread's end of the relay. It knows which workers are attached and which
 * worker holds each connection, carries every worker batch to the Sequencer it holds
 * (op by op, in order), and carries the sequencer's answers back: one BatchWriter per
 * worker, flushed once per turn of the event loop as one postMessage with one
 * transferred buffer. It also answers HTTP's questions (rooms, stats) and pushes the
 * Directory to every worker when it changes: at most every DIRECTORY_INTERVAL_MS when
 * rooms, members or connections change, at most every DIRECTORY_SEQ_INTERVAL_MS when
 * only messages moved rooms' head seqs (a rebuild sorts every room).
 */
import type { Logger } from 'pino';
import type { HubCounts } from '../metrics/counters.js';
import {
  SequencerUnavailable,
  type ClusterStats,
  type Directory,
  type JoinRequest,
  type MembersRequest,
  type QueryKind,
  type SayRequest,
  type Sequencer,
  type SequencerOutput,
} from '../sequencer/sequencer.js';
import {
  BatchWriter,
  dispatchWorkerBatch,
  type RelayBatch,
  type WorkerRequests,
  writeDirectory,
  writeJoined,
  writeJoinFailed,
  writePublish,
  writeQueryResult,
  writeQueryUnavailable,
  writeSend,
  writeRemoved,
  writeSendInRoom,
} from './batch.js';

/** The rooms the Directory lists, most members first: every worker gets a copy of it each time. */
export const DIRECTORY_ROOMS = 1000;
/** The longest the Directory lags behind rooms, members and connections while they change. */
export const DIRECTORY_INTERVAL_MS = 100;
/**
 * The longest it lags behind messages alone (a room's headSeq): every message moves one,
 * and rebuilding the Directory sorts every room, so traffic alone rebuilds it seldom.
 */
export const DIRECTORY_SEQ_INTERVAL_MS = 1000;

export interface WorkerPort {
  postMessage(value: unknown, transfer?: ArrayBuffer[]): void;
}

/** Relay batches exchanged with each worker slot, for /metrics. */
export type LinkCounts = Pick<HubCounts, 'relayBatchesReceived' | 'relayBatchesSent'>;

interface WorkerLink {
  readonly index: number;
  readonly incarnation: number;
  readonly port: WorkerPort;
  readonly out: BatchWriter;
  connections: number;
  /** Relay batches sent to / received from this incarnation (for the queue-depth metric). */
  sent: number;
  received: number;
}

export class MainEnd implements WorkerRequests, SequencerOutput {
  /** Totals for /metrics (read by the supervisor at scrape time). */
  readonly counts: LinkCounts = { relayBatchesReceived: {}, relayBatchesSent: {} };
  private readonly links = new Map<number, WorkerLink>();
  /** Which worker holds each open connection. */
  private readonly connectionWorker = new Map<string, number>();
  private restarts = 0;
  private flushScheduled = false;
  /** Directory bookkeeping: when the pending change is due (Infinity: nothing pending), and its timer. */
  private directoryDueAt = Infinity;
  private lastDirectoryPush = -Infinity;
  private directoryTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly sequencer: Sequencer,
    private readonly log: Logger,
  ) {}

  /** Starts the sequencer; the host listens once this resolves. */
  start(): Promise<void> {
    return this.sequencer.start(this);
  }

  /** After every worker has exited. */
  async stop(): Promise<void> {
    if (this.directoryTimer) clearTimeout(this.directoryTimer);
    this.directoryTimer = null;
    await this.sequencer.stop();
  }

  // ------------------------------------------------------------ workers

  /** A worker (re)started: `port` reaches it. */
  attach(index: number, incarnation: number, port: WorkerPort, isRestart: boolean): void {
    if (isRestart) this.restarts++;
    this.links.set(index, { index, incarnation, port, out: new BatchWriter(), connections: 0, sent: 0, received: 0 });
    // A new worker gets the directory at once; the others see the new worker in it.
    this.lastDirectoryPush = -Infinity;
    this.changed();
  }

  /** A worker stopped: its connections leave every room, with member-left frames to the others. */
  detach(index: number): void {
    this.links.delete(index);
    const gone: string[] = [];
    for (const [connection, worker] of this.connectionWorker) if (worker === index) gone.push(connection);
    for (const connection of gone) this.close(connection);
    this.changed();
    if (gone.length > 0) this.log.info({ worker: index, connections: gone.length }, 'removed the connections of a stopped worker');
  }

  /** Carries out one batch from worker `from`. */
  receive(from: number, batch: RelayBatch): void {
    const link = this.links.get(from);
    if (link) link.received++;
    this.counts.relayBatchesReceived[from] = (this.counts.relayBatchesReceived[from] ?? 0) + 1;
    try {
      const result = dispatchWorkerBatch(from, batch, this);
      // A batch we cannot parse means a bug in the relay, not client input: the rest was dropped, loudly.
      if (!result.ok) this.log.error({ worker: from, op: result.op }, 'unknown relay op; rest of batch dropped');
    } finally {
      this.sequencer.endOfBatch();
    }
  }

  /** Per worker slot: relay batches exchanged with its current incarnation. */
  linkCounts(): Map<number, { sent: number; received: number }> {
    return new Map([...this.links.values()].map((l) => [l.index, { sent: l.sent, received: l.received }]));
  }

  get workerRestarts(): number {
    return this.restarts;
  }

  // ------------------------------------------------------------ WorkerRequests: a worker's ops, in order

  open(worker: number, connection: string): void {
    this.connectionWorker.set(connection, worker);
    const link = this.links.get(worker);
    if (link) link.connections++;
    this.changed();
  }

  close(connection: string): void {
    const worker = this.connectionWorker.get(connection);
    if (worker === undefined) return;
    this.connectionWorker.delete(connection);
    const link = this.links.get(worker);
    if (link) link.connections--;
    this.sequencer.close(connection);
    this.changed();
  }

  join(connection: string, attempt: number, request: JoinRequest): void {
    this.sequencer.join(connection, attempt, request);
    this.changed();
  }

  leave(connection: string, room: string): void {
    this.sequencer.leave(connection, room);
    this.changed();
  }

  say(connection: string, request: SayRequest): void {
    this.sequencer.say(connection, request);
    this.changedAtMost(DIRECTORY_SEQ_INTERVAL_MS);
  }

  members(connection: string, request: MembersRequest): void {
    this.sequencer.members(connection, request);
  }

  query(worker: number, queryId: number, kind: QueryKind, argument: string): void {
    switch (kind) {
      case 'rooms':
        return this.answer(worker, queryId, this.sequencer.rooms());
      case 'stats':
        return this.answer(worker, queryId, this.stats());
      case 'room':
        this.sequencer.room(argument).then(
          (detail) => this.answer(worker, queryId, detail),
          (error: unknown) => {
            // The worker's request must get an answer either way: 503 with the reason.
            const unavailable = error instanceof SequencerUnavailable;
            if (unavailable) this.log.warn({ room: argument, err: error.message }, 'room query failed: the sequencer is unavailable');
            else this.log.error({ room: argument, err: error }, 'room query failed');
            const out = this.outFor(worker);
            if (out) writeQueryUnavailable(out, queryId, unavailable ? error.message : 'the room could not be read; retry shortly');
          },
        );
    }
  }

  /** This node's workers and connections, the rooms the sequencer counts, and (a cluster node) its link to Redis. */
  stats(): ClusterStats {
    const perWorker = [...this.links.values()]
      .map((l) => ({ index: l.index, incarnation: l.incarnation, connections: l.connections }))
      .sort((a, b) => a.index - b.index);
    const redis = this.sequencer.redisHealth;
    return {
      workers: this.links.size,
      connections: this.connectionWorker.size,
      rooms: this.sequencer.roomCount,
      workerRestarts: this.restarts,
      perWorker,
      // Workers answer /readyz from this at once: the Directory is pushed when it changes.
      ...(redis ? { redis } : {}),
    };
  }

  // ------------------------------------------------------------ SequencerOutput: answers, batched per worker

  workerOf(connection: string): number | undefined {
    return this.connectionWorker.get(connection);
  }

  publish(worker: number, room: string, frame: Uint8Array): void {
    const out = this.outFor(worker);
    if (out) writePublish(out, room, frame);
  }

  send(connection: string, frame: Uint8Array): void {
    const out = this.outForConnection(connection);
    if (out) writeSend(out, connection, frame);
  }

  sendInRoom(connection: string, room: string, frame: Uint8Array): void {
    const out = this.outForConnection(connection);
    if (out) writeSendInRoom(out, connection, room, frame);
  }

  joined(connection: string, attempt: number, room: string, frame: Uint8Array): void {
    const out = this.outForConnection(connection);
    if (out) writeJoined(out, connection, attempt, room, frame);
  }

  joinFailed(connection: string, attempt: number, room: string, frame: Uint8Array): void {
    const out = this.outForConnection(connection);
    if (out) writeJoinFailed(out, connection, attempt, room, frame);
  }

  removed(connection: string, room: string, frame: Uint8Array): void {
    const out = this.outForConnection(connection);
    if (out) writeRemoved(out, connection, room, frame);
  }

  /** Rooms, members or connections may have changed: push the directory with the next flush, or once the interval is up. */
  changed(): void {
    this.changedAtMost(DIRECTORY_INTERVAL_MS);
  }

  /** The directory is stale: push it no later than `interval` after the last push (an earlier deadline stands). */
  private changedAtMost(interval: number): void {
    const due = this.lastDirectoryPush + interval;
    if (due >= this.directoryDueAt) return;
    this.directoryDueAt = due;
    if (due <= performance.now()) this.scheduleFlush();
    else this.armDirectoryTimer();
  }

  /** A flush at directoryDueAt, in place of a timer set for a later one (a timer may fire a little early: the flush arms it again). */
  private armDirectoryTimer(): void {
    if (this.directoryTimer) clearTimeout(this.directoryTimer);
    this.directoryTimer = setTimeout(
      () => {
        this.directoryTimer = null;
        this.scheduleFlush();
      },
      Math.max(1, Math.ceil(this.directoryDueAt - performance.now())),
    );
    this.directoryTimer.unref();
  }

  // ------------------------------------------------------------ flushing

  private answer(worker: number, queryId: number, result: unknown): void {
    const out = this.outFor(worker);
    if (out) writeQueryResult(out, queryId, result);
  }

  private outForConnection(connection: string): BatchWriter | undefined {
    const worker = this.connectionWorker.get(connection);
    return worker === undefined ? undefined : this.outFor(worker);
  }

  private outFor(worker: number): BatchWriter | undefined {
    const link = this.links.get(worker);
    if (!link) return undefined;
    this.scheduleFlush();
    return link.out;
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    // Nothing pending (the usual case while only messages flow after a push): no clock read.
    const now = this.directoryDueAt === Infinity ? -Infinity : performance.now();
    if (this.directoryDueAt <= now) {
      // The busiest rooms only: what /api/rooms pages through; a room past them is still found by name (/api/rooms/:room).
      const directory: Directory = { stats: this.stats(), rooms: this.sequencer.rooms().slice(0, DIRECTORY_ROOMS) };
      this.directoryDueAt = Infinity;
      if (this.directoryTimer) clearTimeout(this.directoryTimer);
      this.directoryTimer = null;
      this.lastDirectoryPush = now;
      for (const link of this.links.values()) writeDirectory(link.out, directory);
    } else if (this.directoryDueAt !== Infinity && !this.directoryTimer) {
      this.armDirectoryTimer();
    }
    for (const link of this.links.values()) {
      if (link.out.empty) continue;
      const batch = link.out.take();
      link.sent++;
      this.counts.relayBatchesSent[link.index] = (this.counts.relayBatchesSent[link.index] ?? 0) + 1;
      link.port.postMessage(batch, batch.buffer ? [batch.buffer] : []);
    }
  }
}
