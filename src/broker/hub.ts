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
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import {
  encodeError,
  encodeJoined,
  encodeMemberJoined,
  encodeMemberLeft,
  encodeMessage,
  encodeSent,
  type ErrorCodeName,
  type MemberInfo,
} from '../protocol/index.js';
import { countError, newHubCounts } from '../metrics/counters.js';
import { RoomRegistry, type RoomSettings } from '../rooms/registry.js';
import type { Room } from '../rooms/room.js';
import { DIRECTORY_INTERVAL_MS, type ClusterStats, type Directory, type RoomDetail, type RoomSummary } from './broker.js';
import { BatchWriter, HubOp, type QueryKind, type RelayBatch, WorkerOp } from './relay.js';

export interface HubSettings extends RoomSettings {
  /** How many recent messages a Joined frame carries when nothing is recovered. */
  readonly joinHistory: number;
}

interface WorkerLink {
  readonly index: number;
  readonly incarnation: number;
  readonly port: MessagePort | { postMessage(value: unknown, transfer?: ArrayBuffer[]): void };
  readonly out: BatchWriter;
  connections: number;
  /** Relay batches sent to / received from this incarnation (for the queue-depth metric). */
  sent: number;
  received: number;
}

export class Hub {
  /** Totals for /metrics (read by the supervisor at scrape time). */
  readonly counts = newHubCounts();
  private readonly registry: RoomRegistry;
  private readonly links = new Map<number, WorkerLink>();
  /** Which worker holds each open connection. */
  private readonly connectionWorker = new Map<string, number>();
  private flushScheduled = false;
  private readonly sweepTimer: NodeJS.Timeout;
  private restarts = 0;
  /** Directory bookkeeping: pushed with the next flush when changed, at most every DIRECTORY_INTERVAL_MS. */
  private directoryChanged = true;
  private lastDirectoryPush = -Infinity;
  private directoryTimer: NodeJS.Timeout | null = null;
  private directoryDue = false;

  constructor(
    private readonly settings: HubSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.registry = new RoomRegistry(settings);
    const sweepEvery = Math.max(1000, Math.min(60_000, Math.floor(settings.emptyRoomTtlMs / 2)));
    this.sweepTimer = setInterval(() => {
      if (this.registry.sweep(this.now()) > 0) this.changed();
    }, sweepEvery).unref();
  }

  /** A worker (re)started: `port` reaches it. */
  attach(index: number, incarnation: number, port: WorkerLink['port'], isRestart: boolean): void {
    if (isRestart) this.restarts++;
    this.links.set(index, { index, incarnation, port, out: new BatchWriter(), connections: 0, sent: 0, received: 0 });
    // A new worker gets the directory at once; the others see the new worker in it.
    this.lastDirectoryPush = -Infinity;
    this.changed();
  }

  /** A worker stopped: its connections leave every room, with member-left frames to the others. */
  detach(index: number): void {
    this.links.delete(index);
    const gone: string[] = [];
    for (const [connection, worker] of this.connectionWorker) if (worker === index) gone.push(connection);
    for (const connection of gone) this.close(connection);
    this.changed();
    if (gone.length > 0) this.log.info({ worker: index, connections: gone.length }, 'removed the connections of a stopped worker');
  }

  stop(): void {
    clearInterval(this.sweepTimer);
    if (this.directoryTimer) clearTimeout(this.directoryTimer);
  }

  /** Carries out one batch from worker `from`. */
  receive(from: number, batch: RelayBatch): void {
    this.changed();
    const link = this.links.get(from);
    if (link) link.received++;
    this.counts.relayBatchesReceived[from] = (this.counts.relayBatchesReceived[from] ?? 0) + 1;
    const ops = batch.ops;
    let i = 0;
    while (i < ops.length) {
      const op = ops[i++] as WorkerOp;
      switch (op) {
        case WorkerOp.Open:
          this.open(from, ops[i++] as string);
          break;
        case WorkerOp.Close:
          this.close(ops[i++] as string);
          break;
        case WorkerOp.Join:
          this.join(ops[i++] as string, ops[i++] as number, ops[i++] as number, ops[i++] as string, ops[i++] as string, ops[i++] as number, ops[i++] as number);
          break;
        case WorkerOp.Leave:
          this.leave(ops[i++] as string, ops[i++] as string);
          break;
        case WorkerOp.Say:
          this.say(ops[i++] as string, ops[i++] as number, ops[i++] as string, ops[i++] as string, ops[i++] as string);
          break;
        case WorkerOp.Query:
          this.query(from, ops[i++] as number, ops[i++] as QueryKind, ops[i++] as string);
          break;
        default:
          // A batch we cannot parse means a bug in the relay, not client input: drop the rest, loudly.
          this.log.error({ worker: from, op }, 'unknown relay op; rest of batch dropped');
          return;
      }
    }
  }

  private open(worker: number, connection: string): void {
    this.connectionWorker.set(connection, worker);
    const link = this.links.get(worker);
    if (link) link.connections++;
  }

  private close(connection: string): void {
    const worker = this.connectionWorker.get(connection);
    if (worker === undefined) return;
    this.connectionWorker.delete(connection);
    const link = this.links.get(worker);
    if (link) link.connections--;
    for (const name of [...this.registry.roomsOf(connection)]) this.leave(connection, name);
  }

  private join(connection: string, attempt: number, requestId: number, roomName: string, nickname: string, since: number, epoch: number): void {
    const worker = this.connectionWorker.get(connection);
    if (worker === undefined) return; // closed meanwhile
    const now = this.now();
    const existing = this.registry.get(roomName);
    const refuse = (code: ErrorCodeName, message: string): void => {
      const out = this.outFor(worker);
      if (!out) return;
      countError(this.counts.errors, code);
      out.push(HubOp.JoinFailed, connection, attempt, roomName);
      out.pushFrame(encodeError(requestId, code, message, roomName));
    };
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
    const out = this.outFor(worker);
    if (out) {
      out.push(HubOp.Joined, connection, attempt, roomName);
      out.pushFrame(frame);
    }
  }

  private leave(connection: string, roomName: string): void {
    const room = this.registry.get(roomName);
    const member = room?.remove(connection, this.now());
    if (!room || !member) return;
    this.registry.noteLeft(connection, roomName);
    this.publish(room, encodeMemberLeft(roomName, publicMember(member)));
  }

  private say(connection: string, requestId: number, roomName: string, text: string, to: string): void {
    const worker = this.connectionWorker.get(connection);
    if (worker === undefined) return;
    const room = this.registry.get(roomName);
    const sender = room?.member(connection);
    if (!room || !sender) return this.fail(worker, connection, requestId, 'NotJoined', 'join the room before talking in it', roomName);

    if (to !== '') {
      const recipient = room.member(to);
      if (!recipient) return this.fail(worker, connection, requestId, 'RecipientNotFound', 'no such member in this room', roomName);
      const frame = encodeMessage({ room: roomName, seq: 0, sender: publicMember(sender), to: publicMember(recipient), text, timestampMs: this.now() });
      this.sendTo(recipient.worker, recipient.id, frame);
      this.counts.privateMessages++;
      if (recipient.id !== sender.id) this.sendTo(worker, connection, frame);
      if (requestId !== 0) this.sendTo(worker, connection, encodeSent(requestId, roomName, 0));
      return;
    }

    const message = room.append(publicMember(sender), text, this.now());
    this.counts.roomMessages++;
    this.publish(room, encodeMessage(message));
    if (requestId !== 0) this.sendTo(worker, connection, encodeSent(requestId, roomName, message.seq));
  }

  private query(from: number, queryId: number, kind: QueryKind, argument: string): void {
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
              recent: room.recent(this.settings.joinHistory).map((m) => ({ seq: m.seq, sender: m.sender, text: m.text, timestampMs: m.timestampMs })),
            }
          : null;
        break;
      }
      case 'stats':
        result = this.stats();
        break;
    }
    this.outFor(from)?.push(HubOp.QueryResult, queryId, result);
  }

  /** Per worker slot: relay batches exchanged with its current incarnation. */
  linkCounts(): Map<number, { sent: number; received: number }> {
    return new Map([...this.links.values()].map((l) => [l.index, { sent: l.sent, received: l.received }]));
  }

  get workerRestarts(): number {
    return this.restarts;
  }

  /** Rooms that exist now. */
  get roomCount(): number {
    return this.registry.size;
  }

  stats(): ClusterStats {
    const perWorker = [...this.links.values()]
      .map((l) => ({ index: l.index, incarnation: l.incarnation, connections: l.connections }))
      .sort((a, b) => a.index - b.index);
    return {
      workers: this.links.size,
      connections: this.connectionWorker.size,
      rooms: this.registry.size,
      workerRestarts: this.restarts,
      perWorker,
    };
  }

  private fail(worker: number, connection: string, requestId: number, code: ErrorCodeName, message: string, room: string): void {
    countError(this.counts.errors, code);
    this.sendTo(worker, connection, encodeError(requestId, code, message, room));
  }

  /** The same bytes to every worker with members of the room. */
  private publish(room: Room, frame: Uint8Array): void {
    for (const worker of room.workers()) {
      const out = this.outFor(worker);
      if (!out) continue;
      out.push(HubOp.Publish, room.name);
      out.pushFrame(frame);
    }
  }

  private sendTo(worker: number, connection: string, frame: Uint8Array): void {
    const out = this.outFor(worker);
    if (!out) return;
    out.push(HubOp.Send, connection);
    out.pushFrame(frame);
  }

  private outFor(worker: number): BatchWriter | undefined {
    const link = this.links.get(worker);
    if (!link) return undefined;
    this.scheduleFlush();
    return link.out;
  }

  /** Something the directory shows may have changed: push it with the next flush, or once the interval is up. */
  private changed(): void {
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

  private directory(): Directory {
    return { stats: this.stats(), rooms: this.roomSummaries() };
  }

  /** Every room, most members first. */
  private roomSummaries(): RoomSummary[] {
    return [...this.registry.all()].map(summary).sort(byMembersThenName);
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

function publicMember(member: MemberInfo): MemberInfo {
  return { id: member.id, name: member.name };
}

function byMembersThenName(a: RoomSummary, b: RoomSummary): number {
  return b.members - a.members || a.name.localeCompare(b.name);
}

function summary(room: Room): RoomSummary {
  return { name: room.name, members: room.size, headSeq: room.headSeq };
}
