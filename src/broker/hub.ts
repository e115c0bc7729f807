/**
 * The in-process sequencer behind LocalBroker: it runs on the main thread and owns
 * every room of this node (members, sequence numbers, history). Worker threads send
 * it batches of requests; it answers each worker with one batch per turn holding
 * the frames for that worker's sockets. Rooms live here rather than in a worker so
 * that a crashed worker loses only its own sockets, never a room's order or history.
 *
 * Everything it receives was decoded and checked by a worker; it still checks what
 * only it can know (membership, nickname clashes, recipients).
 */
import type { Logger } from 'pino';
import {
  encodeJoined,
  encodeMemberJoined,
  encodeMemberLeft,
  encodeMessage,
  encodeSent,
  type ChatMessage,
  type ErrorCodeName,
  type MemberInfo,
} from '../protocol/index.js';
import { RoomRegistry, type RoomSettings } from '../rooms/registry.js';
import type { Room } from '../rooms/room.js';
import type { ClusterStats, Directory, RoomDetail, RoomSummary } from './broker.js';
import { RelaySequencer } from './links.js';
import type { QueryKind } from './relay.js';

export interface HubSettings extends RoomSettings {
  /** How many recent messages a Joined frame carries when nothing is recovered. */
  readonly joinHistory: number;
}

export class Hub extends RelaySequencer {
  private readonly registry: RoomRegistry;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly settings: HubSettings,
    log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    super(log);
    this.registry = new RoomRegistry(settings);
    const sweepEvery = Math.max(1000, Math.min(60_000, Math.floor(settings.emptyRoomTtlMs / 2)));
    this.sweepTimer = setInterval(() => {
      if (this.registry.sweep(this.now()) > 0) this.links.changed();
    }, sweepEvery).unref();
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.links.stop();
    return Promise.resolve();
  }

  protected roomsOf(connection: string): ReadonlySet<string> {
    return this.registry.roomsOf(connection);
  }

  join(connection: string, attempt: number, requestId: number, roomName: string, nickname: string, since: number, epoch: number): void {
    const worker = this.links.workerOf(connection);
    if (worker === undefined) return; // closed meanwhile
    const now = this.now();
    const existing = this.registry.get(roomName);
    const refuse = (code: ErrorCodeName, message: string): void =>
      this.links.joinFailed(worker, connection, attempt, roomName, this.errorFrame(requestId, code, message, roomName));
    if (existing?.member(connection)) return refuse('AlreadyJoined', 'you are already in this room');
    if (existing?.hasNickname(nickname)) return refuse('NicknameTaken', `the nickname "${nickname}" is taken in this room`);
    const room = existing ?? this.registry.getOrCreate(roomName, now);
    const member = { id: connection, name: nickname, worker };
    const you = publicMember(member);
    room.add(member);
    this.counts.joins++;
    this.registry.noteJoined(connection, roomName);
    // Others first (the joiner is not subscribed yet, so it does not get its own event),
    // then the joiner's snapshot: both travel the same ordered channel.
    this.publish(room, encodeMemberJoined(roomName, you));
    const history = room.historyFor(since >= 0 ? since : null, this.settings.joinHistory, epoch);
    const frame = encodeJoined(requestId, {
      room: roomName,
      you,
      members: room.memberList().map(publicMember),
      history: history.messages,
      headSeq: room.headSeq,
      recovered: history.recovered,
      epoch: room.epoch,
    });
    this.links.joined(worker, connection, attempt, roomName, frame);
  }

  leave(connection: string, roomName: string): void {
    const room = this.registry.get(roomName);
    const member = room?.remove(connection, this.now());
    if (!room || !member) return;
    this.registry.noteLeft(connection, roomName);
    this.publish(room, encodeMemberLeft(roomName, publicMember(member)));
  }

  say(connection: string, requestId: number, roomName: string, text: string, to: string): void {
    const worker = this.links.workerOf(connection);
    if (worker === undefined) return;
    const room = this.registry.get(roomName);
    const sender = room?.member(connection);
    if (!room || !sender) return this.fail(worker, connection, requestId, 'NotJoined', 'join the room before talking in it', roomName);

    if (to !== '') {
      const recipient = room.member(to);
      if (!recipient) return this.fail(worker, connection, requestId, 'RecipientNotFound', 'no such member in this room', roomName);
      const frame = encodeMessage({ room: roomName, seq: 0, sender: publicMember(sender), to: publicMember(recipient), text, timestampMs: this.now() });
      this.links.send(recipient.worker, recipient.id, frame);
      this.counts.privateMessages++;
      if (recipient.id !== sender.id) this.links.send(worker, connection, frame);
      if (requestId !== 0) this.links.send(worker, connection, encodeSent(requestId, roomName, 0));
      return;
    }

    const message = room.append(publicMember(sender), text, this.now());
    this.counts.roomMessages++;
    this.publish(room, encodeMessage(message));
    if (requestId !== 0) this.links.send(worker, connection, encodeSent(requestId, roomName, message.seq));
  }

  query(from: number, queryId: number, kind: QueryKind, argument: string): void {
    let result: RoomSummary[] | RoomDetail | ClusterStats | null;
    switch (kind) {
      case 'rooms':
        result = this.roomSummaries();
        break;
      case 'room': {
        const room = this.registry.get(argument);
        result = room
          ? {
              ...summary(room),
              memberList: room.memberList().map(publicMember),
              recent: room.recent(this.settings.joinHistory).map(recentEntry),
            }
          : null;
        break;
      }
      case 'stats':
        result = this.stats();
        break;
    }
    this.links.queryResult(from, queryId, result);
  }

  /** Rooms that exist now. */
  get roomCount(): number {
    return this.registry.size;
  }

  stats(): ClusterStats {
    return this.links.stats(this.registry.size);
  }

  private fail(worker: number, connection: string, requestId: number, code: ErrorCodeName, message: string, room: string): void {
    this.links.send(worker, connection, this.errorFrame(requestId, code, message, room));
  }

  /** The same bytes to every worker with members of the room. */
  private publish(room: Room, frame: Uint8Array): void {
    for (const worker of room.workers()) this.links.publish(worker, room.name, frame);
  }

  protected directory(): Directory {
    return { stats: this.stats(), rooms: this.roomSummaries() };
  }

  /** Every room, most members first. */
  private roomSummaries(): RoomSummary[] {
    return [...this.registry.all()].map(summary).sort(byMembersThenName);
  }
}

export function publicMember(member: MemberInfo): MemberInfo {
  return { id: member.id, name: member.name };
}

export function byMembersThenName(a: RoomSummary, b: RoomSummary): number {
  return b.members - a.members || a.name.localeCompare(b.name);
}

/** A history message as the room API shows it. */
export function recentEntry(m: ChatMessage): RoomDetail['recent'][number] {
  return { seq: m.seq, sender: m.sender, text: m.text, timestampMs: m.timestampMs };
}

function summary(room: Room): RoomSummary {
  return { name: room.name, members: room.size, headSeq: room.headSeq };
}
