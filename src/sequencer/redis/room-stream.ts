/**
 * One room's stream of envelopes on a node of the cluster: what its clients get, in
 * the room's order, exactly once. Redis publishes every room event on the room's
 * channel; the stream hands the frames to the node's workers in sequence order,
 * drops what it delivered already, and fetches a skipped sequence number from the
 * room's history before anything after it.
 *
 * Joins and syncs are ordered with the traffic by markers: the script publishes an
 * envelope tagged with a token, and the node applies the script's reply (a Joined
 * snapshot, a repaired member list) at the marker's place. Whichever of the marker
 * and the reply comes first waits for the other; while the stream waits, envelopes
 * queue up.
 *
 * No I/O of its own: it reads history and delivers frames through RoomStreamIo, so
 * it is tested with scripted envelopes.
 */
import type { Logger } from 'pino';
import { decodeServerFrame, type MemberInfo, ProtocolError, type ServerEvent } from '../../protocol/index.js';
import { MemberSet } from '../../rooms/member-set.js';
import { EnvelopeKind, type Envelope, RESUMED_TOKEN } from './format.js';

export interface RoomStreamIo {
  /** The room's history from `from` to `to` (sequence numbers, inclusive) as [seq, Message frame], in order. */
  fetchRange(from: number, to: number): Promise<[number, Uint8Array][]>;
  /** Hands a room message frame to every worker with members of the room. */
  deliver(frame: Uint8Array): void;
  /** A member joined (`count` members now): for the room's next Presence frame. */
  memberJoined(member: MemberInfo, count: number): void;
  /** A member left (`count` members now): for the room's next Presence frame. */
  memberLeft(member: MemberInfo, count: number): void;
  /** Whether a member is connected to this node. */
  isLocal(id: string): boolean;
  /** Another node removed a member still connected here (it took this node for dead): put them back. */
  ownMemberRemoved(): void;
  /** A rejoin elsewhere (or here) took over the membership of a connection still open here: it leaves the room locally and is told. */
  ownMemberResumed(member: MemberInfo): void;
  /**
   * The room has a new epoch under its members (Redis lost it, and it was made again):
   * tell the local members before any message of the new epoch reaches them.
   */
  epochChanged(epoch: number): void;
}

/** A join or sync whose reply (from the command connection) and marker (in the room channel) meet. */
export interface Marker {
  seen: boolean;
  /** Set when the script's reply has come: applies it at the marker's place. */
  ready: (() => void) | null;
  /** The subscription was lost: the marker will never come. */
  abort(): void;
}

const EMPTY = new Uint8Array(0);

export class RoomStream {
  /** Every member of the room, as this node's clients are told, in id and nickname order (for pages). */
  view = new MemberSet();
  readonly markers = new Map<string, Marker>();
  epoch = 0;
  /** The last sequence number handed to the workers; null until the node is in step with the channel. */
  delivered: number | null = null;
  /** While a gap is fetched, or a marker has been met before its reply, envelopes queue up. */
  private fetchingGap = false;
  private waitingForReply = false;
  private readonly queue: Envelope[] = [];

  constructor(
    readonly room: string,
    private readonly io: RoomStreamIo,
    private readonly log: Logger,
  ) {}

  get blocked(): boolean {
    return this.fetchingGap || this.waitingForReply;
  }

  /** The whole member list (from a join's reply, for a node that did not follow the room yet). */
  replaceView(members: Map<string, string>): void {
    this.view = new MemberSet();
    for (const [id, name] of members) this.view.add({ id, name });
  }

  /** Expects the marker `token`; `abort` runs if it can never come. */
  addMarker(token: string, abort: () => void): Marker {
    const marker: Marker = { seen: false, ready: null, abort };
    this.markers.set(token, marker);
    return marker;
  }

  /** The script's reply has come: `apply` runs at the marker's place (now, if the stream waits there). */
  replied(marker: Marker, apply: () => void): void {
    marker.ready = apply;
    if (marker.seen) this.goOn(marker);
  }

  /** The script failed: if the stream waits at its marker, it goes on past it. */
  replyFailed(marker: Marker): void {
    if (marker.seen) this.goOn(null);
  }

  /** Every marker expected will never come (the subscription or the room is gone). */
  abortMarkers(): void {
    for (const marker of [...this.markers.values()]) marker.abort();
  }

  /** The subscription is gone: nothing queued will be delivered, no marker will come; a sync puts the room back in step. */
  lost(): void {
    this.queue.length = 0;
    this.waitingForReply = false;
    this.abortMarkers();
  }

  /** One envelope from the room's channel, in channel order. */
  receive(envelope: Envelope): void {
    if (this.blocked) {
      this.queue.push(envelope);
      return;
    }
    const marker = envelope.token === '' ? undefined : this.markers.get(envelope.token);
    if (this.delivered === null) {
      // Not in step yet: everything before this node's first marker is covered by its snapshot.
      if (!marker) return;
      this.epoch = envelope.epoch;
      this.delivered = envelope.head;
    }
    if (envelope.epoch !== this.epoch && envelope.epoch !== 0) {
      // Redis lost the room and another node made it again before this one synced it:
      // its numbering starts afresh; what it numbered so far comes from its history.
      this.newEpoch(envelope.epoch);
    }
    const delivered = this.delivered;
    if (envelope.kind === EnvelopeKind.Message) {
      if (envelope.head <= delivered) return; // seen already (a resync or a gap fetch brought it)
      if (envelope.head > delivered + 1) return this.fillGap(envelope.head - 1, envelope);
      this.delivered = envelope.head;
      this.io.deliver(envelope.frame);
      return;
    }
    if (envelope.head > delivered) return this.fillGap(envelope.head, envelope);
    if (envelope.kind === EnvelopeKind.Member) this.applyMemberFrame(envelope.frame, envelope.token === RESUMED_TOKEN);
    if (marker) {
      marker.seen = true;
      if (marker.ready) marker.ready();
      else this.waitingForReply = true; // the reply is on its way: nothing passes the marker before it
    }
  }

  /**
   * At a sync marker: tell local clients what changed while the node was out of step.
   * Right after Redis comes back the other nodes may not have put their members back
   * yet, so members missing from Redis are removed only by a `full` sync (the audit).
   */
  repair(members: Map<string, string>, head: number, epoch: number, full: boolean): void {
    if (full) {
      for (const member of [...this.view.values()]) {
        if (members.has(member.id)) continue;
        this.view.remove(member.id);
        this.io.memberLeft(member, this.view.size);
      }
    }
    for (const [id, name] of members) {
      if (this.view.get(id)?.name === name) continue;
      const member = { id, name };
      this.view.add(member);
      this.io.memberJoined(member, this.view.size);
    }
    if (this.epoch !== epoch) this.newEpoch(epoch);
    if (this.delivered !== null && head > this.delivered) {
      // Messages sequenced while this node was not subscribed: from the history, before what follows the marker.
      this.fillGap(head, { kind: EnvelopeKind.Sync, head, epoch, token: '', frame: EMPTY });
    }
  }

  /** A new epoch: numbers start again from 1; the local members hear of it before its first message. */
  private newEpoch(epoch: number): void {
    this.log.warn({ room: this.room, from: this.epoch, to: epoch }, 'room epoch changed under its members: numbering starts again');
    this.epoch = epoch;
    this.delivered = 0;
    this.io.epochChanged(epoch);
  }

  /** A marker met before its reply: the reply (or its failure, `marker` null) has come; go on past it. */
  private goOn(marker: Marker | null): void {
    marker?.ready?.();
    this.waitingForReply = false;
    this.drain();
  }

  /** A member-joined or member-left frame: kept in the view, and the change goes to the room's next Presence. */
  private applyMemberFrame(frame: Uint8Array, resumed: boolean): void {
    let event: ServerEvent;
    try {
      event = decodeServerFrame(frame);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.log.warn({ room: this.room, code: error.code }, 'undecodable member frame on a room channel dropped');
      return;
    }
    // A sync puts members back that this node's clients never saw leave, and a reaper may
    // remove one twice: only changes reach the clients.
    if (event.type === 'memberJoined') {
      if (this.view.get(event.member.id)?.name === event.member.name) return;
      this.view.add(event.member);
      this.io.memberJoined(event.member, this.view.size);
    } else if (event.type === 'memberLeft') {
      if (this.io.isLocal(event.member.id)) {
        // Still connected here: its client resumed the membership on another connection
        // (it goes now, as anyone leaving), or another node's reaper took this node for dead.
        if (resumed) this.io.ownMemberResumed(event.member);
        else {
          this.io.ownMemberRemoved();
          return;
        }
      }
      const member = this.view.remove(event.member.id);
      if (member) this.io.memberLeft(member, this.view.size);
    }
  }

  /** Fetches the room's messages up to `to` from its history, delivers them, then goes on with `then`. */
  private fillGap(to: number, then: Envelope): void {
    const from = this.delivered! + 1;
    this.fetchingGap = true;
    this.queue.unshift(then);
    this.io
      .fetchRange(from, to)
      .then(
        (entries) => {
          for (const [seq, frame] of entries) {
            if (seq <= this.delivered! || seq > to) continue;
            if (seq !== this.delivered! + 1)
              this.log.warn({ room: this.room, from: this.delivered! + 1, to: seq - 1 }, 'messages gone from history before this node got them');
            this.delivered = seq;
            this.io.deliver(frame);
          }
          if (this.delivered! < to) this.log.warn({ room: this.room, from: this.delivered! + 1, to }, 'messages gone from history before this node got them');
          else this.log.info({ room: this.room, from, to }, 'gap filled from history');
          this.delivered = Math.max(this.delivered!, to);
          this.fetchingGap = false;
          this.drain();
        },
        (error: unknown) => {
          // Redis went away: the sync when it is back repairs the room. Joins and syncs
          // waiting in the queue for their markers fail now rather than never.
          this.log.warn({ room: this.room, err: (error as Error).message }, 'gap fetch failed');
          this.queue.length = 0;
          this.fetchingGap = false;
          this.abortMarkers();
        },
      )
      // A bug in what the history reply set off must not take the node down: say so loudly, go on.
      .catch((error: unknown) => this.log.error({ room: this.room, err: error }, 'room stream failed on a history reply; carrying on'));
  }

  private drain(): void {
    while (!this.blocked && this.queue.length > 0) this.receive(this.queue.shift()!);
  }
}
