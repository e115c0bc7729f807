/**
 * The rooms one sequencer owns, and which rooms each connection is in. Rooms are
 * created on first join; an empty room keeps its history for `emptyRoomTtlMs`, and
 * one that never had a message is forgotten at once (there is nothing to keep).
 */
import { Room } from './room.js';

export interface RoomSettings {
  readonly historyCapacity: number;
  readonly emptyRoomTtlMs: number;
}

export class RoomRegistry {
  private readonly rooms = new Map<string, Room>();
  /** A connection's one room as a plain name (most connections are in one), a Set once it has several. */
  private readonly roomsByConnection = new Map<string, string | Set<string>>();
  private lastEpoch = 0;

  constructor(private readonly settings: RoomSettings) {}

  get(name: string): Room | undefined {
    return this.rooms.get(name);
  }

  getOrCreate(name: string, now: number): Room {
    let room = this.rooms.get(name);
    if (!room) {
      // Microseconds of the creation time, kept increasing: unique across restarts of the host.
      this.lastEpoch = Math.max(now * 1000, this.lastEpoch + 1);
      room = new Room(name, this.settings.historyCapacity, now, this.lastEpoch);
      this.rooms.set(name, room);
    }
    return room;
  }

  /** Forgets `room` if it is empty and never had a message; true when it did. */
  dropIfBare(room: Room): boolean {
    if (room.size > 0 || room.headSeq > 0 || this.rooms.get(room.name) !== room) return false;
    this.rooms.delete(room.name);
    return true;
  }

  /**
   * Forgets the empty room that has been empty longest (its history goes with it),
   * to make space for a new room at the limit; false when every room has members.
   */
  dropOldestEmpty(): boolean {
    let oldest: Room | null = null;
    for (const room of this.rooms.values()) {
      if (room.emptySince !== null && (oldest === null || room.emptySince < oldest.emptySince!)) oldest = room;
    }
    if (!oldest) return false;
    this.rooms.delete(oldest.name);
    return true;
  }

  all(): IterableIterator<Room> {
    return this.rooms.values();
  }

  get size(): number {
    return this.rooms.size;
  }

  roomsOf(connectionId: string): ReadonlySet<string> {
    const rooms = this.roomsByConnection.get(connectionId);
    return rooms === undefined ? EMPTY : typeof rooms === 'string' ? new Set([rooms]) : rooms;
  }

  noteJoined(connectionId: string, room: string): void {
    const rooms = this.roomsByConnection.get(connectionId);
    if (rooms === undefined || rooms === room) this.roomsByConnection.set(connectionId, room);
    else if (typeof rooms === 'string') this.roomsByConnection.set(connectionId, new Set([rooms, room]));
    else rooms.add(room);
  }

  noteLeft(connectionId: string, room: string): void {
    const rooms = this.roomsByConnection.get(connectionId);
    if (rooms === room) this.roomsByConnection.delete(connectionId);
    else if (rooms instanceof Set) {
      rooms.delete(room);
      if (rooms.size === 0) this.roomsByConnection.delete(connectionId);
    }
  }

  /** Forgets rooms that have been empty for the TTL or longer; returns how many. */
  sweep(now: number): number {
    let removed = 0;
    for (const [name, room] of this.rooms) {
      if (room.emptySince !== null && now - room.emptySince >= this.settings.emptyRoomTtlMs) {
        this.rooms.delete(name);
        removed++;
      }
    }
    return removed;
  }
}

const EMPTY: ReadonlySet<string> = new Set();
