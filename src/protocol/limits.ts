/** Bumped when a schema change is not backward compatible. */
export const PROTOCOL_VERSION = 2;

/** Largest frame the host accepts by default (uWS maxPayloadLength). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024;

/** Room names: 1-64 characters of letters, digits, `_`, `-`, `.` (no topic wildcards). */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const MAX_NICKNAME_CHARS = 32;
export const MAX_TEXT_CHARS = 2000;

/** Decoder limits: far above what valid traffic needs, low enough to bound work on hostile input. */
export const MAX_VECTOR_LENGTH = 100_000;
export const MAX_TABLE_DEPTH = 8;

/** The longest Join.resume_key a host reads (bytes); the keys it gives are 24 characters. */
export const MAX_RESUME_KEY_BYTES = 64;

/** The most members one MemberPage (and the first page in Joined) carries. */
export const MEMBER_PAGE_SIZE = 100;
