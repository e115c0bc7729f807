/**
 * What the client knows about each joined room, and the pure rules for merging what the
 * host sends (no DOM here, so the rules are unit-tested without a browser).
 */
import type { ChatMessage, JoinedInfo, MemberInfo } from '../protocol/index.js';

export type RoomStatus = 'joined' | 'away' | 'rejoining';

export class RoomState {
  /** Members by id, in join order. */
  members = new Map<string, MemberInfo>();
  /** Me in this room (my id changes with every connection). */
  you: MemberInfo;
  /** Every id this client has had in the room, to recognise own messages in history. */
  readonly myIds = new Set<string>();
  /** The highest room sequence number shown; 0 when none. */
  lastSeq = 0;
  /** The room's epoch (Joined.epoch): sent back with `since`, so that a recreated room is never mistaken for this one. */
  epoch: number;
  status: RoomStatus = 'joined';
  unread = 0;
  /** Messages that arrived below the visible area while the person scrolled up. */
  below = 0;
  /** The member id that private messages go to; null: everyone. */
  to: string | null = null;
  /** Rejoin attempts that failed with a temporary-looking error (a ghost of our old connection). */
  rejoinFailures = 0;

  constructor(
    readonly name: string,
    readonly nickname: string,
    joined: JoinedInfo,
  ) {
    this.you = joined.you;
    this.epoch = joined.epoch;
    this.myIds.add(joined.you.id);
    this.setMembers(joined.members);
  }

  setMembers(members: readonly MemberInfo[]): void {
    this.members = new Map(members.map((m) => [m.id, m]));
    if (this.to !== null && !this.members.has(this.to)) this.to = null;
  }

  isMine(m: ChatMessage): boolean {
    return this.myIds.has(m.sender.id);
  }

  /** True when `m` should be shown (not a room message seen already), and records its seq. */
  accept(m: ChatMessage): boolean {
    if (m.seq === 0) return true;
    if (m.seq <= this.lastSeq) return false;
    this.lastSeq = m.seq;
    return true;
  }
}

export interface Rejoin {
  /** Messages to show, in order: what was missed (or the recent ones when a gap is marked). */
  readonly missed: ChatMessage[];
  /** True when messages may be missing between what was shown before and `missed`. */
  readonly gap: boolean;
  /** Names that came and went while this client was away. */
  readonly arrived: string[];
  readonly departed: string[];
}

/**
 * Merges the `Joined` of a rejoin (sent with since = lastSeq) into `room`.
 * - recovered: exactly the messages after lastSeq.
 * - not recovered, room still ahead of us: too much was said; show the newest, mark a gap.
 * - a new epoch (or, from an older host, a head behind lastSeq): the host lost the room
 *   (restart) and numbers from 1 again, so every message in the snapshot is new, after a gap.
 */
export function applyRejoin(room: RoomState, joined: JoinedInfo): Rejoin {
  const hadSeen = room.lastSeq > 0;
  const restarted = joined.epoch !== room.epoch || joined.headSeq < room.lastSeq;
  room.epoch = joined.epoch;
  const beforeNames = new Set([...room.members.values()].filter((m) => !room.myIds.has(m.id)).map((m) => m.name.toLowerCase()));
  const before = new Map([...room.members.values()].map((m) => [m.name.toLowerCase(), m.name]));
  room.you = joined.you;
  room.myIds.add(joined.you.id);
  room.setMembers(joined.members);
  room.status = 'joined';
  room.rejoinFailures = 0;
  if (restarted) room.lastSeq = 0;
  const missed = joined.history.filter((m) => room.accept(m));
  if (restarted) room.lastSeq = joined.headSeq;
  const afterNames = new Set(joined.members.filter((m) => m.id !== joined.you.id).map((m) => m.name.toLowerCase()));
  const arrived = joined.members.filter((m) => m.id !== joined.you.id && !beforeNames.has(m.name.toLowerCase())).map((m) => m.name);
  const departed = [...beforeNames].filter((n) => !afterNames.has(n)).map((n) => before.get(n) ?? n);
  return { missed, gap: hadSeen && !joined.recovered, arrived, departed };
}
