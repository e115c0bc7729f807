/**
 * Shared helpers for the protocol tests: a seeded PRNG, sample and random frames,
 * one encoder for every server event, outcome checks for the decoders, and a few
 * raw FlatBuffers readers/writers for patching encoded frames in place.
 */
import { expect } from 'vitest';
import {
  type ChatMessage,
  type ClientRequest,
  type ErrorCodeName,
  ErrorCode,
  MEMBER_PAGE_SIZE,
  type MemberInfo,
  PROTOCOL_VERSION,
  ProtocolError,
  type ServerEvent,
  decodeClientFrame,
  decodeServerFrame,
  encodeClientRequest,
} from '../../src/protocol/index.js';

export { ProtocolError };

// ------------------------------------------------------------------ seeded randomness

/** The base seed; override with PROTOCOL_TEST_SEED=<integer> to explore other inputs. */
export const BASE_SEED: number = (() => {
  const fromEnv = process.env.PROTOCOL_TEST_SEED;
  const parsed = fromEnv === undefined ? Number.NaN : Number.parseInt(fromEnv, 10);
  return Number.isFinite(parsed) ? parsed >>> 0 : 0x5eed_c0de;
})();

/** The PRNG (test/helpers/random.ts) and the random values are the fuzz generator's (test/helpers/fuzz/generator.ts), shared with `npm run fuzz`. */
import { encodeServerEvent } from '../helpers/fuzz/generator.js';
export { encodeServerEvent, randomClientRequest, randomServerEvent } from '../helpers/fuzz/generator.js';
export { mulberry32, Rng } from '../helpers/random.js';

/** Runs `body`; if it throws, rethrows with the seed (and optional context) in the message. */
export function withSeed<T>(seed: number, context: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const wrapped = new Error(`[seed=${seed} (PROTOCOL_TEST_SEED=${BASE_SEED})] ${context}: ${message}`);
    if (error instanceof Error && error.stack) wrapped.stack = `${wrapped.message}\n${error.stack}`;
    throw wrapped;
  }
}

// ------------------------------------------------------------------ bytes

export function hex(bytes: Uint8Array, max = 1200): string {
  const s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return s.length > max ? `${s.slice(0, max)}...(${bytes.byteLength} bytes)` : s;
}

export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

export function readU16(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(at, true);
}

export function readU32(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
}

export function readI32(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getInt32(at, true);
}

export function writeU16(b: Uint8Array, at: number, value: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint16(at, value, true);
}

export function writeU32(b: Uint8Array, at: number, value: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, value >>> 0, true);
}

export function writeI32(b: Uint8Array, at: number, value: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setInt32(at, value, true);
}

/** The position of the only occurrence of ASCII `marker` in `bytes` (fails on 0 or 2+ hits). */
export function findMarker(bytes: Uint8Array, marker: string): number {
  const needle = new TextEncoder().encode(marker);
  const hits: number[] = [];
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let k = 0; k < needle.length; k++) if (bytes[i + k] !== needle[k]) continue outer;
    hits.push(i);
  }
  if (hits.length !== 1) throw new Error(`marker ${JSON.stringify(marker)} found ${hits.length} times in ${hex(bytes)}`);
  return hits[0]!;
}

/** A copy of `bytes` with `patch` written at `at`. */
export function patched(bytes: Uint8Array, at: number, patch: ArrayLike<number>): Uint8Array {
  const copy = bytes.slice();
  copy.set(patch, at);
  return copy;
}

// Raw FlatBuffers navigation (no checks: only for frames the test built itself).

/** The root table's position. */
export function rootTable(b: Uint8Array): number {
  return readU32(b, 0);
}

/** The vtable position of the table at `table`. */
export function vtableOf(b: Uint8Array, table: number): number {
  return table - readI32(b, table);
}

/** The absolute position of `slot` in the table at `table`, or 0 when absent. */
export function fieldPos(b: Uint8Array, table: number, slot: number): number {
  const vtable = vtableOf(b, table);
  const vtableSize = readU16(b, vtable);
  if (4 + 2 * slot >= vtableSize) return 0;
  const offset = readU16(b, vtable + 4 + 2 * slot);
  return offset === 0 ? 0 : table + offset;
}

/** Follows the uoffset stored at `at`. */
export function deref(b: Uint8Array, at: number): number {
  return at + readU32(b, at);
}

/** Position of the union type byte of a ClientFrame/ServerFrame. */
export function bodyTypePos(b: Uint8Array): number {
  const pos = fieldPos(b, rootTable(b), 1);
  if (pos === 0) throw new Error('frame has no body type');
  return pos;
}

/** Position of the body table of a ClientFrame/ServerFrame. */
export function bodyTable(b: Uint8Array): number {
  return deref(b, fieldPos(b, rootTable(b), 2));
}

// ------------------------------------------------------------------ sample frames

export const MAX_U32 = 2 ** 32 - 1;

const alice: MemberInfo = { id: 'c-alice-1', name: 'alice' };
const bob: MemberInfo = { id: 'c-bob-2', name: 'bob' };
const carol: MemberInfo = { id: 'c-carol-3', name: 'Carol 🎉' };

const roomMessage: ChatMessage = {
  room: 'lobby',
  seq: 41,
  sender: alice,
  to: null,
  text: 'hello room',
  timestampMs: 1_732_612_345_678,
};
const privateMessage: ChatMessage = {
  room: 'lobby',
  seq: 0,
  sender: bob,
  to: alice,
  text: 'psst, just you',
  timestampMs: 1_732_612_345_999,
};

export interface Sample<T> {
  readonly name: string;
  readonly value: T;
}

const v = PROTOCOL_VERSION;

export const CLIENT_SAMPLES: readonly Sample<ClientRequest>[] = [
  { name: 'join since null', value: { type: 'join', requestId: 1, room: 'lobby', nickname: 'alice', since: null, protocolVersion: v } },
  { name: 'join since 0', value: { type: 'join', requestId: 2, room: 'lobby', nickname: 'alice', since: 0, protocolVersion: v } },
  { name: 'join since 2^32', value: { type: 'join', requestId: 3, room: 'r', nickname: 'n', since: 2 ** 32, protocolVersion: v } },
  {
    name: 'join since MAX_SAFE_INTEGER',
    value: { type: 'join', requestId: MAX_U32, room: 'lobby', nickname: 'alice', since: Number.MAX_SAFE_INTEGER, protocolVersion: v },
  },
  { name: 'join request 0', value: { type: 'join', requestId: 0, room: 'a', nickname: 'b', since: 7, protocolVersion: v } },
  {
    name: 'join with a token',
    value: { type: 'join', requestId: 4, room: 'vip', nickname: 'ann', since: null, token: 'header.payload.signature', protocolVersion: v },
  },
  { name: 'join protocol 1', value: { type: 'join', requestId: 5, room: 'lobby', nickname: 'old', since: null, protocolVersion: 1 } },
  {
    name: 'join protocol 0xffff, epoch and token',
    value: { type: 'join', requestId: 6, room: 'r', nickname: 'n', since: 9, epoch: 3, token: 't', protocolVersion: 0xffff },
  },
  {
    name: 'rejoin with a resume key',
    value: { type: 'join', requestId: 7, room: 'lobby', nickname: 'ann', since: 12, epoch: 3, protocolVersion: v, resumeKey: 'Qk3-x_9aZ0bC1dE2fG3hI4jK' },
  },
  { name: 'leave', value: { type: 'leave', requestId: 4, room: 'lobby' } },
  { name: 'leave request 0', value: { type: 'leave', requestId: 0, room: 'x.y-z_0' } },
  { name: 'say to room', value: { type: 'say', requestId: 5, room: 'lobby', text: 'hi all', to: null } },
  { name: 'say private', value: { type: 'say', requestId: 6, room: 'lobby', text: 'hi bob', to: 'c-bob-2' } },
  { name: 'say empty text', value: { type: 'say', requestId: 0, room: 'lobby', text: '', to: null } },
  { name: 'say unicode', value: { type: 'say', requestId: 2 ** 31, room: 'lobby', text: '你好 👋🏽 e\u0301', to: '' } },
  { name: 'members first page', value: { type: 'members', requestId: 7, room: 'lobby', after: '', prefix: '', limit: 0 } },
  { name: 'members next page', value: { type: 'members', requestId: MAX_U32, room: 'lobby', after: 'bob', prefix: '', limit: MEMBER_PAGE_SIZE } },
  { name: 'members prefix', value: { type: 'members', requestId: 0, room: 'lobby', after: '', prefix: 'Ca', limit: 10 } },
  { name: 'members maxed unicode', value: { type: 'members', requestId: 2 ** 31, room: 'r', after: 'carol 🎉', prefix: '你', limit: 0xffff } },
];

export const SERVER_SAMPLES: readonly Sample<ServerEvent>[] = [
  {
    name: 'welcome',
    value: {
      type: 'welcome',
      connectionId: 'c-alice-1',
      protocolVersion: 1,
      maxFrameBytes: 16 * 1024,
      maxRooms: 8,
      maxTextChars: 2000,
      idleTimeoutSeconds: 120,
      rateLimitPerSecond: 20,
      rateBurst: 40,
    },
  },
  {
    name: 'welcome maxed',
    value: {
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
  },
  {
    name: 'joined with members and history',
    value: {
      type: 'joined',
      requestId: 7,
      room: 'lobby',
      you: alice,
      members: [alice, bob, carol],
      history: [roomMessage, privateMessage, { ...roomMessage, seq: 42, text: 'second' }],
      headSeq: 42,
      recovered: true,
      epoch: 1_795_686_000_000_000,
      memberCount: 3,
      nextAfter: '',
      resumeKey: 'Qk3-x_9aZ0bC1dE2fG3hI4jK',
    },
  },
  {
    name: 'joined first page of many',
    value: {
      type: 'joined',
      requestId: MAX_U32,
      room: 'big',
      you: carol,
      members: [alice, bob, carol],
      history: [],
      headSeq: 1,
      recovered: false,
      epoch: 2,
      memberCount: MAX_U32,
      nextAfter: 'carol 🎉',
    },
  },
  {
    name: 'joined empty',
    value: {
      type: 'joined',
      requestId: 0,
      room: 'empty',
      you: bob,
      members: [],
      history: [],
      headSeq: 0,
      recovered: false,
      epoch: 0,
      memberCount: 0,
      nextAfter: '',
    },
  },
  { name: 'memberJoined', value: { type: 'memberJoined', room: 'lobby', member: carol } },
  { name: 'memberLeft', value: { type: 'memberLeft', room: 'lobby', member: bob } },
  { name: 'message room', value: { type: 'message', ...roomMessage } },
  { name: 'message private', value: { type: 'message', ...privateMessage } },
  { name: 'left', value: { type: 'left', requestId: 8, room: 'lobby' } },
  { name: 'sent room', value: { type: 'sent', requestId: 9, room: 'lobby', seq: 43 } },
  { name: 'sent private', value: { type: 'sent', requestId: MAX_U32, room: 'lobby', seq: 0 } },
  {
    name: 'error with room, temporary',
    value: { type: 'error', requestId: 10, code: 'RateLimited', message: 'slow down', room: 'lobby', temporary: true },
  },
  {
    name: 'error without room, permanent',
    value: { type: 'error', requestId: 0, code: 'InvalidNickname', message: 'bad nickname', room: null, temporary: false },
  },
  {
    name: 'error unsupported version',
    value: { type: 'error', requestId: 12, code: 'UnsupportedVersion', message: 'protocol 2 only', room: 'lobby', temporary: false },
  },
  { name: 'memberPage empty', value: { type: 'memberPage', requestId: 0, room: 'lobby', members: [], nextAfter: '', memberCount: 0 } },
  { name: 'memberPage last', value: { type: 'memberPage', requestId: 13, room: 'lobby', members: [alice, bob], nextAfter: '', memberCount: 2 } },
  {
    name: 'memberPage more follow',
    value: { type: 'memberPage', requestId: MAX_U32, room: 'big', members: [alice, bob, carol], nextAfter: 'carol 🎉', memberCount: MAX_U32 },
  },
  { name: 'presence count only', value: { type: 'presence', room: 'big', joined: [], left: [], memberCount: 5000 } },
  { name: 'presence joined', value: { type: 'presence', room: 'lobby', joined: [alice, carol], left: [], memberCount: 3 } },
  { name: 'presence left', value: { type: 'presence', room: 'lobby', joined: [], left: [bob], memberCount: 0 } },
  { name: 'presence both', value: { type: 'presence', room: 'lobby', joined: [carol], left: [alice, bob], memberCount: MAX_U32 } },
];

export interface Frame {
  readonly name: string;
  readonly direction: 'client' | 'server';
  readonly bytes: Uint8Array;
}

export function sampleFrames(): Frame[] {
  return [
    ...CLIENT_SAMPLES.map((s) => ({ name: `client ${s.name}`, direction: 'client' as const, bytes: encodeClientRequest(s.value) })),
    ...SERVER_SAMPLES.map((s) => ({ name: `server ${s.name}`, direction: 'server' as const, bytes: encodeServerEvent(s.value) })),
  ];
}

// ------------------------------------------------------------------ random valid values

const ERROR_CODE_NAMES = Object.keys(ErrorCode).filter((k) => Number.isNaN(Number(k))) as ErrorCodeName[];

// ------------------------------------------------------------------ decoder outcomes

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ProtocolError };

/**
 * Runs a decoder and classifies the result. Anything but a returned value or a
 * well-formed ProtocolError is a contract violation and throws a descriptive Error.
 */
export function outcome<T>(decode: (b: Uint8Array) => T, bytes: Uint8Array): Outcome<T> {
  let value: T;
  try {
    value = decode(bytes);
  } catch (error) {
    if (!(error instanceof ProtocolError)) {
      const desc = error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
      throw new Error(`${decode.name} threw a non-ProtocolError (${desc}) for ${hex(bytes)}`);
    }
    if (typeof error.code !== 'string' || error.code.length === 0 || error.closeCode !== 1007) {
      throw new Error(`${decode.name} threw a malformed ProtocolError (code=${String(error.code)}, closeCode=${error.closeCode}) for ${hex(bytes)}`);
    }
    return { ok: false, error };
  }
  return { ok: true, value };
}

/** Expects `decode(bytes)` to throw a ProtocolError (with `code`, when given) and returns it. */
export function expectProtocolError(decode: (b: Uint8Array) => unknown, bytes: Uint8Array, code?: string): ProtocolError {
  const result = outcome(decode, bytes);
  if (result.ok) {
    throw new Error(`${decode.name} accepted ${hex(bytes)} as ${JSON.stringify(result.value)}; expected ProtocolError${code ? ` ${code}` : ''}`);
  }
  expect(result.error).toBeInstanceOf(ProtocolError);
  expect(typeof result.error.code).toBe('string');
  expect(result.error.closeCode).toBe(1007);
  if (code !== undefined) expect(result.error.code, `${result.error.message} (frame ${hex(bytes)})`).toBe(code);
  return result.error;
}

// ------------------------------------------------------------------ shape checks

type Checker = (value: unknown, path: string) => void;

function fail(path: string, why: string, value: unknown): never {
  throw new Error(`${path}: ${why} (got ${JSON.stringify(value)})`);
}

const isStr: Checker = (v, p) => {
  if (typeof v !== 'string') fail(p, 'expected a string', v);
};
const isBool: Checker = (v, p) => {
  if (typeof v !== 'boolean') fail(p, 'expected a boolean', v);
};
const uint =
  (max: number): Checker =>
  (v, p) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) fail(p, `expected an integer in [0, ${max}]`, v);
  };
const nullable =
  (inner: Checker): Checker =>
  (v, p) => {
    if (v !== null) inner(v, p);
  };
/** An object with exactly the keys of `shape`, plus any of `optional` (checked when present). */
const record =
  (shape: Record<string, Checker>, optional: Record<string, Checker> = {}): Checker =>
  (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(p, 'expected an object', v);
    const keys = Object.keys(v)
      .filter((k) => !(k in optional))
      .sort();
    const want = Object.keys(shape).sort();
    if (keys.join() !== want.join()) fail(p, `expected keys ${want.join(',')}`, keys);
    for (const [key, check] of Object.entries(shape)) check((v as Record<string, unknown>)[key], `${p}.${key}`);
    for (const [key, check] of Object.entries(optional)) if (key in v) check((v as Record<string, unknown>)[key], `${p}.${key}`);
  };
const list =
  (inner: Checker): Checker =>
  (v, p) => {
    if (!Array.isArray(v)) fail(p, 'expected an array', v);
    for (const [i, item] of v.entries()) inner(item, `${p}[${i}]`);
  };
const oneOf =
  (names: readonly string[]): Checker =>
  (v, p) => {
    if (typeof v !== 'string' || !names.includes(v)) fail(p, `expected one of ${names.join('|')}`, v);
  };
const literal =
  (name: string): Checker =>
  (v, p) => {
    if (v !== name) fail(p, `expected ${JSON.stringify(name)}`, v);
  };

const u16 = uint(0xffff);
const u32 = uint(MAX_U32);
/** A join's protocol version: 0 on the wire decodes as 1, so never 0. */
const version: Checker = (v, p) => {
  u16(v, p);
  if (v === 0) fail(p, 'expected a protocol version of at least 1', v);
};
const u53 = uint(Number.MAX_SAFE_INTEGER);
const memberShape = record({ id: isStr, name: isStr });
const messageFields = { room: isStr, seq: u53, sender: memberShape, to: nullable(memberShape), text: isStr, timestampMs: u53 };

const CLIENT_SHAPES: Record<string, Checker> = {
  join: record(
    { type: literal('join'), requestId: u32, room: isStr, nickname: isStr, since: nullable(u53), protocolVersion: version },
    { epoch: u53, token: isStr, resumeKey: isStr },
  ),
  leave: record({ type: literal('leave'), requestId: u32, room: isStr }),
  say: record({ type: literal('say'), requestId: u32, room: isStr, text: isStr, to: nullable(isStr) }),
  members: record({ type: literal('members'), requestId: u32, room: isStr, after: isStr, prefix: isStr, limit: u16 }),
};

const SERVER_SHAPES: Record<string, Checker> = {
  welcome: record({
    type: literal('welcome'),
    connectionId: isStr,
    protocolVersion: u16,
    maxFrameBytes: u32,
    maxRooms: u16,
    maxTextChars: u16,
    idleTimeoutSeconds: u16,
    rateLimitPerSecond: u32,
    rateBurst: u32,
  }),
  joined: record(
    {
      type: literal('joined'),
      requestId: u32,
      room: isStr,
      you: memberShape,
      members: list(memberShape),
      history: list(record(messageFields)),
      headSeq: u53,
      recovered: isBool,
      epoch: u53,
      memberCount: u32,
      nextAfter: isStr,
    },
    { resumeKey: isStr },
  ),
  memberJoined: record({ type: literal('memberJoined'), room: isStr, member: memberShape }),
  memberLeft: record({ type: literal('memberLeft'), room: isStr, member: memberShape }),
  message: record({ type: literal('message'), ...messageFields }),
  left: record({ type: literal('left'), requestId: u32, room: isStr }),
  sent: record({ type: literal('sent'), requestId: u32, room: isStr, seq: u53 }),
  error: record({
    type: literal('error'),
    requestId: u32,
    code: oneOf(ERROR_CODE_NAMES),
    message: isStr,
    room: nullable(isStr),
    temporary: isBool,
  }),
  memberPage: record({ type: literal('memberPage'), requestId: u32, room: isStr, members: list(memberShape), nextAfter: isStr, memberCount: u32 }),
  presence: record({ type: literal('presence'), room: isStr, joined: list(memberShape), left: list(memberShape), memberCount: u32 }),
};

function checkShape(shapes: Record<string, Checker>, value: unknown, what: string): void {
  const type = (value as { type?: unknown } | null)?.type;
  const check = typeof type === 'string' ? shapes[type] : undefined;
  if (!check) fail(what, `unknown type ${String(type)}`, value);
  check(value, what);
}

/** Throws unless `value` is a complete, correctly typed ClientRequest. */
export function assertClientRequest(value: unknown): asserts value is ClientRequest {
  checkShape(CLIENT_SHAPES, value, 'ClientRequest');
}

/** Throws unless `value` is a complete, correctly typed ServerEvent. */
export function assertServerEvent(value: unknown): asserts value is ServerEvent {
  checkShape(SERVER_SHAPES, value, 'ServerEvent');
}

export { decodeClientFrame, decodeServerFrame, encodeClientRequest };
