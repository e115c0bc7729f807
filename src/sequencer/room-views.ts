/**
 * How both sequencers show rooms and members to clients and to HTTP: the same
 * shapes from the in-process rooms and from what the cluster keeps in Redis.
 */
import { countError } from '../metrics/counters.js';
import { encodeError, MEMBER_PAGE_SIZE, type ChatMessage, type ErrorCodeName, type MemberInfo } from '../protocol/index.js';
import type { RoomDetail, RoomSummary, SequencerCounts } from './sequencer.js';

/** A member as clients see it (a local member also carries the worker that holds it). */
export function publicMember(member: MemberInfo): MemberInfo {
  return { id: member.id, name: member.name };
}

/** The order of every room list: most members first, then by name. */
export function byMembersThenName(a: RoomSummary, b: RoomSummary): number {
  return b.members - a.members || a.name.localeCompare(b.name);
}

/** A history message as the room API shows it. */
export function recentEntry(m: ChatMessage): RoomDetail['recent'][number] {
  return { seq: m.seq, sender: m.sender, text: m.text, timestampMs: m.timestampMs };
}

/** A requested page size, within 1..MEMBER_PAGE_SIZE (0: the page size). */
export function pageLimit(limit: number): number {
  return limit <= 0 || limit > MEMBER_PAGE_SIZE ? MEMBER_PAGE_SIZE : limit;
}

/** An ErrorReply frame, counted for /metrics by its code. */
export function errorFrame(
  counts: SequencerCounts,
  requestId: number,
  code: ErrorCodeName,
  message: string,
  room: string | null,
  temporary = false,
): Uint8Array {
  countError(counts.errors, code);
  return encodeError(requestId, code, message, room, temporary);
}
