/**
 * The one codec for both directions, shared by the server and the browser client.
 * Pure: Uint8Array in, plain objects out (and back); no Node or uWS imports.
 *
 * Decoding verifies the whole frame first (verify.ts), so a decode either returns
 * a complete, typed object or throws one ProtocolError: never another exception,
 * never a half-read message.
 */
import * as flatbuffers from 'flatbuffers';
import { ClientBody } from './generated/chat/wire/client-body.js';
import { ClientFrame } from './generated/chat/wire/client-frame.js';
import { ErrorCode } from './generated/chat/wire/error-code.js';
import { ErrorReply } from './generated/chat/wire/error-reply.js';
import { Join } from './generated/chat/wire/join.js';
import { Joined } from './generated/chat/wire/joined.js';
import { Leave } from './generated/chat/wire/leave.js';
import { Left } from './generated/chat/wire/left.js';
import { Member } from './generated/chat/wire/member.js';
import { MemberJoined } from './generated/chat/wire/member-joined.js';
import { MemberLeft } from './generated/chat/wire/member-left.js';
import { MemberPage } from './generated/chat/wire/member-page.js';
import { Members } from './generated/chat/wire/members.js';
import { Message } from './generated/chat/wire/message.js';
import { Presence } from './generated/chat/wire/presence.js';
import { Say } from './generated/chat/wire/say.js';
import { SeqPosition } from './generated/chat/wire/seq-position.js';
import { Sent } from './generated/chat/wire/sent.js';
import { ServerBody } from './generated/chat/wire/server-body.js';
import { ServerFrame } from './generated/chat/wire/server-frame.js';
import { Welcome } from './generated/chat/wire/welcome.js';
import { ProtocolError } from './errors.js';
import { decodeUtf8, encodeUtf8 } from './utf8.js';
import { MAX_RESUME_KEY_BYTES } from './limits.js';
import { type TableSpec, verifyRoot } from './verify.js';

export { ErrorCode };

/** The stable names of ErrorCode values ("NicknameTaken", ...). */
export type ErrorCodeName = keyof typeof ErrorCode;

export interface MemberInfo {
  readonly id: string;
  readonly name: string;
}

export type ClientRequest =
  | {
      readonly type: 'join';
      readonly requestId: number;
      readonly room: string;
      readonly nickname: string;
      /** The last sequence number seen, or null. */
      readonly since: number | null;
      /** The room epoch `since` belongs to (Joined.epoch); absent: unknown. Present after decoding only when not 0. */
      readonly epoch?: number;
      /** A signed token for hosts that require one; present after decoding only when not empty. */
      readonly token?: string;
      /** The protocol version the client speaks; 1 when the frame does not say (clients before protocol 2). */
      readonly protocolVersion: number;
      /** On a rejoin, the last Joined's resumeKey (see Join in schema/chat.fbs); present after decoding only when not empty. */
      readonly resumeKey?: string;
    }
  | { readonly type: 'leave'; readonly requestId: number; readonly room: string }
  | { readonly type: 'say'; readonly requestId: number; readonly room: string; readonly text: string; readonly to: string | null }
  | {
      readonly type: 'members';
      readonly requestId: number;
      readonly room: string;
      /** The previous page's nextAfter; '' from the start. */
      readonly after: string;
      /** Case-insensitive nickname prefix; '' for every member. */
      readonly prefix: string;
      /** 0: the host's page size. */
      readonly limit: number;
    };

export interface ChatMessage {
  readonly room: string;
  /** The room's sequence number; 0 for a private message. */
  readonly seq: number;
  readonly sender: MemberInfo;
  /** The recipient of a private message; null for a room message. */
  readonly to: MemberInfo | null;
  readonly text: string;
  readonly timestampMs: number;
}

export interface WelcomeInfo {
  readonly connectionId: string;
  readonly protocolVersion: number;
  readonly maxFrameBytes: number;
  readonly maxRooms: number;
  readonly maxTextChars: number;
  readonly idleTimeoutSeconds: number;
  /** The per-connection rate limit: requests per second on average, and at once; 0 from a host that does not announce it. */
  readonly rateLimitPerSecond: number;
  readonly rateBurst: number;
}

export interface JoinedInfo {
  readonly room: string;
  readonly you: MemberInfo;
  readonly members: readonly MemberInfo[];
  readonly history: readonly ChatMessage[];
  readonly headSeq: number;
  readonly recovered: boolean;
  /** This incarnation of the room (see SeqPosition in schema/chat.fbs). */
  readonly epoch: number;
  /** How many members the room has; `members` is the first page of them. */
  readonly memberCount: number;
  /** '' when `members` is the whole list; else send it as Members.after for the next page. */
  readonly nextAfter: string;
  /** This membership's secret, to send back as Join.resumeKey on a rejoin; present after decoding only when not empty (a host before it). */
  readonly resumeKey?: string;
}

export interface MemberPageInfo {
  readonly room: string;
  readonly members: readonly MemberInfo[];
  /** '' when no more members follow; else send it as Members.after. */
  readonly nextAfter: string;
  readonly memberCount: number;
}

export interface PresenceInfo {
  readonly room: string;
  /** Apply `left` first, then `joined`; both empty in a room over the host's presence-events limit. */
  readonly joined: readonly MemberInfo[];
  readonly left: readonly MemberInfo[];
  readonly memberCount: number;
}

export type ServerEvent =
  | ({ readonly type: 'welcome' } & WelcomeInfo)
  | ({ readonly type: 'joined'; readonly requestId: number } & JoinedInfo)
  | { readonly type: 'memberJoined'; readonly room: string; readonly member: MemberInfo }
  | { readonly type: 'memberLeft'; readonly room: string; readonly member: MemberInfo }
  | ({ readonly type: 'message' } & ChatMessage)
  | { readonly type: 'left'; readonly requestId: number; readonly room: string }
  | { readonly type: 'sent'; readonly requestId: number; readonly room: string; readonly seq: number }
  | ({ readonly type: 'memberPage'; readonly requestId: number } & MemberPageInfo)
  | ({ readonly type: 'presence' } & PresenceInfo)
  | {
      readonly type: 'error';
      readonly requestId: number;
      readonly code: ErrorCodeName;
      readonly message: string;
      readonly room: string | null;
      readonly temporary: boolean;
    };

// ------------------------------------------------------------------ verification specs
// One entry per vtable slot, in schema order (test/protocol checks them against the generated code).

const u8 = { kind: 'scalar', size: 1 } as const;
const u16 = { kind: 'scalar', size: 2 } as const;
const u32 = { kind: 'scalar', size: 4 } as const;
const u64 = { kind: 'scalar', size: 8 } as const;
const str = { kind: 'string' } as const;
/** A string a client sends that the host only compares: bounded in bytes, so it cannot cost more than that. */
const resumeKey = { kind: 'string', maxBytes: MAX_RESUME_KEY_BYTES } as const;
const MEMBER: TableSpec = { name: 'Member', fields: [str, str] };
const member = { kind: 'table', table: () => MEMBER } as const;
const members = { kind: 'tables', table: () => MEMBER } as const;
const JOIN: TableSpec = { name: 'Join', fields: [str, str, { kind: 'struct', size: 16, align: 8 }, str, u16, resumeKey] };
const LEAVE: TableSpec = { name: 'Leave', fields: [str] };
const SAY: TableSpec = { name: 'Say', fields: [str, str, str] };
const MEMBERS: TableSpec = { name: 'Members', fields: [str, str, str, u16] };
const WELCOME: TableSpec = { name: 'Welcome', fields: [str, u16, u32, u16, u16, u16, u32, u32] };
const MESSAGE: TableSpec = { name: 'Message', fields: [str, u64, member, member, str, u64] };
const JOINED: TableSpec = {
  name: 'Joined',
  fields: [str, member, members, { kind: 'tables', table: () => MESSAGE }, u64, u8, u64, u32, str, str],
};
const MEMBER_JOINED: TableSpec = { name: 'MemberJoined', fields: [str, member] };
const MEMBER_LEFT: TableSpec = { name: 'MemberLeft', fields: [str, member] };
const LEFT: TableSpec = { name: 'Left', fields: [str] };
const SENT: TableSpec = { name: 'Sent', fields: [str, u64] };
const ERROR_REPLY: TableSpec = { name: 'ErrorReply', fields: [u16, str, str, u8] };
const MEMBER_PAGE: TableSpec = { name: 'MemberPage', fields: [str, members, str, u32] };
const PRESENCE: TableSpec = { name: 'Presence', fields: [str, members, members, u32] };

/** Union members in the order of their type numbers (1, 2, ...), as in schema/chat.fbs. */
export const CLIENT_FRAME: TableSpec = {
  name: 'ClientFrame',
  fields: [u32, { kind: 'unionType', required: true, members: [() => JOIN, () => LEAVE, () => SAY, () => MEMBERS] }, { kind: 'unionValue' }],
};
export const SERVER_FRAME: TableSpec = {
  name: 'ServerFrame',
  fields: [
    u32,
    {
      kind: 'unionType',
      required: true,
      members: [
        () => WELCOME,
        () => JOINED,
        () => MEMBER_JOINED,
        () => MEMBER_LEFT,
        () => MESSAGE,
        () => LEFT,
        () => SENT,
        () => ERROR_REPLY,
        () => MEMBER_PAGE,
        () => PRESENCE,
      ],
    },
    { kind: 'unionValue' },
  ],
};
/** Every table spec, by generated class name, for the schema consistency test. */
export const TABLE_SPECS: readonly TableSpec[] = [
  MEMBER,
  JOIN,
  LEAVE,
  SAY,
  MEMBERS,
  CLIENT_FRAME,
  WELCOME,
  MESSAGE,
  JOINED,
  MEMBER_JOINED,
  MEMBER_LEFT,
  LEFT,
  SENT,
  ERROR_REPLY,
  MEMBER_PAGE,
  PRESENCE,
  SERVER_FRAME,
];

// ------------------------------------------------------------------ decoding

function text(bytes: string | Uint8Array | null): string {
  return bytes === null ? '' : typeof bytes === 'string' ? bytes : decodeUtf8(bytes);
}

function optionalText(bytes: string | Uint8Array | null): string | null {
  return bytes === null ? null : text(bytes);
}

const BYTES = flatbuffers.Encoding.UTF8_BYTES;

function toNumber(value: bigint): number {
  // Sequence numbers and timestamps stay far below 2^53; clamp rather than wrap.
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

function tokenField(token: string | null): { token?: string } {
  return token ? { token } : {};
}

function resumeKeyField(key: string | null): { resumeKey?: string } {
  return key ? { resumeKey: key } : {};
}

/** Decodes one client frame, or throws ProtocolError. */
export function decodeClientFrame(bytes: Uint8Array): ClientRequest {
  verifyRoot(bytes, CLIENT_FRAME);
  const frame = ClientFrame.getRootAsClientFrame(new flatbuffers.ByteBuffer(bytes));
  const requestId = frame.requestId();
  switch (frame.bodyType()) {
    case ClientBody.Join: {
      const join = frame.body(new Join()) as Join;
      const since = join.since(new SeqPosition());
      const epoch = since === null ? 0 : toNumber(since.epoch());
      return {
        type: 'join',
        requestId,
        room: text(join.room(BYTES)),
        nickname: text(join.nickname(BYTES)),
        since: since === null ? null : toNumber(since.seq()),
        ...(epoch !== 0 ? { epoch } : {}),
        ...tokenField(optionalText(join.token(BYTES))),
        protocolVersion: join.protocolVersion() || 1,
        ...resumeKeyField(optionalText(join.resumeKey(BYTES))),
      };
    }
    case ClientBody.Leave: {
      const leave = frame.body(new Leave()) as Leave;
      return { type: 'leave', requestId, room: text(leave.room(BYTES)) };
    }
    case ClientBody.Say: {
      const say = frame.body(new Say()) as Say;
      return { type: 'say', requestId, room: text(say.room(BYTES)), text: text(say.text(BYTES)), to: optionalText(say.to(BYTES)) };
    }
    case ClientBody.Members: {
      const m = frame.body(new Members()) as Members;
      return { type: 'members', requestId, room: text(m.room(BYTES)), after: text(m.after(BYTES)), prefix: text(m.prefix(BYTES)), limit: m.limit() };
    }
    default:
      throw new ProtocolError('UNKNOWN_BODY', `unknown client body type ${frame.bodyType()}`);
  }
}

function readMember(m: Member | null): MemberInfo {
  return m === null ? { id: '', name: '' } : { id: text(m.id(BYTES)), name: text(m.name(BYTES)) };
}

/** A vector of members through its accessor pair (the generated classes name them per field). */
function readMembers(length: number, at: (i: number) => Member | null): MemberInfo[] {
  const out: MemberInfo[] = [];
  for (let i = 0; i < length; i++) out.push(readMember(at(i)));
  return out;
}

function readMessage(m: Message): ChatMessage {
  const to = m.to();
  return {
    room: text(m.room(BYTES)),
    seq: toNumber(m.seq()),
    sender: readMember(m.sender()),
    to: to === null ? null : readMember(to),
    text: text(m.text(BYTES)),
    timestampMs: toNumber(m.timestampMs()),
  };
}

/** Decodes one server frame, or throws ProtocolError. */
export function decodeServerFrame(bytes: Uint8Array): ServerEvent {
  verifyRoot(bytes, SERVER_FRAME);
  const frame = ServerFrame.getRootAsServerFrame(new flatbuffers.ByteBuffer(bytes));
  const requestId = frame.requestId();
  switch (frame.bodyType()) {
    case ServerBody.Welcome: {
      const w = frame.body(new Welcome()) as Welcome;
      return {
        type: 'welcome',
        connectionId: text(w.connectionId(BYTES)),
        protocolVersion: w.protocolVersion(),
        maxFrameBytes: w.maxFrameBytes(),
        maxRooms: w.maxRooms(),
        maxTextChars: w.maxTextChars(),
        idleTimeoutSeconds: w.idleTimeoutSeconds(),
        rateLimitPerSecond: w.rateLimitPerSecond(),
        rateBurst: w.rateBurst(),
      };
    }
    case ServerBody.Joined: {
      const j = frame.body(new Joined()) as Joined;
      const members = readMembers(j.membersLength(), (i) => j.members(i));
      const history: ChatMessage[] = [];
      for (let i = 0; i < j.historyLength(); i++) history.push(readMessage(j.history(i) as Message));
      return {
        type: 'joined',
        requestId,
        room: text(j.room(BYTES)),
        you: readMember(j.you()),
        members,
        history,
        headSeq: toNumber(j.headSeq()),
        recovered: j.recovered(),
        epoch: toNumber(j.epoch()),
        memberCount: j.memberCount(),
        nextAfter: text(j.nextAfter(BYTES)),
        ...resumeKeyField(optionalText(j.resumeKey(BYTES))),
      };
    }
    case ServerBody.MemberJoined: {
      const e = frame.body(new MemberJoined()) as MemberJoined;
      return { type: 'memberJoined', room: text(e.room(BYTES)), member: readMember(e.member()) };
    }
    case ServerBody.MemberLeft: {
      const e = frame.body(new MemberLeft()) as MemberLeft;
      return { type: 'memberLeft', room: text(e.room(BYTES)), member: readMember(e.member()) };
    }
    case ServerBody.Message:
      return { type: 'message', ...readMessage(frame.body(new Message()) as Message) };
    case ServerBody.Left:
      return { type: 'left', requestId, room: text((frame.body(new Left()) as Left).room(BYTES)) };
    case ServerBody.Sent: {
      const s = frame.body(new Sent()) as Sent;
      return { type: 'sent', requestId, room: text(s.room(BYTES)), seq: toNumber(s.seq()) };
    }
    case ServerBody.ErrorReply: {
      const e = frame.body(new ErrorReply()) as ErrorReply;
      const name = ErrorCode[e.code()] as ErrorCodeName | undefined;
      return {
        type: 'error',
        requestId,
        code: name ?? 'Unknown',
        message: text(e.message(BYTES)),
        room: optionalText(e.room(BYTES)),
        temporary: e.temporary(),
      };
    }
    case ServerBody.MemberPage: {
      const p = frame.body(new MemberPage()) as MemberPage;
      return {
        type: 'memberPage',
        requestId,
        room: text(p.room(BYTES)),
        members: readMembers(p.membersLength(), (i) => p.members(i)),
        nextAfter: text(p.nextAfter(BYTES)),
        memberCount: p.memberCount(),
      };
    }
    case ServerBody.Presence: {
      const p = frame.body(new Presence()) as Presence;
      return {
        type: 'presence',
        room: text(p.room(BYTES)),
        joined: readMembers(p.joinedLength(), (i) => p.joined(i)),
        left: readMembers(p.leftLength(), (i) => p.left(i)),
        memberCount: p.memberCount(),
      };
    }
    default:
      throw new ProtocolError('UNKNOWN_BODY', `unknown server body type ${frame.bodyType()}`);
  }
}

// ------------------------------------------------------------------ encoding
// One builder, reused; every encode returns a fresh copy of the finished bytes.

const builder = new flatbuffers.Builder(1024);

function writeString(s: string): flatbuffers.Offset {
  return builder.createString(encodeUtf8(s));
}

function finish(root: flatbuffers.Offset): Uint8Array {
  builder.finish(root);
  const bytes = builder.asUint8Array().slice();
  builder.clear();
  return bytes;
}

function writeMember(m: MemberInfo): flatbuffers.Offset {
  return Member.createMember(builder, writeString(m.id), writeString(m.name));
}

function writeMessage(m: ChatMessage): flatbuffers.Offset {
  const room = writeString(m.room);
  const sender = writeMember(m.sender);
  const to = m.to === null ? 0 : writeMember(m.to);
  const body = writeString(m.text);
  Message.startMessage(builder);
  Message.addRoom(builder, room);
  Message.addSeq(builder, BigInt(m.seq));
  Message.addSender(builder, sender);
  if (to !== 0) Message.addTo(builder, to);
  Message.addText(builder, body);
  Message.addTimestampMs(builder, BigInt(m.timestampMs));
  return Message.endMessage(builder);
}

function clientFrame(requestId: number, type: ClientBody, body: flatbuffers.Offset): Uint8Array {
  return finish(ClientFrame.createClientFrame(builder, requestId >>> 0, type, body));
}

function serverFrame(requestId: number, type: ServerBody, body: flatbuffers.Offset): Uint8Array {
  return finish(ServerFrame.createServerFrame(builder, requestId >>> 0, type, body));
}

export function encodeClientRequest(request: ClientRequest): Uint8Array {
  switch (request.type) {
    case 'join': {
      const room = writeString(request.room);
      const nickname = writeString(request.nickname);
      const token = request.token ? writeString(request.token) : 0;
      const resume = request.resumeKey ? writeString(request.resumeKey) : 0;
      Join.startJoin(builder);
      Join.addRoom(builder, room);
      Join.addNickname(builder, nickname);
      if (request.since !== null) {
        Join.addSince(builder, SeqPosition.createSeqPosition(builder, BigInt(request.since), BigInt(request.epoch ?? 0)));
      }
      if (token) Join.addToken(builder, token);
      Join.addProtocolVersion(builder, request.protocolVersion);
      if (resume) Join.addResumeKey(builder, resume);
      return clientFrame(request.requestId, ClientBody.Join, Join.endJoin(builder));
    }
    case 'leave':
      return clientFrame(request.requestId, ClientBody.Leave, Leave.createLeave(builder, writeString(request.room)));
    case 'say': {
      const room = writeString(request.room);
      const body = writeString(request.text);
      const to = request.to === null ? 0 : writeString(request.to);
      return clientFrame(request.requestId, ClientBody.Say, Say.createSay(builder, room, body, to));
    }
    case 'members': {
      const room = writeString(request.room);
      const after = writeString(request.after);
      const prefix = writeString(request.prefix);
      return clientFrame(request.requestId, ClientBody.Members, Members.createMembers(builder, room, after, prefix, request.limit));
    }
  }
}

export function encodeWelcome(w: WelcomeInfo): Uint8Array {
  const id = writeString(w.connectionId);
  Welcome.startWelcome(builder);
  Welcome.addConnectionId(builder, id);
  Welcome.addProtocolVersion(builder, w.protocolVersion);
  Welcome.addMaxFrameBytes(builder, w.maxFrameBytes);
  Welcome.addMaxRooms(builder, w.maxRooms);
  Welcome.addMaxTextChars(builder, w.maxTextChars);
  Welcome.addIdleTimeoutSeconds(builder, w.idleTimeoutSeconds);
  Welcome.addRateLimitPerSecond(builder, w.rateLimitPerSecond);
  Welcome.addRateBurst(builder, w.rateBurst);
  return serverFrame(0, ServerBody.Welcome, Welcome.endWelcome(builder));
}

export function encodeJoined(requestId: number, j: JoinedInfo): Uint8Array {
  const room = writeString(j.room);
  const you = writeMember(j.you);
  const members = Joined.createMembersVector(builder, j.members.map(writeMember));
  const history = Joined.createHistoryVector(builder, j.history.map(writeMessage));
  const nextAfter = writeString(j.nextAfter);
  const resume = j.resumeKey ? writeString(j.resumeKey) : 0;
  Joined.startJoined(builder);
  Joined.addRoom(builder, room);
  Joined.addYou(builder, you);
  Joined.addMembers(builder, members);
  Joined.addHistory(builder, history);
  Joined.addHeadSeq(builder, BigInt(j.headSeq));
  Joined.addRecovered(builder, j.recovered);
  Joined.addEpoch(builder, BigInt(j.epoch));
  Joined.addMemberCount(builder, j.memberCount);
  Joined.addNextAfter(builder, nextAfter);
  if (resume) Joined.addResumeKey(builder, resume);
  return serverFrame(requestId, ServerBody.Joined, Joined.endJoined(builder));
}

export function encodeMemberPage(requestId: number, p: MemberPageInfo): Uint8Array {
  const room = writeString(p.room);
  const members = MemberPage.createMembersVector(builder, p.members.map(writeMember));
  const nextAfter = writeString(p.nextAfter);
  return serverFrame(requestId, ServerBody.MemberPage, MemberPage.createMemberPage(builder, room, members, nextAfter, p.memberCount));
}

export function encodePresence(p: PresenceInfo): Uint8Array {
  const room = writeString(p.room);
  const joined = Presence.createJoinedVector(builder, p.joined.map(writeMember));
  const left = Presence.createLeftVector(builder, p.left.map(writeMember));
  return serverFrame(0, ServerBody.Presence, Presence.createPresence(builder, room, joined, left, p.memberCount));
}

export function encodeMemberJoined(room: string, m: MemberInfo): Uint8Array {
  const roomOffset = writeString(room);
  const memberOffset = writeMember(m);
  MemberJoined.startMemberJoined(builder);
  MemberJoined.addRoom(builder, roomOffset);
  MemberJoined.addMember(builder, memberOffset);
  return serverFrame(0, ServerBody.MemberJoined, MemberJoined.endMemberJoined(builder));
}

export function encodeMemberLeft(room: string, m: MemberInfo): Uint8Array {
  const roomOffset = writeString(room);
  const memberOffset = writeMember(m);
  MemberLeft.startMemberLeft(builder);
  MemberLeft.addRoom(builder, roomOffset);
  MemberLeft.addMember(builder, memberOffset);
  return serverFrame(0, ServerBody.MemberLeft, MemberLeft.endMemberLeft(builder));
}

export function encodeMessage(m: ChatMessage): Uint8Array {
  return serverFrame(0, ServerBody.Message, writeMessage(m));
}

export function encodeLeft(requestId: number, room: string): Uint8Array {
  return serverFrame(requestId, ServerBody.Left, Left.createLeft(builder, writeString(room)));
}

export function encodeSent(requestId: number, room: string, seq: number): Uint8Array {
  return serverFrame(requestId, ServerBody.Sent, Sent.createSent(builder, writeString(room), BigInt(seq)));
}

export function encodeError(requestId: number, code: ErrorCodeName, message: string, room: string | null, temporary = false): Uint8Array {
  const messageOffset = writeString(message);
  const roomOffset = room === null ? 0 : writeString(room);
  return serverFrame(requestId, ServerBody.ErrorReply, ErrorReply.createErrorReply(builder, ErrorCode[code], messageOffset, roomOffset, temporary));
}

/** Any non-zero seq makes FlatBuffers write the field (a 0 would be left out as the default). */
const SEQ_PLACEHOLDER = 1;

/**
 * A room message whose sequence number is given later by someone else (the cluster's
 * sequencer in Redis): the encoded frame, and the byte offset of its little-endian
 * uint64 `seq`, to be overwritten in place (the frame is otherwise final).
 */
export function encodeMessageTemplate(m: Omit<ChatMessage, 'seq'>): { readonly frame: Uint8Array; readonly seqOffset: number } {
  const frame = encodeMessage({ ...m, seq: SEQ_PLACEHOLDER });
  const bb = new flatbuffers.ByteBuffer(frame);
  const message = ServerFrame.getRootAsServerFrame(bb).body(new Message()) as Message;
  // Message.seq is vtable slot 1 (voffset 6), as in the generated accessor.
  return { frame, seqOffset: message.bb_pos + bb.__offset(message.bb_pos, 6) };
}
