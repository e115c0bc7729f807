/**
 * Targeted malformed frames with the exact ProtocolError code each must produce,
 * built by patching valid encoded frames or with the flatbuffers Builder directly,
 * plus unit tests of isValidUtf8.
 */
import * as flatbuffers from 'flatbuffers';
import { describe, expect, test } from 'vitest';
import { ClientBody } from '../../src/protocol/generated/chat/wire/client-body.js';
import { ClientFrame } from '../../src/protocol/generated/chat/wire/client-frame.js';
import { Leave } from '../../src/protocol/generated/chat/wire/leave.js';
import { Left } from '../../src/protocol/generated/chat/wire/left.js';
import { ServerBody } from '../../src/protocol/generated/chat/wire/server-body.js';
import { ServerFrame } from '../../src/protocol/generated/chat/wire/server-frame.js';
import {
  CLIENT_FRAME,
  type ChatMessage,
  type JoinedInfo,
  MAX_TABLE_DEPTH,
  MAX_VECTOR_LENGTH,
  type MemberInfo,
  PROTOCOL_VERSION,
  SERVER_FRAME,
  type ServerEvent,
  isValidUtf8,
} from '../../src/protocol/index.js';
import { type TableSpec, verifyRoot } from '../../src/protocol/verify.js';
import {
  BASE_SEED,
  type Frame,
  ProtocolError,
  Rng,
  bodyTable,
  bodyTypePos,
  decodeClientFrame,
  decodeServerFrame,
  deref,
  encodeClientRequest,
  encodeServerEvent,
  expectProtocolError,
  fieldPos,
  findMarker,
  fromHex,
  hex,
  outcome,
  patched,
  readU16,
  readU32,
  rootTable,
  sampleFrames,
  vtableOf,
  withSeed,
  writeI32,
  writeU16,
  writeU32,
} from './helpers.js';

const decoders = [decodeClientFrame, decodeServerFrame] as const;

function decoderFor(direction: Frame['direction']): (b: Uint8Array) => unknown {
  return direction === 'client' ? decodeClientFrame : decodeServerFrame;
}

const leaveFrame = (): Uint8Array => encodeClientRequest({ type: 'leave', requestId: 1, room: 'lobby' });

// ------------------------------------------------------------------ frame size

describe('frame size', () => {
  test('an empty frame is FRAME_EMPTY', () => {
    for (const decode of decoders) expectProtocolError(decode, new Uint8Array(0), 'FRAME_EMPTY');
  });

  test('frames of 1..7 bytes are FRAME_TRUNCATED', () => {
    for (let n = 1; n < 8; n++) {
      for (const fill of [0x00, 0x04, 0xff]) {
        for (const decode of decoders) expectProtocolError(decode, new Uint8Array(n).fill(fill), 'FRAME_TRUNCATED');
      }
    }
  });

  test('a frame whose length is not a multiple of 4 is FRAME_TRUNCATED', () => {
    const frame = leaveFrame();
    for (const extra of [1, 2, 3]) {
      expectProtocolError(decodeClientFrame, new Uint8Array([...frame, ...new Uint8Array(extra)]), 'FRAME_TRUNCATED');
    }
  });
});

// ------------------------------------------------------------------ offsets and alignment

describe('offsets, vtables and alignment', () => {
  test.each(sampleFrames().map((f) => [f.name, f] as const))('%s: root offset outside the frame is BAD_OFFSET', (_name, frame) => {
    const n = frame.bytes.length;
    for (const root of [0, n, n + 4, 0x7ffffffc, 0x80000000, 0xfffffffc]) {
      const bytes = frame.bytes.slice();
      writeU32(bytes, 0, root);
      expectProtocolError(decoderFor(frame.direction), bytes, 'BAD_OFFSET');
    }
  });

  test('8 zero bytes: a root offset of 0 is BAD_OFFSET', () => {
    for (const decode of decoders) expectProtocolError(decode, new Uint8Array(8), 'BAD_OFFSET');
  });

  test('a body offset pointing past the end is BAD_OFFSET', () => {
    const bytes = leaveFrame();
    const at = fieldPos(bytes, rootTable(bytes), 2);
    writeU32(bytes, at, bytes.length - at);
    expectProtocolError(decodeClientFrame, bytes, 'BAD_OFFSET');
  });

  test('a root table that is not 4-byte aligned is FRAME_MISALIGNED', () => {
    const bytes = leaveFrame();
    writeU32(bytes, 0, rootTable(bytes) + 2);
    expectProtocolError(decodeClientFrame, bytes, 'FRAME_MISALIGNED');
  });

  test('a vtable at an odd position is FRAME_MISALIGNED', () => {
    const bytes = leaveFrame();
    const root = rootTable(bytes);
    writeI32(bytes, root, root - vtableOf(bytes, root) + 1);
    expectProtocolError(decodeClientFrame, bytes, 'FRAME_MISALIGNED');
  });

  test('a u32 scalar at a 2-byte aligned position is FRAME_MISALIGNED', () => {
    // Welcome.max_frame_bytes (slot 2, u32): move it by 2 bytes inside the table.
    const bytes = encodeServerEvent({
      type: 'welcome',
      connectionId: 'c',
      protocolVersion: 1,
      maxFrameBytes: 1024,
      maxRooms: 2,
      maxTextChars: 3,
      idleTimeoutSeconds: 4,
      rateLimitPerSecond: 5,
      rateBurst: 6,
    });
    const welcome = bodyTable(bytes);
    const vtable = vtableOf(bytes, welcome);
    const tableSize = readU16(bytes, vtable + 2);
    const slotAt = vtable + 4 + 2 * 2;
    const offset = readU16(bytes, slotAt);
    const moved = offset + 2 + 4 <= tableSize ? offset + 2 : offset - 2;
    expect(moved).toBeGreaterThanOrEqual(4);
    writeU16(bytes, slotAt, moved);
    expectProtocolError(decodeServerFrame, bytes, 'FRAME_MISALIGNED');
  });

  test('the Join.since struct at a 4-byte (not 8-byte) aligned position is FRAME_MISALIGNED', () => {
    const bytes = encodeClientRequest({ type: 'join', requestId: 1, room: 'r', nickname: 'n', since: 5, protocolVersion: PROTOCOL_VERSION });
    const join = bodyTable(bytes);
    const vtable = vtableOf(bytes, join);
    const tableSize = readU16(bytes, vtable + 2);
    const slotAt = vtable + 4 + 2 * 2;
    const offset = readU16(bytes, slotAt);
    expect((join + offset) % 8).toBe(0);
    const moved = offset + 4 + 8 <= tableSize ? offset + 4 : offset - 4;
    expect(moved).toBeGreaterThanOrEqual(4);
    writeU16(bytes, slotAt, moved);
    expectProtocolError(decodeClientFrame, bytes, 'FRAME_MISALIGNED');
  });

  /** Moves scalar `slot` of the body table by `by` bytes (forwards if it still fits in the table, else backwards). */
  function moveBodyScalar(bytes: Uint8Array, slot: number, size: number, by: number): Uint8Array {
    const out = bytes.slice();
    const body = bodyTable(out);
    const vtable = vtableOf(out, body);
    const tableSize = readU16(out, vtable + 2);
    const slotAt = vtable + 4 + 2 * slot;
    const offset = readU16(out, slotAt);
    expect(offset, `slot ${slot} is present`).not.toBe(0);
    expect((body + offset) % size).toBe(0);
    const moved = offset + by + size <= tableSize ? offset + by : offset - by;
    expect(moved).toBeGreaterThanOrEqual(4);
    writeU16(out, slotAt, moved);
    return out;
  }

  const SCALARS_V2 = (memberCount: number, small: number): [string, Frame['direction'], Uint8Array, number, 2 | 4][] => [
    [
      'Join.protocol_version (u16)',
      'client',
      encodeClientRequest({ type: 'join', requestId: 1, room: 'r', nickname: 'n', since: 5, protocolVersion: small }),
      4,
      2,
    ],
    ['Members.limit (u16)', 'client', encodeClientRequest({ type: 'members', requestId: 1, room: 'r', after: 'a', prefix: 'p', limit: small }), 3, 2],
    ['Joined.member_count (u32)', 'server', joined({ memberCount }), 7, 4],
    ['MemberPage.member_count (u32)', 'server', encodeServerEvent({ ...memberPage(), memberCount }), 3, 4],
    ['Presence.member_count (u32)', 'server', encodeServerEvent({ ...presence(), memberCount }), 3, 4],
  ];

  test.each(SCALARS_V2(0x12345678, 0x1234))('%s moved off its alignment is FRAME_MISALIGNED', (_name, direction, bytes, slot, size) => {
    for (const by of size === 2 ? [1] : [1, 2, 3]) expectProtocolError(decoderFor(direction), moveBodyScalar(bytes, slot, size, by), 'FRAME_MISALIGNED');
  });

  test.each(SCALARS_V2(7, 7))('%s running past the end of its table is BAD_VTABLE', (_name, direction, bytes, slot, size) => {
    const vtable = vtableOf(bytes, bodyTable(bytes));
    const tableSize = readU16(bytes, vtable + 2);
    // Its last 2 bytes outside the table, or all of it.
    for (const at of [tableSize - size + 2, tableSize]) {
      expectProtocolError(decoderFor(direction), patched(bytes, vtable + 4 + 2 * slot, [at & 0xff, at >> 8]), 'BAD_VTABLE');
    }
  });

  test('bad vtable sizes, table sizes and field offsets are BAD_VTABLE', () => {
    const fresh = leaveFrame();
    const root = rootTable(fresh);
    const vtable = vtableOf(fresh, root);
    const tableSize = readU16(fresh, vtable + 2);
    const cases: [string, (b: Uint8Array) => void][] = [
      ['odd vtable size', (b) => writeU16(b, vtable, readU16(b, vtable) + 1)],
      ['vtable size 2', (b) => writeU16(b, vtable, 2)],
      ['vtable size 0', (b) => writeU16(b, vtable, 0)],
      ['table size 0', (b) => writeU16(b, vtable + 2, 0)],
      ['body offset at the end of the table', (b) => writeU16(b, vtable + 4 + 2 * 2, tableSize)],
      ['body type offset past the table', (b) => writeU16(b, vtable + 4 + 2 * 1, tableSize)],
    ];
    for (const [name, patch] of cases) {
      const bytes = fresh.slice();
      patch(bytes);
      const error = expectProtocolError(decodeClientFrame, bytes);
      expect(error.code, `${name}: ${error.message} (${hex(bytes)})`).toBe('BAD_VTABLE');
    }
  });
});

// ------------------------------------------------------------------ strings

const MARK = 'QQQQQQQQ'; // 8 bytes, patched in place below

interface StringField {
  readonly name: string;
  readonly direction: Frame['direction'];
  readonly build: (m: string) => Uint8Array;
}

const someone = { id: 'id', name: 'nm' };
const field = (name: string, direction: Frame['direction'], build: (m: string) => Uint8Array): StringField => ({ name, direction, build });
const STRING_FIELDS: readonly StringField[] = [
  field('join.room', 'client', (m) =>
    encodeClientRequest({ type: 'join', requestId: 1, room: m, nickname: 'n', since: null, protocolVersion: PROTOCOL_VERSION }),
  ),
  field('join.nickname', 'client', (m) =>
    encodeClientRequest({ type: 'join', requestId: 1, room: 'r', nickname: m, since: 3, protocolVersion: PROTOCOL_VERSION }),
  ),
  field('join.token', 'client', (m) =>
    encodeClientRequest({ type: 'join', requestId: 1, room: 'r', nickname: 'n', since: 3, token: m, protocolVersion: PROTOCOL_VERSION }),
  ),
  field('members.room', 'client', (m) => encodeClientRequest({ type: 'members', requestId: 1, room: m, after: 'a', prefix: 'p', limit: 5 })),
  field('members.after', 'client', (m) => encodeClientRequest({ type: 'members', requestId: 1, room: 'r', after: m, prefix: 'p', limit: 5 })),
  field('members.prefix', 'client', (m) => encodeClientRequest({ type: 'members', requestId: 1, room: 'r', after: '', prefix: m, limit: 0 })),
  field('leave.room', 'client', (m) => encodeClientRequest({ type: 'leave', requestId: 1, room: m })),
  field('say.room', 'client', (m) => encodeClientRequest({ type: 'say', requestId: 1, room: m, text: 't', to: null })),
  field('say.text', 'client', (m) => encodeClientRequest({ type: 'say', requestId: 1, room: 'r', text: m, to: 'x' })),
  field('say.to', 'client', (m) => encodeClientRequest({ type: 'say', requestId: 1, room: 'r', text: 't', to: m })),
  field('welcome.connectionId', 'server', (m) =>
    encodeServerEvent({
      type: 'welcome',
      connectionId: m,
      protocolVersion: 1,
      maxFrameBytes: 2,
      maxRooms: 3,
      maxTextChars: 4,
      idleTimeoutSeconds: 5,
      rateLimitPerSecond: 6,
      rateBurst: 7,
    }),
  ),
  field('joined.room', 'server', (m) => joined({ room: m })),
  field('joined.you.id', 'server', (m) => joined({ you: { id: m, name: 'y' } })),
  field('joined.members[1].name', 'server', (m) => joined({ members: [someone, { id: 'i2', name: m }] })),
  field('joined.history[0].room', 'server', (m) => joined({ history: [{ ...message(), room: m }] })),
  field('joined.history[1].sender.id', 'server', (m) => joined({ history: [message(), { ...message(), sender: { id: m, name: 's' } }] })),
  field('joined.history[0].to.name', 'server', (m) => joined({ history: [{ ...message(), seq: 0, to: { id: 'i', name: m } }] })),
  field('joined.history[0].text', 'server', (m) => joined({ history: [{ ...message(), text: m }] })),
  field('joined.nextAfter', 'server', (m) => joined({ nextAfter: m, memberCount: 2 })),
  field('memberJoined.room', 'server', (m) => encodeServerEvent({ type: 'memberJoined', room: m, member: someone })),
  field('memberJoined.member.id', 'server', (m) => encodeServerEvent({ type: 'memberJoined', room: 'r', member: { id: m, name: 'n' } })),
  field('memberLeft.member.name', 'server', (m) => encodeServerEvent({ type: 'memberLeft', room: 'r', member: { id: 'i', name: m } })),
  field('message.room', 'server', (m) => encodeServerEvent({ type: 'message', ...message(), room: m })),
  field('message.sender.name', 'server', (m) => encodeServerEvent({ type: 'message', ...message(), sender: { id: 'i', name: m } })),
  field('message.to.id', 'server', (m) => encodeServerEvent({ type: 'message', ...message(), seq: 0, to: { id: m, name: 'n' } })),
  field('message.text', 'server', (m) => encodeServerEvent({ type: 'message', ...message(), text: m })),
  field('left.room', 'server', (m) => encodeServerEvent({ type: 'left', requestId: 1, room: m })),
  field('sent.room', 'server', (m) => encodeServerEvent({ type: 'sent', requestId: 1, room: m, seq: 9 })),
  field('error.message', 'server', (m) => encodeServerEvent({ type: 'error', requestId: 1, code: 'Internal', message: m, room: null, temporary: false })),
  field('error.room', 'server', (m) => encodeServerEvent({ type: 'error', requestId: 1, code: 'Internal', message: 'e', room: m, temporary: true })),
  field('memberPage.room', 'server', (m) => encodeServerEvent({ ...memberPage(), room: m })),
  field('memberPage.members[0].id', 'server', (m) => encodeServerEvent({ ...memberPage(), members: [{ id: m, name: 'n' }, someone] })),
  field('memberPage.members[1].name', 'server', (m) => encodeServerEvent({ ...memberPage(), members: [someone, { id: 'i2', name: m }] })),
  field('memberPage.nextAfter', 'server', (m) => encodeServerEvent({ ...memberPage(), nextAfter: m })),
  field('presence.room', 'server', (m) => encodeServerEvent({ ...presence(), room: m })),
  field('presence.joined[0].id', 'server', (m) => encodeServerEvent({ ...presence(), joined: [{ id: m, name: 'n' }] })),
  field('presence.joined[1].name', 'server', (m) => encodeServerEvent({ ...presence(), joined: [someone, { id: 'i2', name: m }] })),
  field('presence.left[0].name', 'server', (m) => encodeServerEvent({ ...presence(), left: [{ id: 'i', name: m }] })),
  field('presence.left[1].id', 'server', (m) => encodeServerEvent({ ...presence(), joined: [], left: [someone, { id: m, name: 'n' }] })),
];

function memberPage(): Extract<ServerEvent, { type: 'memberPage' }> {
  return { type: 'memberPage', requestId: 1, room: 'r', members: [someone], nextAfter: 'nm', memberCount: 3 };
}

function presence(): Extract<ServerEvent, { type: 'presence' }> {
  return { type: 'presence', room: 'r', joined: [someone], left: [{ id: 'i3', name: 'gone' }], memberCount: 1 };
}

function message(): ChatMessage {
  return { room: 'r', seq: 1, sender: someone, to: null, text: 'hello', timestampMs: 5 };
}

function joined(parts: Partial<JoinedInfo>): Uint8Array {
  return encodeServerEvent({
    type: 'joined',
    requestId: 1,
    room: 'r',
    you: someone,
    members: [someone],
    history: [],
    headSeq: 1,
    recovered: false,
    epoch: 1,
    memberCount: 1,
    nextAfter: '',
    ...parts,
  });
}

/** Invalid UTF-8, placed at the start of the 8-byte marker or (for cut-off sequences) at its end. */
const INVALID_UTF8: readonly [string, string, 'start' | 'end' | 'middle'][] = [
  ['overlong "/" (C0 AF)', 'c0 af', 'start'],
  ['overlong NUL (C0 80)', 'c0 80', 'start'],
  ['overlong 2-byte (C1 BF)', 'c1 bf', 'start'],
  ['overlong 3-byte (E0 80 AF)', 'e0 80 af', 'start'],
  ['overlong 3-byte max (E0 9F BF)', 'e0 9f bf', 'start'],
  ['overlong 4-byte (F0 80 80 AF)', 'f0 80 80 af', 'start'],
  ['overlong 4-byte max (F0 8F BF BF)', 'f0 8f bf bf', 'start'],
  ['high surrogate U+D800 (ED A0 80)', 'ed a0 80', 'start'],
  ['low surrogate U+DFFF (ED BF BF)', 'ed bf bf', 'middle'],
  ['surrogate pair as CESU-8 (ED A0 BD ED B8 80)', 'ed a0 bd ed b8 80', 'start'],
  ['above U+10FFFF (F4 90 80 80)', 'f4 90 80 80', 'start'],
  ['lead byte F5', 'f5 80 80 80', 'middle'],
  ['lead byte F8 (5-byte form)', 'f8 88 80 80 80', 'start'],
  ['byte FE', 'fe', 'middle'],
  ['byte FF', 'ff', 'end'],
  ['lone continuation 80', '80', 'start'],
  ['lone continuation BF', 'bf', 'middle'],
  ['2-byte sequence missing its last byte at the end (C3)', 'c3', 'end'],
  ['3-byte sequence missing its last byte at the end (E2 82)', 'e2 82', 'end'],
  ['4-byte sequence missing its last byte at the end (F0 9F 98)', 'f0 9f 98', 'end'],
  ['3-byte sequence interrupted by ASCII (E2 82 41)', 'e2 82 41', 'start'],
  ['4-byte sequence interrupted by a new lead (F0 9F F0 9F 98 80)', 'f0 9f f0 9f 98 80', 'start'],
];

function placeInMarker(frame: Uint8Array, seq: Uint8Array, where: 'start' | 'end' | 'middle'): Uint8Array {
  const at = findMarker(frame, MARK);
  const offset = where === 'start' ? 0 : where === 'end' ? MARK.length - seq.length : (MARK.length - seq.length) >> 1;
  return patched(frame, at + offset, seq);
}

describe('strings', () => {
  test.each(STRING_FIELDS.map((f) => [f.name, f] as const))('%s: every kind of invalid UTF-8 is BAD_UTF8', (_name, field) => {
    const frame = field.build(MARK);
    const decode = decoderFor(field.direction);
    expect(JSON.stringify(decode(frame))).toContain(MARK); // the marker is this field's bytes
    for (const [label, seqHex, where] of INVALID_UTF8) {
      const bytes = placeInMarker(frame, fromHex(seqHex), where);
      const error = expectProtocolError(decode, bytes);
      expect(error.code, `${label}: ${error.message} (${hex(bytes)})`).toBe('BAD_UTF8');
    }
  });

  test.each(STRING_FIELDS.map((f) => [f.name, f] as const))('%s: valid multi-byte UTF-8 patched in decodes', (_name, field) => {
    // Positive control for the cases above: same position, valid bytes ("😀€A").
    const bytes = placeInMarker(field.build(MARK), fromHex('f0 9f 98 80 e2 82 ac 41'), 'start');
    const result = outcome(decoderFor(field.direction), bytes);
    if (!result.ok) throw new Error(`rejected valid UTF-8: ${result.error.code} ${result.error.message}`);
    expect(JSON.stringify(result.value)).toContain('😀€A');
  });

  test.each(STRING_FIELDS.map((f) => [f.name, f] as const))('%s: a string without its NUL terminator is rejected', (_name, field) => {
    const frame = field.build(MARK);
    const at = findMarker(frame, MARK);
    expect(frame[at + MARK.length]).toBe(0);
    const bytes = patched(frame, at + MARK.length, [0x41]);
    // verify.ts reports a missing terminator as BAD_OFFSET.
    expectProtocolError(decoderFor(field.direction), bytes, 'BAD_OFFSET');
  });

  test('a string whose terminator would lie past the end of the frame is FRAME_TRUNCATED', () => {
    const bytes = leaveFrame();
    const stringAt = deref(bytes, fieldPos(bytes, bodyTable(bytes), 0));
    writeU32(bytes, stringAt, bytes.length - stringAt - 4); // the chars reach the last byte
    expectProtocolError(decodeClientFrame, bytes, 'FRAME_TRUNCATED');
  });

  test('a string length over the limit is rejected as too long', () => {
    const bytes = leaveFrame();
    const stringAt = deref(bytes, fieldPos(bytes, bodyTable(bytes), 0));
    for (const length of [MAX_VECTOR_LENGTH + 1, 0x7fffffff, 0xffffffff]) {
      writeU32(bytes, stringAt, length);
      const error = expectProtocolError(decodeClientFrame, bytes);
      // Strings are length-checked by the vector rule.
      expect(error.code).toBe('VECTOR_TOO_LONG');
    }
  });
});

// ------------------------------------------------------------------ unions

function build(write: (b: flatbuffers.Builder) => number, forceDefaults = false): Uint8Array {
  const b = new flatbuffers.Builder(64);
  b.forceDefaults(forceDefaults);
  b.finish(write(b));
  return b.asUint8Array().slice();
}

describe('unions', () => {
  // Protocol 2 made 4 (Members) a client body type and 9, 10 (MemberPage, Presence) server ones.
  const unionSize = (spec: TableSpec): number => spec.fields.flatMap((f) => (f.kind === 'unionType' ? [f.members.length] : []))[0]!;
  const clientTypes = unionSize(CLIENT_FRAME);
  const serverTypes = unionSize(SERVER_FRAME);

  test('the unions have 4 client and 10 server body types', () => {
    expect([clientTypes, serverTypes]).toStrictEqual([4, 10]);
  });

  test('unknown client body types are UNKNOWN_BODY', () => {
    for (const frame of sampleFrames().filter((f) => f.direction === 'client')) {
      for (const type of [clientTypes + 1, clientTypes + 2, 9, 0x7f, 0x80, 0xff]) {
        expectProtocolError(decodeClientFrame, patched(frame.bytes, bodyTypePos(frame.bytes), [type]), 'UNKNOWN_BODY');
      }
    }
  });

  test('unknown server body types are UNKNOWN_BODY', () => {
    for (const frame of sampleFrames().filter((f) => f.direction === 'server')) {
      for (const type of [serverTypes + 1, serverTypes + 2, 0x7f, 0x80, 0xff]) {
        expectProtocolError(decodeServerFrame, patched(frame.bytes, bodyTypePos(frame.bytes), [type]), 'UNKNOWN_BODY');
      }
    }
  });

  test('a frame without a body is MISSING_BODY', () => {
    const noFields = build((b) => {
      b.startObject(0);
      return b.endObject();
    });
    const clientRequestIdOnly = build((b) => {
      ClientFrame.startClientFrame(b);
      ClientFrame.addRequestId(b, 7);
      return ClientFrame.endClientFrame(b);
    });
    const serverRequestIdOnly = build((b) => {
      ServerFrame.startServerFrame(b);
      ServerFrame.addRequestId(b, 7);
      return ServerFrame.endServerFrame(b);
    });
    for (const decode of decoders) expectProtocolError(decode, noFields, 'MISSING_BODY');
    expectProtocolError(decodeClientFrame, clientRequestIdOnly, 'MISSING_BODY');
    expectProtocolError(decodeServerFrame, serverRequestIdOnly, 'MISSING_BODY');
  });

  test('a body type without a body value is MISSING_BODY', () => {
    const client = build((b) => {
      ClientFrame.startClientFrame(b);
      ClientFrame.addBodyType(b, ClientBody.Leave);
      return ClientFrame.endClientFrame(b);
    });
    const server = build((b) => {
      ServerFrame.startServerFrame(b);
      ServerFrame.addRequestId(b, 3);
      ServerFrame.addBodyType(b, ServerBody.Left);
      return ServerFrame.endServerFrame(b);
    });
    expectProtocolError(decodeClientFrame, client, 'MISSING_BODY');
    expectProtocolError(decodeServerFrame, server, 'MISSING_BODY');
  });

  test('a body value without a body type (absent or NONE) is MISSING_BODY', () => {
    for (const forceDefaults of [false, true]) {
      const client = build((b) => {
        const leave = Leave.createLeave(b, b.createString('lobby'));
        ClientFrame.startClientFrame(b);
        if (forceDefaults) ClientFrame.addBodyType(b, ClientBody.NONE);
        ClientFrame.addBody(b, leave);
        return ClientFrame.endClientFrame(b);
      }, forceDefaults);
      const server = build((b) => {
        const left = Left.createLeft(b, b.createString('lobby'));
        ServerFrame.startServerFrame(b);
        if (forceDefaults) ServerFrame.addBodyType(b, ServerBody.NONE);
        ServerFrame.addBody(b, left);
        return ServerFrame.endServerFrame(b);
      }, forceDefaults);
      expectProtocolError(decodeClientFrame, client, 'MISSING_BODY');
      expectProtocolError(decodeServerFrame, server, 'MISSING_BODY');
    }
  });

  test('frames built with the Builder directly decode (control for the cases above)', () => {
    const client = build((b) => {
      const leave = Leave.createLeave(b, b.createString('lobby'));
      return ClientFrame.createClientFrame(b, 9, ClientBody.Leave, leave);
    });
    const server = build((b) => {
      const left = Left.createLeft(b, b.createString('lobby'));
      return ServerFrame.createServerFrame(b, 9, ServerBody.Left, left);
    });
    expect(decodeClientFrame(client)).toStrictEqual({ type: 'leave', requestId: 9, room: 'lobby' });
    expect(decodeServerFrame(server)).toStrictEqual({ type: 'left', requestId: 9, room: 'lobby' });
  });
});

// ------------------------------------------------------------------ vectors and depth

function patchedU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  writeU32(copy, at, value);
  return copy;
}

describe('vectors and nesting', () => {
  const member = { id: 'i', name: 'n' };
  const frame = encodeServerEvent({
    type: 'joined',
    requestId: 1,
    room: 'r',
    you: member,
    members: [member, member],
    history: [{ room: 'r', seq: 1, sender: member, to: null, text: 't', timestampMs: 1 }],
    headSeq: 1,
    recovered: true,
    epoch: 1,
    memberCount: 2,
    nextAfter: '',
  });

  test.each([
    ['members', 2],
    ['history', 3],
  ] as const)('Joined.%s with a length over MAX_VECTOR_LENGTH is VECTOR_TOO_LONG', (_name, slot) => {
    const vector = deref(frame, fieldPos(frame, bodyTable(frame), slot));
    for (const length of [MAX_VECTOR_LENGTH + 1, 0x7fffffff, 0x80000000, 0xffffffff]) {
      const bytes = frame.slice();
      writeU32(bytes, vector, length);
      expectProtocolError(decodeServerFrame, bytes, 'VECTOR_TOO_LONG');
    }
    // At the limit the count is allowed, but the elements are not in the frame.
    const bytes = frame.slice();
    writeU32(bytes, vector, MAX_VECTOR_LENGTH);
    expectProtocolError(decodeServerFrame, bytes, 'FRAME_TRUNCATED');
    // Control: the unpatched frame decodes with the expected element counts.
    expect(decodeServerFrame(frame)).toMatchObject({ members: [member, member], history: [{ text: 't' }] });
  });

  test('a vector element pointing past the frame is BAD_OFFSET', () => {
    const vector = deref(frame, fieldPos(frame, bodyTable(frame), 2));
    const bytes = frame.slice();
    writeU32(bytes, vector + 4, bytes.length);
    expectProtocolError(decodeServerFrame, bytes, 'BAD_OFFSET');
  });

  // Every vector of members (protocol 2 added MemberPage.members, Presence.joined and Presence.left).
  const ann: MemberInfo = { id: 'c-ann', name: 'ann' };
  const ben: MemberInfo = { id: 'c-ben', name: 'ben' };
  const cyd: MemberInfo = { id: 'c-cyd', name: 'cyd' };
  const MEMBER_VECTORS: readonly (readonly [string, number, ServerEvent, 'members' | 'joined' | 'left'])[] = [
    [
      'Joined.members',
      2,
      {
        type: 'joined',
        requestId: 1,
        room: 'r',
        you: ann,
        members: [ann, ben],
        history: [],
        headSeq: 1,
        recovered: false,
        epoch: 1,
        memberCount: 9,
        nextAfter: 'ben',
      },
      'members',
    ],
    ['MemberPage.members', 1, { type: 'memberPage', requestId: 2, room: 'r', members: [ann, ben], nextAfter: 'ben', memberCount: 9 }, 'members'],
    ['Presence.joined', 1, { type: 'presence', room: 'r', joined: [ann, ben], left: [cyd], memberCount: 2 }, 'joined'],
    ['Presence.left', 2, { type: 'presence', room: 'r', joined: [cyd], left: [ann, ben], memberCount: 1 }, 'left'],
  ];

  describe.each(MEMBER_VECTORS)('%s', (_name, slot, event, key) => {
    const frame = encodeServerEvent(event);
    const fieldAt = fieldPos(frame, bodyTable(frame), slot);
    const vector = deref(frame, fieldAt);
    const withList = (list: readonly MemberInfo[]): ServerEvent => ({ ...event, [key]: list }) as unknown as ServerEvent;

    test('control: the frame decodes, with 2 elements in the vector', () => {
      expect(readU32(frame, vector)).toBe(2);
      expect(decodeServerFrame(frame)).toStrictEqual(event);
    });

    test('a length over MAX_VECTOR_LENGTH is VECTOR_TOO_LONG; at the limit, FRAME_TRUNCATED', () => {
      for (const length of [MAX_VECTOR_LENGTH + 1, 0x7fffffff, 0x80000000, 0xffffffff]) {
        expectProtocolError(decodeServerFrame, patchedU32(frame, vector, length), 'VECTOR_TOO_LONG');
      }
      expectProtocolError(decodeServerFrame, patchedU32(frame, vector, MAX_VECTOR_LENGTH), 'FRAME_TRUNCATED');
    });

    test('a truncated vector (more elements than the frame holds) is FRAME_TRUNCATED', () => {
      const fits = (frame.length - vector - 4) / 4;
      expect(Number.isInteger(fits)).toBe(true);
      expectProtocolError(decodeServerFrame, patchedU32(frame, vector, fits + 1), 'FRAME_TRUNCATED');
    });

    test('a vector offset pointing outside the frame (or 0) is BAD_OFFSET', () => {
      const n = frame.length;
      for (const target of [n, n + 4, 0x7ffffffc + fieldAt]) {
        expectProtocolError(decodeServerFrame, patchedU32(frame, fieldAt, target - fieldAt), 'BAD_OFFSET');
      }
      expectProtocolError(decodeServerFrame, patchedU32(frame, fieldAt, 0), 'BAD_OFFSET');
    });

    test('a vector at a 2-byte aligned position is FRAME_MISALIGNED', () => {
      expectProtocolError(decodeServerFrame, patchedU32(frame, fieldAt, vector + 2 - fieldAt), 'FRAME_MISALIGNED');
    });

    test('an element pointing outside the frame (or 0) is BAD_OFFSET, whichever element', () => {
      for (const element of [0, 1]) {
        const at = vector + 4 + 4 * element;
        for (const target of [frame.length, frame.length + 8]) expectProtocolError(decodeServerFrame, patchedU32(frame, at, target - at), 'BAD_OFFSET');
        expectProtocolError(decodeServerFrame, patchedU32(frame, at, 0), 'BAD_OFFSET');
      }
    });

    test('an element pointing at a 2-byte aligned position is FRAME_MISALIGNED', () => {
      const at = vector + 4;
      expectProtocolError(decodeServerFrame, patchedU32(frame, at, readU32(frame, at) + 2), 'FRAME_MISALIGNED');
    });

    test('a shorter length is a shorter list (control for the cases above)', () => {
      expect(decodeServerFrame(patchedU32(frame, vector, 1))).toStrictEqual(withList([ann]));
      expect(decodeServerFrame(patchedU32(frame, vector, 0))).toStrictEqual(withList([]));
    });
  });

  test('a Presence cut inside its joined vector is FRAME_TRUNCATED; cut at its start, BAD_OFFSET', () => {
    // Built so that the room string lies before the vectors and the members after them:
    // every cut inside the joined vector leaves the fields verified before it whole.
    const b = new flatbuffers.Builder(64);
    const member = (m: MemberInfo): number => {
      const id = b.createString(m.id);
      const name = b.createString(m.name);
      b.startObject(2);
      b.addFieldOffset(0, id, 0);
      b.addFieldOffset(1, name, 0);
      return b.endObject();
    };
    const vectorOf = (tables: number[]): number => {
      b.startVector(4, tables.length, 4);
      for (let i = tables.length - 1; i >= 0; i--) b.addOffset(tables[i]!);
      return b.endVector();
    };
    const members = [ann, ben, cyd].map(member);
    const left = vectorOf([member({ id: 'c-dee', name: 'dee' })]);
    const joined = vectorOf(members);
    const room = b.createString('lobby');
    b.startObject(4);
    b.addFieldOffset(0, room, 0);
    b.addFieldOffset(1, joined, 0);
    b.addFieldOffset(2, left, 0);
    b.addFieldInt32(3, 3, 0);
    const body = b.endObject();
    b.finish(ServerFrame.createServerFrame(b, 0, ServerBody.Presence, body));
    const bytes = b.asUint8Array().slice();
    expect(decodeServerFrame(bytes)).toStrictEqual({
      type: 'presence',
      room: 'lobby',
      joined: [ann, ben, cyd],
      left: [{ id: 'c-dee', name: 'dee' }],
      memberCount: 3,
    });

    const vector = deref(bytes, fieldPos(bytes, bodyTable(bytes), 1));
    const roomAt = deref(bytes, fieldPos(bytes, bodyTable(bytes), 0));
    expect(roomAt).toBeLessThan(vector);
    expect(readU32(bytes, vector)).toBe(3);
    expectProtocolError(decodeServerFrame, bytes.slice(0, vector), 'BAD_OFFSET');
    for (let cut = vector + 4; cut < vector + 4 + 3 * 4; cut += 4) {
      expectProtocolError(decodeServerFrame, bytes.slice(0, cut), 'FRAME_TRUNCATED');
    }
    // The vector whole but its elements cut off.
    expectProtocolError(decodeServerFrame, bytes.slice(0, vector + 16), 'BAD_OFFSET');
  });

  // The chat schema nests only 3 tables deep, so TOO_DEEP is exercised with a recursive spec.
  const NODE: TableSpec = { name: 'Node', fields: [{ kind: 'table', table: () => NODE }] };

  function chain(tables: number): Uint8Array {
    return build((b) => {
      b.startObject(1);
      let child = b.endObject();
      for (let i = 1; i < tables; i++) {
        b.startObject(1);
        b.addFieldOffset(0, child, 0);
        child = b.endObject();
      }
      return child;
    });
  }

  test(`a chain of ${MAX_TABLE_DEPTH + 1} nested tables verifies; one more is TOO_DEEP`, () => {
    expect(() => verifyRoot(chain(MAX_TABLE_DEPTH + 1), NODE)).not.toThrow();
    let thrown: unknown;
    try {
      verifyRoot(chain(MAX_TABLE_DEPTH + 2), NODE);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ProtocolError);
    expect((thrown as ProtocolError).code).toBe('TOO_DEEP');
  });
});

// ------------------------------------------------------------------ 16-bit vtable entries

/**
 * The flatbuffers JS runtime reads vtable entries (vtable size and field offsets) as
 * SIGNED 16-bit (ByteBuffer.__offset uses readInt16), while verify.ts reads them as
 * unsigned. An entry >= 0x8000 therefore means one thing to the verifier and another
 * to the accessors. Only frames over 32 KiB can carry such an entry and pass the
 * bounds checks.
 */
function signedFieldOffsetFrame(): Uint8Array {
  const LEAVE = 44; // Leave table
  const FIELD_OFFSET = 0xfff8; // Leave.room: +65528 to the verifier, -8 to the runtime
  const TABLE_SIZE = 0xfffc;
  const b = new Uint8Array(LEAVE + TABLE_SIZE + 8); // 65,584 bytes
  writeU32(b, 0, 16); // root: ClientFrame at 16
  // ClientFrame vtable at 4: 10 bytes, table 12 bytes, request_id absent, body_type at +4, body at +8.
  for (const [i, v] of [10, 12, 0, 4, 8].entries()) writeU16(b, 4 + 2 * i, v);
  writeI32(b, 16, 16 - 4);
  b[20] = ClientBody.Leave;
  writeU32(b, 24, LEAVE - 24);
  // Leave vtable at 28: 6 bytes, table 0xfffc bytes, room at +0xfff8.
  for (const [i, v] of [6, TABLE_SIZE, FIELD_OFFSET].entries()) writeU16(b, 28 + 2 * i, v);
  writeI32(b, LEAVE, LEAVE - 28);
  // What the verifier checks: room -> the empty string at the end of the frame.
  writeU32(b, LEAVE + FIELD_OFFSET, 4);
  // What the runtime reads instead, at LEAVE - 8: an offset to a 2-byte string FF FF.
  writeU32(b, LEAVE - 8, 16);
  writeU32(b, LEAVE + 8, 2);
  b[LEAVE + 12] = 0xff;
  b[LEAVE + 13] = 0xff;
  return b;
}

function signedVtableSizeFrame(): Uint8Array {
  const b = new Uint8Array(32_800);
  writeU32(b, 0, 16); // root: ClientFrame at 16
  for (const [i, v] of [10, 12, 0, 4, 8].entries()) writeU16(b, 4 + 2 * i, v);
  writeI32(b, 16, 16 - 4);
  b[20] = ClientBody.Leave;
  writeU32(b, 24, 44 - 24); // body: Leave at 44
  // Leave vtable at 28: size 0x8000 (negative to the runtime: "no fields"), table 8 bytes, room at +4.
  for (const [i, v] of [0x8000, 8, 4].entries()) writeU16(b, 28 + 2 * i, v);
  writeI32(b, 44, 44 - 28);
  writeU32(b, 48, 52 - 48); // room -> "lobby" at 52
  writeU32(b, 52, 5);
  b.set(new TextEncoder().encode('lobby'), 56);
  return b;
}

describe('16-bit vtable entries at and above 0x8000', () => {
  // The flatbuffers JS runtime reads vtable entries as signed 16-bit numbers, so the
  // verifier must refuse entries from 0x8000 up: they would mean something else to it.
  test('a field offset >= 0x8000 is refused', () => {
    const result = outcome(decodeClientFrame, signedFieldOffsetFrame());
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('BAD_VTABLE');
  });

  test('a vtable size >= 0x8000 is refused', () => {
    const result = outcome(decodeClientFrame, signedVtableSizeFrame());
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('BAD_VTABLE');
  });
});

// ------------------------------------------------------------------ isValidUtf8

function utf8Valid(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

const UTF8_EDGES: readonly [string, boolean][] = [
  ['', true],
  ['00', true],
  ['7f', true],
  ['80', false],
  ['bf', false],
  ['c0 80', false],
  ['c0 af', false],
  ['c1 bf', false],
  ['c2 80', true],
  ['c2', false],
  ['c2 41', false],
  ['c2 c2 80', false],
  ['df bf', true],
  ['e0 80 80', false],
  ['e0 9f bf', false],
  ['e0 a0 80', true],
  ['e2 82 ac', true],
  ['e2 82', false],
  ['e2 28 a1', false],
  ['ed 9f bf', true],
  ['ed a0 80', false],
  ['ed bf bf', false],
  ['ee 80 80', true],
  ['ef bb bf', true],
  ['ef bf bf', true],
  ['f0 80 80 80', false],
  ['f0 8f bf bf', false],
  ['f0 90 80 80', true],
  ['f0 9f 98 80', true],
  ['f0 9f 98', false],
  ['f4 8f bf bf', true],
  ['f4 90 80 80', false],
  ['f5 80 80 80', false],
  ['f8 88 80 80 80', false],
  ['fc 84 80 80 80 80', false],
  ['fe', false],
  ['ff', false],
  ['41 f0 9f 98 80 42 e2 82 ac 43', true],
];

/** Random byte strings biased towards UTF-8 boundaries (uniform bytes are almost never valid). */
function utf8ish(rng: Rng): Uint8Array {
  const out: number[] = [];
  const n = rng.int(12);
  const interesting = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
  for (let i = 0; i < n; i++) {
    switch (rng.int(5)) {
      case 0: // a valid code point
        out.push(
          ...new TextEncoder().encode(
            String.fromCodePoint(rng.pick([rng.int(0x80), rng.int(0x800), rng.int(0xd800), 0xe000 + rng.int(0x2000), 0x10000 + rng.int(0x100000)])),
          ),
        );
        break;
      case 1: // a lead byte with random continuation bytes
        out.push(rng.range(0xc0, 0xff), ...Array.from({ length: rng.int(4) }, () => rng.range(0x80, 0xbf)));
        break;
      case 2:
        out.push(rng.pick(interesting));
        break;
      case 3: // an encoded code point with one byte replaced
        {
          const bytes = [...new TextEncoder().encode(String.fromCodePoint(0x80 + rng.int(0x10ff80 - 0x800)))];
          bytes[rng.int(bytes.length)] = rng.pick(interesting);
          out.push(...bytes);
        }
        break;
      default:
        out.push(rng.int(256));
    }
  }
  return new Uint8Array(out);
}

describe('isValidUtf8', () => {
  test.each(UTF8_EDGES.map(([h, valid]) => [h || '(empty)', h, valid] as const))('%s', (_label, h, valid) => {
    const bytes = fromHex(h);
    expect(utf8Valid(bytes), 'TextDecoder agrees with the table').toBe(valid);
    expect(isValidUtf8(bytes, 0, bytes.length)).toBe(valid);
  });

  test('agrees with TextDecoder(fatal) on 20,000 random byte strings', () => {
    const seed = Rng.derive(BASE_SEED, 'utf8');
    const rng = new Rng(seed);
    let valid = 0;
    for (let i = 0; i < 20_000; i++) {
      const bytes = i % 4 === 0 ? rng.bytes(rng.int(8)) : utf8ish(rng);
      const expected = utf8Valid(bytes);
      if (expected) valid++;
      withSeed(seed, `case ${i} (${hex(bytes)})`, () => expect(isValidUtf8(bytes, 0, bytes.length)).toBe(expected));
    }
    // Both outcomes must be well represented, or the comparison proves little.
    expect(valid).toBeGreaterThan(2_000);
    expect(valid).toBeLessThan(18_000);
  });

  test('respects start and end: bytes outside the range are not read', () => {
    const seed = Rng.derive(BASE_SEED, 'utf8 ranges');
    const rng = new Rng(seed);
    for (let i = 0; i < 5_000; i++) {
      const bytes = utf8ish(rng);
      const start = rng.int(bytes.length + 1);
      const end = rng.range(start, bytes.length);
      withSeed(seed, `case ${i} (${hex(bytes)} [${start}, ${end}))`, () => expect(isValidUtf8(bytes, start, end)).toBe(utf8Valid(bytes.subarray(start, end))));
    }
    // A sequence cut by `end` is invalid even though the following bytes would complete it.
    const euro = fromHex('e2 82 ac');
    expect(isValidUtf8(euro, 0, 3)).toBe(true);
    expect(isValidUtf8(euro, 0, 2)).toBe(false);
    expect(isValidUtf8(euro, 1, 3)).toBe(false);
    expect(isValidUtf8(fromHex('41 e2 82 ac'), 0, 1)).toBe(true);
  });
});
