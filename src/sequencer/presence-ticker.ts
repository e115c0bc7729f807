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

export interface PresenceSettings {
  /** Rooms with more members than this get counts only. */
  readonly eventsMaxMembers: number;
  readonly tickMs: number;
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

  /** Sends every room's changes now (the tick's end; tests call it directly). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const rooms = [...this.rooms];
    this.rooms.clear();
    for (const [room, changes] of rooms) {
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
