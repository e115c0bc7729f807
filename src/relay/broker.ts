/**
 * The seam between a worker's transport and the rooms: the transport makes
 * requests through a Broker and gets the outcomes back as BrokerHandler calls. In
 * the host the Broker is the worker's end of the relay (worker-end.ts), which
 * carries requests to the main thread's sequencer (see sequencer/sequencer.ts for
 * the ordering contract); the transport does not change with the sequencer.
 *
 * Requests are fire-and-forget and carried out in the order they were made.
 */
import type { ClusterStats, Directory, JoinRequest, MembersRequest, RoomDetail, RoomSummary, SayRequest } from '../sequencer/sequencer.js';

export type { ClusterStats, Directory, JoinRequest, MembersRequest, RoomDetail, RoomSummary, SayRequest } from '../sequencer/sequencer.js';

/** A query the broker cannot answer now (a cluster node that cannot reach Redis); retrying later may work. */
export class BrokerUnavailable extends Error {
  override readonly name = 'BrokerUnavailable';
}

export interface BrokerHandler {
  /** Room traffic for a room this worker has members in: publish it to the room's topic. */
  onPublish(room: string, frame: Uint8Array): void;
  /** A frame for one local connection. */
  onSend(connectionId: string, frame: Uint8Array): void;
  /** A private message in `room`: dropped if the connection has left the room (it may have been in flight past the Left). */
  onSendInRoom(connectionId: string, room: string, frame: Uint8Array): void;
  /** A join succeeded: subscribe the connection to the room's topic, then send it `frame` (Joined). */
  onJoined(connectionId: string, attempt: number, room: string, frame: Uint8Array): void;
  /** A join was refused: forget the pending join, then send the connection `frame` (Error). */
  onJoinFailed(connectionId: string, attempt: number, room: string, frame: Uint8Array): void;
  /**
   * The sequencer took the connection out of a room it had joined (another connection resumed
   * its membership, or its nickname was lost): unsubscribe it, forget the room, then send it
   * `frame` (an unasked Left or ErrorReply).
   */
  onRemoved(connectionId: string, room: string, frame: Uint8Array): void;
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
  /** A page of a room's members for the connection (MemberPage or NotJoined). */
  members(connectionId: string, request: MembersRequest): void;
  rooms(): Promise<RoomSummary[]>;
  room(name: string): Promise<RoomDetail | null>;
  stats(): Promise<ClusterStats>;
  /** The latest Directory, answered at once (null until the first one arrives). */
  directory(): Directory | null;
}
