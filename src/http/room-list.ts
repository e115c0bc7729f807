/**
 * GET /api/rooms as pages: the rooms with the most members first (then by name), at
 * most `limit` per answer, and a cursor naming the last room of the page so that the
 * next page starts after it however the list changed meanwhile. Pure: the route
 * in transport/server.ts hands in the directory's list and writes the answer.
 */
import type { RoomSummary } from '../sequencer/sequencer.js';
import { byMembersThenName } from '../sequencer/room-views.js';

export const DEFAULT_ROOM_PAGE = 50;
export const MAX_ROOM_PAGE = 200;

export interface RoomListQuery {
  readonly limit: number;
  /** The position after which the page starts; null: the first page. */
  readonly after: { readonly members: number; readonly name: string } | null;
}

export type ParsedQuery = { readonly ok: true; readonly query: RoomListQuery } | { readonly ok: false; readonly error: string };

export interface RoomListPage {
  readonly rooms: readonly RoomSummary[];
  /** Pass as ?cursor= for the next page; null on the last one. */
  readonly nextCursor: string | null;
  /** Rooms the host holds in all (the list shows the busiest of them); with `visible`, the visible ones listed. */
  readonly total: number;
}

/** Reads `limit` (1-MAX_ROOM_PAGE) and `cursor` from a query string (without "?"). */
export function parseRoomListQuery(queryString: string): ParsedQuery {
  const params = new URLSearchParams(queryString);
  let limit = DEFAULT_ROOM_PAGE;
  const limitText = params.get('limit');
  if (limitText !== null) {
    if (!/^\d{1,6}$/.test(limitText) || Number(limitText) < 1) return { ok: false, error: `limit is a whole number from 1 to ${MAX_ROOM_PAGE}` };
    limit = Math.min(MAX_ROOM_PAGE, Number(limitText));
  }
  const cursor = params.get('cursor');
  if (cursor === null || cursor === '') return { ok: true, query: { limit, after: null } };
  const match = /^(\d{1,9})-(.{1,64})$/.exec(cursor);
  if (!match) return { ok: false, error: 'cursor is not one this host gave' };
  return { ok: true, query: { limit, after: { members: Number(match[1]), name: match[2]! } } };
}

/**
 * One page of `rooms` (sorted by byMembersThenName, as the directory holds them),
 * keeping only the rooms `visible` allows.
 */
export function roomListPage(rooms: readonly RoomSummary[], query: RoomListQuery, total: number, only?: (name: string) => boolean): RoomListPage {
  const filtered = only !== undefined;
  const visible = only ?? ((): boolean => true);
  let start = 0;
  if (query.after) {
    // The first room after the cursor's position in the order (binary search: the list is sorted).
    const after = { name: query.after.name, members: query.after.members, headSeq: 0 };
    let low = 0;
    let high = rooms.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (byMembersThenName(rooms[middle]!, after) <= 0) low = middle + 1;
      else high = middle;
    }
    start = low;
  }
  const page: RoomSummary[] = [];
  let i = start;
  for (; i < rooms.length && page.length < query.limit; i++) {
    const room = rooms[i]!;
    if (visible(room.name)) page.push(room);
  }
  if (filtered) total = rooms.reduce((n, r) => (visible(r.name) ? n + 1 : n), 0);
  const last = page.at(-1);
  let more = false;
  for (let j = i; j < rooms.length && !more; j++) more = visible(rooms[j]!.name);
  return { rooms: page, nextCursor: more && last ? `${last.members}-${last.name}` : null, total };
}
