/**
 * What the client knows about each joined room, and the pure rules for merging what the
 * host sends (no DOM here, so the rules are unit-tested without a browser).
 */
import type { ChatMessage, ErrorCodeName, JoinedInfo, MemberInfo, PresenceInfo } from '../protocol/index.js';
import { backoffDelay } from './connection.js';

/** How long a rejoin refused NicknameTaken is retried beyond the host's idle timeout, and at least. */
export const NICKNAME_RETRY_EXTRA_MS = 30_000;
export const NICKNAME_RETRY_MIN_MS = 60_000;

export type RoomStatus = 'joined' | 'away' | 'rejoining';

/**
 * A nickname's place in the host's member order (src/rooms/member-set.ts): NFKC, case folded
 * through upper case, compared by UTF-16 code units; the id breaks ties.
 */
export function foldName(name: string): string {
  return name.normalize('NFKC').toUpperCase().toLowerCase();
}

export function memberKey(m: MemberInfo): string {
  return `${foldName(m.name)}\u0000${m.id}`;
}

interface Entry {
  readonly key: string;
  readonly member: MemberInfo;
}

/** What a Presence changed in the loaded list, for the join and leave notices. */
export interface PresenceChange {
  readonly joined: MemberInfo[];
  readonly left: MemberInfo[];
}

/**
 * The part of a room's member list this client has loaded: a prefix of the host's order (the
 * first page from Joined, then MemberPages after `nextAfter`), kept up to date by Presence.
 * The host answers requests and sends Presence in order on one connection, so a page reflects
 * every Presence received before it; a Presence after it may repeat what the page holds, and
 * applies idempotently.
 */
export class MemberList {
  private entries: Entry[] = [];
  private readonly byId = new Map<string, MemberInfo>();
  /** Everyone in the room (authoritative, from the host). */
  count = 0;
  /** '' when the loaded members are the whole room; else the cursor of the next page. */
  nextAfter = '';
  /** A count-only Presence arrived since the list was loaded from the start: changes may be missing. */
  stale = false;

  constructor(members: readonly MemberInfo[] = [], count = members.length, nextAfter = '') {
    this.reset(members, count, nextAfter);
  }

  get loaded(): MemberInfo[] {
    return this.entries.map((e) => e.member);
  }

  get size(): number {
    return this.entries.length;
  }

  get complete(): boolean {
    return this.nextAfter === '';
  }

  get(id: string): MemberInfo | undefined {
    return this.byId.get(id);
  }

  /** Replaces the list with a first page (Joined, or a refresh from the start). */
  reset(members: readonly MemberInfo[], count: number, nextAfter: string): void {
    this.entries = [];
    this.byId.clear();
    this.stale = false;
    this.nextAfter = '';
    for (const m of members) this.insert(m);
    this.nextAfter = nextAfter;
    this.count = count;
  }

  /** Adds the next page (the reply to Members with after = nextAfter). */
  addPage(members: readonly MemberInfo[], nextAfter: string, count: number): void {
    const wasComplete = this.nextAfter;
    this.nextAfter = '';
    for (const m of members) this.insert(m);
    this.nextAfter = wasComplete === '' ? '' : nextAfter;
    this.count = count;
  }

  /**
   * Applies `left`, then `joined`, and the count. Returns the members that really arrived or
   * went as far as this list can tell (not the repeats of what it already knew).
   */
  applyPresence(p: PresenceInfo): PresenceChange {
    const change: PresenceChange = { joined: [], left: [] };
    this.count = p.memberCount;
    if (p.joined.length === 0 && p.left.length === 0) {
      this.stale = true;
      return change;
    }
    for (const m of p.left) {
      const known = this.byId.get(m.id);
      if (known !== undefined) {
        this.remove(known);
        change.left.push(known);
      } else if (!this.covers(memberKey(m))) change.left.push(m);
    }
    for (const m of p.joined) {
      const known = this.byId.get(m.id);
      if (known !== undefined) {
        if (known.name !== m.name) {
          this.remove(known);
          this.insert(m);
        }
      } else {
        this.insert(m);
        change.joined.push(m);
      }
    }
    return change;
  }

  /** Loaded members whose nickname starts with `prefix` (case-insensitive), in order, at most `limit`. */
  search(prefix: string, limit: number): MemberInfo[] {
    const start = foldName(prefix);
    const out: MemberInfo[] = [];
    for (const e of this.entries) {
      if (out.length >= limit) break;
      if (e.key.startsWith(start)) out.push(e.member);
    }
    return out;
  }

  /** Whether a member with this key belongs in the loaded range (the list is complete, or it sorts before its end). */
  private covers(key: string): boolean {
    const last = this.entries[this.entries.length - 1];
    return this.complete || (last !== undefined && key < last.key);
  }

  /** Inserts in order when the member falls within the loaded range; a member beyond it comes with a later page. */
  private insert(m: MemberInfo): void {
    if (this.byId.has(m.id)) return;
    const key = memberKey(m);
    if (!this.covers(key)) return;
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.key < key) lo = mid + 1;
      else hi = mid;
    }
    this.entries.splice(lo, 0, { key, member: m });
    this.byId.set(m.id, m);
  }

  private remove(m: MemberInfo): void {
    this.byId.delete(m.id);
    const i = this.entries.findIndex((e) => e.member.id === m.id);
    if (i >= 0) this.entries.splice(i, 1);
  }
}

export class RoomState {
  /** The loaded part of the member list, and how many are here in all. */
  members: MemberList;
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
  /**
   * The nickname private messages go to; null: everyone. Kept by name, so that it outlives the
   * recipient's connection (a new id after a blip or a restart): a private draft never turns public.
   */
  toName: string | null = null;
  /** The member `toName` is bound to now; null while no one by that name is known to be here. */
  to: MemberInfo | null = null;
  /** Rejoin attempts in a row that failed and are being retried (the backoff's attempt number). */
  rejoinFailures = 0;
  /** When a rejoin was first refused NicknameTaken since the last success: such refusals are retried for a while only. */
  nicknameTakenSince: number | null = null;
  /** The next rejoin attempt, when one waits. */
  rejoinTimer: ReturnType<typeof setTimeout> | null = null;
  /**
   * This membership's secret (Joined.resumeKey), sent back when rejoining: the host then hands the
   * nickname back at once even while our old connection still holds it (its node died, or the host
   * has not noticed it is gone). Kept in memory only: another tab never presents it.
   */
  resumeKey: string | undefined;
  /** The request id of the member page in flight (next page or refresh); null when none. */
  listRequest: number | null = null;
  /** Why the last member page request failed, in plain words; '' when it did not. */
  listError = '';

  constructor(
    readonly name: string,
    readonly nickname: string,
    joined: JoinedInfo,
  ) {
    this.you = joined.you;
    this.epoch = joined.epoch;
    this.resumeKey = joined.resumeKey;
    this.myIds.add(joined.you.id);
    this.members = new MemberList(joined.members, joined.memberCount, joined.nextAfter);
  }

  /** Picks a private recipient (null: everyone). */
  setRecipient(member: MemberInfo | null): void {
    this.toName = member?.name ?? null;
    this.to = member;
  }

  /**
   * Binds `toName` to the member of that nickname now here (nicknames are unique per room, by
   * their folded form). The bound id is kept when the loaded list is only a part of the room and
   * does not show the name: the host then says whether it is still here (RecipientNotFound).
   */
  bindRecipient(): void {
    if (this.toName === null) {
      this.to = null;
      return;
    }
    const name = foldName(this.toName);
    const found = this.members.loaded.find((m) => !this.myIds.has(m.id) && foldName(m.name) === name);
    if (found !== undefined) this.to = found;
    else if (this.members.complete) this.to = null;
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
  /** Names that came and went while this client was away (within the part of the list known before and after). */
  readonly arrived: string[];
  readonly departed: string[];
}

/**
 * Merges the `Joined` of a rejoin (sent with since = lastSeq) into `room`.
 * - recovered: exactly the messages after lastSeq.
 * - not recovered, room still ahead of us: too much was said; show the newest, mark a gap.
 * - a new epoch (or, from an older host, a head behind lastSeq): the host lost the room
 *   (restart) and numbers from 1 again, so every message in the snapshot is new, after a gap.
 * Arrivals and departures are told only for the part of the order both lists cover, and not at
 * all when the old list was out of date (a room too big for presence lists).
 */
export function applyRejoin(room: RoomState, joined: JoinedInfo): Rejoin {
  const hadSeen = room.lastSeq > 0;
  const restarted = joined.epoch !== room.epoch || joined.headSeq < room.lastSeq;
  room.epoch = joined.epoch;
  const old = room.members;
  const fresh = new MemberList(joined.members, joined.memberCount, joined.nextAfter);
  const isMe = (m: MemberInfo) => room.myIds.has(m.id) || m.id === joined.you.id;
  const arrived: string[] = [];
  const departed: string[] = [];
  if (!old.stale) {
    const end = (list: MemberList): string => (list.complete ? '\uffff' : memberKey(list.loaded[list.size - 1] ?? { id: '', name: '' }));
    const limit = [end(old), end(fresh)].sort()[0]!;
    const within = (m: MemberInfo) => !isMe(m) && foldName(m.name) < limit;
    const names = (list: MemberList) => new Set(list.loaded.filter(within).map((m) => foldName(m.name)));
    const [before, after] = [names(old), names(fresh)];
    for (const m of fresh.loaded) if (within(m) && !before.has(foldName(m.name))) arrived.push(m.name);
    for (const m of old.loaded) if (within(m) && !after.has(foldName(m.name))) departed.push(m.name);
  }
  room.you = joined.you;
  room.myIds.add(joined.you.id);
  room.members = fresh;
  room.listRequest = null;
  room.listError = '';
  // Our recipient has a new id too if they came back: find them by name (or wait for them to come back).
  room.bindRecipient();
  room.status = 'joined';
  room.rejoinFailures = 0;
  room.nicknameTakenSince = null;
  // A Joined without a key (an older host, or the room's news of a new epoch) leaves ours as it is.
  if (joined.resumeKey) room.resumeKey = joined.resumeKey;
  if (restarted) room.lastSeq = 0;
  const missed = joined.history.filter((m) => room.accept(m));
  if (restarted) room.lastSeq = joined.headSeq;
  return { missed, gap: hadSeen && !joined.recovered, arrived, departed };
}

/**
 * A rejoin was refused: the wait before the next attempt (the connection's backoff, with jitter,
 * counted per room), or null to give up. Every temporary refusal (Unavailable, RateLimited,
 * RoomLimit, ...) is retried until the rejoin succeeds or a permanent one comes. NicknameTaken is
 * permanent for a new join, but on a rejoin it is most likely our own old membership (the host
 * answers it only when the resume key did not match, e.g. the cluster's Redis lost it): it is
 * retried for the host's idle timeout plus 30 s (at least 60 s) from the first such refusal, by
 * when the host has closed a connection it had not seen go, and the cluster has reaped a dead
 * node's members (with the default --node-ttl). Any other code gives up.
 */
export function rejoinRetryDelay(
  room: RoomState,
  code: ErrorCodeName,
  temporary: boolean,
  now: number,
  idleTimeoutMs: number,
  random: () => number = Math.random,
): number | null {
  if (!temporary) {
    if (code !== 'NicknameTaken') return null;
    room.nicknameTakenSince ??= now;
    if (now - room.nicknameTakenSince >= Math.max(NICKNAME_RETRY_MIN_MS, idleTimeoutMs + NICKNAME_RETRY_EXTRA_MS)) return null;
  }
  room.rejoinFailures += 1;
  return backoffDelay(room.rejoinFailures, random);
}
