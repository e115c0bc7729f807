import * as flatbuffers from 'flatbuffers';
import { describe, expect, test } from 'vitest';
import { ClientBody } from '../../src/protocol/generated/chat/wire/client-body.js';
import { ClientFrame } from '../../src/protocol/generated/chat/wire/client-frame.js';
import { ServerBody } from '../../src/protocol/generated/chat/wire/server-body.js';
import {
  type ClientRequest,
  ErrorCode,
  type ErrorCodeName,
  MEMBER_PAGE_SIZE,
  type MemberInfo,
  PROTOCOL_VERSION,
  type ServerEvent,
  encodeMemberPage,
  encodePresence,
} from '../../src/protocol/index.js';
import {
  BASE_SEED,
  CLIENT_SAMPLES,
  MAX_U32,
  Rng,
  SERVER_SAMPLES,
  assertClientRequest,
  assertServerEvent,
  bodyTable,
  bodyTypePos,
  decodeClientFrame,
  decodeServerFrame,
  encodeClientRequest,
  encodeServerEvent,
  fieldPos,
  hex,
  outcome,
  randomClientRequest,
  randomServerEvent,
  readU16,
  readU32,
  rootTable,
  sampleFrames,
  withSeed,
} from './helpers.js';

const v = PROTOCOL_VERSION;

const UNICODE_TEXTS: readonly string[] = [
  'plain ascii',
  '👋🏽 waving, 👨‍👩‍👧‍👦 family (ZWJ), 🇩🇪 flag, 🏳️‍🌈',
  '你好，世界。日本語のテキスト。한국어 텍스트',
  'e\u0301 a\u0308 o\u0302\u0323 Z\u0324\u0354\u0367\u0311\u0313', // combining marks
  'مرحبا بالعالم • שלום עולם', // right to left
  '\u{10FFFF}\u{10000}\uFFFD\uFFFF\u0080\u07FF\u0800', // boundaries of each UTF-8 length
  'zero\u0000width\u200Bjoiner\u200D and an inner NUL',
  'x\uFEFF', // U+FEFF not at the start
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 '.repeat(50),
];

function roundTripClient(request: ClientRequest): void {
  const bytes = encodeClientRequest(request);
  const decoded = decodeClientFrame(bytes);
  expect(decoded, `client frame ${hex(bytes)}`).toStrictEqual(request);
  assertClientRequest(decoded);
}

function roundTripServer(event: ServerEvent): void {
  const bytes = encodeServerEvent(event);
  const decoded = decodeServerFrame(bytes);
  expect(decoded, `server frame ${hex(bytes)}`).toStrictEqual(event);
  assertServerEvent(decoded);
}

describe('client requests round trip', () => {
  test.each(CLIENT_SAMPLES.map((s) => [s.name, s.value] as const))('%s', (_name, request) => roundTripClient(request));

  test('join distinguishes since null from since 0', () => {
    const absent = decodeClientFrame(encodeClientRequest({ type: 'join', requestId: 1, room: 'r', nickname: 'n', since: null, protocolVersion: v }));
    const zero = decodeClientFrame(encodeClientRequest({ type: 'join', requestId: 1, room: 'r', nickname: 'n', since: 0, protocolVersion: v }));
    expect(absent).toMatchObject({ type: 'join', since: null });
    expect(zero).toMatchObject({ type: 'join', since: 0 });
  });

  test.each([0, 1, 2 ** 31 - 1, 2 ** 31, MAX_U32 - 1, MAX_U32])('request id %d is preserved by every request type', (requestId) => {
    roundTripClient({ type: 'join', requestId, room: 'r', nickname: 'n', since: 5, protocolVersion: v });
    roundTripClient({ type: 'join', requestId, room: 'r', nickname: 'n', since: 5, epoch: 1_795_686_000_000_123, protocolVersion: v });
    roundTripClient({ type: 'leave', requestId, room: 'r' });
    roundTripClient({ type: 'say', requestId, room: 'r', text: 't', to: null });
    roundTripClient({ type: 'say', requestId, room: 'r', text: 't', to: 'someone' });
    roundTripClient({ type: 'members', requestId, room: 'r', after: '', prefix: '', limit: 0 });
    roundTripClient({ type: 'members', requestId, room: 'r', after: 'a', prefix: 'p', limit: MEMBER_PAGE_SIZE });
  });
});

describe('join protocol version', () => {
  const join = (protocolVersion: number): Extract<ClientRequest, { type: 'join' }> => ({
    type: 'join',
    requestId: 1,
    room: 'r',
    nickname: 'n',
    since: null,
    protocolVersion,
  });

  test.each([1, 2, PROTOCOL_VERSION, 3, 0x7fff, 0x8000, 0xfffe, 0xffff])('protocol version %d round trips', (protocolVersion) => {
    roundTripClient(join(protocolVersion));
    roundTripClient({ ...join(protocolVersion), since: 0, epoch: 9, token: 'tok' });
  });

  test('PROTOCOL_VERSION is 2', () => {
    expect(PROTOCOL_VERSION).toBe(2);
  });

  test('every non-zero version is written on the wire as Join slot 4 (u16)', () => {
    for (const protocolVersion of [1, PROTOCOL_VERSION, 0xffff]) {
      const bytes = encodeClientRequest(join(protocolVersion));
      const pos = fieldPos(bytes, bodyTable(bytes), 4);
      expect(pos, `version ${protocolVersion}: ${hex(bytes)}`).not.toBe(0);
      expect(readU16(bytes, pos)).toBe(protocolVersion);
    }
  });

  test('0 on the wire (the field left out, as a protocol 1 client does) decodes as 1', () => {
    // The encoder, like any FlatBuffers builder, leaves a field at its default (0) out.
    const bytes = encodeClientRequest(join(0));
    expect(fieldPos(bytes, bodyTable(bytes), 4)).toBe(0);
    expect(decodeClientFrame(bytes)).toStrictEqual(join(1));
  });

  test('0 written explicitly (forceDefaults) decodes as 1', () => {
    const b = new flatbuffers.Builder(64);
    b.forceDefaults(true);
    const room = b.createString('r');
    const nickname = b.createString('n');
    b.startObject(5);
    b.addFieldOffset(0, room, 0);
    b.addFieldOffset(1, nickname, 0);
    b.addFieldInt16(4, 0, 0);
    const body = b.endObject();
    b.finish(ClientFrame.createClientFrame(b, 1, ClientBody.Join, body));
    const bytes = b.asUint8Array().slice();
    const pos = fieldPos(bytes, bodyTable(bytes), 4);
    expect(pos).not.toBe(0);
    expect(readU16(bytes, pos)).toBe(0);
    expect(decodeClientFrame(bytes)).toStrictEqual(join(1));
  });

  test('a protocol 1 Join (a 4-slot table, as protocol 1 clients build it) decodes as protocol 1', () => {
    const b = new flatbuffers.Builder(64);
    const room = b.createString('lobby');
    const nickname = b.createString('old');
    const token = b.createString('t.o.k');
    b.startObject(4); // room, nickname, since, token: the protocol 1 schema
    b.addFieldOffset(0, room, 0);
    b.addFieldOffset(1, nickname, 0);
    b.addFieldOffset(3, token, 0);
    const body = b.endObject();
    b.finish(ClientFrame.createClientFrame(b, 8, ClientBody.Join, body));
    const bytes = b.asUint8Array().slice();
    expect(decodeClientFrame(bytes)).toStrictEqual({
      type: 'join',
      requestId: 8,
      room: 'lobby',
      nickname: 'old',
      since: null,
      token: 't.o.k',
      protocolVersion: 1,
    });
  });
});

describe('members requests', () => {
  const members = (limit: number, after = '', prefix = ''): ClientRequest => ({ type: 'members', requestId: 3, room: 'lobby', after, prefix, limit });

  test.each([0, 1, MEMBER_PAGE_SIZE - 1, MEMBER_PAGE_SIZE, MEMBER_PAGE_SIZE + 1, 0x7fff, 0x8000, 0xffff])('limit %d round trips', (limit) => {
    roundTripClient(members(limit));
    roundTripClient(members(limit, 'next', 'pre'));
  });

  test('empty after and prefix decode as empty strings, whether written or absent', () => {
    const written = encodeClientRequest(members(0));
    for (const slot of [1, 2]) expect(fieldPos(written, bodyTable(written), slot), `slot ${slot}`).not.toBe(0);
    expect(decodeClientFrame(written)).toStrictEqual(members(0));
    const b = new flatbuffers.Builder(64);
    const room = b.createString('lobby');
    b.startObject(4);
    b.addFieldOffset(0, room, 0);
    const body = b.endObject();
    b.finish(ClientFrame.createClientFrame(b, 3, ClientBody.Members, body));
    expect(decodeClientFrame(b.asUint8Array().slice())).toStrictEqual(members(0));
  });

  test('the body type is ClientBody.Members (4)', () => {
    const bytes = encodeClientRequest(members(5));
    expect(bytes[bodyTypePos(bytes)]).toBe(ClientBody.Members);
    expect(ClientBody.Members).toBe(4);
  });
});

describe('server frames round trip', () => {
  test.each(SERVER_SAMPLES.map((s) => [s.name, s.value] as const))('%s', (_name, event) => roundTripServer(event));

  test.each([0, 1, 2 ** 31 - 1, 2 ** 31, MAX_U32 - 1, MAX_U32])('request id %d is preserved by every reply type', (requestId) => {
    roundTripServer({
      type: 'joined',
      requestId,
      room: 'r',
      you: { id: 'a', name: 'b' },
      members: [],
      history: [],
      headSeq: 1,
      recovered: false,
      epoch: 7,
      memberCount: 1,
      nextAfter: '',
    });
    roundTripServer({ type: 'left', requestId, room: 'r' });
    roundTripServer({ type: 'sent', requestId, room: 'r', seq: 3 });
    roundTripServer({ type: 'error', requestId, code: 'NotJoined', message: 'm', room: null, temporary: false });
    roundTripServer({ type: 'memberPage', requestId, room: 'r', members: [], nextAfter: '', memberCount: 0 });
    roundTripServer({ type: 'memberPage', requestId, room: 'r', members: [{ id: 'a', name: 'b' }], nextAfter: 'b', memberCount: 2 });
  });

  test('ErrorCode has 17 codes: UnsupportedVersion = 13, JoinCancelled = 14, RoomLimit = 15, NicknameLost = 16 the newest', () => {
    const names = Object.keys(ErrorCode).filter((k) => Number.isNaN(Number(k)));
    expect(ErrorCode.UnsupportedVersion).toBe(13);
    expect(ErrorCode.JoinCancelled).toBe(14);
    expect(ErrorCode.RoomLimit).toBe(15);
    expect(ErrorCode.NicknameLost).toBe(16);
    expect(names.length).toBe(17);
  });

  test('the protocol 2 error codes round trip', () => {
    for (const code of ['Unauthorized', 'UnsupportedVersion', 'JoinCancelled', 'RoomLimit', 'NicknameLost'] as const satisfies readonly ErrorCodeName[]) {
      for (const room of [null, '', 'lobby']) {
        for (const temporary of [true, false]) {
          roundTripServer({ type: 'error', requestId: 3, code, message: `failed: ${code}`, room, temporary });
        }
      }
    }
  });

  test('every error code round trips, with and without room, temporary true and false', () => {
    const codes = [
      'Unknown',
      'InvalidRoomName',
      'InvalidNickname',
      'NicknameTaken',
      'AlreadyJoined',
      'TooManyRooms',
      'NotJoined',
      'InvalidText',
      'RecipientNotFound',
      'RateLimited',
      'Unavailable',
      'Internal',
    ] as const;
    for (const code of codes) {
      for (const room of [null, '', 'lobby']) {
        for (const temporary of [true, false]) {
          roundTripServer({ type: 'error', requestId: 3, code, message: `failed: ${code}`, room, temporary });
        }
      }
    }
  });

  test('a private message in joined history keeps its recipient; room messages have to: null', () => {
    const joined = SERVER_SAMPLES.find((s) => s.value.type === 'joined' && s.value.history.length > 0)!.value;
    const decoded = decodeServerFrame(encodeServerEvent(joined));
    if (decoded.type !== 'joined') throw new Error(`expected joined, got ${decoded.type}`);
    expect(decoded.history.map((m) => m.to)).toStrictEqual([null, { id: 'c-alice-1', name: 'alice' }, null]);
    expect(decoded.history[1]).toMatchObject({ seq: 0 });
  });

  test('u32 member counts round trip exactly, 0 to 2^32 - 1', () => {
    const m = { id: 'a', name: 'b' };
    for (const memberCount of [0, 1, MEMBER_PAGE_SIZE, 2 ** 31 - 1, 2 ** 31, MAX_U32 - 1, MAX_U32]) {
      roundTripServer({ type: 'memberPage', requestId: 1, room: 'r', members: [m], nextAfter: '', memberCount });
      roundTripServer({ type: 'presence', room: 'r', joined: [], left: [], memberCount });
      roundTripServer({
        type: 'joined',
        requestId: 1,
        room: 'r',
        you: m,
        members: [m],
        history: [],
        headSeq: 0,
        recovered: false,
        epoch: 0,
        memberCount,
        nextAfter: 'b',
      });
    }
  });

  test('u64 fields round trip exactly up to 2^53 - 1', () => {
    for (const n of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 52, Number.MAX_SAFE_INTEGER]) {
      roundTripServer({ type: 'sent', requestId: 1, room: 'r', seq: n });
      roundTripServer({ type: 'message', room: 'r', seq: n, sender: { id: 'a', name: 'b' }, to: null, text: '', timestampMs: n });
    }
  });
});

describe('member pages and presence', () => {
  const member = (i: number): MemberInfo => ({ id: `c-${i}`, name: `member ${i} 🎉` });
  const many = (n: number): MemberInfo[] => Array.from({ length: n }, (_, i) => member(i));

  test('a full page (MEMBER_PAGE_SIZE members) round trips in MemberPage and in Joined, order kept', () => {
    roundTripServer({ type: 'memberPage', requestId: 4, room: 'big', members: many(MEMBER_PAGE_SIZE), nextAfter: member(99).name, memberCount: 12_345 });
    roundTripServer({
      type: 'joined',
      requestId: 4,
      room: 'big',
      you: member(0),
      members: many(MEMBER_PAGE_SIZE),
      history: [],
      headSeq: 0,
      recovered: false,
      epoch: 1,
      memberCount: 12_345,
      nextAfter: member(99).name,
    });
  });

  test('presence lists keep their order and duplicates, joined and left independent', () => {
    const a = member(1);
    const b = member(2);
    roundTripServer({ type: 'presence', room: 'r', joined: [b, a, b], left: [a, a], memberCount: 2 });
    roundTripServer({ type: 'presence', room: 'r', joined: many(50), left: many(50).reverse(), memberCount: 50 });
    const decoded = decodeServerFrame(encodePresence({ room: 'r', joined: [a], left: [b], memberCount: 1 }));
    expect(decoded).toStrictEqual({ type: 'presence', room: 'r', joined: [a], left: [b], memberCount: 1 });
  });

  test('encodePresence writes request id 0; a Presence with another request id decodes the same', () => {
    const info = { room: 'lobby', joined: [member(1)], left: [], memberCount: 1 };
    const bytes = encodePresence(info);
    expect(bytes[bodyTypePos(bytes)]).toBe(ServerBody.Presence);
    const idAt = fieldPos(bytes, rootTable(bytes), 0);
    expect(idAt === 0 ? 0 : readU32(bytes, idAt)).toBe(0);
    const b = new flatbuffers.Builder(64);
    const room = b.createString('lobby');
    const m = b.createString('c-1');
    const n = b.createString('member 1 🎉');
    b.startObject(2);
    b.addFieldOffset(0, m, 0);
    b.addFieldOffset(1, n, 0);
    const memberTable = b.endObject();
    b.startVector(4, 1, 4);
    b.addOffset(memberTable);
    const joined = b.endVector();
    b.startObject(4);
    b.addFieldOffset(0, room, 0);
    b.addFieldOffset(1, joined, 0);
    b.addFieldInt32(3, 1, 0);
    const body = b.endObject();
    b.startObject(3);
    b.addFieldInt32(0, 77, 0);
    b.addFieldInt8(1, ServerBody.Presence, 0);
    b.addFieldOffset(2, body, 0);
    b.finish(b.endObject());
    expect(decodeServerFrame(b.asUint8Array().slice())).toStrictEqual({ type: 'presence', ...info });
  });

  test('encodeMemberPage and encodePresence are what the test encoder uses', () => {
    const page = { room: 'r', members: many(3), nextAfter: 'x', memberCount: 9 };
    expect(encodeMemberPage(5, page)).toStrictEqual(encodeServerEvent({ type: 'memberPage', requestId: 5, ...page }));
    const presence = { room: 'r', joined: many(2), left: many(1), memberCount: 2 };
    expect(encodePresence(presence)).toStrictEqual(encodeServerEvent({ type: 'presence', ...presence }));
  });

  test('absent vectors, strings and counts decode as empty and 0', () => {
    const table = (slots: number, type: ServerBody, write: (b: flatbuffers.Builder) => void): Uint8Array => {
      const b = new flatbuffers.Builder(64);
      const room = b.createString('r');
      b.startObject(slots);
      b.addFieldOffset(0, room, 0);
      write(b);
      const body = b.endObject();
      b.startObject(3);
      b.addFieldInt32(0, 6, 0);
      b.addFieldInt8(1, type, 0);
      b.addFieldOffset(2, body, 0);
      b.finish(b.endObject());
      return b.asUint8Array().slice();
    };
    expect(decodeServerFrame(table(4, ServerBody.MemberPage, () => undefined))).toStrictEqual({
      type: 'memberPage',
      requestId: 6,
      room: 'r',
      members: [],
      nextAfter: '',
      memberCount: 0,
    });
    expect(decodeServerFrame(table(4, ServerBody.Presence, () => undefined))).toStrictEqual({
      type: 'presence',
      room: 'r',
      joined: [],
      left: [],
      memberCount: 0,
    });
    // A protocol 1 Joined (7 slots): no member_count, no next_after.
    expect(decodeServerFrame(table(7, ServerBody.Joined, () => undefined))).toStrictEqual({
      type: 'joined',
      requestId: 6,
      room: 'r',
      you: { id: '', name: '' },
      members: [],
      history: [],
      headSeq: 0,
      recovered: false,
      epoch: 0,
      memberCount: 0,
      nextAfter: '',
    });
  });

  test('the body types are ServerBody.MemberPage (9) and ServerBody.Presence (10)', () => {
    const page = encodeMemberPage(1, { room: 'r', members: [], nextAfter: '', memberCount: 0 });
    const presence = encodePresence({ room: 'r', joined: [], left: [], memberCount: 0 });
    expect([page[bodyTypePos(page)], presence[bodyTypePos(presence)]]).toStrictEqual([ServerBody.MemberPage, ServerBody.Presence]);
    expect([ServerBody.MemberPage, ServerBody.Presence]).toStrictEqual([9, 10]);
  });
});

describe('unicode text', () => {
  test.each(UNICODE_TEXTS.map((t) => [JSON.stringify(t).slice(0, 40), t] as const))('round trips %s', (_label, text) => {
    roundTripClient({ type: 'say', requestId: 1, room: text, text, to: text });
    roundTripClient({ type: 'join', requestId: 1, room: text, nickname: text, since: null, protocolVersion: v });
    roundTripClient({ type: 'members', requestId: 1, room: text, after: text, prefix: text, limit: 1 });
    const m = { id: text, name: text };
    roundTripServer({ type: 'memberPage', requestId: 1, room: text, members: [m, m], nextAfter: text, memberCount: 2 });
    roundTripServer({ type: 'presence', room: text, joined: [m], left: [m], memberCount: 1 });
    roundTripServer({
      type: 'joined',
      requestId: 1,
      room: text,
      you: m,
      members: [m],
      history: [],
      headSeq: 0,
      recovered: false,
      epoch: 0,
      memberCount: 1,
      nextAfter: text,
    });
    roundTripServer({ type: 'message', room: text, seq: 1, sender: { id: text, name: text }, to: { id: text, name: text }, text, timestampMs: 2 });
    roundTripServer({ type: 'error', requestId: 1, code: 'InvalidText', message: text, room: text, temporary: false });
    roundTripServer({
      type: 'welcome',
      connectionId: text,
      protocolVersion: 1,
      maxFrameBytes: 1,
      maxRooms: 1,
      maxTextChars: 1,
      idleTimeoutSeconds: 1,
      rateLimitPerSecond: 1,
      rateBurst: 1,
    });
  });

  // A TextDecoder without ignoreBOM would strip a leading U+FEFF from every string.
  test('a string starting with U+FEFF round trips unchanged', () => {
    roundTripClient({ type: 'say', requestId: 1, room: 'lobby', text: '\uFEFFhi', to: null });
  });
});

describe('random values round trip', () => {
  test('2,000 random client requests and 2,000 random server events', () => {
    const seed = Rng.derive(BASE_SEED, 'codec random round trips');
    const rng = new Rng(seed);
    for (let i = 0; i < 2000; i++) {
      const request = randomClientRequest(rng);
      withSeed(seed, `client case ${i}: ${JSON.stringify(request)}`, () => roundTripClient(request));
      const event = randomServerEvent(rng);
      withSeed(seed, `server case ${i}: ${JSON.stringify(event)}`, () => roundTripServer(event));
    }
  });
});

describe('frames decoded in the wrong direction', () => {
  const frames = sampleFrames();

  test.each(frames.map((f) => [f.name, f] as const))('%s: ProtocolError or a correctly typed object', (_name, frame) => {
    const decode: (b: Uint8Array) => unknown = frame.direction === 'client' ? decodeServerFrame : decodeClientFrame;
    const check: (v: unknown) => void = frame.direction === 'client' ? assertServerEvent : assertClientRequest;
    const result = outcome(decode, frame.bytes);
    if (result.ok) check(result.value);
  });

  test('a client Join read as a server frame is rejected or read as the Welcome its bytes describe', () => {
    // ClientBody.Join = 1 = ServerBody.Welcome: slot 0 (Join.room) is Welcome.connection_id.
    const bytes = encodeClientRequest({ type: 'join', requestId: 1, room: 'lobby', nickname: 'n', since: null, protocolVersion: v });
    const result = outcome(decodeServerFrame, bytes);
    if (result.ok) expect(result.value).toMatchObject({ type: 'welcome', connectionId: 'lobby' });
  });

  test('a client Members read as a server frame is rejected or read as a MemberLeft', () => {
    // ClientBody.Members = 4 = ServerBody.MemberLeft: slot 1 (Members.after, a string) is MemberLeft.member (a table).
    for (const after of ['', 'bob', 'x'.repeat(40)]) {
      const bytes = encodeClientRequest({ type: 'members', requestId: 1, room: 'lobby', after, prefix: 'p', limit: 3 });
      const result = outcome(decodeServerFrame, bytes);
      if (result.ok) {
        expect(result.value).toMatchObject({ type: 'memberLeft', room: 'lobby' });
        assertServerEvent(result.value);
      }
    }
  });

  test('a server MemberPage or Presence read as a client frame is rejected (no client body type 9 or 10)', () => {
    for (const bytes of [
      encodeMemberPage(1, { room: 'r', members: [], nextAfter: '', memberCount: 0 }),
      encodePresence({ room: 'r', joined: [], left: [], memberCount: 0 }),
    ]) {
      const result = outcome(decodeClientFrame, bytes);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.code).toBe('UNKNOWN_BODY');
    }
  });
});

describe('buffers', () => {
  test('decodes frames that are views at an odd offset into a larger buffer', () => {
    for (const frame of sampleFrames()) {
      const big = new Uint8Array(frame.bytes.length + 11).fill(0xee);
      big.set(frame.bytes, 7);
      const view = big.subarray(7, 7 + frame.bytes.length);
      const decode = frame.direction === 'client' ? decodeClientFrame : decodeServerFrame;
      expect(decode(view), frame.name).toStrictEqual(decode(frame.bytes));
    }
  });

  test('each encode returns a fresh buffer that later encodes do not overwrite', () => {
    const first = encodeClientRequest({ type: 'leave', requestId: 1, room: 'first' });
    const copy = first.slice();
    encodeClientRequest({ type: 'leave', requestId: 2, room: 'second-and-longer' });
    expect(first).toStrictEqual(copy);
    expect(decodeClientFrame(first)).toStrictEqual({ type: 'leave', requestId: 1, room: 'first' });
  });

  test('decoding does not modify the input', () => {
    for (const frame of sampleFrames()) {
      const before = frame.bytes.slice();
      outcome(decodeClientFrame, frame.bytes);
      outcome(decodeServerFrame, frame.bytes);
      expect(frame.bytes, frame.name).toStrictEqual(before);
    }
  });
});
