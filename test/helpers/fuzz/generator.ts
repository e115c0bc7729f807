/**
 * Fuzz cases for the protocol decoders, shared by test/protocol/fuzz.test.ts, the
 * socket-level abuse test and `npm run fuzz` (bench/fuzz.ts).
 *
 * Every case is a pure function of (seed, index): a failure found by the CLI is
 * replayed with `npm run fuzz -- --seed S --replay INDEX`. The corpus of valid
 * frames depends on the seed only; each case then draws from its own PRNG stream.
 *
 * Mutations know the FlatBuffers layout: the corpus frames are walked with the
 * codec's own table specs, so that lengths, offsets, vtables and union fields can
 * be hit on purpose rather than by chance.
 */
import {
  CLIENT_FRAME,
  type ChatMessage,
  type ClientRequest,
  ErrorCode,
  type ErrorCodeName,
  MAX_VECTOR_LENGTH,
  MEMBER_PAGE_SIZE,
  type MemberInfo,
  PROTOCOL_VERSION,
  SERVER_FRAME,
  type ServerEvent,
  encodeClientRequest,
  encodeError,
  encodeJoined,
  encodeLeft,
  encodeMemberJoined,
  encodeMemberLeft,
  encodeMemberPage,
  encodeMessage,
  encodePresence,
  encodeSent,
  encodeWelcome,
} from '../../../src/protocol/index.js';
import type { TableSpec } from '../../../src/protocol/verify.js';
import { Rng, streamSeed } from '../random.js';

// ------------------------------------------------------------------ bytes

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function writeU16(b: Uint8Array, at: number, value: number): void {
  if (at >= 0 && at + 2 <= b.length) view(b).setUint16(at, value & 0xffff, true);
}

function writeU32(b: Uint8Array, at: number, value: number): void {
  if (at >= 0 && at + 4 <= b.length) view(b).setUint32(at, value >>> 0, true);
}

function writeI32(b: Uint8Array, at: number, value: number): void {
  if (at >= 0 && at + 4 <= b.length) view(b).setInt32(at, value | 0, true);
}

// Mutations may run on frames an earlier step cut short: reads out of range give 0.
function readU16(b: Uint8Array, at: number): number {
  return at >= 0 && at + 2 <= b.length ? view(b).getUint16(at, true) : 0;
}

function readU32(b: Uint8Array, at: number): number {
  return at >= 0 && at + 4 <= b.length ? view(b).getUint32(at, true) : 0;
}

// ------------------------------------------------------------------ valid values

/** Which decoder a valid frame is meant for. */
export type Direction = 'client' | 'server';

export interface ValidFrame {
  readonly name: string;
  readonly direction: Direction;
  /** What the frame decodes to (its bytes may encode another value that decodes to it: see EDGE_CLIENT_WIRE). */
  readonly value: ClientRequest | ServerEvent;
  readonly bytes: Uint8Array;
  readonly layout: Layout;
}

export const MAX_U32 = 2 ** 32 - 1;
export const CLIENT_BODY_TYPES = CLIENT_FRAME.fields.flatMap((f) => (f.kind === 'unionType' ? [f.members.length] : []))[0]!;
export const SERVER_BODY_TYPES = SERVER_FRAME.fields.flatMap((f) => (f.kind === 'unionType' ? [f.members.length] : []))[0]!;

const ERROR_CODE_NAMES = Object.keys(ErrorCode).filter((k) => Number.isNaN(Number(k))) as ErrorCodeName[];

function randomMember(rng: Rng): MemberInfo {
  return { id: rng.text(6), name: rng.text(8) };
}

function randomMessage(rng: Rng): ChatMessage {
  const isPrivate = rng.bool(0.3);
  return {
    room: rng.text(6),
    seq: isPrivate ? 0 : rng.safeInt(),
    sender: randomMember(rng),
    to: isPrivate ? randomMember(rng) : null,
    text: rng.text(24),
    timestampMs: rng.safeInt(),
  };
}

function randomRequestId(rng: Rng): number {
  return rng.bool(0.2) ? rng.pick([0, 1, 2 ** 31, MAX_U32]) : rng.u32();
}

function randomMembers(rng: Rng, max: number): MemberInfo[] {
  return Array.from({ length: rng.int(max + 1) }, () => randomMember(rng));
}

/** A member count: often the length of the list it goes with, else any u32 (the list may be a page or empty). */
function randomMemberCount(rng: Rng, listed: number): number {
  return rng.bool(0.3) ? listed : rng.bool(0.2) ? rng.pick([0, 1, MEMBER_PAGE_SIZE, MAX_U32]) : rng.u32();
}

/** A paging cursor: often empty (no more pages / from the start). */
function randomCursor(rng: Rng): string {
  return rng.bool(0.4) ? '' : rng.text(10);
}

/**
 * A protocol version as a join carries it: never 0, which is what a protocol 1 client
 * leaves on the wire and decodes as 1 (EDGE_CLIENT_WIRE has that case).
 */
function randomProtocolVersion(rng: Rng): number {
  return rng.bool(0.5) ? rng.pick([1, PROTOCOL_VERSION, PROTOCOL_VERSION + 1, 0x7fff, 0x8000, 0xffff]) : rng.range(1, 0xffff);
}

/** A Members limit: 0 (the host's page size), around the page size, or any u16. */
function randomLimit(rng: Rng): number {
  return rng.bool(0.5) ? rng.pick([0, 1, MEMBER_PAGE_SIZE - 1, MEMBER_PAGE_SIZE, MEMBER_PAGE_SIZE + 1, 0x7fff, 0x8000, 0xffff]) : rng.int(0x10000);
}

/** A random request in the form decodeClientFrame returns it (epoch and token only when set). */
export function randomClientRequest(rng: Rng): ClientRequest {
  const requestId = randomRequestId(rng);
  switch (rng.int(CLIENT_BODY_TYPES)) {
    case 0: {
      const since = rng.bool() ? null : rng.safeInt();
      const epoch = since !== null && rng.bool() ? rng.safeInt() : 0;
      const token = rng.bool(0.3) ? rng.text(30) : '';
      return {
        type: 'join',
        requestId,
        room: rng.text(8),
        nickname: rng.text(8),
        since,
        ...(epoch !== 0 ? { epoch } : {}),
        ...(token ? { token } : {}),
        protocolVersion: randomProtocolVersion(rng),
      };
    }
    case 1:
      return { type: 'leave', requestId, room: rng.text(8) };
    case 2:
      return { type: 'say', requestId, room: rng.text(8), text: rng.text(40), to: rng.bool() ? null : rng.text(6) };
    default:
      return { type: 'members', requestId, room: rng.text(8), after: randomCursor(rng), prefix: rng.bool(0.5) ? '' : rng.text(4), limit: randomLimit(rng) };
  }
}

export function randomServerEvent(rng: Rng): ServerEvent {
  const requestId = randomRequestId(rng);
  switch (rng.int(SERVER_BODY_TYPES)) {
    case 0:
      return {
        type: 'welcome',
        connectionId: rng.text(10),
        protocolVersion: rng.int(0x10000),
        maxFrameBytes: rng.u32(),
        maxRooms: rng.int(0x10000),
        maxTextChars: rng.int(0x10000),
        idleTimeoutSeconds: rng.int(0x10000),
        rateLimitPerSecond: rng.u32(),
        rateBurst: rng.u32(),
      };
    case 1: {
      const members = randomMembers(rng, 3);
      return {
        type: 'joined',
        requestId,
        room: rng.text(8),
        you: randomMember(rng),
        members,
        history: Array.from({ length: rng.int(4) }, () => randomMessage(rng)),
        headSeq: rng.safeInt(),
        recovered: rng.bool(),
        epoch: rng.safeInt(),
        memberCount: randomMemberCount(rng, members.length),
        nextAfter: randomCursor(rng),
      };
    }
    case 2:
      return { type: 'memberJoined', room: rng.text(8), member: randomMember(rng) };
    case 3:
      return { type: 'memberLeft', room: rng.text(8), member: randomMember(rng) };
    case 4:
      return { type: 'message', ...randomMessage(rng) };
    case 5:
      return { type: 'left', requestId, room: rng.text(8) };
    case 6:
      return { type: 'sent', requestId, room: rng.text(8), seq: rng.safeInt() };
    case 7:
      return {
        type: 'error',
        requestId,
        code: rng.pick(ERROR_CODE_NAMES),
        message: rng.text(20),
        room: rng.bool() ? null : rng.text(8),
        temporary: rng.bool(),
      };
    case 8: {
      const members = randomMembers(rng, 4);
      return { type: 'memberPage', requestId, room: rng.text(8), members, nextAfter: randomCursor(rng), memberCount: randomMemberCount(rng, members.length) };
    }
    default: {
      // Often both lists empty: a room over the host's presence-events limit, where only the count changes.
      const joined = rng.bool(0.25) ? [] : randomMembers(rng, 4);
      const left = rng.bool(0.25) ? [] : randomMembers(rng, 4);
      return { type: 'presence', room: rng.text(8), joined, left, memberCount: randomMemberCount(rng, joined.length) };
    }
  }
}

export function encodeServerEvent(event: ServerEvent): Uint8Array {
  switch (event.type) {
    case 'welcome':
      return encodeWelcome(event);
    case 'joined':
      return encodeJoined(event.requestId, event);
    case 'memberJoined':
      return encodeMemberJoined(event.room, event.member);
    case 'memberLeft':
      return encodeMemberLeft(event.room, event.member);
    case 'message':
      return encodeMessage(event);
    case 'left':
      return encodeLeft(event.requestId, event.room);
    case 'sent':
      return encodeSent(event.requestId, event.room, event.seq);
    case 'error':
      return encodeError(event.requestId, event.code, event.message, event.room, event.temporary);
    case 'memberPage':
      return encodeMemberPage(event.requestId, event);
    case 'presence':
      return encodePresence(event);
  }
}

export function encodeValue(direction: Direction, value: ClientRequest | ServerEvent): Uint8Array {
  return direction === 'client' ? encodeClientRequest(value as ClientRequest) : encodeServerEvent(value as ServerEvent);
}

const alice: MemberInfo = { id: 'c-alice-1', name: 'alice' };
const bob: MemberInfo = { id: 'c-bob-2', name: 'bob' };
const carol: MemberInfo = { id: 'c-carol-3', name: 'Carol 🎉' };
const chat: ChatMessage = { room: 'lobby', seq: 41, sender: alice, to: null, text: 'hello room', timestampMs: 1_732_612_345_678 };
const v = PROTOCOL_VERSION;

/** Hand-picked values at the edges: empty strings, maximum numbers, every optional field present and absent. */
const EDGE_CLIENT: readonly [string, ClientRequest][] = [
  ['join since null', { type: 'join', requestId: 1, room: 'lobby', nickname: 'alice', since: null, protocolVersion: v }],
  ['join since 0', { type: 'join', requestId: 0, room: '', nickname: '', since: 0, protocolVersion: v }],
  [
    'join epoch token',
    {
      type: 'join',
      requestId: MAX_U32,
      room: 'r',
      nickname: 'n',
      since: Number.MAX_SAFE_INTEGER,
      epoch: Number.MAX_SAFE_INTEGER,
      token: 't.o.k',
      protocolVersion: 0xffff,
    },
  ],
  ['join protocol 1 said', { type: 'join', requestId: 2, room: 'lobby', nickname: 'old', since: 7, protocolVersion: 1 }],
  ['leave', { type: 'leave', requestId: 4, room: 'lobby' }],
  ['say to room', { type: 'say', requestId: 5, room: 'lobby', text: 'hi all', to: null }],
  ['say private', { type: 'say', requestId: 2 ** 31, room: 'lobby', text: '你好 👋🏽 e\u0301', to: '' }],
  ['members first page', { type: 'members', requestId: 0, room: '', after: '', prefix: '', limit: 0 }],
  ['members next page', { type: 'members', requestId: MAX_U32, room: 'lobby', after: 'bob', prefix: 'Ca', limit: MEMBER_PAGE_SIZE }],
  ['members maxed', { type: 'members', requestId: 9, room: 'lobby', after: 'carol 🎉', prefix: '你', limit: 0xffff }],
];

/**
 * Frames whose bytes are the encoding of another value than the one they decode to:
 * [name, encoded, decoded]. A protocol 1 client leaves Join.protocol_version out
 * (0, the default, is not written), which decodes as 1.
 */
const EDGE_CLIENT_WIRE: readonly [string, ClientRequest, ClientRequest][] = [
  [
    'join protocol 1 unsaid (0 on the wire)',
    { type: 'join', requestId: 3, room: 'lobby', nickname: 'old', since: null, protocolVersion: 0 },
    { type: 'join', requestId: 3, room: 'lobby', nickname: 'old', since: null, protocolVersion: 1 },
  ],
];

const EDGE_SERVER: readonly [string, ServerEvent][] = [
  [
    'welcome',
    {
      type: 'welcome',
      connectionId: '1.a',
      protocolVersion: v,
      maxFrameBytes: 16384,
      maxRooms: 16,
      maxTextChars: 2000,
      idleTimeoutSeconds: 120,
      rateLimitPerSecond: 20,
      rateBurst: 40,
    },
  ],
  [
    'welcome maxed',
    {
      type: 'welcome',
      connectionId: '',
      protocolVersion: 0xffff,
      maxFrameBytes: MAX_U32,
      maxRooms: 0xffff,
      maxTextChars: 0xffff,
      idleTimeoutSeconds: 0xffff,
      rateLimitPerSecond: MAX_U32,
      rateBurst: MAX_U32,
    },
  ],
  [
    'joined full',
    {
      type: 'joined',
      requestId: 7,
      room: 'lobby',
      you: alice,
      members: [alice, bob],
      history: [chat, { ...chat, seq: 0, to: bob, text: 'psst' }],
      headSeq: 42,
      recovered: true,
      epoch: 1_795_686_000_000_000,
      memberCount: 2,
      nextAfter: '',
    },
  ],
  [
    'joined first page of many',
    {
      type: 'joined',
      requestId: MAX_U32,
      room: 'big',
      you: carol,
      members: [alice, bob, carol],
      history: [],
      headSeq: Number.MAX_SAFE_INTEGER,
      recovered: false,
      epoch: 1,
      memberCount: MAX_U32,
      nextAfter: 'carol 🎉',
    },
  ],
  [
    'joined empty',
    {
      type: 'joined',
      requestId: 0,
      room: '',
      you: { id: '', name: '' },
      members: [],
      history: [],
      headSeq: 0,
      recovered: false,
      epoch: 0,
      memberCount: 0,
      nextAfter: '',
    },
  ],
  ['memberJoined', { type: 'memberJoined', room: 'lobby', member: bob }],
  ['memberLeft', { type: 'memberLeft', room: 'lobby', member: alice }],
  ['message private', { type: 'message', ...chat, seq: 0, to: bob }],
  ['left', { type: 'left', requestId: 8, room: 'lobby' }],
  ['sent', { type: 'sent', requestId: MAX_U32, room: 'lobby', seq: Number.MAX_SAFE_INTEGER }],
  ['error', { type: 'error', requestId: 10, code: 'RateLimited', message: 'slow down', room: 'lobby', temporary: true }],
  ['error no room', { type: 'error', requestId: 0, code: 'Unknown', message: '', room: null, temporary: false }],
  ['error unsupported version', { type: 'error', requestId: 11, code: 'UnsupportedVersion', message: 'speak 2', room: 'lobby', temporary: false }],
  ['memberPage empty', { type: 'memberPage', requestId: 0, room: '', members: [], nextAfter: '', memberCount: 0 }],
  [
    'memberPage more follow',
    { type: 'memberPage', requestId: MAX_U32, room: 'lobby', members: [alice, bob, carol], nextAfter: 'carol 🎉', memberCount: MAX_U32 },
  ],
  ['presence count only', { type: 'presence', room: 'big', joined: [], left: [], memberCount: 5000 }],
  ['presence joined', { type: 'presence', room: 'lobby', joined: [alice, carol], left: [], memberCount: 3 }],
  ['presence left', { type: 'presence', room: 'lobby', joined: [], left: [bob], memberCount: 0 }],
  ['presence both', { type: 'presence', room: '', joined: [carol], left: [alice, bob], memberCount: MAX_U32 }],
];

function validFrame(name: string, direction: Direction, value: ClientRequest | ServerEvent, bytes = encodeValue(direction, value)): ValidFrame {
  return { name, direction, value, bytes, layout: layoutOf(bytes, direction === 'client' ? CLIENT_FRAME : SERVER_FRAME) };
}

// ------------------------------------------------------------------ layout of a valid frame

/** Where the interesting parts of a valid frame are, found by walking it with the codec's specs. */
export interface Layout {
  /** Table starts (each begins with its soffset to the vtable). */
  readonly tables: number[];
  readonly vtables: number[];
  /** Positions of uoffsets: the root, table and string fields, vector elements, union values. */
  readonly offsets: number[];
  /** Positions of string and vector length prefixes. */
  readonly lengths: number[];
  readonly unionTypes: number[];
  readonly unionValues: number[];
  /** First byte of each string's contents. */
  readonly strings: number[];
}

/** Walks a frame this module encoded itself (no checks: it is valid by construction). */
export function layoutOf(bytes: Uint8Array, root: TableSpec): Layout {
  const dv = view(bytes);
  const layout: Layout = { tables: [], vtables: [], offsets: [0], lengths: [], unionTypes: [], unionValues: [], strings: [] };
  const deref = (at: number): number => at + dv.getUint32(at, true);
  const walk = (table: number, spec: TableSpec): void => {
    layout.tables.push(table);
    const vtable = table - dv.getInt32(table, true);
    if (!layout.vtables.includes(vtable)) layout.vtables.push(vtable);
    const slots = (dv.getUint16(vtable, true) - 4) / 2;
    const fieldAt = (slot: number): number => {
      if (slot >= slots) return 0;
      const offset = dv.getUint16(vtable + 4 + 2 * slot, true);
      return offset === 0 ? 0 : table + offset;
    };
    spec.fields.forEach((field, slot) => {
      const pos = fieldAt(slot);
      if (pos === 0) return;
      switch (field.kind) {
        case 'string': {
          layout.offsets.push(pos);
          const at = deref(pos);
          layout.lengths.push(at);
          layout.strings.push(at + 4);
          break;
        }
        case 'table':
          layout.offsets.push(pos);
          walk(deref(pos), field.table());
          break;
        case 'tables': {
          layout.offsets.push(pos);
          const vector = deref(pos);
          layout.lengths.push(vector);
          const n = dv.getUint32(vector, true);
          for (let i = 0; i < n; i++) {
            const element = vector + 4 + 4 * i;
            layout.offsets.push(element);
            walk(deref(element), field.table());
          }
          break;
        }
        case 'unionType': {
          layout.unionTypes.push(pos);
          const valuePos = fieldAt(slot + 1);
          const member = field.members[bytes[pos]! - 1];
          if (valuePos !== 0 && member) {
            layout.unionValues.push(valuePos);
            layout.offsets.push(valuePos);
            walk(deref(valuePos), member());
          }
          break;
        }
        default:
          break;
      }
    });
  };
  walk(dv.getUint32(0, true), root);
  return layout;
}

// ------------------------------------------------------------------ mutations

export const CASE_KINDS = ['random', 'valid', 'truncate', 'bitflip', 'boundary', 'splice', 'hugeLength', 'union', 'vtable', 'unaligned', 'stacked'] as const;
export type CaseKind = (typeof CASE_KINDS)[number];

/** Relative frequency of each kind in the mixed stream. */
const KIND_WEIGHTS: Record<CaseKind, number> = {
  random: 8,
  valid: 5,
  truncate: 8,
  bitflip: 12,
  boundary: 12,
  splice: 10,
  hugeLength: 10,
  union: 10,
  vtable: 10,
  unaligned: 5,
  stacked: 10,
};
const KIND_TABLE: readonly CaseKind[] = CASE_KINDS.flatMap((k) => Array<CaseKind>(KIND_WEIGHTS[k]).fill(k));

export interface FuzzCase {
  readonly seed: number;
  readonly index: number;
  readonly kind: CaseKind;
  /** What was done, for failure messages. */
  readonly description: string;
  readonly bytes: Uint8Array;
  /** For 'valid' cases: the value the frame must decode to, and with which decoder. */
  readonly expected?: { readonly direction: Direction; readonly value: ClientRequest | ServerEvent };
}

const BOUNDARY_U8 = [0, 1, 0x7f, 0x80, 0xfe, 0xff];
const BOUNDARY_U16 = [0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0x7ffe, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff];
const BOUNDARY_U32 = [0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7ffffffc, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff];

type Mutation = (rng: Rng, bytes: Uint8Array, frame: ValidFrame, corpus: Corpus) => { bytes: Uint8Array; what: string };

/** Positions are taken from the frame's layout; a mutation that changed the length may find them out of range, which is fine. */
const MUTATIONS: Record<Exclude<CaseKind, 'random' | 'valid' | 'stacked'>, Mutation> = {
  truncate(rng, bytes) {
    const n = bytes.length;
    // Length classes: tiny (under the 8-byte minimum), aligned, unaligned, one short of whole.
    const cut = rng.pick([() => rng.int(8), () => 4 * rng.int(n >> 2), () => rng.int(n), () => n - 1, () => n - 4, () => n - rng.range(1, 16)])();
    const length = Math.max(0, Math.min(n, cut));
    return { bytes: bytes.slice(0, length), what: `cut to ${length} of ${n} bytes` };
  },

  bitflip(rng, bytes) {
    const out = bytes.slice();
    if (out.length === 0) return { bytes: out, what: 'no bits to flip' };
    const flips = rng.bool(0.4) ? 1 : rng.range(2, 16);
    const bits: number[] = [];
    for (let k = 0; k < flips; k++) {
      const bit = rng.int(out.length * 8);
      bits.push(bit);
      out[bit >> 3]! ^= 1 << (bit & 7);
    }
    return { bytes: out, what: `bits ${bits.join(',')} flipped` };
  },

  boundary(rng, bytes, frame) {
    const out = bytes.slice();
    const n = out.length;
    const size = rng.pick([1, 2, 4]);
    const aligned = rng.bool(0.7);
    const at = aligned ? size * rng.int(Math.max(1, n / size)) : rng.int(Math.max(1, n));
    let value: number;
    if (size === 1) value = rng.pick(BOUNDARY_U8);
    else if (size === 2) value = rng.pick([...BOUNDARY_U16, n, n - 2, n + 2]);
    else {
      // Also offsets relative to the frame: negative ones, just past the end, and other structures.
      const anchor = rng.pick([...frame.layout.tables, ...frame.layout.vtables, ...frame.layout.lengths, 0]);
      value = rng.pick([...BOUNDARY_U32, n, n - at, n - at + 4, anchor - at, at - anchor, -4, -at, -n]);
    }
    if (size === 1) {
      if (at < n) out[at] = value & 0xff;
    } else if (size === 2) writeU16(out, at, value);
    else writeU32(out, at, value);
    return { bytes: out, what: `u${size * 8} ${(value >>> 0).toString(16)} at ${at}` };
  },

  splice(rng, bytes, frame, corpus) {
    const from = rng.bool(0.3) ? frame.bytes : corpus.pick(rng).bytes;
    if (bytes.length === 0 || from.length === 0) return { bytes: bytes.slice(), what: 'nothing to splice' };
    const start = rng.int(from.length);
    const chunk = from.subarray(start, start + rng.range(1, Math.min(64, from.length - start)));
    if (rng.bool(0.6)) {
      // Overwrite in place; often at the same position, so that the chunk lands on a like field.
      const at = rng.bool() ? start % bytes.length : rng.int(bytes.length);
      const out = bytes.slice();
      out.set(chunk.subarray(0, Math.min(chunk.length, out.length - at)), at);
      return { bytes: out, what: `${chunk.length} bytes from ${start} copied to ${at}` };
    }
    // Replace a range: changes the length and shifts what follows.
    const at = rng.int(bytes.length + 1);
    const drop = rng.int(Math.min(64, bytes.length - at) + 1);
    const out = new Uint8Array(bytes.length - drop + chunk.length);
    out.set(bytes.subarray(0, at));
    out.set(chunk, at);
    out.set(bytes.subarray(at + drop), at + chunk.length);
    return { bytes: out, what: `${drop} bytes at ${at} replaced by ${chunk.length} bytes from ${start}` };
  },

  hugeLength(rng, bytes, frame) {
    const out = bytes.slice();
    const n = out.length;
    const { lengths, offsets } = frame.layout;
    if (lengths.length > 0 && rng.bool(0.6)) {
      const at = rng.pick(lengths);
      const value = rng.pick([
        0x7fffffff,
        0x80000000,
        0xffffffff,
        0xfffffffc,
        0x3fffffff,
        MAX_VECTOR_LENGTH,
        MAX_VECTOR_LENGTH + 1,
        n - at - 4,
        n - at - 3,
        n - at,
        readU32(out, at) + rng.range(1, 8),
      ]);
      writeU32(out, at, value);
      return { bytes: out, what: `length at ${at} set to ${(value >>> 0).toString(16)}` };
    }
    const at = rng.pick(offsets);
    // Offsets past the end, to the end exactly, wrapping negative, to the offset itself, misaligned.
    const value = rng.pick([n - at, n - at + 4, n, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff, 0, -at, -4, 2, 1, rng.u32()]);
    writeU32(out, at, value);
    return { bytes: out, what: `offset at ${at} set to ${(value >>> 0).toString(16)}` };
  },

  union(rng, bytes, frame) {
    const out = bytes.slice();
    const { unionTypes, unionValues, tables, vtables, lengths } = frame.layout;
    const typeAt = unionTypes[0];
    const valueAt = unionValues[0];
    if (typeAt === undefined || valueAt === undefined) return { bytes: out, what: 'no union' };
    switch (rng.int(4)) {
      case 0: {
        // Any type byte: 0, every valid member (usually the wrong one for the value), out of range.
        const type = rng.bool(0.5) ? rng.range(0, Math.max(CLIENT_BODY_TYPES, SERVER_BODY_TYPES) + 1) : rng.int(256);
        out[typeAt] = type;
        return { bytes: out, what: `union type set to ${type}` };
      }
      case 1: {
        // The value points at itself, at the root frame table (a cycle), another table, a vtable or a string.
        const target = rng.pick([valueAt, tables[0]!, rng.pick(tables), rng.pick(vtables), ...(lengths.length ? [rng.pick(lengths)] : [])]);
        writeU32(out, valueAt, target - valueAt);
        return { bytes: out, what: `union value at ${valueAt} pointed at ${target}` };
      }
      case 2: {
        // Both: a wrong type and a value aimed at some other table.
        const type = rng.range(1, SERVER_BODY_TYPES);
        const target = rng.pick(tables);
        out[typeAt] = type;
        writeU32(out, valueAt, target - valueAt);
        return { bytes: out, what: `union type ${type}, value pointed at table ${target}` };
      }
      default: {
        // Every table field offset re-aimed at the frame's own root: nesting through a cycle.
        const root = tables[0]!;
        for (const at of frame.layout.offsets) if (at !== 0 && rng.bool(0.5)) writeU32(out, at, root - at);
        return { bytes: out, what: `offsets re-aimed at the root table ${root}` };
      }
    }
  },

  vtable(rng, bytes, frame) {
    const out = bytes.slice();
    const { tables, vtables } = frame.layout;
    const vtable = rng.pick(vtables);
    const table = rng.pick(tables);
    switch (rng.int(5)) {
      case 0: {
        const size = rng.pick([0, 1, 2, 3, 5, 7, 0x7fff, 0x8000, 0xfffe, 0xffff, out.length, out.length - vtable, out.length - vtable + 2]);
        writeU16(out, vtable, size);
        return { bytes: out, what: `vtable ${vtable} size set to ${size}` };
      }
      case 1: {
        const size = rng.pick([0, 1, 2, 3, 5, 0x7fff, 0x8000, 0xffff, out.length]);
        writeU16(out, vtable + 2, size);
        return { bytes: out, what: `vtable ${vtable} table size set to ${size}` };
      }
      case 2: {
        // A field entry: signed-looking, odd (misaligned), past the table, pointing at the soffset.
        const slots = Math.max(1, (readU16(out, vtable) - 4) >> 1);
        const at = vtable + 4 + 2 * rng.int(slots);
        const value = rng.pick([0x8000, 0xffff, 0xfffc, 1, 2, 3, 0, 0x7fff, out.length, 4 * rng.range(1, 16)]);
        writeU16(out, at, value);
        return { bytes: out, what: `vtable entry at ${at} set to ${value}` };
      }
      case 3: {
        // Another table's vtable (overlapping tables of different types), or the table itself as its vtable.
        const other = rng.pick([...vtables, table, table - 2, table + 4]);
        writeI32(out, table, table - other);
        return { bytes: out, what: `table ${table} given vtable ${other}` };
      }
      default: {
        const soffset = rng.pick([0, 1, -1, -4, 0x7fffffff, -0x80000000, table + 4, -(out.length - table), rng.u32() | 0]);
        writeI32(out, table, soffset);
        return { bytes: out, what: `table ${table} soffset set to ${soffset}` };
      }
    }
  },

  unaligned(rng, bytes) {
    const k = rng.range(1, 3);
    switch (rng.int(3)) {
      case 0: {
        const out = new Uint8Array(bytes.length + k);
        out.set(bytes);
        out.fill(rng.pick([0, 0xff]), bytes.length);
        return { bytes: out, what: `${k} bytes appended` };
      }
      case 1:
        return { bytes: bytes.slice(0, Math.max(0, bytes.length - k)), what: `${k} bytes cut` };
      default: {
        const out = new Uint8Array(bytes.length + 4 * k);
        out.set(bytes, 4 * k);
        return { bytes: out, what: `${4 * k} zero bytes prepended` };
      }
    }
  },
};

const SIMPLE_KINDS = Object.keys(MUTATIONS) as (keyof typeof MUTATIONS)[];

// ------------------------------------------------------------------ the generator

/** The valid frames of one seed: edge values plus random frames of every body type, both directions. */
export class Corpus {
  readonly frames: readonly ValidFrame[];

  constructor(readonly seed: number) {
    const rng = new Rng(streamSeed(seed, -1));
    const frames: ValidFrame[] = [];
    for (const [name, value] of EDGE_CLIENT) frames.push(validFrame(`client ${name}`, 'client', value));
    for (const [name, wire, value] of EDGE_CLIENT_WIRE) frames.push(validFrame(`client ${name}`, 'client', value, encodeValue('client', wire)));
    for (const [name, value] of EDGE_SERVER) frames.push(validFrame(`server ${name}`, 'server', value));
    for (let i = 0; i < 48; i++) {
      frames.push(validFrame(`random client ${i}`, 'client', randomClientRequest(rng)));
      frames.push(validFrame(`random server ${i}`, 'server', randomServerEvent(rng)));
    }
    this.frames = frames;
  }

  pick(rng: Rng): ValidFrame {
    return rng.pick(this.frames);
  }
}

export class FuzzGenerator {
  readonly corpus: Corpus;

  constructor(readonly seed: number) {
    this.corpus = new Corpus(seed);
  }

  /** Case `index` of this seed; `kind` forces a kind (the test uses it), otherwise it is drawn. */
  case(index: number, kind?: CaseKind): FuzzCase {
    const rng = new Rng(streamSeed(this.seed, index));
    const chosen = kind ?? rng.pick(KIND_TABLE);
    const base = { seed: this.seed, index, kind: chosen };
    switch (chosen) {
      case 'random': {
        let length = rng.bool(0.1) ? rng.int(8) : rng.int(513);
        if (rng.bool()) length -= length % 4;
        const bytes = rng.bytes(length);
        // Often a plausible root offset, so that the walk goes past the first check.
        if (length >= 8 && rng.bool()) writeU32(bytes, 0, 4 * rng.range(1, Math.max(1, (length >> 2) - 1)));
        return { ...base, description: `${length} random bytes`, bytes };
      }
      case 'valid': {
        const direction: Direction = rng.bool() ? 'client' : 'server';
        const value = direction === 'client' ? randomClientRequest(rng) : randomServerEvent(rng);
        return { ...base, description: `valid ${direction} ${value.type}`, bytes: encodeValue(direction, value), expected: { direction, value } };
      }
      case 'stacked': {
        const frame = this.corpus.pick(rng);
        let bytes = frame.bytes;
        const steps: string[] = [];
        for (let k = rng.range(2, 4); k > 0; k--) {
          const step = rng.pick(SIMPLE_KINDS);
          const result = MUTATIONS[step](rng, bytes, frame, this.corpus);
          bytes = result.bytes;
          steps.push(`${step}: ${result.what}`);
        }
        return { ...base, description: `${frame.name}, then ${steps.join('; ')}`, bytes };
      }
      default: {
        const frame = this.corpus.pick(rng);
        const result = MUTATIONS[chosen](rng, frame.bytes, frame, this.corpus);
        return { ...base, description: `${frame.name}: ${result.what}`, bytes: result.bytes };
      }
    }
  }
}
