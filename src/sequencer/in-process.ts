/**
 * The in-process sequencer (the default, a single node): on the main thread it owns
 * every room of the host (members, sequence numbers, history). Rooms live here rather
 * than in a worker so that a crashed worker loses only its own sockets, never a
 * room's order or history.
 *
 * Everything it receives was decoded and checked by a worker; it still checks what
 * only it can know (membership, nickname clashes, recipients).
 */
import { encodeJoined, encodeLeft, encodeMemberPage, encodeMessage, encodeSent, type ErrorCodeName, MEMBER_PAGE_SIZE } from '../protocol/index.js';
import { RoomCreationLimit } from '../admission/room-creation.js';
import { RoomRegistry } from '../rooms/registry.js';
import type { Room } from '../rooms/room.js';
import { PresenceTicker, presenceSettings } from './presence-ticker.js';
import { newResumeSecret, resumeHash } from './resume.js';
import { byMembersThenName, errorFrame, pageLimit, publicMember, recentEntry } from './room-views.js';
import {
  newSequencerCounts,
  type JoinRequest,
  type MembersRequest,
  type RoomDetail,
  type RoomSummary,
  type SayRequest,
  type Sequencer,
  type SequencerOutput,
  type SequencerSettings,
} from './sequencer.js';

export class InProcessSequencer implements Sequencer {
  readonly counts = newSequencerCounts();
  /** No outside service to be down. */
  readonly redisHealth = null;
  private readonly registry: RoomRegistry;
  private readonly presence: PresenceTicker;
  private out: SequencerOutput | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly creations: RoomCreationLimit;

  constructor(
    private readonly settings: SequencerSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.registry = new RoomRegistry(settings);
    this.creations = new RoomCreationLimit(settings.newRoomsPerMinute);
    this.presence = new PresenceTicker(presenceSettings(settings), (name, frame) => {
      const room = this.registry.get(name);
      if (room) this.publish(room, frame);
    });
  }

  start(output: SequencerOutput): Promise<void> {
    this.out = output;
    const sweepEvery = Math.max(1000, Math.min(60_000, Math.floor(this.settings.emptyRoomTtlMs / 2)));
    this.sweepTimer = setInterval(() => {
      if (this.registry.sweep(this.now()) > 0) output.changed();
    }, sweepEvery).unref();
    return Promise.resolve();
  }

  stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.presence.stop();
    return Promise.resolve();
  }

  /** Sends the presence changes gathered so far now instead of at the tick's end (for tests). */
  flushPresence(): void {
    this.presence.flush();
  }

  join(connection: string, attempt: number, request: JoinRequest): void {
    const out = this.output;
    const worker = out.workerOf(connection);
    if (worker === undefined) return; // closed meanwhile
    const { requestId, room: roomName, nickname } = request;
    const existing = this.registry.get(roomName);
    const refuse = (code: ErrorCodeName, message: string, temporary = false): void =>
      out.joinFailed(connection, attempt, roomName, errorFrame(this.counts, requestId, code, message, roomName, temporary));
    if (!existing) {
      const { maxRoomsTotal, newRoomsPerMinute } = this.settings;
      if (!this.creations.allow(request.addressSlot, this.now())) {
        return refuse('RateLimited', `at most ${newRoomsPerMinute} new rooms a minute from one address: join an existing room or wait`, true);
      }
      // At the limit, the room empty longest gives way (its history is the least missed); with none empty, no new room.
      if (this.registry.size >= maxRoomsTotal && !this.registry.dropOldestEmpty()) {
        return refuse('RoomLimit', `the host holds its limit of ${maxRoomsTotal} rooms: join an existing room or try later`, true);
      }
    }
    if (existing?.member(connection)) return refuse('AlreadyJoined', 'you are already in this room');
    if (existing?.hasNickname(nickname)) {
      // The client's own membership from a connection not seen to close yet: it takes it over.
      const resumed = request.resumeKey === undefined ? undefined : existing.resumable(nickname, keptHash(resumeHash(request.resumeKey)));
      if (!resumed) return refuse('NicknameTaken', `the nickname "${nickname}" (or one that looks the same) is taken in this room`);
      // As a leave, but the room stays (its new member comes next), and the old connection is told.
      existing.remove(resumed.id, this.now());
      this.registry.noteLeft(resumed.id, roomName);
      this.presence.left(roomName, publicMember(resumed), existing.size);
      out.removed(resumed.id, roomName, encodeLeft(0, roomName));
    }
    const room = existing ?? this.registry.getOrCreate(roomName, this.now());
    const secret = newResumeSecret();
    const member = { id: connection, name: nickname, worker, resumeHash: keptHash(secret.hash) };
    const you = publicMember(member);
    room.add(member);
    this.counts.joins++;
    this.registry.noteJoined(connection, roomName);
    // The others hear of it at the tick's end; the joiner gets the first page of members now.
    this.presence.joined(roomName, you, room.size);
    const history = room.historyFor(request.since, this.settings.joinHistory, request.epoch);
    const page = room.page('', '', MEMBER_PAGE_SIZE);
    const frame = encodeJoined(requestId, {
      room: roomName,
      you,
      members: page.members.map(publicMember),
      history: history.messages,
      headSeq: room.headSeq,
      recovered: history.recovered,
      epoch: room.epoch,
      memberCount: room.size,
      nextAfter: page.nextAfter,
      resumeKey: secret.key,
    });
    out.joined(connection, attempt, roomName, frame);
  }

  leave(connection: string, roomName: string): void {
    const room = this.registry.get(roomName);
    const member = room?.remove(connection, this.now());
    if (!room || !member) return;
    this.registry.noteLeft(connection, roomName);
    this.presence.left(roomName, publicMember(member), room.size);
    // An empty room that never had a message is nothing to keep: it goes now, not after --empty-room-ttl.
    this.registry.dropIfBare(room);
  }

  close(connection: string): void {
    for (const name of [...this.registry.roomsOf(connection)]) this.leave(connection, name);
  }

  say(connection: string, request: SayRequest): void {
    const out = this.output;
    if (out.workerOf(connection) === undefined) return;
    const { requestId, room: roomName, text, to } = request;
    const room = this.registry.get(roomName);
    const sender = room?.member(connection);
    const fail = (code: ErrorCodeName, message: string): void => out.send(connection, errorFrame(this.counts, requestId, code, message, roomName));
    if (!room || !sender) return fail('NotJoined', 'join the room before talking in it');

    if (to !== null) {
      const recipient = room.member(to);
      if (!recipient) return fail('RecipientNotFound', 'no such member in this room');
      const frame = encodeMessage({ room: roomName, seq: 0, sender: publicMember(sender), to: publicMember(recipient), text, timestampMs: this.now() });
      out.sendInRoom(recipient.id, roomName, frame);
      this.counts.privateMessages++;
      if (recipient.id !== sender.id) out.sendInRoom(connection, roomName, frame);
      if (requestId !== 0) out.send(connection, encodeSent(requestId, roomName, 0));
      return;
    }

    const message = room.append(publicMember(sender), text, this.now());
    this.counts.roomMessages++;
    this.publish(room, encodeMessage(message));
    if (requestId !== 0) out.send(connection, encodeSent(requestId, roomName, message.seq));
  }

  members(connection: string, request: MembersRequest): void {
    const out = this.output;
    if (out.workerOf(connection) === undefined) return;
    const room = this.registry.get(request.room);
    if (!room?.member(connection)) {
      return out.send(connection, errorFrame(this.counts, request.requestId, 'NotJoined', 'join the room to see who is in it', request.room));
    }
    const page = room.page(request.after, request.prefix, pageLimit(request.limit));
    out.send(
      connection,
      encodeMemberPage(request.requestId, { room: room.name, members: page.members.map(publicMember), nextAfter: page.nextAfter, memberCount: room.size }),
    );
  }

  endOfBatch(): void {
    // Nothing gathered: every answer is already on its way.
  }

  rooms(): RoomSummary[] {
    return [...this.registry.all()].map(summary).sort(byMembersThenName);
  }

  room(name: string): Promise<RoomDetail | null> {
    const room = this.registry.get(name);
    if (!room) return Promise.resolve(null);
    return Promise.resolve({
      ...summary(room),
      memberList: room.memberList().map(publicMember),
      recent: room.recent(this.settings.joinHistory).map(recentEntry),
    });
  }

  get roomCount(): number {
    return this.registry.size;
  }

  private get output(): SequencerOutput {
    if (!this.out) throw new Error('InProcessSequencer used before start()');
    return this.out;
  }

  /** The same bytes to every worker with members of the room. */
  private publish(room: Room, frame: Uint8Array): void {
    for (const worker of room.workers()) this.out!.publish(worker, room.name, frame);
  }
}

/**
 * A resume hash as a member keeps it: its 32 bytes as a one-byte string rather than 64 hex
 * digits, 32 bytes less per member (bench/memory-parts.ts). Only ever compared with another.
 */
function keptHash(hexHash: string): string {
  return Buffer.from(hexHash, 'hex').toString('latin1');
}

function summary(room: Room): RoomSummary {
  return { name: room.name, members: room.size, headSeq: room.headSeq };
}
