/**
 * What one worker knows of the rooms its compat clients are in: how many of them are
 * joined there, and the room's members it has seen (from Joined pages, presence and
 * messages), by client id, so that a `to_client_id` can be taken back to a member.
 * Pure: no sockets; the listener feeds it.
 *
 * A view exists only while the worker has a compat client joined in the room (traffic
 * of other rooms costs a Map lookup). It is bounded: in a room over
 * --presence-events-max-members leaves carry no names, so members seen long ago are
 * dropped oldest first; a member that speaks is seen again.
 */
import type { MemberInfo } from '../protocol/index.js';

/** Members one view keeps at most (a Joined page is 100; presence names up to --presence-events-max-members). */
export const MAX_VIEW_MEMBERS = 5000;

export class RoomView {
  /** This worker's compat clients joined in the room. */
  local = 0;
  private readonly members = new Map<string, MemberInfo>();

  constructor(private readonly maxMembers: number) {}

  /** `member`, with client id `clientId`, is in the room (seen just now). */
  see(clientId: string, member: MemberInfo): void {
    // Re-inserting moves it to the newest end of the Map's order.
    this.members.delete(clientId);
    this.members.set(clientId, member);
    if (this.members.size > this.maxMembers) {
      const oldest = this.members.keys().next();
      if (!oldest.done) this.members.delete(oldest.value);
    }
  }

  forget(clientId: string): void {
    this.members.delete(clientId);
  }

  /** The member with this client id, if the worker has seen it in the room. */
  member(clientId: string): MemberInfo | undefined {
    return this.members.get(clientId);
  }

  get size(): number {
    return this.members.size;
  }
}

export class RoomViews {
  private readonly rooms = new Map<string, RoomView>();

  constructor(private readonly maxMembers: number = MAX_VIEW_MEMBERS) {}

  /** A compat client of this worker joined `room`: its view, made if it is the first. */
  enter(room: string): RoomView {
    let view = this.rooms.get(room);
    if (!view) {
      view = new RoomView(this.maxMembers);
      this.rooms.set(room, view);
    }
    view.local++;
    return view;
  }

  /** A compat client of this worker is no longer joined in `room`; the last one takes the view with it. */
  leave(room: string): void {
    const view = this.rooms.get(room);
    if (!view) return;
    view.local--;
    if (view.local <= 0) this.rooms.delete(room);
  }

  get(room: string): RoomView | undefined {
    return this.rooms.get(room);
  }

  get size(): number {
    return this.rooms.size;
  }
}
