/**
 * The seam between a worker's transport and whatever sequences rooms: the
 * in-process hub today (broker.local.ts), Redis for several machines later.
 * The transport talks only to this interface; rooms and transport do not change
 * when the implementation does.
 *
 * Contract
 * - Requests are fire-and-forget; their outcomes come back through BrokerHandler.
 *   Requests from one worker are carried out in the order they were made.
 * - One sequencer per room: each room message gets the room's next sequence number
 *   (1, 2, 3, ... no gaps, no duplicates) and is kept in the room's history
 *   atomically with being published.
 * - `onPublish(room, frame)` reaches every worker that has members of `room`, with
 *   room frames (messages, member joined/left) in the room's order. The frame is
 *   encoded once and is the same bytes for every worker.
 * - `onJoined(conn, attempt, room, frame)` comes after every `onPublish` of that
 *   room covered by the frame's history and before every one after it, so a socket
 *   subscribed to the room's topic when it arrives sees each message exactly once.
 * - `onSend(conn, frame)` is for one connection only: a reply, an error, or a
 *   private message. Private messages are live only, never history.
 * - A worker that stops (crash or restart) has its connections removed from every
 *   room by the implementation, with member-left frames to the others.
 */
import type { HubCounts } from '../metrics/counters.js';
import type { MemberInfo } from '../protocol/index.js';
import type { WorkerPort } from './links.js';
import type { RelayBatch } from './relay.js';

export interface JoinRequest {
  readonly requestId: number;
  readonly room: string;
  readonly nickname: string;
  readonly since: number | null;
  /** The room epoch `since` belongs to; 0 or absent: unknown. */
  readonly epoch?: number;
}

export interface SayRequest {
  readonly requestId: number;
  readonly room: string;
  readonly text: string;
  /** A member id for a private message, or null for the room. */
  readonly to: string | null;
}

export interface RoomSummary {
  readonly name: string;
  readonly members: number;
  readonly headSeq: number;
}

export interface RoomDetail extends RoomSummary {
  readonly memberList: readonly MemberInfo[];
  readonly recent: readonly { seq: number; sender: MemberInfo; text: string; timestampMs: number }[];
}

export interface ClusterStats {
  readonly workers: number;
  readonly connections: number;
  readonly rooms: number;
  readonly workerRestarts: number;
  readonly perWorker: readonly { readonly index: number; readonly incarnation: number; readonly connections: number }[];
}

/**
 * What HTTP answers from without waiting: a snapshot of the whole host, pushed to
 * every worker whenever it changes, at most every DIRECTORY_INTERVAL_MS (uWS
 * stalls pipelined requests behind a response that is answered asynchronously).
 */
export interface Directory {
  readonly stats: ClusterStats;
  /** Most members first. */
  readonly rooms: readonly RoomSummary[];
}

/** The longest a Directory lags behind the rooms while they change. */
export const DIRECTORY_INTERVAL_MS = 100;

/** A query the broker cannot answer now (a cluster node that cannot reach Redis); retrying later may work. */
export class BrokerUnavailable extends Error {
  override readonly name = 'BrokerUnavailable';
}

export interface BrokerHandler {
  /** Room traffic for a room this worker has members in: publish it to the room's topic. */
  onPublish(room: string, frame: Uint8Array): void;
  /** A frame for one local connection. */
  onSend(connectionId: string, frame: Uint8Array): void;
  /** A join succeeded: subscribe the connection to the room's topic, then send it `frame` (Joined). */
  onJoined(connectionId: string, attempt: number, room: string, frame: Uint8Array): void;
  /** A join was refused: forget the pending join, then send the connection `frame` (Error). */
  onJoinFailed(connectionId: string, attempt: number, room: string, frame: Uint8Array): void;
}

export interface Broker {
  /** A connection opened on this worker. */
  open(connectionId: string): void;
  /** A connection closed: it leaves every room it is in. */
  close(connectionId: string): void;
  /** `attempt` is echoed in onJoined so that a stale reply can be told from the current one. */
  join(connectionId: string, attempt: number, request: JoinRequest): void;
  /** Leaves a room; the transport has already unsubscribed and replied. */
  leave(connectionId: string, room: string): void;
  say(connectionId: string, request: SayRequest): void;
  rooms(): Promise<RoomSummary[]>;
  room(name: string): Promise<RoomDetail | null>;
  stats(): Promise<ClusterStats>;
  /** The latest Directory, answered at once (null until the first one arrives). */
  directory(): Directory | null;
}

/**
 * The main thread's side of the relay: what the supervisor drives. The in-process
 * Hub (hub.ts) sequences every room itself; RedisHub (hub.redis.ts) lets Redis
 * sequence them for a cluster of nodes. Workers see the same relay either way.
 */
export interface Sequencer {
  /** Connects what it needs; the host listens once this resolves. */
  start(): Promise<void>;
  /** A worker (re)started: `port` reaches it. */
  attach(index: number, incarnation: number, port: WorkerPort, isRestart: boolean): void;
  /** A worker stopped: its connections leave every room, with member-left frames to the others. */
  detach(index: number): void;
  /** Carries out one relay batch from worker `from`. */
  receive(from: number, batch: RelayBatch): void;
  /** After every worker has exited: releases timers and connections. */
  stop(): Promise<void>;
  /** For /metrics: what this node's sequencer counted, relay batches per worker slot, rooms, restarts. */
  readonly counts: HubCounts;
  linkCounts(): Map<number, { sent: number; received: number }>;
  readonly roomCount: number;
  readonly workerRestarts: number;
}
