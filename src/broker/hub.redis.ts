/**
 * The cluster sequencer: the main thread of each node (host process) runs it instead
 * of the in-process Hub when --redis is given. Workers keep their relay unchanged
 * (LocalBroker, WorkerLinks); only this thread talks to Redis, over two connections
 * (commands, and subscriptions), so a node costs Redis two clients whatever its worker
 * count, and a room frame crosses the network once per node, not once per worker.
 *
 * Rooms live in Redis (redis.format.ts, changed by the scripts in redis.scripts.ts); the
 * room messages of one worker batch go to Redis as one pipeline. A node SUBSCRIBEs to a room's channel when
 * its first local member joins and UNSUBSCRIBEs when the last one leaves, and hands
 * the room's frames to its workers in the room's sequence order: a frame already
 * delivered is dropped, a skipped sequence number is fetched from the room's history
 * stream (XRANGE) before anything after it.
 *
 * Joins are ordered with traffic by a marker: the join script publishes member-joined
 * on the room channel, tagged with a token, after the node has subscribed. The node
 * sends the joiner its Joined snapshot (from the script's reply) at the marker's place
 * in the channel, so the joiner sees each later frame exactly once. After Redis comes
 * back, a sync script (one per room) puts the node's members back and publishes a sync
 * marker, at which the node repairs what its clients were told (member list, gaps).
 *
 * Presence: a heartbeat key per node with a TTL of --node-ttl; every node looks for
 * nodes whose key has expired and removes their members, with member-left frames.
 *
 * When Redis is down, joins and room messages are refused with Unavailable (temporary);
 * connections stay up; leaves and closes are applied locally and to Redis on resync.
 */
import { Redis, type ChainableCommander, type Result } from 'ioredis';
import type { Logger } from 'pino';
import {
  decodeServerFrame,
  encodeJoined,
  encodeMemberJoined,
  encodeMemberLeft,
  encodeMessage,
  encodeMessageTemplate,
  encodeSent,
  ProtocolError,
  type ErrorCodeName,
  type MemberInfo,
} from '../protocol/index.js';
import { nicknameKey } from '../rooms/rules.js';
import { Room } from '../rooms/room.js';
import { RoomRegistry } from '../rooms/registry.js';
import type { ClusterStats, Directory, RoomDetail, RoomSummary } from './broker.js';
import { byMembersThenName, publicMember, recentEntry, type HubSettings } from './hub.js';
import { RelaySequencer } from './links.js';
import {
  decodeEntries,
  EnvelopeKind,
  historyOf,
  keys,
  memberMap,
  MEMBERS_SUFFIX,
  META_SUFFIX,
  NODE_CHANNEL_PREFIX,
  nicknameIn,
  parseEnvelope,
  ROOM_CHANNEL_PREFIX,
  type Envelope,
} from './redis.format.js';
import { JOIN, LEAVE, PRIVATE, ROOM_LIST, SAY, SYNC } from './redis.scripts.js';
import type { QueryKind, RelayBatch } from './relay.js';

export interface RedisHubSettings extends HubSettings {
  readonly redisUrl: string;
  /** This node's id (hex): connection ids start with it, Redis keys and channels name it. */
  readonly nodeId: string;
  /** A node whose heartbeat is older than this has its members removed by the others. */
  readonly nodeTtlMs: number;
}

/** How often the cluster's room list (for /api/rooms and /healthz) is read from Redis. */
export const ROOM_LIST_INTERVAL_MS = 1000;

// The scripts as commands (defineCommand below); chatJoinBuffer is chatJoin with Buffer replies (history frames).
declare module 'ioredis' {
  interface RedisCommander<Context> {
    chatSay(...args: [...(string | Buffer | number)[], (error: Error | null | undefined, seq?: number) => void]): Result<number, Context>;
    chatLeave(...args: (string | Buffer | number)[]): Result<number, Context>;
    chatSync(...args: (string | Buffer | number)[]): Result<unknown, Context>;
    chatPrivate(...args: (string | Buffer | number)[]): Result<number, Context>;
    chatJoinBuffer(...args: (string | Buffer | number)[]): Result<unknown, Context>;
    chatRoomList(...args: string[]): Result<unknown, Context>;
  }
}

/** A join or sync whose reply (from the command connection) and marker (in the room channel) meet. */
interface Marker {
  seen: boolean;
  /** Set when the script's reply has come: applies it at the marker's place. */
  ready: (() => void) | null;
  /** The subscription was lost: the marker will never come. */
  abort(): void;
}

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
  /** Every member of the room as this node's clients have been told (id -> nickname). */
  view = new Map<string, string>();
  readonly joining = new Map<string, PendingJoin>();
  readonly markers = new Map<string, Marker>();
  subscription: Promise<void> | null = null;
  epoch = 0;
  /** The last sequence number handed to the workers; null until the node is in step with the channel. */
  delivered: number | null = null;
  /** While a gap is fetched, or a marker has been met before its reply, envelopes queue up. */
  fetchingGap = false;
  waitingForReply = false;
  readonly queue: Envelope[] = [];

  constructor(readonly name: string) {
    this.channel = keys.roomChannel(name);
    this.local = new Room(name, 0, 0);
  }

  get blocked(): boolean {
    return this.fetchingGap || this.waitingForReply;
  }

  get idle(): boolean {
    return this.local.size === 0 && this.joining.size === 0;
  }
}

export class RedisHub extends RelaySequencer {
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly rooms = new Map<string, ClusterRoom>();
  /** Rooms of each local connection. */
  private readonly memberships = new RoomRegistry({ historyCapacity: 0, emptyRoomTtlMs: 0 });
  private roomList: RoomSummary[] = [];
  private nextToken = 0;
  /** True while both connections are up and every room has been synced since they came up. */
  private available = false;
  private syncing: Promise<void> | null = null;
  /** Room messages of the worker batch being carried out (see receive). */
  private messages: ChainableCommander | null = null;
  private receiving = false;
  /** A resync was asked for while one ran: run another after it. */
  private resyncAgain = false;
  private stopping = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private auditTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly settings: RedisHubSettings,
    log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    super(log);
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
    this.commands = new Redis(settings.redisUrl, { ...options, enableAutoPipelining: true, connectionName: `chat-${settings.nodeId}` });
    this.subscriber = new Redis(settings.redisUrl, { ...options, connectionName: `chat-${settings.nodeId}-sub` });
    this.commands.defineCommand('chatJoin', { numberOfKeys: 7, lua: JOIN });
    this.commands.defineCommand('chatSay', { numberOfKeys: 2, lua: SAY });
    this.commands.defineCommand('chatLeave', { numberOfKeys: 4, lua: LEAVE });
    this.commands.defineCommand('chatSync', { numberOfKeys: 7, lua: SYNC });
    this.commands.defineCommand('chatPrivate', { numberOfKeys: 1, lua: PRIVATE });
    this.commands.defineCommand('chatRoomList', { numberOfKeys: 1, lua: ROOM_LIST });
    this.subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onChannelMessage(channel, message));
    for (const [name, connection] of [
      ['commands', this.commands],
      ['subscriber', this.subscriber],
    ] as const) {
      connection.on('ready', () => this.onReady(name));
      connection.on('close', () => this.onLost(name));
      connection.on('error', (error: Error) => this.log.warn({ connection: name, err: error.message }, 'redis connection error'));
    }
  }

  start(): Promise<void> {
    // A node starts even when Redis is down: it serves what it can and joins the cluster once Redis answers.
    for (const connection of [this.commands, this.subscriber]) {
      connection.connect().catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'redis not reachable yet; retrying'));
    }
    const beat = Math.max(250, Math.floor(this.settings.nodeTtlMs / 4));
    this.timers.push(setInterval(() => void this.heartbeat(), beat).unref());
    this.timers.push(setInterval(() => void this.refreshRoomList(), ROOM_LIST_INTERVAL_MS).unref());
    this.log.info({ node: this.settings.nodeId, redis: redactUrl(this.settings.redisUrl), nodeTtlMs: this.settings.nodeTtlMs }, 'cluster node starting');
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    if (this.auditTimer) clearTimeout(this.auditTimer);
    this.links.stop();
    if (this.commands.status === 'ready') {
      // The workers have closed every connection by now; their leaves are in flight on
      // this connection. Removing the heartbeat lets the others forget the node at once.
      await Promise.allSettled([this.commands.del(keys.nodeAlive(this.settings.nodeId)), this.commands.srem(keys.nodes, this.settings.nodeId)]);
    }
    this.commands.disconnect();
    this.subscriber.disconnect();
  }

  // ------------------------------------------------------------ requests from workers

  /** Rooms joined and rooms being joined (closing cancels a join in flight: see join). */
  protected roomsOf(connection: string): ReadonlySet<string> {
    return this.memberships.roomsOf(connection);
  }

  join(connection: string, attempt: number, requestId: number, roomName: string, nickname: string, since: number, epoch: number): void {
    const worker = this.links.workerOf(connection);
    if (worker === undefined) return;
    const refuse = (code: ErrorCodeName, message: string, temporary = false): void =>
      this.links.joinFailed(worker, connection, attempt, roomName, this.errorFrame(requestId, code, message, roomName, temporary));
    if (!this.available) return refuse('Unavailable', UNAVAILABLE, true);
    let room = this.rooms.get(roomName);
    if (room?.local.member(connection) || room?.joining.has(connection)) return refuse('AlreadyJoined', 'you are already in this room');
    if (!room) this.rooms.set(roomName, (room = new ClusterRoom(roomName)));
    const pending: PendingJoin = { cancelled: false, after: [] };
    room.joining.set(connection, pending);
    this.memberships.noteJoined(connection, roomName);
    const token = this.newToken();
    const you = { id: connection, name: nickname };
    const joinedRoom = room;
    let settled = false;
    const finish = (joined: boolean): void => {
      settled = true;
      joinedRoom.joining.delete(connection);
      joinedRoom.markers.delete(token);
      if (!joined) this.memberships.noteLeft(connection, roomName);
      for (const next of pending.after) next();
      this.release(joinedRoom);
    };
    const unavailable = (): void => {
      if (settled) return;
      finish(false);
      refuse('Unavailable', UNAVAILABLE, true);
    };
    const marker: Marker = { seen: false, ready: null, abort: unavailable };
    room.markers.set(token, marker);

    this.subscribe(room)
      .then(() =>
        this.commands.chatJoinBuffer(
          keys.meta(roomName), keys.history(roomName), keys.members(roomName), keys.nicknames(roomName),
          keys.rooms, keys.nodeRooms(this.settings.nodeId), keys.lastEpoch,
          roomName, connection, this.settings.nodeId, nicknameKey(nickname), nickname, Buffer.from(encodeMemberJoined(roomName, you)), token,
          joinedRoom.channel, since, epoch, this.settings.joinHistory,
        ),
      )
      .then(
        (raw) => {
          // Aborted (subscription lost): if the script ran, the sync removes the member again.
          if (settled) return;
          const reply = raw as [Buffer, ...unknown[]];
          const status = reply[0].toString();
          if (status !== 'ok') {
            finish(false);
            return status === 'NicknameTaken'
              ? refuse('NicknameTaken', `the nickname "${nickname}" is taken in this room`)
              : refuse('AlreadyJoined', 'you are already in this room');
          }
          const [, head, roomEpoch, members, entries, recovering] = reply as [Buffer, number, number, Buffer[], [Buffer, Buffer[]][], number];
          marker.ready = (): void => {
            joinedRoom.view = memberMap(members);
            const holder = this.links.workerOf(connection);
            if (pending.cancelled || holder === undefined) {
              // Closed or left while joining: it is in Redis now, so take it out again.
              finish(false);
              void this.leaveInRedis(roomName, you);
              return;
            }
            joinedRoom.local.add({ ...you, worker: holder });
            const history = historyOf(entries, since, head, recovering === 1, this.settings.joinHistory, this.log);
            const frame = encodeJoined(requestId, {
              room: roomName,
              you,
              members: [...joinedRoom.view].map(([id, name]) => ({ id, name })),
              history: history.messages,
              headSeq: head,
              recovered: history.recovered,
              epoch: roomEpoch,
            });
            this.links.joined(holder, connection, attempt, roomName, frame);
            this.counts.joins++;
            finish(true);
          };
          if (marker.seen) this.replied(joinedRoom, marker);
        },
        (error: unknown) => {
          this.log.warn({ room: roomName, err: (error as Error).message }, 'join failed: redis unavailable');
          const waiting = marker.seen;
          unavailable();
          if (waiting) this.replied(joinedRoom, null);
        },
      )
      .catch(this.bug);
  }

  leave(connection: string, roomName: string): void {
    const room = this.rooms.get(roomName);
    const pending = room?.joining.get(connection);
    if (pending) pending.cancelled = true;
    const member = room?.local.remove(connection, 0);
    if (!room || !member) return; // not in it, or joining (cancelled above: the join undoes itself)
    this.memberships.noteLeft(connection, roomName);
    // While Redis is away the leave is applied locally; the sync after it comes back removes it there.
    if (this.available) this.leaveInRedis(roomName, publicMember(member));
    this.release(room);
  }

  say(connection: string, requestId: number, roomName: string, text: string, to: string): void {
    const worker = this.links.workerOf(connection);
    if (worker === undefined) return;
    const room = this.rooms.get(roomName);
    const pending = room?.joining.get(connection);
    if (pending) {
      pending.after.push(() => this.say(connection, requestId, roomName, text, to));
      return;
    }
    const sender = room?.local.member(connection);
    const fail = (code: ErrorCodeName, message: string, temporary = false): void =>
      this.links.send(worker, connection, this.errorFrame(requestId, code, message, roomName, temporary));
    if (!room || !sender) return fail('NotJoined', 'join the room before talking in it');
    if (to !== '') return this.sayPrivately(room, worker, publicMember(sender), requestId, text, to);
    if (!this.available) return fail('Unavailable', UNAVAILABLE, true);

    const { frame, seqOffset } = encodeMessageTemplate({ room: roomName, sender: publicMember(sender), to: null, text, timestampMs: this.now() });
    const pipeline = (this.messages ??= this.commands.pipeline());
    pipeline.chatSay(
      keys.meta(roomName), keys.history(roomName), Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), seqOffset, this.settings.historyCapacity, room.channel,
      (error: Error | null | undefined, seq?: number) => {
        if (error || seq === undefined) {
          // Per message during an outage: the line is built only when debug is on.
          if (this.log.isLevelEnabled('debug')) this.log.debug({ room: roomName, err: error?.message }, 'message refused: redis unavailable');
          this.sendIfOpen(connection, this.errorFrame(requestId, 'Unavailable', UNAVAILABLE, roomName, true));
        } else if (seq < 0) {
          // The room is gone from Redis (it restarted, empty): put it back before anything more.
          this.sendIfOpen(connection, this.errorFrame(requestId, 'Unavailable', UNAVAILABLE, roomName, true));
          this.resync('room missing in redis');
        } else {
          this.counts.roomMessages++;
          if (requestId !== 0) this.sendIfOpen(connection, encodeSent(requestId, roomName, seq));
        }
      },
    );
    if (!this.receiving) this.sendMessages();
  }

  /** Carries out a worker batch; its room messages go to Redis as one pipeline when it is done. */
  override receive(from: number, batch: RelayBatch): void {
    this.receiving = true;
    try {
      super.receive(from, batch);
    } finally {
      this.receiving = false;
      this.sendMessages();
    }
  }

  /** Sends the pipeline of room messages; each message's reply comes to its own callback. */
  private sendMessages(): void {
    const pipeline = this.messages;
    if (!pipeline) return;
    this.messages = null;
    // A failed pipeline fails each of its commands too (their callbacks answer the clients).
    pipeline.exec().catch((error: unknown) => this.log.debug({ err: (error as Error).message }, 'message pipeline failed'));
  }

  query(from: number, queryId: number, kind: QueryKind, argument: string): void {
    switch (kind) {
      case 'rooms':
        return this.links.queryResult(from, queryId, this.roomList);
      case 'stats':
        return this.links.queryResult(from, queryId, this.stats());
      case 'room':
        this.roomDetail(argument).then(
          (detail) => this.links.queryResult(from, queryId, detail),
          (error: unknown) => {
            this.log.warn({ room: argument, err: (error as Error).message }, 'room query failed: redis unavailable');
            this.links.queryUnavailable(from, queryId, 'the cluster is unavailable (Redis cannot be reached); retry shortly');
          },
        )
        .catch(this.bug);
    }
  }

  stats(): ClusterStats {
    return this.links.stats(this.roomList.length);
  }

  get roomCount(): number {
    return this.roomList.length;
  }

  // ------------------------------------------------------------ room traffic

  private sayPrivately(room: ClusterRoom, worker: number, sender: MemberInfo, requestId: number, text: string, to: string): void {
    const connection = sender.id;
    const local = room.local.member(to);
    const name = local?.name ?? room.view.get(to);
    const notFound = (): void => this.sendIfOpen(connection, this.errorFrame(requestId, 'RecipientNotFound', 'no such member in this room', room.name));
    if (name === undefined) return notFound();
    const frame = encodeMessage({ room: room.name, seq: 0, sender, to: { id: to, name }, text, timestampMs: this.now() });
    const delivered = (): void => {
      this.counts.privateMessages++;
      if (to !== connection) this.sendIfOpen(connection, frame);
      if (requestId !== 0) this.sendIfOpen(connection, encodeSent(requestId, room.name, 0));
    };
    if (local) {
      // Both on this node: no need to go through Redis.
      this.links.send(local.worker, to, frame);
      return delivered();
    }
    if (!this.available) return this.links.send(worker, connection, this.errorFrame(requestId, 'Unavailable', UNAVAILABLE, room.name, true));
    const id = Buffer.from(to);
    const payload = Buffer.concat([Buffer.from([id.length]), id, frame]);
    this.commands
      .chatPrivate(keys.members(room.name), to, NODE_CHANNEL_PREFIX, payload)
      .then(
        (sent) => (sent === 1 ? delivered() : notFound()),
        () => this.sendIfOpen(connection, this.errorFrame(requestId, 'Unavailable', UNAVAILABLE, room.name, true)),
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
    if (channel.startsWith(NODE_CHANNEL_PREFIX)) return this.onPrivate(message);
    const room = this.rooms.get(channel.slice(ROOM_CHANNEL_PREFIX.length));
    if (!room) return; // unsubscribed meanwhile
    const envelope = parseEnvelope(message);
    if (!envelope) {
      this.log.warn({ channel, bytes: message.length }, 'malformed envelope on a room channel dropped');
      return;
    }
    this.process(room, envelope);
  }

  private onPrivate(message: Buffer): void {
    const idLength = message[0];
    if (idLength === undefined || message.length < 1 + idLength) {
      this.log.warn({ bytes: message.length }, 'malformed private message dropped');
      return;
    }
    const connection = message.toString('utf8', 1, 1 + idLength);
    this.sendIfOpen(connection, message.subarray(1 + idLength));
  }

  /** One envelope of `room`, in channel order (queued while the room is blocked). */
  private process(room: ClusterRoom, envelope: Envelope): void {
    if (room.blocked) {
      room.queue.push(envelope);
      return;
    }
    const marker = envelope.token === '' ? undefined : room.markers.get(envelope.token);
    if (room.delivered === null) {
      // Not in step yet: everything before this node's first marker is covered by its snapshot.
      if (!marker) return;
      room.epoch = envelope.epoch;
      room.delivered = envelope.head;
    }
    if (envelope.epoch !== room.epoch && envelope.epoch !== 0) {
      // Redis lost the room and someone created it again before this node put it back.
      this.log.warn({ room: room.name, from: room.epoch, to: envelope.epoch }, 'room epoch changed under its members');
      room.epoch = envelope.epoch;
      room.delivered = envelope.kind === EnvelopeKind.Message ? envelope.head - 1 : envelope.head;
    }
    const delivered = room.delivered;
    if (envelope.kind === EnvelopeKind.Message) {
      if (envelope.head <= delivered) return; // seen already (a resync or a gap fetch brought it)
      if (envelope.head > delivered + 1) return this.fillGap(room, envelope.head - 1, envelope);
      room.delivered = envelope.head;
      this.deliver(room, envelope.frame);
      return;
    }
    if (envelope.head > delivered) return this.fillGap(room, envelope.head, envelope);
    if (envelope.kind === EnvelopeKind.Member) this.applyMemberFrame(room, envelope.frame);
    if (marker) {
      marker.seen = true;
      if (marker.ready) marker.ready();
      else room.waitingForReply = true; // the reply is on its way: nothing passes the marker before it
    }
  }

  /** A marker met before its reply: the reply (or its failure, `marker` null) has come; go on past it. */
  private replied(room: ClusterRoom, marker: Marker | null): void {
    marker?.ready?.();
    room.waitingForReply = false;
    this.drain(room);
  }

  /** A member-joined or member-left frame: kept in the room's view, handed to the workers. */
  private applyMemberFrame(room: ClusterRoom, frame: Uint8Array): void {
    let event;
    try {
      event = decodeServerFrame(frame);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.log.warn({ room: room.name, code: error.code }, 'undecodable member frame on a room channel dropped');
      return;
    }
    // A sync puts members back that this node's clients never saw leave, and a reaper may
    // remove one twice: only changes reach the clients.
    if (event.type === 'memberJoined') {
      if (room.view.get(event.member.id) === event.member.name) return;
      room.view.set(event.member.id, event.member.name);
    } else if (event.type === 'memberLeft') {
      if (room.local.member(event.member.id)) {
        // Still connected here: another node's reaper took this node for dead. Put its members back.
        this.resync('own member removed by another node', true);
        return;
      }
      if (!room.view.delete(event.member.id)) return;
    } else return;
    this.deliver(room, frame);
  }

  private deliver(room: ClusterRoom, frame: Uint8Array): void {
    for (const worker of room.local.workers()) this.links.publish(worker, room.name, frame);
  }

  /** Fetches the room's messages up to `to` from its history, delivers them, then goes on with `then`. */
  private fillGap(room: ClusterRoom, to: number, then: Envelope): void {
    const from = room.delivered! + 1;
    room.fetchingGap = true;
    room.queue.unshift(then);
    this.commands.xrangeBuffer(keys.history(room.name), `${from}-0`, `${to}-0`).then(
      (entries) => {
        for (const [id, fields] of entries) {
          const seq = Number.parseInt(id.toString(), 10);
          const frame = fields[1];
          if (seq <= room.delivered! || seq > to || !frame) continue;
          if (seq !== room.delivered! + 1) this.log.warn({ room: room.name, from: room.delivered! + 1, to: seq - 1 }, 'messages gone from history before this node got them');
          room.delivered = seq;
          this.deliver(room, frame);
        }
        if (room.delivered! < to) this.log.warn({ room: room.name, from: room.delivered! + 1, to }, 'messages gone from history before this node got them');
        else this.log.info({ room: room.name, from, to }, 'gap filled from history');
        room.delivered = Math.max(room.delivered!, to);
        room.fetchingGap = false;
        this.drain(room);
      },
      (error: unknown) => {
        // Redis went away: the sync when it is back repairs the room. Joins and syncs
        // waiting in the queue for their markers fail now rather than never.
        this.log.warn({ room: room.name, err: (error as Error).message }, 'gap fetch failed');
        room.queue.length = 0;
        room.fetchingGap = false;
        for (const marker of [...room.markers.values()]) marker.abort();
      },
    )
      .catch(this.bug);
  }

  private drain(room: ClusterRoom): void {
    while (!room.blocked && room.queue.length > 0) this.process(room, room.queue.shift()!);
  }

  // ------------------------------------------------------------ subscriptions and presence

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
    if (!room.idle || this.rooms.get(room.name) !== room) return;
    this.rooms.delete(room.name);
    // A sync of this room in flight will not see its marker now: it fails, and the resync runs again without the room.
    for (const marker of [...room.markers.values()]) marker.abort();
    if (room.subscription && this.subscriber.status === 'ready') {
      this.subscriber.unsubscribe(room.channel).catch((error: unknown) => this.log.warn({ room: room.name, err: (error as Error).message }, 'unsubscribe failed'));
    }
    if (this.available) {
      this.commands.srem(keys.nodeRooms(this.settings.nodeId), room.name).catch((error: unknown) => this.log.debug({ err: (error as Error).message }, 'srem failed'));
    }
  }

  private leaveInRedis(roomName: string, member: MemberInfo, onNode = ''): Promise<number> {
    return this.commands
      .chatLeave(
        keys.members(roomName), keys.nicknames(roomName), keys.meta(roomName), keys.history(roomName),
        member.id, onNode, Buffer.from(encodeMemberLeft(roomName, member)), keys.roomChannel(roomName), Math.max(1, this.settings.emptyRoomTtlMs),
      )
      .catch((error: unknown) => {
        // The sync after Redis comes back removes what this node no longer has.
        this.log.warn({ room: roomName, err: (error as Error).message }, 'leave not written to redis; the next sync will');
        return 0;
      });
  }

  private onReady(connection: string): void {
    this.log.info({ connection }, 'redis connection ready');
    if (this.commands.status === 'ready' && this.subscriber.status === 'ready') this.resync('connected');
  }

  private onLost(connection: string): void {
    if (this.stopping) return;
    if (this.available) this.log.warn({ connection }, 'redis connection lost: requests get Unavailable until it is back');
    this.available = false;
    if (connection !== 'subscriber') return;
    // The subscriptions are gone with the connection: markers will not come, and every
    // room gets back in step at its sync marker.
    for (const room of this.rooms.values()) {
      room.subscription = null;
      room.queue.length = 0;
      room.waitingForReply = false;
      for (const marker of [...room.markers.values()]) marker.abort();
    }
  }

  /**
   * Gets the node back in step after (re)connecting: its own channel, every room with
   * local members re-subscribed and synced (members put back, the room too if Redis lost
   * it, stale entries removed, the member list and any gap repaired at the sync marker).
   */
  private resync(reason: string, stillServing = false): void {
    if (this.stopping) return;
    if (this.syncing) {
      this.resyncAgain = true;
      return;
    }
    // After a lost connection nothing is served until the node is in step again; when only
    // presence needs repair (taken for dead) traffic goes on meanwhile.
    if (!stillServing) this.available = false;
    const run = async (): Promise<void> => {
      await this.heartbeat();
      await this.subscriber.subscribe(keys.nodeChannel(this.settings.nodeId));
      const rooms = [...this.rooms.values()].filter((r) => r.local.size > 0);
      await Promise.all(rooms.map((room) => this.syncRoom(room, false)));
      // Rooms this node had members in and has none now (they left while Redis was away): out of Redis with them.
      const node = this.settings.nodeId;
      for (const name of await this.commands.smembers(keys.nodeRooms(node))) {
        if (this.rooms.get(name)?.local.size) continue;
        await this.removeMembersOf(node, name);
        await this.commands.srem(keys.nodeRooms(node), name);
      }
      this.available = true;
      this.log.info({ reason, rooms: rooms.length }, 'in step with the cluster');
      if (this.auditTimer) clearTimeout(this.auditTimer);
      this.auditTimer = setTimeout(() => this.audit(), this.settings.nodeTtlMs).unref();
    };
    this.syncing = run()
      .catch((error: unknown) => this.log.warn({ reason, err: (error as Error).message }, 'resync failed; retrying when redis is back'))
      .finally(() => {
        this.syncing = null;
        const again = this.resyncAgain;
        this.resyncAgain = false;
        // Lost again meanwhile, or asked for again while this one ran: the next ready event or this check starts another.
        if ((again || !this.available) && this.commands.status === 'ready' && this.subscriber.status === 'ready') this.resync('retry', this.available);
      });
  }

  /**
   * One node TTL after a resync every live node has synced too (or has been reaped):
   * a second sync of every room may now also remove members that Redis does not have
   * (members of a dead node, or who left while Redis was away and lost its data).
   */
  private audit(): void {
    this.auditTimer = null;
    if (!this.available) return;
    const rooms = [...this.rooms.values()].filter((r) => r.local.size > 0);
    Promise.all(rooms.map((room) => this.syncRoom(room, true))).then(
      () => this.log.debug({ rooms: rooms.length }, 'member lists audited'),
      (error: unknown) => this.log.warn({ err: (error as Error).message }, 'member list audit failed; the next resync does it again'),
    );
  }

  /** Puts this node's members of `room` back in Redis; `full`: the member list may lose members too (see audit). */
  private async syncRoom(room: ClusterRoom, full: boolean): Promise<void> {
    if (!full) {
      // After a reconnect the old subscription may be gone: subscribe again (a no-op when it is not).
      room.subscription = null;
    }
    await this.subscribe(room);
    const token = this.newToken();
    const members: (string | Buffer)[] = [];
    for (const m of room.local.memberList()) {
      members.push(m.id, nicknameKey(m.name), m.name, Buffer.from(encodeMemberJoined(room.name, publicMember(m))));
    }
    const stale = await new Promise<string[]>((resolve, reject) => {
      const abort = (): void => {
        room.markers.delete(token);
        reject(new Error('sync marker lost (redis went away)'));
      };
      const marker: Marker = { seen: false, ready: null, abort };
      room.markers.set(token, marker);
      this.commands
        .chatSync(
          keys.meta(room.name), keys.history(room.name), keys.members(room.name), keys.nicknames(room.name),
          keys.rooms, keys.nodeRooms(this.settings.nodeId), keys.lastEpoch,
          room.name, this.settings.nodeId, room.epoch, room.delivered ?? 0, token, room.channel, ...members,
        )
        .then(
          (raw) => {
            const [head, epoch, all, staleIds, refused] = raw as [number, number, string[], string[], string[]];
            for (const id of refused) this.log.warn({ room: room.name, member: id }, 'member not restored: its nickname was taken while redis was away');
            marker.ready = (): void => {
              room.markers.delete(token);
              this.repairView(room, memberMap(all), head, epoch, full);
              resolve(staleIds);
            };
            if (marker.seen) this.replied(room, marker);
          },
          (error: unknown) => {
            room.markers.delete(token);
            if (marker.seen) this.replied(room, null);
            reject(error as Error);
          },
        );
    });
    await Promise.all(stale.map((id) => this.leaveInRedis(room.name, { id, name: room.view.get(id) ?? '' }, this.settings.nodeId)));
  }

  /**
   * At a sync marker: tell local clients what changed while the node was out of step.
   * Right after Redis comes back the other nodes may not have put their members back
   * yet, so members missing from Redis are removed only by a `full` sync (the audit).
   */
  private repairView(room: ClusterRoom, members: Map<string, string>, head: number, epoch: number, full: boolean): void {
    if (full) for (const [id, name] of room.view) if (!members.has(id)) this.deliver(room, encodeMemberLeft(room.name, { id, name }));
    for (const [id, name] of members) if (!room.view.has(id)) this.deliver(room, encodeMemberJoined(room.name, { id, name }));
    room.view = full ? members : new Map([...room.view, ...members]);
    if (room.epoch !== epoch) {
      room.epoch = epoch;
      room.delivered = head;
    }
    if (room.delivered !== null && head > room.delivered) {
      // Messages sequenced while this node was not subscribed: from the history, before what follows the marker.
      this.fillGap(room, head, { kind: EnvelopeKind.Sync, head, epoch, token: '', frame: EMPTY });
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.commands.status !== 'ready') return;
    const node = this.settings.nodeId;
    try {
      const replies = await this.commands.multi().set(keys.nodeAlive(node), '1', 'PX', this.settings.nodeTtlMs).sadd(keys.nodes, node).exec();
      if (this.available && replies?.[1]?.[1] === 1) {
        // Not in the node set although in step: the others took this node for dead (it was
        // silent past --node-ttl) and removed its members. Put them back.
        this.log.warn('this node was taken for dead by the cluster; rejoining');
        this.resync('taken for dead', true);
      }
      await this.reap();
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'heartbeat failed');
    }
  }

  /** Removes the members of nodes whose heartbeat has expired, with member-left frames. */
  private async reap(): Promise<void> {
    const nodes = (await this.commands.smembers(keys.nodes)).filter((n) => n !== this.settings.nodeId);
    if (nodes.length === 0) return;
    const alive = await Promise.all(nodes.map((n) => this.commands.exists(keys.nodeAlive(n))));
    for (const [i, dead] of nodes.entries()) {
      if (alive[i] === 1) continue;
      const rooms = await this.commands.smembers(keys.nodeRooms(dead));
      let removed = 0;
      for (const room of rooms) removed += await this.removeMembersOf(dead, room);
      await this.commands.multi().del(keys.nodeRooms(dead)).srem(keys.nodes, dead).exec();
      this.log.warn({ node: dead, rooms: rooms.length, members: removed }, 'node expired: its members were removed');
    }
  }

  /** Takes every member of `node` out of `room` in Redis, with member-left frames; returns how many. */
  private async removeMembersOf(node: string, room: string): Promise<number> {
    const members = await this.commands.hgetall(keys.members(room));
    let removed = 0;
    for (const [id, value] of Object.entries(members)) {
      if (!value.startsWith(`${node}\t`)) continue;
      removed += await this.leaveInRedis(room, { id, name: nicknameIn(value) }, node);
    }
    return removed;
  }

  // ------------------------------------------------------------ directory and queries

  protected directory(): Directory {
    return { stats: this.stats(), rooms: this.roomList };
  }

  /** The cluster's rooms (members, head seq), read every ROOM_LIST_INTERVAL_MS; rooms Redis expired are swept. */
  private async refreshRoomList(): Promise<void> {
    if (!this.available) return;
    try {
      // One script call: with thousands of rooms, two commands per room every second kept a core busy.
      const flat = (await this.commands.chatRoomList(keys.rooms, ROOM_CHANNEL_PREFIX, META_SUFFIX, MEMBERS_SUFFIX)) as (string | number)[];
      const list: RoomSummary[] = [];
      for (let i = 0; i + 2 < flat.length; i += 3) list.push({ name: String(flat[i]), members: Number(flat[i + 1]), headSeq: Number(flat[i + 2]) });
      this.roomList = list.sort(byMembersThenName);
      this.links.changed();
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'room list not refreshed');
    }
  }

  private async roomDetail(name: string): Promise<RoomDetail | null> {
    const [seq, members, entries] = await Promise.all([
      this.commands.hget(keys.meta(name), 'seq'),
      this.commands.hgetallBuffer(keys.members(name)),
      this.settings.joinHistory > 0 ? this.commands.xrevrangeBuffer(keys.history(name), '+', '-', 'COUNT', this.settings.joinHistory) : Promise.resolve([]),
    ]);
    if (seq === null) return null;
    const memberList = Object.entries(members).map(([id, value]) => ({ id, name: nicknameIn(value.toString()) }));
    const recent = decodeEntries(entries.reverse(), this.log).map(recentEntry);
    return { name, members: memberList.length, headSeq: Number(seq), memberList, recent };
  }

  /**
   * The last stop for an exception in a reply handler (a bug): logged loudly, and the node
   * goes on serving its other rooms, as the supervisor does for the hub.
   */
  private readonly bug = (error: unknown): void => {
    this.log.error({ err: error }, 'cluster sequencer failed on a reply from redis; carrying on');
  };

  /** Names one join or sync of this node; its marker in a room channel carries it. */
  private newToken(): string {
    return `${this.settings.nodeId}:${(this.nextToken++).toString(36)}`;
  }

  private sendIfOpen(connection: string, frame: Uint8Array): void {
    const worker = this.links.workerOf(connection);
    if (worker !== undefined) this.links.send(worker, connection, frame);
  }
}

const UNAVAILABLE = 'the cluster is unavailable; try again shortly';
const EMPTY = new Uint8Array(0);

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
