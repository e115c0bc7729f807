/**
 * What sequences rooms, on the main thread of a node: the in-process sequencer
 * (in-process.ts) owns every room itself; the Redis one (redis/) lets Redis number
 * the rooms of a cluster of nodes. The main thread's end of the relay
 * (relay/main-end.ts) holds one and feeds it the requests of every worker; the
 * sequencer answers through the SequencerOutput the relay gives it.
 *
 * Contract
 * - Requests from one worker are carried out in the order they were made.
 * - One sequencer per room: each room message gets the room's next sequence number
 *   (1, 2, 3, ... no gaps, no duplicates) and is kept in the room's history
 *   atomically with being published.
 * - `publish(worker, room, frame)` goes to every worker that has members of `room`,
 *   with room frames (messages, member joined/left) in the room's order. A frame is
 *   encoded once and is the same bytes for every worker.
 * - `joined(...)` comes after every publish of that room covered by the Joined
 *   frame's history and before every one after it, so a socket subscribed to the
 *   room's topic when it arrives sees each message exactly once.
 * - `send(connection, frame)` is for one connection only: a reply, an error, or a
 *   private message. Private messages are live only, never history.
 * - `close(connection)` (the socket closed, or its worker stopped) takes the
 *   connection out of every room.
 * - Presence: the joins and leaves of each room go to its members coalesced, one
 *   Presence frame per room per tick (presence-ticker.ts); a joiner gets the first
 *   page of members in Joined and asks for more with Members. No work per join is
 *   proportional to the room's size.
 */
import type { HubCounts } from '../metrics/counters.js';
import type { MemberInfo } from '../protocol/index.js';
import type { RoomSettings } from '../rooms/registry.js';

export interface JoinRequest {
  readonly requestId: number;
  readonly room: string;
  readonly nickname: string;
  /** The last sequence number the client saw, or null. */
  readonly since: number | null;
  /** The room epoch `since` belongs to; 0: unknown. */
  readonly epoch: number;
  /** The admission slot of the connection's address, for the per-address rate of new rooms; absent: not limited. */
  readonly addressSlot?: number;
  /** The resume key of the client's last Joined in this room (a rejoin); absent: none. See resume.ts. */
  readonly resumeKey?: string;
}

export interface SayRequest {
  readonly requestId: number;
  readonly room: string;
  readonly text: string;
  /** A member id for a private message, or null for the room. */
  readonly to: string | null;
}

/** A page of a room's members (see Members in schema/chat.fbs). */
export interface MembersRequest {
  readonly requestId: number;
  readonly room: string;
  /** The previous page's nextAfter; '' from the start. */
  readonly after: string;
  /** Case-insensitive nickname prefix; '' for every member. */
  readonly prefix: string;
  /** At most this many; 0 or more than MEMBER_PAGE_SIZE: MEMBER_PAGE_SIZE. */
  readonly limit: number;
}

export type QueryKind = 'rooms' | 'room' | 'stats';

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
  /** A cluster node's link to Redis; absent on a single node. */
  readonly redis?: RedisHealth;
}

/**
 * A cluster node's link to Redis, as /healthz, /readyz and chat_redis_up show it.
 * `up`: both connections up and the node in step (joins and messages are served);
 * `down`: it was up and is not (an outage, a refused password, ...: they get Unavailable);
 * `connecting`: not up yet since the node started.
 */
export interface RedisHealth {
  readonly status: 'up' | 'down' | 'connecting';
  /** When the status last changed, ms since the epoch (one clock for every thread of the process). */
  readonly since: number;
}

/** How long Redis may be down before /readyz says so: a blip (a reconnect, a resync) must not flap the balancer. */
export const REDIS_READY_GRACE_MS = 2000;

/** Whether the node should get traffic as far as Redis goes: up, or down for less than the grace (never before it was first up). */
export function redisReady(health: RedisHealth | undefined, now: number): boolean {
  if (!health || health.status === 'up') return true;
  return health.status === 'down' && now - health.since < REDIS_READY_GRACE_MS;
}

/**
 * What HTTP answers from without waiting: a snapshot of the whole host, pushed to
 * every worker whenever it changes, at most every DIRECTORY_INTERVAL_MS (uWS
 * stalls pipelined requests behind a response that is answered asynchronously).
 */
export interface Directory {
  readonly stats: ClusterStats;
  /** The busiest rooms (DIRECTORY_ROOMS at most), most members first. */
  readonly rooms: readonly RoomSummary[];
}

/** What both sequencers are configured with. */
export interface SequencerSettings extends RoomSettings {
  /** How many recent messages a Joined frame carries when nothing is recovered. */
  readonly joinHistory: number;
  /** Rooms the host (the cluster, with Redis) holds at most, empty ones with history included (--max-rooms-total). */
  readonly maxRoomsTotal: number;
  /** New rooms one address may make a minute (--new-rooms-per-minute). */
  readonly newRoomsPerMinute: number;
  /** Rooms with more members than this get presence counts only (--presence-events-max-members). */
  readonly presenceEventsMaxMembers: number;
  /** How long presence changes gather before they go out (PRESENCE_TICK_MS unless a test says otherwise). */
  readonly presenceTickMs?: number;
  /** How often at most a count-only room hears its count (PRESENCE_COUNT_TICK_MS unless a test says otherwise). */
  readonly presenceCountTickMs?: number;
}

/** What a sequencer counts for /metrics. */
export type SequencerCounts = Pick<HubCounts, 'joins' | 'roomMessages' | 'privateMessages' | 'errors'>;

export function newSequencerCounts(): SequencerCounts {
  return { joins: 0, roomMessages: 0, privateMessages: 0, errors: {} };
}

/** A question the sequencer cannot answer now (a cluster node that cannot reach Redis); retrying later may work. */
export class SequencerUnavailable extends Error {
  override readonly name = 'SequencerUnavailable';
}

/** How a sequencer answers: the main thread's end of the relay carries each call to the worker it names. */
export interface SequencerOutput {
  /** The worker holding an open connection; undefined once it has closed. */
  workerOf(connection: string): number | undefined;
  /** Room traffic for `worker`'s members of `room` (the same frame object for every worker). */
  publish(worker: number, room: string, frame: Uint8Array): void;
  /** A frame for one connection; dropped when it has closed. */
  send(connection: string, frame: Uint8Array): void;
  /** A private message of `room` for one connection; dropped when it has closed or left the room. */
  sendInRoom(connection: string, room: string, frame: Uint8Array): void;
  /** A join succeeded: the worker subscribes the connection, then sends it `frame` (Joined). */
  joined(connection: string, attempt: number, room: string, frame: Uint8Array): void;
  /** A join was refused: the worker forgets the pending join, then sends `frame` (ErrorReply). */
  joinFailed(connection: string, attempt: number, room: string, frame: Uint8Array): void;
  /**
   * The sequencer took a joined connection out of `room` (another connection resumed its
   * membership, or its nickname was lost while its node was taken for dead): the worker
   * unsubscribes it and forgets the room, then sends `frame` (an unasked Left or ErrorReply).
   */
  removed(connection: string, room: string, frame: Uint8Array): void;
  /** Rooms or members changed: the Directory is pushed again soon. */
  changed(): void;
}

export interface Sequencer {
  /** Connects what it needs and starts answering through `output`; the host listens once this resolves. */
  start(output: SequencerOutput): Promise<void>;
  /** After every worker has exited: releases timers and connections. */
  stop(): Promise<void>;
  /** `attempt` is echoed in joined/joinFailed, so that the worker can tell a stale reply from the current one. */
  join(connection: string, attempt: number, request: JoinRequest): void;
  /** The worker has already unsubscribed the connection and replied Left. */
  leave(connection: string, room: string): void;
  say(connection: string, request: SayRequest): void;
  /** Answers with a MemberPage (or NotJoined) to the connection. */
  members(connection: string, request: MembersRequest): void;
  /** The connection is gone: it leaves every room it is in (joins in flight are undone). */
  close(connection: string): void;
  /** One worker batch has been carried out: send on what was gathered from it (the Redis sequencer's pipeline). */
  endOfBatch(): void;
  /** Every room as far as this node knows, most members first. */
  rooms(): readonly RoomSummary[];
  /** A room's members and recent messages; null when it does not exist. Rejects with SequencerUnavailable. */
  room(name: string): Promise<RoomDetail | null>;
  readonly roomCount: number;
  readonly counts: SequencerCounts;
  /** The node's link to Redis (a cluster node); null for a sequencer without one. */
  readonly redisHealth: RedisHealth | null;
}
