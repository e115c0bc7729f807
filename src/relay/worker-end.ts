/**
 * The worker thread's end of the relay, the Broker its transport uses: requests go
 * to the main thread in one batch per turn of the event loop; the main thread's
 * batches come back as BrokerHandler calls, in order.
 */
import type { WorkerCounts } from '../metrics/counters.js';
import type { QueryKind } from '../sequencer/sequencer.js';
import {
  BatchWriter,
  dispatchHubBatch,
  type HubEvents,
  type RelayBatch,
  writeClose,
  writeJoin,
  writeLeave,
  writeMembers,
  writeOpen,
  writeQuery,
  writeSay,
} from './batch.js';
import {
  BrokerUnavailable,
  type Broker,
  type BrokerHandler,
  type ClusterStats,
  type Directory,
  type JoinRequest,
  type MembersRequest,
  type RoomDetail,
  type RoomSummary,
  type SayRequest,
} from './broker.js';

/** Relay batch counts for the queue-depth metric. */
export type RelayCounts = Pick<WorkerCounts, 'relayBatchesSent' | 'relayBatchesReceived'>;

export interface MainThreadPort {
  postMessage(value: unknown): void;
}

export class WorkerEnd implements Broker, HubEvents {
  private readonly out = new BatchWriter();
  private flushScheduled = false;
  private nextQueryId = 1;
  private readonly pendingQueries = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  private handler: BrokerHandler | null = null;
  private latestDirectory: Directory | null = null;

  constructor(
    private readonly mainThread: MainThreadPort,
    private readonly counts: RelayCounts = { relayBatchesSent: 0, relayBatchesReceived: 0 },
  ) {}

  setHandler(handler: BrokerHandler): void {
    this.handler = handler;
  }

  // ------------------------------------------------------------ Broker: requests out

  open(connectionId: string): void {
    writeOpen(this.out, connectionId);
    this.scheduleFlush();
  }

  close(connectionId: string): void {
    writeClose(this.out, connectionId);
    this.scheduleFlush();
  }

  join(connectionId: string, attempt: number, request: JoinRequest): void {
    writeJoin(this.out, connectionId, attempt, request);
    this.scheduleFlush();
  }

  leave(connectionId: string, room: string): void {
    writeLeave(this.out, connectionId, room);
    this.scheduleFlush();
  }

  say(connectionId: string, request: SayRequest): void {
    writeSay(this.out, connectionId, request);
    this.scheduleFlush();
  }

  members(connectionId: string, request: MembersRequest): void {
    writeMembers(this.out, connectionId, request);
    this.scheduleFlush();
  }

  rooms(): Promise<RoomSummary[]> {
    return this.query('rooms', '') as Promise<RoomSummary[]>;
  }

  room(name: string): Promise<RoomDetail | null> {
    return this.query('room', name) as Promise<RoomDetail | null>;
  }

  stats(): Promise<ClusterStats> {
    return this.query('stats', '') as Promise<ClusterStats>;
  }

  directory(): Directory | null {
    return this.latestDirectory;
  }

  // ------------------------------------------------------------ batches in

  /** Carries out one batch from the main thread. */
  receive(batch: RelayBatch): void {
    if (!this.handler) throw new Error('WorkerEnd received a batch before setHandler');
    this.counts.relayBatchesReceived++;
    const result = dispatchHubBatch(batch, this);
    if (!result.ok) throw new Error(`unknown hub op ${String(result.op)}`);
  }

  onPublish(room: string, frame: Uint8Array): void {
    this.handler!.onPublish(room, frame);
  }

  onSend(connectionId: string, frame: Uint8Array): void {
    this.handler!.onSend(connectionId, frame);
  }

  onSendInRoom(connectionId: string, room: string, frame: Uint8Array): void {
    this.handler!.onSendInRoom(connectionId, room, frame);
  }

  onJoined(connectionId: string, attempt: number, room: string, frame: Uint8Array): void {
    this.handler!.onJoined(connectionId, attempt, room, frame);
  }

  onJoinFailed(connectionId: string, attempt: number, room: string, frame: Uint8Array): void {
    this.handler!.onJoinFailed(connectionId, attempt, room, frame);
  }

  onRemoved(connectionId: string, room: string, frame: Uint8Array): void {
    this.handler!.onRemoved(connectionId, room, frame);
  }

  onDirectory(directory: Directory): void {
    this.latestDirectory = directory;
  }

  onQueryResult(queryId: number, result: unknown): void {
    this.settleQuery(queryId)?.resolve(result);
  }

  onQueryUnavailable(queryId: number, message: string): void {
    this.settleQuery(queryId)?.reject(new BrokerUnavailable(message));
  }

  private settleQuery(queryId: number): { resolve: (result: unknown) => void; reject: (error: Error) => void } | undefined {
    const pending = this.pendingQueries.get(queryId);
    this.pendingQueries.delete(queryId);
    return pending;
  }

  private query(kind: QueryKind, argument: string): Promise<unknown> {
    const id = this.nextQueryId++;
    return new Promise((resolve, reject) => {
      this.pendingQueries.set(id, { resolve, reject });
      writeQuery(this.out, id, kind, argument);
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate, not a microtask: uWS drains microtasks after every socket
    // callback, while setImmediate runs once after all of this turn's I/O.
    setImmediate(() => {
      this.flushScheduled = false;
      this.counts.relayBatchesSent++;
      this.mainThread.postMessage(this.out.take());
    });
  }
}
