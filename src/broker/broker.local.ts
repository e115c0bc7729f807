/**
 * The worker-thread side of the in-process broker: requests go to the hub on the
 * main thread in one batch per turn of the event loop; the hub's batches come back
 * as BrokerHandler calls, in order.
 */
import {
  BrokerUnavailable,
  type Broker,
  type BrokerHandler,
  type ClusterStats,
  type Directory,
  type JoinRequest,
  type RoomDetail,
  type RoomSummary,
  type SayRequest,
} from './broker.js';
import { BatchWriter, HubOp, type QueryKind, type RelayBatch, WorkerOp } from './relay.js';

/** Relay batch counts for the queue-depth metric. */
export interface RelayCounts {
  relayBatchesSent: number;
  relayBatchesReceived: number;
}

export interface HubPort {
  postMessage(value: unknown): void;
}

export class LocalBroker implements Broker {
  private readonly out = new BatchWriter();
  private flushScheduled = false;
  private nextQueryId = 1;
  private readonly pendingQueries = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  private handler: BrokerHandler | null = null;
  private latestDirectory: Directory | null = null;

  constructor(
    private readonly hub: HubPort,
    private readonly counts: RelayCounts = { relayBatchesSent: 0, relayBatchesReceived: 0 },
  ) {}

  setHandler(handler: BrokerHandler): void {
    this.handler = handler;
  }

  open(connectionId: string): void {
    this.queue(WorkerOp.Open, connectionId);
  }

  close(connectionId: string): void {
    this.queue(WorkerOp.Close, connectionId);
  }

  join(connectionId: string, attempt: number, request: JoinRequest): void {
    this.queue(WorkerOp.Join, connectionId, attempt, request.requestId, request.room, request.nickname, request.since ?? -1, request.epoch ?? 0);
  }

  leave(connectionId: string, room: string): void {
    this.queue(WorkerOp.Leave, connectionId, room);
  }

  say(connectionId: string, request: SayRequest): void {
    this.queue(WorkerOp.Say, connectionId, request.requestId, request.room, request.text, request.to ?? '');
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

  /** Carries out one batch from the hub. */
  receive(batch: RelayBatch): void {
    const handler = this.handler;
    if (!handler) throw new Error('LocalBroker received a batch before setHandler');
    this.counts.relayBatchesReceived++;
    const ops = batch.ops;
    const buffer = batch.buffer;
    const frame = (offset: number, length: number): Uint8Array => new Uint8Array(buffer!, offset, length);
    let i = 0;
    while (i < ops.length) {
      const op = ops[i++] as HubOp;
      switch (op) {
        case HubOp.Publish:
          handler.onPublish(ops[i++] as string, frame(ops[i++] as number, ops[i++] as number));
          break;
        case HubOp.Send:
          handler.onSend(ops[i++] as string, frame(ops[i++] as number, ops[i++] as number));
          break;
        case HubOp.Joined:
          handler.onJoined(ops[i++] as string, ops[i++] as number, ops[i++] as string, frame(ops[i++] as number, ops[i++] as number));
          break;
        case HubOp.JoinFailed:
          handler.onJoinFailed(ops[i++] as string, ops[i++] as number, ops[i++] as string, frame(ops[i++] as number, ops[i++] as number));
          break;
        case HubOp.Directory:
          this.latestDirectory = ops[i++] as Directory;
          break;
        case HubOp.QueryResult: {
          const id = ops[i++] as number;
          const result = ops[i++];
          const pending = this.pendingQueries.get(id);
          this.pendingQueries.delete(id);
          pending?.resolve(result);
          break;
        }
        case HubOp.QueryUnavailable: {
          const id = ops[i++] as number;
          const message = ops[i++] as string;
          const pending = this.pendingQueries.get(id);
          this.pendingQueries.delete(id);
          pending?.reject(new BrokerUnavailable(message));
          break;
        }
        default:
          throw new Error(`unknown hub op ${String(op)}`);
      }
    }
  }

  private query(kind: QueryKind, argument: string): Promise<unknown> {
    const id = this.nextQueryId++;
    return new Promise((resolve, reject) => {
      this.pendingQueries.set(id, { resolve, reject });
      this.queue(WorkerOp.Query, id, kind, argument);
    });
  }

  private queue(...fields: unknown[]): void {
    this.out.push(...fields);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // setImmediate, not a microtask: uWS drains microtasks after every socket
      // callback, while setImmediate runs once after all of this turn's I/O.
      setImmediate(() => {
        this.flushScheduled = false;
        this.counts.relayBatchesSent++;
        this.hub.postMessage(this.out.take());
      });
    }
  }
}
