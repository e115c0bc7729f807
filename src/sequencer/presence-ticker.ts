/**
 * Presence changes, coalesced: each room's joins and leaves of one tick go out as
 * one Presence frame at the end of the tick, to every member, with the room's
 * member count. A member who joins and leaves within a tick is not mentioned. In
 * a room over `eventsMaxMembers` only the count goes out (clients ask for pages),
 * so a join storm costs one frame per room per tick, not one per join per member.
 * Both sequencers use it; it keeps no member lists of its own.
 */
import { encodePresence, type MemberInfo } from '../protocol/index.js';

/** How long presence changes gather before they go out. */
export const PRESENCE_TICK_MS = 100;
/**
 * A room over the limit hears its count at most this often: during a join storm of
 * thousands that is one small frame per member per second instead of ten.
 */
export const PRESENCE_COUNT_TICK_MS = 1000;

export interface PresenceSettings {
  /** Rooms with more members than this get counts only. */
  readonly eventsMaxMembers: number;
  readonly tickMs: number;
  /** How often at most a count-only room hears its count. */
  readonly countTickMs: number;
}

/** The ticker's settings from a sequencer's (the defaults above unless a test sets them). */
export function presenceSettings(settings: {
  readonly presenceEventsMaxMembers: number;
  readonly presenceTickMs?: number;
  readonly presenceCountTickMs?: number;
}): PresenceSettings {
  return {
    eventsMaxMembers: settings.presenceEventsMaxMembers,
    tickMs: settings.presenceTickMs ?? PRESENCE_TICK_MS,
    countTickMs: settings.presenceCountTickMs ?? PRESENCE_COUNT_TICK_MS,
  };
}

/** One member's change within the tick: as it was when the tick began, and as it is now (null: not a member). */
interface Change {
  readonly before: MemberInfo | null;
  now: MemberInfo | null;
}

interface RoomChanges {
  readonly members: Map<string, Change>;
  count: number;
  /** The room was over the limit at some point of this tick: its frame has the count only. */
  countOnly: boolean;
}

export class PresenceTicker {
  private readonly rooms = new Map<string, RoomChanges>();
  /** When each count-only room last heard its count (performance.now()). */
  private readonly countSentAt = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  /** `deliver` takes one room's Presence frame to every worker with members of the room. */
  constructor(
    private readonly settings: PresenceSettings,
    private readonly deliver: (room: string, frame: Uint8Array) => void,
  ) {}

  /** `member` joined `room`, which now has `count` members. */
  joined(room: string, member: MemberInfo, count: number): void {
    this.change(room, member.id, null, member, count);
  }

  /** `member` left `room`, which now has `count` members. */
  left(room: string, member: MemberInfo, count: number): void {
    this.change(room, member.id, member, null, count);
  }

  /**
   * Sends every room's changes now (the tick's end; tests call it directly), but for
   * count-only rooms that heard their count less than countTickMs ago: they wait.
   */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const now = performance.now();
    const { countTickMs } = this.settings;
    const rooms = [...this.rooms];
    this.rooms.clear();
    let wait = Number.POSITIVE_INFINITY;
    for (const [room, changes] of rooms) {
      if (changes.countOnly) {
        const early = (this.countSentAt.get(room) ?? Number.NEGATIVE_INFINITY) + countTickMs - now;
        if (early > 0) {
          this.rooms.set(room, changes);
          wait = Math.min(wait, early);
          continue;
        }
        this.countSentAt.set(room, now);
      } else this.countSentAt.delete(room);
      const joined: MemberInfo[] = [];
      const left: MemberInfo[] = [];
      if (!changes.countOnly) {
        for (const { before, now } of changes.members.values()) {
          if (before && (!now || now.name !== before.name)) left.push(before);
          if (now && (!before || now.name !== before.name)) joined.push(now);
        }
        // Everyone who came also went (or the other way round) within the tick: nothing to say.
        if (joined.length === 0 && left.length === 0) continue;
      }
      this.deliver(room, encodePresence({ room, joined, left, memberCount: changes.count }));
    }
    if (wait !== Number.POSITIVE_INFINITY) this.timer = setTimeout(() => this.flush(), Math.max(this.settings.tickMs, wait));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private change(room: string, id: string, before: MemberInfo | null, now: MemberInfo | null, count: number): void {
    let changes = this.rooms.get(room);
    if (!changes) {
      changes = { members: new Map(), count, countOnly: false };
      this.rooms.set(room, changes);
    }
    changes.count = count;
    // Over the limit nobody is named: keep the count, not the members.
    if (count > this.settings.eventsMaxMembers) changes.countOnly = true;
    if (changes.countOnly) changes.members.clear();
    else {
      const change = changes.members.get(id);
      if (change) change.now = now;
      else changes.members.set(id, { before, now });
    }
    this.timer ??= setTimeout(() => this.flush(), this.settings.tickMs);
  }
}
