/**
 * The main thread's half of the relay, shared by every sequencer (the in-process
 * Hub and the cluster's RedisHub): which workers are attached, which worker holds
 * each connection, one BatchWriter per worker flushed once per event-loop turn,
 * and the Directory pushed to every worker when it changes (at most every
 * DIRECTORY_INTERVAL_MS).
 */
import type { Logger } from 'pino';
import { countError, newHubCounts, type HubCounts } from '../metrics/counters.js';
import { encodeError, type ErrorCodeName } from '../protocol/index.js';
import { DIRECTORY_INTERVAL_MS, type ClusterStats, type Directory, type Sequencer } from './broker.js';
import { BatchWriter, dispatchWorkerBatch, HubOp, type QueryKind, type RelayBatch, type WorkerRequests } from './relay.js';

export interface WorkerPort {
  postMessage(value: unknown, transfer?: ArrayBuffer[]): void;
}

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

export class WorkerLinks {
  private readonly links = new Map<number, WorkerLink>();
  /** Which worker holds each open connection. */
  private readonly connectionWorker = new Map<string, number>();
  private restarts = 0;
  private flushScheduled = false;
  /** Directory bookkeeping: pushed with the next flush when changed, at most every DIRECTORY_INTERVAL_MS. */
  private directoryChanged = true;
  private lastDirectoryPush = -Infinity;
  private directoryTimer: NodeJS.Timeout | null = null;
  private directoryDue = false;

  /** `directory` builds the snapshot that is pushed to every worker; relay batches are counted in `counts`. */
  constructor(
    private readonly directory: () => Directory,
    private readonly counts: HubCounts,
  ) {}

  /** A worker (re)started: `port` reaches it. */
  attach(index: number, incarnation: number, port: WorkerPort, isRestart: boolean): void {
    if (isRestart) this.restarts++;
    this.links.set(index, { index, incarnation, port, out: new BatchWriter(), connections: 0, sent: 0, received: 0 });
    // A new worker gets the directory at once; the others see the new worker in it.
    this.lastDirectoryPush = -Infinity;
    this.changed();
  }

  /** A worker stopped: forgets it and returns the connections it held (still registered; close them). */
  detach(index: number): string[] {
    this.links.delete(index);
    const gone: string[] = [];
    for (const [connection, worker] of this.connectionWorker) if (worker === index) gone.push(connection);
    this.changed();
    return gone;
  }

  stop(): void {
    if (this.directoryTimer) clearTimeout(this.directoryTimer);
  }

  open(worker: number, connection: string): void {
    this.connectionWorker.set(connection, worker);
    const link = this.links.get(worker);
    if (link) link.connections++;
  }

  /** Forgets a connection; returns the worker that held it, or undefined when it was not open. */
  close(connection: string): number | undefined {
    const worker = this.connectionWorker.get(connection);
    if (worker === undefined) return undefined;
    this.connectionWorker.delete(connection);
    const link = this.links.get(worker);
    if (link) link.connections--;
    return worker;
  }

  /** A batch from `worker` arrived. */
  received(worker: number): void {
    const link = this.links.get(worker);
    if (link) link.received++;
    this.counts.relayBatchesReceived[worker] = (this.counts.relayBatchesReceived[worker] ?? 0) + 1;
  }

  /** Per worker slot: relay batches exchanged with its current incarnation. */
  linkCounts(): Map<number, { sent: number; received: number }> {
    return new Map([...this.links.values()].map((l) => [l.index, { sent: l.sent, received: l.received }]));
  }

  get workerRestarts(): number {
    return this.restarts;
  }

  workerOf(connection: string): number | undefined {
    return this.connectionWorker.get(connection);
  }

  /** Room traffic for `worker`'s members of `room` (the same frame object for every worker: packed once per batch). */
  publish(worker: number, room: string, frame: Uint8Array): void {
    const out = this.outFor(worker);
    if (!out) return;
    out.push(HubOp.Publish, room);
    out.pushFrame(frame);
  }

  send(worker: number, connection: string, frame: Uint8Array): void {
    const out = this.outFor(worker);
    if (!out) return;
    out.push(HubOp.Send, connection);
    out.pushFrame(frame);
  }

  joined(worker: number, connection: string, attempt: number, room: string, frame: Uint8Array): void {
    const out = this.outFor(worker);
    if (!out) return;
    out.push(HubOp.Joined, connection, attempt, room);
    out.pushFrame(frame);
  }

  joinFailed(worker: number, connection: string, attempt: number, room: string, frame: Uint8Array): void {
    const out = this.outFor(worker);
    if (!out) return;
    out.push(HubOp.JoinFailed, connection, attempt, room);
    out.pushFrame(frame);
  }

  queryResult(worker: number, queryId: number, result: unknown): void {
    this.outFor(worker)?.push(HubOp.QueryResult, queryId, result);
  }

  /** The query cannot be answered now; the worker's promise rejects with BrokerUnavailable. */
  queryUnavailable(worker: number, queryId: number, message: string): void {
    this.outFor(worker)?.push(HubOp.QueryUnavailable, queryId, message);
  }

  /** This node's workers and connections; `rooms` is whatever the sequencer counts. */
  stats(rooms: number): ClusterStats {
    const perWorker = [...this.links.values()]
      .map((l) => ({ index: l.index, incarnation: l.incarnation, connections: l.connections }))
      .sort((a, b) => a.index - b.index);
    return { workers: this.links.size, connections: this.connectionWorker.size, rooms, workerRestarts: this.restarts, perWorker };
  }

  /** Something the directory shows may have changed: push it with the next flush, or once the interval is up. */
  changed(): void {
    this.directoryChanged = true;
    if (this.directoryTimer) return;
    const wait = this.lastDirectoryPush + DIRECTORY_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      this.directoryDue = true;
      this.scheduleFlush();
      return;
    }
    this.directoryTimer = setTimeout(() => {
      this.directoryTimer = null;
      this.directoryDue = true;
      this.scheduleFlush();
    }, wait);
    this.directoryTimer.unref();
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
    if (this.directoryChanged && this.directoryDue) {
      const directory = this.directory();
      this.directoryChanged = false;
      this.directoryDue = false;
      this.lastDirectoryPush = performance.now();
      for (const link of this.links.values()) link.out.push(HubOp.Directory, directory);
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

/**
 * What every main-thread sequencer shares: the worker links, batches carried out op by
 * op, and a stopped worker's or closed connection's rooms left. Subclasses own the rooms.
 */
export abstract class RelaySequencer implements Sequencer, WorkerRequests {
  /** Totals for /metrics (read by the supervisor at scrape time). */
  readonly counts = newHubCounts();
  protected readonly links = new WorkerLinks(() => this.directory(), this.counts);

  constructor(protected readonly log: Logger) {}

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;
  abstract join(connection: string, attempt: number, requestId: number, room: string, nickname: string, since: number, epoch: number): void;
  abstract leave(connection: string, room: string): void;
  abstract say(connection: string, requestId: number, room: string, text: string, to: string): void;
  abstract query(worker: number, queryId: number, kind: QueryKind, argument: string): void;
  /** The snapshot pushed to every worker for HTTP. */
  protected abstract directory(): Directory;
  /** The rooms a connection is in (or, for a sequencer with joins in flight, joining). */
  protected abstract roomsOf(connection: string): ReadonlySet<string>;

  attach(index: number, incarnation: number, port: WorkerPort, isRestart: boolean): void {
    this.links.attach(index, incarnation, port, isRestart);
  }

  detach(index: number): void {
    const gone = this.links.detach(index);
    for (const connection of gone) this.close(connection);
    if (gone.length > 0) this.log.info({ worker: index, connections: gone.length }, 'removed the connections of a stopped worker');
  }

  /** Carries out one batch from worker `from`. */
  receive(from: number, batch: RelayBatch): void {
    this.links.changed();
    this.links.received(from);
    const result = dispatchWorkerBatch(from, batch, this);
    // A batch we cannot parse means a bug in the relay, not client input: the rest was dropped, loudly.
    if (!result.ok) this.log.error({ worker: from, op: result.op }, 'unknown relay op; rest of batch dropped');
  }

  open(worker: number, connection: string): void {
    this.links.open(worker, connection);
  }

  linkCounts(): Map<number, { sent: number; received: number }> {
    return this.links.linkCounts();
  }

  get workerRestarts(): number {
    return this.links.workerRestarts;
  }

  /** Rooms that exist now (as far as this node knows). */
  abstract get roomCount(): number;

  /** An ErrorReply frame, counted for /metrics by its code. */
  protected errorFrame(requestId: number, code: ErrorCodeName, message: string, room: string | null, temporary = false): Uint8Array {
    countError(this.counts.errors, code);
    return encodeError(requestId, code, message, room, temporary);
  }

  close(connection: string): void {
    if (this.links.close(connection) === undefined) return;
    for (const name of [...this.roomsOf(connection)]) this.leave(connection, name);
  }
}
