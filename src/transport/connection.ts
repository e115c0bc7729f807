/**
 * What happens to one client's requests: check them, keep the connection's room
 * state, hand them to the broker. Independent of uWS beyond the small Socket
 * interface, so the rules read in one place.
 */
import type { RateLimiter } from '../admission/rate-limit.js';
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
  readonly attempt: number;
  readonly requestId: number;
  joined: boolean;
}

/** Per-connection state, kept in uWS userData. */
export interface ConnectionState {
  readonly id: string;
  /** Rooms joined or being joined, with the attempt number of the join and its request (answered if a Leave overtakes it). */
  readonly rooms: Map<string, Membership>;
  attempts: number;
  /** Per-connection flood control; null when the transport does not limit (tests of the rules). */
  readonly limiter: RateLimiter | null;
  /** The connection-limit slot to release on close (-1: none). */
  readonly admissionSlot: number;
  /** With --token-secret, once a join passed the token check; null until then (no cost without tokens). */
  tokenExpiry: TokenExpiry | null;
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
    if (!state.rooms.has(room)) expiry.byRoom.delete(room);
    else if (earliest === null || atMs < earliest) earliest = atMs;
  }
  return earliest;
}

export function newConnectionState(id: string, limiter: RateLimiter | null = null, admissionSlot = -1): ConnectionState {
  return { id, rooms: new Map(), attempts: 0, limiter, admissionSlot, tokenExpiry: null };
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
      if (state.rooms.has(name)) return fail('AlreadyJoined', 'you are already in this room', name);
      if (state.rooms.size >= limits.maxRooms) return fail('TooManyRooms', `a connection may be in at most ${limits.maxRooms} rooms`, name);
      if (limits.tokens) {
        const grant = limits.tokens.allows(request.token, name, nickname.value, Date.now());
        if (!grant.ok) return fail('Unauthorized', grant.reason, name);
        state.tokenExpiry ??= { byRoom: new Map(), armedAtMs: 0, timer: null };
        state.tokenExpiry.byRoom.set(name, grant.grant.exp * 1000);
      }
      const attempt = ++state.attempts;
      state.rooms.set(name, { attempt, requestId: request.requestId, joined: false });
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
      const membership = state.rooms.get(name);
      if (!membership) return fail('NotJoined', 'you are not in this room', name);
      state.rooms.delete(name);
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
      if (!state.rooms.has(name)) return fail('NotJoined', 'join the room before talking in it', name);
      const text = checkText(request.text, limits.maxTextChars);
      if (!text.ok) return fail(text.code, text.message, name);
      if (request.to !== null && request.to.length === 0) return fail('RecipientNotFound', 'no such member in this room', name);
      broker.say(state.id, { requestId: request.requestId, room: name, text: text.value, to: request.to });
      return;
    }
    case 'members': {
      if (!state.rooms.has(name)) return fail('NotJoined', 'join the room to see who is in it', name);
      if ([...request.prefix].length > MAX_NICKNAME_CHARS) return fail('InvalidNickname', `a name prefix is at most ${MAX_NICKNAME_CHARS} characters`, name);
      broker.members(state.id, { requestId: request.requestId, room: name, after: request.after, prefix: request.prefix, limit: request.limit });
      return;
    }
  }
}
