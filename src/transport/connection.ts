/**
 * What happens to one client's requests: check them, keep the connection's room
 * state, hand them to the broker. Independent of uWS beyond the small Socket
 * interface, so the rules read in one place.
 */
import type { TokenBucket } from '../admission/rate-limit.js';
import type { TokenVerifier } from '../admission/token.js';
import type { Broker } from '../relay/broker.js';
import { countError } from '../metrics/counters.js';
import { type ClientRequest, type ErrorCodeName, encodeError, encodeLeft, MAX_NICKNAME_CHARS, PROTOCOL_VERSION } from '../protocol/index.js';
import { checkNickname, checkRoomName, checkText } from '../rooms/rules.js';

/** The part of a uWS WebSocket this module uses (a uWS WebSocket is one as it is). */
export interface Socket {
  send(frame: Uint8Array, isBinary: true): unknown;
  subscribe(topic: string): unknown;
  unsubscribe(topic: string): unknown;
}

export interface ConnectionLimits {
  readonly maxRooms: number;
  readonly maxTextChars: number;
  /** Set when joins need a signed token. */
  readonly tokens?: TokenVerifier | null;
  /** Called after a join passed the token check: the transport closes the connection when its earliest token expires. */
  readonly watchTokenExpiry?: (state: ConnectionState) => void;
  /** Error replies sent, by code (for /metrics). */
  readonly errors?: Partial<Record<ErrorCodeName, number>>;
}

export interface Membership {
  readonly room: string;
  readonly attempt: number;
  readonly requestId: number;
  joined: boolean;
}

/**
 * Per-connection state, kept in uWS userData. Lean, as there is one per connection
 * (bench/memory-parts.ts): the rooms are a Map only for a connection in several, and
 * the flood-control bucket is kept inline (TokenBucket) rather than in an object of its own.
 */
export interface ConnectionState extends TokenBucket {
  readonly id: string;
  /**
   * Rooms joined or being joined, with the attempt number of the join and its request (answered if a Leave
   * overtakes it): none, the one Membership (most connections are in one room), or a Map by room name. Use
   * membershipIn, roomCount, roomNames, addMembership and dropMembership.
   */
  rooms: Membership | Map<string, Membership> | null;
  attempts: number;
  /** Whether the transport limits this connection's requests (the bucket's fields); false in tests of the rules. */
  readonly limited: boolean;
  /** The connection-limit slot to release on close (-1: none). */
  readonly admissionSlot: number;
  /** With --token-secret, once a join passed the token check; null until then (no cost without tokens). */
  tokenExpiry: TokenExpiry | null;
}

/** The connection's membership of `room` (joined or being joined), if any. */
export function membershipIn(state: ConnectionState, room: string): Membership | undefined {
  const rooms = state.rooms;
  if (rooms === null) return undefined;
  if (rooms instanceof Map) return rooms.get(room);
  return rooms.room === room ? rooms : undefined;
}

/** How many rooms the connection is in or joining. */
export function roomCount(state: ConnectionState): number {
  const rooms = state.rooms;
  return rooms === null ? 0 : rooms instanceof Map ? rooms.size : 1;
}

/** The rooms the connection is in or joining, in the order it joined them. */
export function roomNames(state: ConnectionState): string[] {
  const rooms = state.rooms;
  return rooms === null ? [] : rooms instanceof Map ? [...rooms.keys()] : [rooms.room];
}

/** Notes a membership of a room the connection is not in. */
export function addMembership(state: ConnectionState, membership: Membership): void {
  const rooms = state.rooms;
  if (rooms === null) state.rooms = membership;
  else if (rooms instanceof Map) rooms.set(membership.room, membership);
  else
    state.rooms = new Map([
      [rooms.room, rooms],
      [membership.room, membership],
    ]);
}

/** Forgets the connection's membership of `room`; true when it had one. */
export function dropMembership(state: ConnectionState, room: string): boolean {
  const rooms = state.rooms;
  if (rooms === null) return false;
  if (!(rooms instanceof Map)) {
    if (rooms.room !== room) return false;
    state.rooms = null;
    return true;
  }
  if (!rooms.delete(room)) return false;
  if (rooms.size === 0) state.rooms = null;
  return true;
}

/** When the tokens a connection joined with expire, and the one timer that acts on the earliest. */
export interface TokenExpiry {
  /** Wall-clock ms at which the token of each room joined with one expires (rooms left since are pruned lazily). */
  readonly byRoom: Map<string, number>;
  /** The expiry the timer is armed for (ms); meaningless while `timer` is null. */
  armedAtMs: number;
  timer: ReturnType<typeof setTimeout> | null;
}

/** The earliest token expiry (ms) among the rooms the connection is in or joining, or null; forgets rooms it is no longer in. */
export function earliestTokenExpiry(state: ConnectionState): number | null {
  const expiry = state.tokenExpiry;
  if (!expiry) return null;
  let earliest: number | null = null;
  for (const [room, atMs] of expiry.byRoom) {
    if (!membershipIn(state, room)) expiry.byRoom.delete(room);
    else if (earliest === null || atMs < earliest) earliest = atMs;
  }
  return earliest;
}

/**
 * A connection's state at open. With `bucket` (the rate limit's burst and the time, from the transport)
 * its requests are limited; without, they are not (tests of the rules).
 */
export function newConnectionState(id: string, bucket: { readonly burst: number; readonly now: number } | null = null, admissionSlot = -1): ConnectionState {
  return {
    id,
    rooms: null,
    attempts: 0,
    limited: bucket !== null,
    tokens: bucket?.burst ?? 0,
    refilledAt: bucket?.now ?? 0,
    excess: null,
    admissionSlot,
    tokenExpiry: null,
  };
}

/** Sends an ErrorReply for `request`, counted by its code when `limits` counts errors. */
export function replyError(
  socket: Socket,
  limits: ConnectionLimits,
  request: ClientRequest,
  code: ErrorCodeName,
  message: string,
  room: string | null,
  temporary = false,
): void {
  if (limits.errors) countError(limits.errors, code);
  socket.send(encodeError(request.requestId, code, message, room, temporary), true);
}

export function handleRequest(state: ConnectionState, socket: Socket, request: ClientRequest, broker: Broker, limits: ConnectionLimits): void {
  const fail = (code: ErrorCodeName, message: string, room: string | null): void => replyError(socket, limits, request, code, message, room);

  const room = checkRoomName(request.room);
  if (!room.ok) return fail(room.code, room.message, null);
  const name = room.value;

  switch (request.type) {
    case 'join': {
      if (request.protocolVersion !== PROTOCOL_VERSION) {
        const message = `this host speaks protocol ${PROTOCOL_VERSION} and this client ${request.protocolVersion}: reload the page or update the client`;
        return fail('UnsupportedVersion', message, name);
      }
      const nickname = checkNickname(request.nickname);
      if (!nickname.ok) return fail(nickname.code, nickname.message, name);
      if (membershipIn(state, name)) return fail('AlreadyJoined', 'you are already in this room', name);
      if (roomCount(state) >= limits.maxRooms) return fail('TooManyRooms', `a connection may be in at most ${limits.maxRooms} rooms`, name);
      if (limits.tokens) {
        const grant = limits.tokens.allows(request.token, name, nickname.value, Date.now());
        if (!grant.ok) return fail('Unauthorized', grant.reason, name);
        state.tokenExpiry ??= { byRoom: new Map(), armedAtMs: 0, timer: null };
        state.tokenExpiry.byRoom.set(name, grant.grant.exp * 1000);
      }
      const attempt = ++state.attempts;
      addMembership(state, { room: name, attempt, requestId: request.requestId, joined: false });
      broker.join(state.id, attempt, {
        requestId: request.requestId,
        room: name,
        nickname: nickname.value,
        since: request.since,
        epoch: request.epoch ?? 0,
        ...(state.admissionSlot >= 0 ? { addressSlot: state.admissionSlot } : {}),
        ...(request.resumeKey ? { resumeKey: request.resumeKey } : {}),
      });
      if (state.tokenExpiry) limits.watchTokenExpiry?.(state);
      return;
    }
    case 'leave': {
      const membership = membershipIn(state, name);
      if (!membership) return fail('NotJoined', 'you are not in this room', name);
      dropMembership(state, name);
      // The join is still in flight: answer it now (its Joined or ErrorReply will be dropped as stale), so that every request gets one answer.
      if (!membership.joined) {
        if (limits.errors) countError(limits.errors, 'JoinCancelled');
        socket.send(encodeError(membership.requestId, 'JoinCancelled', 'you left the room before the join completed', name), true);
      }
      socket.unsubscribe(name);
      socket.send(encodeLeft(request.requestId, name), true);
      broker.leave(state.id, name);
      return;
    }
    case 'say': {
      if (!membershipIn(state, name)) return fail('NotJoined', 'join the room before talking in it', name);
      const text = checkText(request.text, limits.maxTextChars);
      if (!text.ok) return fail(text.code, text.message, name);
      if (request.to !== null && request.to.length === 0) return fail('RecipientNotFound', 'no such member in this room', name);
      broker.say(state.id, { requestId: request.requestId, room: name, text: text.value, to: request.to });
      return;
    }
    case 'members': {
      if (!membershipIn(state, name)) return fail('NotJoined', 'join the room to see who is in it', name);
      if ([...request.prefix].length > MAX_NICKNAME_CHARS) return fail('InvalidNickname', `a name prefix is at most ${MAX_NICKNAME_CHARS} characters`, name);
      broker.members(state.id, { requestId: request.requestId, room: name, after: request.after, prefix: request.prefix, limit: request.limit });
      return;
    }
  }
}
