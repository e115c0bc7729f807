/**
 * One thin adapter per server protocol: how a connection joins its room, what a
 * say frame looks like, and how to tell a room message from everything else by
 * looking at a few bytes (never a full decode: that is the generator's hot path).
 * Every say text carries the send time (see stamp.ts) verbatim in the frame.
 */
import { encodeClientRequest, PROTOCOL_VERSION } from '../src/protocol/index.js';
import { joinFrame, JOINED, SAY, sayFrame } from './peers/bare-protocol.js';
import { OP_BINARY, OP_TEXT, type WsConn } from './wsclient.js';

export const enum Kind {
  Other = 0,
  Message = 1,
  /** One step of the join handshake (Welcome, Joined, open packet, ack...). */
  Step = 2,
  /** Engine.IO ping: answer with a pong. */
  Ping = 3,
  Error = 4,
}

export interface Adapter {
  readonly protocol: 'chat' | 'bare' | 'socket.io' | 'workerman';
  /** The upgrade path. */
  readonly path: string;
  readonly opcode: number;
  classify(buf: Buffer, start: number, end: number): Kind;
  /** Called on open (step 0) and after each Step frame; sends the next handshake frame; true once joined. */
  advance(conn: WsConn): boolean;
  /** The say payload for `room`; `text` appears in it byte for byte. */
  sayPayload(room: string, text: string): Uint8Array;
  /** The payload answering a Kind.Ping frame. */
  readonly pong: Uint8Array;
}

// ---------------------------------------------------------------- chat host (FlatBuffers)

// ServerBody union types. Everything else (Presence: one frame per room per host tick
// since protocol 2, MemberPage, Left, Sent) is Kind.Other: never counted as a delivery.
const BODY_WELCOME = 1;
const BODY_JOINED = 2;
const BODY_MESSAGE = 5;
const BODY_ERROR = 8;

/**
 * The union type of a ServerFrame without decoding it: root table offset, its
 * vtable, slot 1 (body_type). Verification is not the generator's job; the
 * sampled frames are checked by the smoke test's exact counts.
 */
export function chatBodyType(buf: Buffer, start: number, end: number): number {
  if (end - start < 8) return 0;
  const table = start + buf.readUInt32LE(start);
  if (table + 4 > end) return 0;
  const vtable = table - buf.readInt32LE(table);
  if (vtable < start || vtable + 4 > end) return 0;
  const vtableSize = buf.readUInt16LE(vtable);
  if (vtableSize < 8) return 0; // no slot 1
  const field = buf.readUInt16LE(vtable + 6);
  return field === 0 || table + field >= end ? 0 : buf[table + field]!;
}

export const chatAdapter: Adapter = {
  protocol: 'chat',
  path: '/',
  opcode: OP_BINARY,
  classify(buf, start, end) {
    switch (chatBodyType(buf, start, end)) {
      case BODY_MESSAGE:
        return Kind.Message;
      case BODY_WELCOME:
      case BODY_JOINED:
        return Kind.Step;
      case BODY_ERROR:
        return Kind.Error;
      default:
        return Kind.Other;
    }
  },
  advance(conn) {
    if (conn.step === 1) {
      const join = {
        type: 'join',
        requestId: conn.index + 1,
        room: conn.room,
        nickname: `u${conn.index}`,
        since: null,
        protocolVersion: PROTOCOL_VERSION,
      } as const;
      conn.send(OP_BINARY, encodeClientRequest(join));
    }
    return conn.step === 2;
  },
  sayPayload(room, text) {
    return encodeClientRequest({ type: 'say', requestId: 0, room, text, to: null });
  },
  pong: new Uint8Array(0),
};

// ---------------------------------------------------------------- workerman-chat (the host's --compat-port)

/** Every frame the host writes on that port starts with `{"type":"`: the type's letters follow. */
const TYPE_AT = 9;
const CHAR = (c: string): number => c.charCodeAt(0);

/**
 * The seed's JSON protocol, as its page speaks it: login on open, the own login (the one
 * with client_list, whose text ends with `}}`) ends the join, ping answered with pong. A
 * room message is any `say` (the benchmarks send no private ones); others' logins and
 * logouts are Kind.Other.
 */
export const compatAdapter: Adapter = {
  protocol: 'workerman',
  path: '/',
  opcode: OP_TEXT,
  classify(buf, start, end) {
    if (end - start < TYPE_AT + 6 || buf[start + TYPE_AT - 1] !== CHAR('"')) return Kind.Other;
    switch (buf[start + TYPE_AT]) {
      case CHAR('s'):
        return Kind.Message;
      case CHAR('l'):
        // login (not logout), and the joiner's own: it ends with client_list's closing brace.
        return buf[start + TYPE_AT + 3] === CHAR('i') && buf[end - 2] === CHAR('}') ? Kind.Step : Kind.Other;
      case CHAR('p'):
        return Kind.Ping;
      case CHAR('e'):
        return Kind.Error;
      default:
        return Kind.Other;
    }
  },
  advance(conn) {
    if (conn.step === 0) conn.send(OP_TEXT, Buffer.from(`{"type":"login","client_name":"u${conn.index}","room_id":"${conn.room}"}`));
    return conn.step === 1;
  },
  sayPayload(_room, text) {
    return Buffer.from(`{"type":"say","to_client_id":"all","to_client_name":"all","content":"${text}"}`);
  },
  pong: Buffer.from('{"type":"pong"}'),
};

// ---------------------------------------------------------------- bare peers

export const bareAdapter: Adapter = {
  protocol: 'bare',
  path: '/',
  opcode: OP_BINARY,
  classify(buf, start, end) {
    if (end <= start) return Kind.Other;
    const b = buf[start];
    return b === SAY ? Kind.Message : b === JOINED ? Kind.Step : Kind.Other;
  },
  advance(conn) {
    if (conn.step === 0) conn.send(OP_BINARY, joinFrame(conn.room));
    return conn.step === 1;
  },
  sayPayload: sayFrame,
  pong: new Uint8Array(0),
};

// ---------------------------------------------------------------- socket.io (Engine.IO v4, socket.io v5)

const C0 = 0x30; // '0'
const C2 = 0x32;
const C3 = 0x33;
const C4 = 0x34;

/**
 * Over the websocket transport every Engine.IO packet is one text frame:
 * '0{...}' open, '2' ping (answer '3'), '4' + a socket.io packet: '40{...}'
 * connected, '42["event",...]' an event, '43<id>[...]' an ack, '44{...}' an error.
 * The peer emits only 'msg' events, so every '42' is a room message.
 */
export const socketIoAdapter: Adapter = {
  protocol: 'socket.io',
  path: '/socket.io/?EIO=4&transport=websocket',
  opcode: OP_TEXT,
  classify(buf, start, end) {
    if (end <= start) return Kind.Other;
    const b0 = buf[start];
    if (b0 === C4 && end - start >= 2) {
      const b1 = buf[start + 1];
      return b1 === C2 ? Kind.Message : b1 === C0 || b1 === C3 ? Kind.Step : b1 === C4 ? Kind.Error : Kind.Other;
    }
    if (b0 === C2 && end - start === 1) return Kind.Ping;
    if (b0 === C0) return Kind.Step;
    return Kind.Other;
  },
  advance(conn) {
    if (conn.step === 1) conn.send(OP_TEXT, Buffer.from('40'));
    else if (conn.step === 2) conn.send(OP_TEXT, Buffer.from(`420${JSON.stringify(['join', conn.room])}`));
    return conn.step === 3;
  },
  sayPayload(room, text) {
    return Buffer.from(`42${JSON.stringify(['say', room, text])}`);
  },
  pong: Buffer.from('3'),
};
