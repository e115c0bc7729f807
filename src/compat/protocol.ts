/**
 * The workerman-chat protocol (../shared/docs/SEED.md): JSON text frames, as the
 * seed's page and bots send and read them. Pure: strings in, checked requests out,
 * and the server's JSON texts built from raw (unescaped) names and texts. No I/O.
 *
 * Everything a client sends is untrusted: the frame must be a JSON object, every
 * field this module reads is type-checked and bounded, and names, room ids and texts
 * pass the same rules as the FlatBuffers protocol's (rooms/rules.ts). A refusal is a
 * value, never an exception.
 *
 * The seed's page inserts names and contents as HTML, so every name and content this
 * module writes is HTML-escaped here (htmlspecialchars), contents with `<br />` before
 * each newline (nl2br), as the seed does; the rooms keep the raw text, so FlatBuffers
 * clients never see escaped text.
 */
import { checkNickname, checkRoomName, checkText, countChars } from '../rooms/rules.js';
import { type ErrorCodeName, MAX_NICKNAME_CHARS } from '../protocol/index.js';

/** What a compat client asked for, checked and normalised. */
export type CompatRequest =
  /** `name` trimmed and NFC-normalised; `room` the room's name (a numeric room id as text). */
  | { readonly type: 'login'; readonly name: string; readonly room: string }
  /** `to`: a client id (20 lower-case hex characters) for a private message, null for the room. */
  | { readonly type: 'say'; readonly to: string | null; readonly text: string }
  | { readonly type: 'pong' };

/** `BadRequest`: the frame is not a request of this protocol; else one of the host's error codes (README "Error codes"). */
export type CompatErrorName = 'BadRequest' | ErrorCodeName;

export interface CompatRefusal {
  readonly error: CompatErrorName;
  readonly message: string;
}

export type Parsed = { readonly ok: true; readonly request: CompatRequest } | { readonly ok: false; readonly refusal: CompatRefusal };

/** Client ids: 20 hexadecimal characters, as the seed's. */
export const CLIENT_ID_LENGTH = 20;
const CLIENT_ID = /^[0-9a-fA-F]{20}$/;
/** The seed page's `to_client_id` for the whole room. */
export const TO_ALL = 'all';
/**
 * `to_client_name` is read only to check it (the echo names the real recipient): the seed
 * page sends the recipient option's text. Bounded well above a nickname's 32 characters.
 */
export const MAX_TO_CLIENT_NAME_CHARS = 256;
/** Longest `client_name` looked at (UTF-16 units, before trimming); checkNickname then allows 32 characters. */
const MAX_CLIENT_NAME_UNITS = 256;

/** The `code` of an error frame: the seed's own number for a nickname taken in the room, 100 for every other refusal. */
export const NICKNAME_TAKEN_CODE = 101;
export const REFUSED_CODE = 100;

/** The seed's prefixes of a private message: to the target ("said to you") and the sender's echo ("you said to NAME"). */
export const PRIVATE_TO_YOU_PREFIX = '<b>对你说: </b>';
export function privateEchoPrefix(recipientName: string): string {
  return `<b>你对${escapeHtml(recipientName)}说: </b>`;
}

export const PING_TEXT = '{"type":"ping"}';

const refuse = (error: CompatErrorName, message: string): Parsed => ({ ok: false, refusal: { error, message } });

/** Reads one text frame. `maxTextChars` is --max-text. */
export function parseClientText(text: string, maxTextChars: number): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    return refuse('BadRequest', 'the frame is not JSON: send {"type":"login"|"say"|"pong",...}');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return refuse('BadRequest', 'a frame is a JSON object with a "type"');
  }
  const frame = value as Record<string, unknown>;
  const type = own(frame, 'type');
  if (typeof type !== 'string') return refuse('BadRequest', '"type" must be a string: "login", "say" or "pong"');
  switch (type) {
    case 'login':
      return parseLogin(frame);
    case 'say':
      return parseSay(frame, maxTextChars);
    case 'pong':
      return { ok: true, request: { type: 'pong' } };
    default:
      return refuse('BadRequest', `unknown "type" ${JSON.stringify(cut(type, 32))}: this host reads "login", "say" and "pong"`);
  }
}

/** A field of the frame itself (never one inherited from Object.prototype, such as "constructor"). */
function own(frame: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(frame, key) ? frame[key] : undefined;
}

function parseLogin(frame: Record<string, unknown>): Parsed {
  const name = own(frame, 'client_name');
  if (typeof name !== 'string') return refuse('BadRequest', '"client_name" must be a string');
  if (name.length > MAX_CLIENT_NAME_UNITS) return refuse('InvalidNickname', `nicknames are 1-${MAX_NICKNAME_CHARS} characters after trimming`);
  const roomId = own(frame, 'room_id');
  const room = roomName(roomId);
  if (room === null) return refuse('BadRequest', '"room_id" must be a whole number or a string');
  const checkedRoom = checkRoomName(room);
  if (!checkedRoom.ok) {
    return refuse('InvalidRoomName', `room_id ${JSON.stringify(cut(room, 70))} cannot be a room: ${checkedRoom.message}`);
  }
  const nickname = checkNickname(name);
  if (!nickname.ok) return refuse(nickname.code, nickname.message);
  return { ok: true, request: { type: 'login', name: nickname.value, room: checkedRoom.value } };
}

/**
 * The room a `room_id` names: the seed's page writes the `?room_id=` value unquoted (a
 * number), other clients a string, and both mean the same room (`2` and `"2"`). Only whole
 * numbers are ids (`2.5` or `1e999` are refused by the room-name rules or here); anything
 * else (true, null, an object) is no room: null.
 */
function roomName(roomId: unknown): string | null {
  if (typeof roomId === 'string') return roomId;
  if (typeof roomId === 'number') return Number.isSafeInteger(roomId) ? String(roomId) : '';
  return null;
}

function parseSay(frame: Record<string, unknown>, maxTextChars: number): Parsed {
  const to = own(frame, 'to_client_id');
  if (typeof to !== 'string') return refuse('BadRequest', '"to_client_id" must be a string: "all" or a client id');
  const toName = own(frame, 'to_client_name');
  if (toName !== undefined && typeof toName !== 'string') return refuse('BadRequest', '"to_client_name" must be a string');
  if (typeof toName === 'string' && toName.length > MAX_TO_CLIENT_NAME_CHARS) {
    return refuse('BadRequest', `"to_client_name" is at most ${MAX_TO_CLIENT_NAME_CHARS} characters`);
  }
  const content = own(frame, 'content');
  if (typeof content !== 'string') return refuse('BadRequest', '"content" must be a string');
  const text = checkText(content, maxTextChars);
  if (!text.ok) return refuse(text.code, text.message);
  if (to === TO_ALL) return { ok: true, request: { type: 'say', to: null, text: text.value } };
  if (!CLIENT_ID.test(to)) return refuse('RecipientNotFound', 'no such member in this room ("to_client_id" is "all" or a client id)');
  return { ok: true, request: { type: 'say', to: to.toLowerCase(), text: text.value } };
}

/** At most `chars` characters of `text`, for quoting client input in a message. */
function cut(text: string, chars: number): string {
  return countChars(text) <= chars ? text : `${[...text].slice(0, chars).join('')}...`;
}

// ------------------------------------------------------------------ server texts

/** One member as compat clients see it: its client id and its raw name. */
export interface CompatMember {
  readonly clientId: string;
  readonly name: string;
}

/**
 * `login`: to the joiner with `clientList` (id -> escaped name, the joiner included),
 * to the others without. Keys in the seed's order.
 */
export function loginText(member: CompatMember, time: string, clientList?: readonly CompatMember[]): string {
  if (clientList === undefined) {
    return JSON.stringify({ type: 'login', client_id: member.clientId, client_name: escapeHtml(member.name), time });
  }
  const list: Record<string, string> = {};
  for (const m of clientList) list[m.clientId] = escapeHtml(m.name);
  return JSON.stringify({ type: 'login', client_id: member.clientId, client_name: escapeHtml(member.name), time, client_list: list });
}

/** `say`: `to` is TO_ALL for a room message, else the recipient's client id; `prefix` is already HTML (the private prefixes). */
export function sayText(from: CompatMember, to: string, text: string, time: string, prefix = ''): string {
  return JSON.stringify({
    type: 'say',
    from_client_id: from.clientId,
    from_client_name: escapeHtml(from.name),
    to_client_id: to,
    content: prefix + nl2br(escapeHtml(text)),
    time,
  });
}

/** `logout`: a member left the room (closed, moved to another room, or was taken out). */
export function logoutText(member: CompatMember, time: string): string {
  return JSON.stringify({ type: 'logout', from_client_id: member.clientId, from_client_name: escapeHtml(member.name), time });
}

/**
 * An error: a type the seed's page ignores (it acts on login, say, logout and ping only); `msg` is HTML-escaped.
 * `code` is 101 for a nickname taken in the room (the number the seed's later versions
 * answer a duplicate name with) and 100 otherwise; `error` names the reason.
 */
export function errorText(error: CompatErrorName, message: string): string {
  // Messages may quote a name: escaped like every other text this port sends.
  return JSON.stringify({ type: 'error', code: error === 'NicknameTaken' ? NICKNAME_TAKEN_CODE : REFUSED_CODE, error, msg: escapeHtml(message) });
}

// ------------------------------------------------------------------ escaping and time

const HTML_SPECIAL = /[&<>"']/;
const HTML_SPECIAL_ALL = /[&<>"']/g;
const HTML_ENTITY: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#039;' };

/** PHP's htmlspecialchars with its default flags (ENT_QUOTES: both quotes). */
export function escapeHtml(text: string): string {
  return HTML_SPECIAL.test(text) ? text.replace(HTML_SPECIAL_ALL, (c) => HTML_ENTITY[c]!) : text;
}

/** PHP's nl2br: `<br />` before every line break, which stays. */
export function nl2br(text: string): string {
  return text.includes('\n') || text.includes('\r') ? text.replace(/\r\n|\n\r|\n|\r/g, '<br />$&') : text;
}

/** `Y-m-d H:i:s` in the host's local time zone (set TZ), as PHP's date() in the seed's. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
