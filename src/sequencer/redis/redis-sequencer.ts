/**
 * The cluster sequencer: the main thread of each node (host process) runs it instead
 * of the in-process one when --redis is given. Workers and the relay are the same;
 * only this thread talks to Redis, over two connections (commands, and
 * subscriptions), so a node costs Redis two clients whatever its worker count, and a
 * room frame crosses the network once per node, not once per worker.
 *
 * Rooms live in Redis (format.ts), changed only by the scripts (scripts.ts); the room
 * messages of one worker batch go to Redis as one pipeline. A node SUBSCRIBEs to a
 * room's channel when its first local member joins and UNSUBSCRIBEs when the last one
 * leaves; each room's RoomStream (room-stream.ts) hands the room's frames to the
 * workers in the room's order, with the Joined snapshots at their markers' places.
 * NodeLiveness (liveness.ts) keeps the node's heartbeat and reaps dead nodes; PresenceTicker
 * (../presence-ticker.ts) sends each room's member changes to the node's clients once per tick.
 *
 * After Redis comes back, a resync (resync.ts decides when; the steps are here) puts the
 * node's members back (a sync script per room) and repairs what its clients were told
 * at each room's sync marker. When Redis
 * is down, joins and room messages are refused with Unavailable (temporary);
 * connections stay up; leaves and closes are applied locally and to Redis on resync.
 */
import { Redis, type ChainableCommander } from 'ioredis';
import type { Logger } from 'pino';
import {
  encodeJoined,
  encodeLeft,
  encodeMemberJoined,
  encodeMemberLeft,
  encodeMemberPage,
  encodeMessage,
  encodeMessageTemplate,
  encodeSent,
  type ErrorCodeName,
  MEMBER_PAGE_SIZE,
  type MemberInfo,
} from '../../protocol/index.js';
import { RoomCreationLimit } from '../../admission/room-creation.js';
import { RoomRegistry } from '../../rooms/registry.js';
import { type Member, Room } from '../../rooms/room.js';
import { PresenceTicker, presenceSettings } from '../presence-ticker.js';
import { newResumeSecret, resumeHash } from '../resume.js';
import { byMembersThenName, errorFrame, pageLimit, publicMember, recentEntry } from '../room-views.js';
import {
  newSequencerCounts,
  SequencerUnavailable,
  type JoinRequest,
  type MembersRequest,
  type RoomDetail,
  type RoomSummary,
  type SayRequest,
  type Sequencer,
  type SequencerOutput,
  type SequencerSettings,
  type RedisHealth,
} from '../sequencer.js';
import { ClusterKeys, clusterPrefix, decodeEntries, historyOf, nicknameIn, nicknameKeysField, parseEnvelope } from './format.js';
import { NodeLiveness } from './liveness.js';
import { RoomStream } from './room-stream.js';
import { ClusterResync } from './resync.js';
import { ClusterScripts, type JoinReply } from './scripts.js';
import { connectionOptions, describeRedisTarget, type RedisTarget } from './target.js';

export interface RedisSequencerSettings extends SequencerSettings {
  /** Where the cluster's Redis is (--redis, parsed). */
  readonly redis: RedisTarget;
  /** With the db index, the prefix of every key and channel (--cluster-name). */
  readonly clusterName: string;
  /** This node's id (hex): connection ids start with it, Redis keys and channels name it. */
  readonly nodeId: string;
  /** A node whose heartbeat is older than this has its members removed by the others. */
  readonly nodeTtlMs: number;
}

/** How often the cluster's room list (for /api/rooms and /healthz) is read from Redis. */
export const ROOM_LIST_INTERVAL_MS = 1000;

/** The longest a start waits for the first answer from Redis (a host that is not there at all may take ioredis's connect timeout). */
const START_WAIT_MS = 3000;

/** An error reply as ioredis gives it: with the command it answered. */
type ReplyWithCommand = Error & { command?: { name?: string } };

/**
 * What a Redis that refuses this node says, or null for any other error (an outage):
 * credentials it does not take, a db index it does not have, a user without the rights.
 */
function refusalOf(error: Error, db: number): string | null {
  const reply = error.message;
  if (/^(WRONGPASS|NOAUTH)\b/.test(reply) || (error as ReplyWithCommand).command?.name === 'auth') return `redis refused the credentials (${reply})`;
  if (/^NOPERM\b/.test(reply)) return `redis refused a command to the user (${reply})`;
  if ((error as ReplyWithCommand).command?.name === 'select') return `redis refused the database index ${db} (${reply})`;
  return null;
}

const UNAVAILABLE = 'the cluster is unavailable; try again shortly';
const NICKNAME_LOST =
  'someone else took your nickname in this room while this node was cut off from the cluster: you are no longer in the room; join again under another name';

interface PendingJoin {
  cancelled: boolean;
  /** Requests of the joiner in this room made while the join was in flight: run after it. */
  readonly after: (() => void)[];
}

/** One room as this node sees it, while it has local members (or joins in flight). */
class ClusterRoom {
  readonly channel: string;
  /** This node's members, with the worker that holds each (no history kept here). */
  readonly local: Room;
  readonly joining = new Map<string, PendingJoin>();
  subscription: Promise<void> | null = null;

  constructor(
    readonly name: string,
    readonly stream: RoomStream,
    channel: string,
  ) {
    this.channel = channel;
    this.local = new Room(name, 0, 0);
  }

  get idle(): boolean {
    return this.local.size === 0 && this.joining.size === 0;
  }
}

export class RedisSequencer implements Sequencer {
  readonly counts = newSequencerCounts();
  /** Every key and channel of this node's cluster. */
  private readonly keys: ClusterKeys;
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly scripts: ClusterScripts;
  private readonly liveness: NodeLiveness;
  private readonly presence: PresenceTicker;
  private out: SequencerOutput | null = null;
  private readonly clusterRooms = new Map<string, ClusterRoom>();
  /** Rooms of each local connection (joined, or being joined). */
  private readonly memberships = new RoomRegistry({ historyCapacity: 0, emptyRoomTtlMs: 0 });
  private roomList: RoomSummary[] = [];
  /** The names in roomList: a room in neither it nor clusterRooms is (as far as this node knows) a new one. */
  private listedRooms = new Set<string>();
  private readonly creations: RoomCreationLimit;
  private nextToken = 0;
  /** Room messages of the worker batch being carried out (sent at endOfBatch). */
  private messages: ChainableCommander | null = null;
  private stopping = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly sync: ClusterResync;
  private health: RedisHealth = { status: 'connecting', since: Date.now() };
  /** Why Redis refuses this node (credentials, db index), as last logged; null while it does not. */
  private refusal: string | null = null;

  constructor(
    private readonly settings: RedisSequencerSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    const options = {
      // Fail fast instead of queueing while disconnected (requests get Unavailable), and
      // never resend a command whose reply was lost: a script must not run twice.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times: number) => Math.min(50 * times, 1000),
      protocol: 2 as const,
      lazyConnect: true,
    };
    // One pipeline per event-loop turn: every script call of a turn goes out in one write.
    const where = connectionOptions(settings.redis);
    this.keys = new ClusterKeys(clusterPrefix(settings.clusterName, settings.redis.db));
    this.commands = new Redis({ ...where, ...options, enableAutoPipelining: true, connectionName: `chat-${settings.nodeId}` });
    this.subscriber = new Redis({ ...where, ...options, connectionName: `chat-${settings.nodeId}-sub` });
    this.scripts = new ClusterScripts(this.commands, settings.nodeId, this.keys);
    this.liveness = new NodeLiveness(settings, this.commands, this.keys, (room, member, node) => this.leaveInRedis(room, member, node), log);
    this.creations = new RoomCreationLimit(settings.newRoomsPerMinute);
    this.sync = new ClusterResync(
      {
        heartbeat: () => this.heartbeat(),
        subscribeNode: async () => {
          await this.subscriber.subscribe(this.keys.nodeChannel(settings.nodeId));
        },
        syncRooms: (full) => this.syncRooms(full),
        dropLeftRooms: () => this.dropLeftRooms(),
        connected: () => this.commands.status === 'ready' && this.subscriber.status === 'ready',
        availabilityChanged: (available) => {
          // Date.now(), not this.now(): the workers compare `since` with their own clock (redisReady).
          this.health = { status: available ? 'up' : 'down', since: Date.now() };
          this.out?.changed();
        },
      },
      settings.nodeTtlMs,
      log,
    );
    this.presence = new PresenceTicker(presenceSettings(settings), (name, frame) => {
      const room = this.clusterRooms.get(name);
      if (room) for (const worker of room.local.workers()) this.output.publish(worker, name, frame);
    });
    this.subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onChannelMessage(channel, message));
    for (const [name, connection] of [
      ['commands', this.commands],
      ['subscriber', this.subscriber],
    ] as const) {
      connection.on('ready', () => this.onReady(name));
      connection.on('close', () => this.onLost(name));
      connection.on('error', (error: Error) => this.onError(name, connection, error));
    }
  }

  get redisHealth(): RedisHealth {
    return this.health;
  }

  /**
   * Connects; resolves once both connections have had their first try (or START_WAIT_MS
   * passed). A node starts even when Redis is down: it serves what it can and joins the
   * cluster once Redis answers. But a Redis that answers and refuses it (a wrong password,
   * a db index it does not have) rejects the start: that is a mistake in --redis.
   */
  async start(output: SequencerOutput): Promise<void> {
    this.out = output;
    // No `node` here: the logger's bindings carry it already.
    this.log.info({ redis: describeRedisTarget(this.settings.redis), prefix: this.keys.prefix, nodeTtlMs: this.settings.nodeTtlMs }, 'cluster node starting');
    const tries = [this.commands, this.subscriber].map((connection) =>
      connection.connect().then(
        () => undefined,
        (error: unknown) => {
          if (this.refusal === null) this.log.warn({ err: (error as Error).message }, 'redis not reachable yet; retrying');
        },
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const enough = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, START_WAIT_MS);
    });
    await Promise.race([Promise.all(tries), enough]);
    clearTimeout(timer);
    if (this.refusal !== null) {
      this.stopping = true;
      this.commands.disconnect();
      this.subscriber.disconnect();
      throw new Error(`${this.refusal}: check --redis (${describeRedisTarget(this.settings.redis)})`);
    }
    this.timers.push(setInterval(() => void this.heartbeat(), this.liveness.interval).unref());
    this.timers.push(setInterval(() => void this.refreshRoomList(), ROOM_LIST_INTERVAL_MS).unref());
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    this.sync.stop();
    this.presence.stop();
    // The workers have closed every connection by now; their leaves are in flight on
    // this connection. Removing the heartbeat lets the others forget the node at once.
    if (this.commands.status === 'ready') await this.liveness.leave();
    this.commands.disconnect();
    this.subscriber.disconnect();
  }

  // ------------------------------------------------------------ requests from workers

  join(connection: string, attempt: number, request: JoinRequest): void {
    const out = this.output;
    const { requestId, room: roomName, nickname } = request;
    if (out.workerOf(connection) === undefined) return;
    const refuse = (code: ErrorCodeName, message: string, temporary = false): void =>
      out.joinFailed(connection, attempt, roomName, errorFrame(this.counts, requestId, code, message, roomName, temporary));
    if (!this.sync.available) return refuse('Unavailable', UNAVAILABLE, true);
    if (!this.clusterRooms.has(roomName) && !this.listedRooms.has(roomName) && !this.creations.allow(request.addressSlot, this.now())) {
      return refuse('RateLimited', `at most ${this.settings.newRoomsPerMinute} new rooms a minute from one address: join an existing room or wait`, true);
    }
    const room = this.clusterRooms.get(roomName) ?? this.openRoom(roomName);
    const cancelled = room.joining.get(connection);
    if (cancelled?.cancelled) {
      // Join, Leave, Join: the first join is still in Redis's hands; this one goes once it is undone.
      cancelled.after.push(() => {
        this.join(connection, attempt, request);
        this.endOfBatch();
      });
      return;
    }
    if (room.local.member(connection) || room.joining.has(connection)) return refuse('AlreadyJoined', 'you are already in this room');
    const pending: PendingJoin = { cancelled: false, after: [] };
    room.joining.set(connection, pending);
    this.memberships.noteJoined(connection, roomName);
    const token = this.newToken();
    const you = { id: connection, name: nickname };
    let settled = false;
    const finish = (joined: boolean): void => {
      settled = true;
      room.joining.delete(connection);
      room.stream.markers.delete(token);
      if (!joined) this.memberships.noteLeft(connection, roomName);
      for (const next of pending.after) next();
      this.release(room);
    };
    const unavailable = (): void => {
      if (settled) return;
      finish(false);
      refuse('Unavailable', UNAVAILABLE, true);
    };
    const marker = room.stream.addMarker(token, unavailable);
    const secret = newResumeSecret();
    const runJoin = (takeOver?: { member: MemberInfo; memberLeft: Uint8Array }): Promise<JoinReply> =>
      this.scripts.join({
        room: roomName,
        member: you,
        nicknameKey: nicknameKeysField(nickname),
        memberJoined: encodeMemberJoined(roomName, you),
        token,
        since: request.since,
        sinceEpoch: request.epoch,
        joinHistory: this.settings.joinHistory,
        // A node already following the room's channel keeps its member list from it: the join stays O(1).
        wantMembers: room.stream.delivered === null,
        maxRoomsTotal: this.settings.maxRoomsTotal,
        resumeHash: request.resumeKey === undefined ? '' : resumeHash(request.resumeKey),
        newResumeHash: secret.hash,
        ...(takeOver ? { takeOver } : {}),
      });

    this.subscribe(room)
      .then(() => runJoin())
      // The client's own membership holds the nickname (its node died, or its old connection is not seen to close yet): take it over.
      .then((first) =>
        !settled && !first.ok && first.refused === 'Resumable'
          ? runJoin({ member: first.holder, memberLeft: encodeMemberLeft(roomName, first.holder) })
          : first,
      )
      .then(
        (reply) => {
          // Aborted (subscription lost): if the script ran, the sync removes the member again.
          if (settled) return;
          if (!reply.ok) {
            finish(false);
            if (reply.refused === 'RoomLimit') {
              return refuse('RoomLimit', `the cluster holds its limit of ${this.settings.maxRoomsTotal} rooms: join an existing room or try later`, true);
            }
            // Resumable twice: another membership took the name between the two calls.
            return reply.refused === 'NicknameTaken' || reply.refused === 'Resumable'
              ? refuse('NicknameTaken', `the nickname "${nickname}" (or one that looks the same) is taken in this room`)
              : refuse('AlreadyJoined', 'you are already in this room');
          }
          room.stream.replied(marker, () => {
            if (reply.members) room.stream.replaceView(reply.members);
            const holder = out.workerOf(connection);
            if (pending.cancelled || holder === undefined) {
              // Closed or left while joining: it is in Redis now, so take it out again
              // (before a join that waited for this one goes to Redis: see below).
              void this.leaveInRedis(roomName, you);
              finish(false);
              return;
            }
            room.local.add({ ...you, worker: holder });
            const history = historyOf(reply.entries, request.since ?? -1, reply.head, reply.recovering, this.settings.joinHistory, this.log);
            const page = room.stream.view.page('', '', MEMBER_PAGE_SIZE);
            const frame = encodeJoined(requestId, {
              room: roomName,
              you,
              members: page.members,
              history: history.messages,
              headSeq: reply.head,
              recovered: history.recovered,
              epoch: reply.epoch,
              memberCount: room.stream.view.size,
              nextAfter: page.nextAfter,
              resumeKey: secret.key,
            });
            out.joined(connection, attempt, roomName, frame);
            this.counts.joins++;
            finish(true);
          });
        },
        (error: unknown) => {
          this.log.warn({ room: roomName, err: (error as Error).message }, 'join failed: redis unavailable');
          unavailable();
          room.stream.replyFailed(marker);
        },
      )
      .catch(this.bug);
  }

  leave(connection: string, roomName: string): void {
    const room = this.clusterRooms.get(roomName);
    const pending = room?.joining.get(connection);
    if (pending) pending.cancelled = true;
    const member = room?.local.remove(connection, 0);
    if (!room || !member) return; // not in it, or joining (cancelled above: the join undoes itself)
    this.memberships.noteLeft(connection, roomName);
    // While Redis is away the leave is applied locally; the sync after it comes back removes it there.
    if (this.sync.available) void this.leaveInRedis(roomName, publicMember(member));
    this.release(room);
  }

  /** Rooms joined and rooms being joined (leaving a room being joined cancels the join: see join). */
  close(connection: string): void {
    for (const name of [...this.memberships.roomsOf(connection)]) this.leave(connection, name);
  }

  say(connection: string, request: SayRequest): void {
    const out = this.output;
    if (out.workerOf(connection) === undefined) return;
    const { requestId, room: roomName, text, to } = request;
    const room = this.clusterRooms.get(roomName);
    const pending = room?.joining.get(connection);
    if (pending) {
      pending.after.push(() => {
        this.say(connection, request);
        this.endOfBatch();
      });
      return;
    }
    const sender = room?.local.member(connection);
    const fail = (code: ErrorCodeName, message: string, temporary = false): void =>
      out.send(connection, errorFrame(this.counts, requestId, code, message, roomName, temporary));
    if (!room || !sender) return fail('NotJoined', 'join the room before talking in it');
    if (to !== null) return this.sayPrivately(room, publicMember(sender), requestId, text, to);
    if (!this.sync.available) return fail('Unavailable', UNAVAILABLE, true);

    const { frame, seqOffset } = encodeMessageTemplate({ room: roomName, sender: publicMember(sender), to: null, text, timestampMs: this.now() });
    this.messages ??= this.commands.pipeline();
    this.scripts.say(this.messages, { room: roomName, frame, seqOffset, historySize: this.settings.historyCapacity, sender: connection }, (error, seq) => {
      if (error || seq === undefined) {
        // Per message during an outage: the line is built only when debug is on.
        if (this.log.isLevelEnabled('debug')) this.log.debug({ room: roomName, err: error?.message }, 'message refused: redis unavailable');
        out.send(connection, errorFrame(this.counts, requestId, 'Unavailable', UNAVAILABLE, roomName, true));
      } else if (seq === -2) {
        // Another node took this one for dead and removed the sender: the sync puts it back, or tells it its nickname is lost.
        out.send(connection, errorFrame(this.counts, requestId, 'Unavailable', UNAVAILABLE, roomName, true));
        this.sync.resync('own member missing in redis', true);
      } else if (seq < 0) {
        // The room is gone from Redis (it restarted, empty): put it back before anything more.
        out.send(connection, errorFrame(this.counts, requestId, 'Unavailable', UNAVAILABLE, roomName, true));
        this.sync.resync('room missing in redis');
      } else {
        this.counts.roomMessages++;
        if (requestId !== 0) out.send(connection, encodeSent(requestId, roomName, seq));
      }
    });
  }

  /** A page of the room's members, from this node's view of it (kept in step by the room's channel). */
  members(connection: string, request: MembersRequest): void {
    const out = this.output;
    if (out.workerOf(connection) === undefined) return;
    const room = this.clusterRooms.get(request.room);
    const pending = room?.joining.get(connection);
    if (pending) {
      pending.after.push(() => this.members(connection, request));
      return;
    }
    if (!room?.local.member(connection)) {
      return out.send(connection, errorFrame(this.counts, request.requestId, 'NotJoined', 'join the room to see who is in it', request.room));
    }
    const { view } = room.stream;
    const page = view.page(request.after, request.prefix, pageLimit(request.limit));
    out.send(connection, encodeMemberPage(request.requestId, { room: room.name, members: page.members, nextAfter: page.nextAfter, memberCount: view.size }));
  }

  /** Sends the pipeline of room messages; each message's reply comes to its own callback. */
  endOfBatch(): void {
    const pipeline = this.messages;
    if (!pipeline) return;
    this.messages = null;
    // A failed pipeline fails each of its commands too (their callbacks answer the clients).
    pipeline.exec().catch((error: unknown) => this.log.debug({ err: (error as Error).message }, 'message pipeline failed'));
  }

  rooms(): readonly RoomSummary[] {
    return this.roomList;
  }

  async room(name: string): Promise<RoomDetail | null> {
    try {
      const [seq, members, entries] = await Promise.all([
        this.commands.hget(this.keys.meta(name), 'seq'),
        this.commands.hgetallBuffer(this.keys.members(name)),
        this.settings.joinHistory > 0
          ? this.commands.xrevrangeBuffer(this.keys.history(name), '+', '-', 'COUNT', this.settings.joinHistory)
          : Promise.resolve([]),
      ]);
      if (seq === null) return null;
      const memberList = Object.entries(members).map(([id, value]) => ({ id, name: nicknameIn(value.toString()) }));
      const recent = decodeEntries(entries.reverse(), this.log).map(recentEntry);
      return { name, members: memberList.length, headSeq: Number(seq), memberList, recent };
    } catch (error) {
      this.log.debug({ room: name, err: (error as Error).message }, 'room read failed');
      throw new SequencerUnavailable('the cluster is unavailable (Redis cannot be reached); retry shortly');
    }
  }

  get roomCount(): number {
    return this.roomList.length;
  }

  // ------------------------------------------------------------ room traffic

  private sayPrivately(room: ClusterRoom, sender: MemberInfo, requestId: number, text: string, to: string): void {
    const out = this.output;
    const connection = sender.id;
    const local = room.local.member(to);
    const name = local?.name ?? room.stream.view.get(to)?.name;
    const notFound = (): void => out.send(connection, errorFrame(this.counts, requestId, 'RecipientNotFound', 'no such member in this room', room.name));
    if (name === undefined) return notFound();
    const frame = encodeMessage({ room: room.name, seq: 0, sender, to: { id: to, name }, text, timestampMs: this.now() });
    const delivered = (): void => {
      this.counts.privateMessages++;
      if (to !== connection) out.sendInRoom(connection, room.name, frame);
      if (requestId !== 0) out.send(connection, encodeSent(requestId, room.name, 0));
    };
    if (local) {
      // Both on this node: no need to go through Redis.
      out.sendInRoom(to, room.name, frame);
      return delivered();
    }
    if (!this.sync.available) return out.send(connection, errorFrame(this.counts, requestId, 'Unavailable', UNAVAILABLE, room.name, true));
    this.scripts
      .sendPrivately({ room: room.name, recipient: to, frame })
      .then(
        (sent) =>
          sent === 1
            ? delivered()
            : sent === -1
              ? out.send(
                  connection,
                  errorFrame(this.counts, requestId, 'RecipientNotFound', 'the recipient’s node is not running: it is about to leave the room', room.name),
                )
              : notFound(),
        () => out.send(connection, errorFrame(this.counts, requestId, 'Unavailable', UNAVAILABLE, room.name, true)),
      )
      .catch(this.bug);
  }

  private onChannelMessage(channelBytes: Buffer, message: Buffer): void {
    try {
      this.onChannel(channelBytes.toString('latin1'), message);
    } catch (error) {
      // A bug here must not take the node (every worker's clients) down: say so loudly, go on with the next.
      this.log.error({ err: error, channel: channelBytes.toString('latin1') }, 'a message from redis failed');
    }
  }

  private onChannel(channel: string, message: Buffer): void {
    const of = this.keys.channelOf(channel);
    if (of?.node) return this.onPrivate(message);
    const room = of ? this.clusterRooms.get(of.room) : undefined;
    if (!room) return; // unsubscribed meanwhile
    const envelope = parseEnvelope(message);
    if (!envelope) {
      this.log.warn({ channel, bytes: message.length }, 'malformed envelope on a room channel dropped');
      return;
    }
    room.stream.receive(envelope);
  }

  /** A private message for a connection on this node: u8 id length, id, u8 room length, room, Message frame. */
  private onPrivate(message: Buffer): void {
    const idLength = message[0];
    const roomAt = 1 + (idLength ?? 0);
    const roomLength = message[roomAt];
    if (idLength === undefined || roomLength === undefined || message.length < roomAt + 1 + roomLength) {
      this.log.warn({ bytes: message.length }, 'malformed private message dropped');
      return;
    }
    const connection = message.toString('utf8', 1, roomAt);
    const room = message.toString('utf8', roomAt + 1, roomAt + 1 + roomLength);
    this.output.sendInRoom(connection, room, message.subarray(roomAt + 1 + roomLength));
  }

  // ------------------------------------------------------------ rooms and subscriptions

  /** A room this node has no member of yet; its stream reads history and delivers through this node. */
  private openRoom(name: string): ClusterRoom {
    const stream: RoomStream = new RoomStream(
      name,
      {
        fetchRange: async (from, to) => {
          const entries = await this.commands.xrangeBuffer(this.keys.history(name), `${from}-0`, `${to}-0`);
          const frames: [number, Uint8Array][] = [];
          for (const [id, fields] of entries) {
            const frame = fields[1];
            if (frame) frames.push([Number.parseInt(id.toString(), 10), frame]);
          }
          return frames;
        },
        deliver: (frame) => {
          for (const worker of room.local.workers()) this.output.publish(worker, name, frame);
        },
        memberJoined: (member, count) => this.presence.joined(name, member, count),
        memberLeft: (member, count) => this.presence.left(name, member, count),
        isLocal: (id): boolean => room.local.member(id) !== undefined,
        ownMemberRemoved: () => this.sync.resync('own member removed by another node', true),
        ownMemberResumed: (member) => this.resumedAway(room, member),
        epochChanged: (epoch) => this.tellEpochChanged(room, epoch),
      },
      this.log,
    );
    const room: ClusterRoom = new ClusterRoom(name, stream, this.keys.roomChannel(name));
    this.clusterRooms.set(name, room);
    return room;
  }

  /**
   * Redis lost the room and it started again under a new epoch: each local member gets a
   * Joined with request id 0 (the room as it is now, `recovered` false, numbering from 0),
   * before any message of the new epoch, so that clients start counting again and mark a gap.
   */
  private tellEpochChanged(room: ClusterRoom, epoch: number): void {
    const page = room.stream.view.page('', '', MEMBER_PAGE_SIZE);
    for (const member of room.local.memberList()) {
      const frame = encodeJoined(0, {
        room: room.name,
        you: publicMember(member),
        members: page.members,
        history: [],
        headSeq: 0,
        recovered: false,
        epoch,
        memberCount: room.stream.view.size,
        nextAfter: page.nextAfter,
      });
      this.output.send(member.id, frame);
    }
  }

  private subscribe(room: ClusterRoom): Promise<void> {
    room.subscription ??= this.subscriber.subscribe(room.channel).then(
      () => undefined,
      (error: unknown) => {
        room.subscription = null;
        throw error;
      },
    );
    return room.subscription;
  }

  /** A room with no local member and no join in flight: unsubscribe and forget it. */
  private release(room: ClusterRoom): void {
    if (!room.idle || this.clusterRooms.get(room.name) !== room) return;
    this.clusterRooms.delete(room.name);
    // A sync of this room in flight will not see its marker now: it fails, and the resync runs again without the room.
    room.stream.abortMarkers();
    if (room.subscription && this.subscriber.status === 'ready') {
      this.subscriber
        .unsubscribe(room.channel)
        .catch((error: unknown) => this.log.warn({ room: room.name, err: (error as Error).message }, 'unsubscribe failed'));
    }
    if (this.sync.available) {
      this.commands
        .srem(this.keys.nodeRooms(this.settings.nodeId), room.name)
        .catch((error: unknown) => this.log.debug({ err: (error as Error).message }, 'srem failed'));
    }
  }

  /** Takes a member out of a room in Redis, with member-left (only if it is on `onNode`, unless that is ''); 1 when it was there. */
  private leaveInRedis(roomName: string, member: MemberInfo, onNode = ''): Promise<number> {
    return this.scripts
      .leave({
        room: roomName,
        memberId: member.id,
        requiredNode: onNode,
        memberLeft: encodeMemberLeft(roomName, member),
        emptyRoomTtlMs: Math.max(1, this.settings.emptyRoomTtlMs),
      })
      .catch((error: unknown) => {
        // The sync after Redis comes back removes what this node no longer has.
        this.log.warn({ room: roomName, err: (error as Error).message }, 'leave not written to redis; the next sync will');
        return 0;
      });
  }

  // ------------------------------------------------------------ connections, presence and resync

  /**
   * An error on a connection. Redis refusing the node (credentials, db index) is logged
   * loudly once, and the connection tries again (the node is not ready meanwhile); any
   * other error is an outage, which the close and ready events handle.
   */
  private onError(name: string, connection: Redis, error: Error): void {
    const refusal = refusalOf(error, this.settings.redis.db);
    if (refusal === null) {
      this.log.warn({ connection: name, err: error.message }, 'redis connection error');
      return;
    }
    if (refusal !== this.refusal) this.log.error({ connection: name, err: error.message }, `${refusal}: not ready until that is fixed`);
    this.refusal = refusal;
    // ioredis goes on after a refused SELECT, in db 0: another cluster's keys. Drop the connection and try again.
    if ((error as ReplyWithCommand).command?.name === 'select') connection.disconnect(true);
  }

  private onReady(connection: string): void {
    this.refusal = null;
    this.log.info({ connection }, 'redis connection ready');
    if (this.commands.status === 'ready' && this.subscriber.status === 'ready') this.sync.resync('connected');
  }

  private onLost(connection: string): void {
    if (this.stopping) return;
    if (this.sync.lost()) this.log.warn({ connection }, 'redis connection lost: requests get Unavailable until it is back');
    if (connection !== 'subscriber') return;
    // The subscriptions are gone with the connection: markers will not come, and every
    // room gets back in step at its sync marker.
    for (const room of this.clusterRooms.values()) {
      room.subscription = null;
      room.stream.lost();
    }
  }

  private async heartbeat(): Promise<void> {
    await this.liveness.beat(() => {
      if (!this.sync.available) return;
      // Not in the node set although in step: the others took this node for dead (it was
      // silent past --node-ttl) and removed its members. Put them back.
      this.log.warn('this node was taken for dead by the cluster; rejoining');
      this.sync.resync('taken for dead', true);
    });
  }

  /** Syncs every room with local members (see resync.ts); returns how many. */
  private async syncRooms(full: boolean): Promise<number> {
    const rooms = [...this.clusterRooms.values()].filter((r) => r.local.size > 0);
    await Promise.all(rooms.map((room) => this.syncRoom(room, full)));
    return rooms.length;
  }

  /** Rooms this node had members in and has none now (they left while Redis was away): out of Redis with them. */
  private async dropLeftRooms(): Promise<void> {
    const node = this.settings.nodeId;
    for (const name of await this.commands.smembers(this.keys.nodeRooms(node))) {
      if (this.clusterRooms.get(name)?.local.size) continue;
      await this.liveness.removeMembersOf(node, name);
      await this.commands.srem(this.keys.nodeRooms(node), name);
    }
  }

  /** Puts this node's members of `room` back in Redis; `full`: the member list may lose members too (see audit). */
  private async syncRoom(room: ClusterRoom, full: boolean): Promise<void> {
    if (!full) {
      // After a reconnect the old subscription may be gone: subscribe again (a no-op when it is not).
      room.subscription = null;
    }
    await this.subscribe(room);
    const { stream } = room;
    const token = this.newToken();
    const synced = room.local.memberList();
    const members = synced.map((m) => ({
      id: m.id,
      nicknameKey: nicknameKeysField(m.name),
      nickname: m.name,
      memberJoined: encodeMemberJoined(room.name, publicMember(m)),
    }));
    const stale = await new Promise<string[]>((resolve, reject) => {
      const marker = stream.addMarker(token, () => {
        stream.markers.delete(token);
        reject(new Error('sync marker lost (redis went away)'));
      });
      const emptyRoomTtlMs = Math.max(1, this.settings.emptyRoomTtlMs);
      this.scripts.sync({ room: room.name, epoch: stream.epoch, delivered: stream.delivered ?? 0, token, members, emptyRoomTtlMs }).then(
        (reply) => {
          stream.replied(marker, () => {
            stream.markers.delete(token);
            stream.repair(reply.members, reply.head, reply.epoch, full);
            if (reply.refused.length > 0) this.dropRefused(room, reply.refused, new Set(synced));
            resolve(reply.stale);
          });
        },
        (error: unknown) => {
          stream.markers.delete(token);
          stream.replyFailed(marker);
          reject(error as Error);
        },
      );
    });
    await Promise.all(stale.map((id) => this.leaveInRedis(room.name, { id, name: stream.view.get(id)?.name ?? '' }, this.settings.nodeId)));
  }

  /**
   * A rejoin (on another connection, of this node or another) took over the membership of a
   * connection still open here: it leaves the room here too, at the member-left's place in
   * the room's order, and is told with an unasked Left.
   */
  private resumedAway(room: ClusterRoom, member: MemberInfo): void {
    if (!room.local.remove(member.id, 0)) return;
    this.memberships.noteLeft(member.id, room.name);
    this.output.removed(member.id, room.name, encodeLeft(0, room.name));
    this.log.debug({ room: room.name, member: member.id }, 'membership resumed on another connection: the old one left the room');
    this.release(room);
  }

  /**
   * Local members the sync could not put back: the others took this node for dead and
   * removed them, and someone else took the nickname meanwhile. They leave here too (at
   * the sync's marker, in the room's order) and are told why; anything they send in the
   * room afterwards is NotJoined. `synced`: the memberships the sync was about (one that
   * left and joined again since is another).
   */
  private dropRefused(room: ClusterRoom, refused: readonly string[], synced: ReadonlySet<Member>): void {
    for (const id of refused) {
      const member = room.local.member(id);
      if (!member || !synced.has(member)) continue;
      room.local.remove(id, 0);
      this.memberships.noteLeft(id, room.name);
      // The other nodes' clients saw it leave when it was reaped; this node's see it now.
      if (room.stream.view.remove(id)) this.presence.left(room.name, publicMember(member), room.stream.view.size);
      this.output.removed(id, room.name, errorFrame(this.counts, 0, 'NicknameLost', NICKNAME_LOST, room.name));
      this.log.warn({ room: room.name, member: id }, 'member removed: someone else took its nickname while this node was out of the cluster');
    }
    this.release(room);
  }

  // ------------------------------------------------------------ the room list

  /** The cluster's rooms (members, head seq), read every ROOM_LIST_INTERVAL_MS; rooms Redis expired are swept. */
  private async refreshRoomList(): Promise<void> {
    if (!this.sync.available) return;
    try {
      // One script call: with thousands of rooms, two commands per room every second kept a core busy.
      this.roomList = (await this.scripts.roomList()).sort(byMembersThenName);
      this.listedRooms = new Set(this.roomList.map((r) => r.name));
      this.output.changed();
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'room list not refreshed');
    }
  }

  /**
   * The last stop for an exception in a reply handler (a bug): logged loudly, and the node
   * goes on serving its other rooms.
   */
  private readonly bug = (error: unknown): void => {
    this.log.error({ err: error }, 'cluster sequencer failed on a reply from redis; carrying on');
  };

  /** Names one join or sync of this node; its marker in a room channel carries it. */
  private newToken(): string {
    return `${this.settings.nodeId}:${(this.nextToken++).toString(36)}`;
  }

  private get output(): SequencerOutput {
    if (!this.out) throw new Error('RedisSequencer used before start()');
    return this.out;
  }
}
