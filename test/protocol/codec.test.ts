import { describe, expect, test } from 'vitest';
import type { ClientRequest, ServerEvent } from '../../src/protocol/index.js';
import {
  BASE_SEED,
  CLIENT_SAMPLES,
  MAX_U32,
  Rng,
  SERVER_SAMPLES,
  assertClientRequest,
  assertServerEvent,
  decodeClientFrame,
  decodeServerFrame,
  encodeClientRequest,
  encodeServerEvent,
  hex,
  outcome,
  randomClientRequest,
  randomServerEvent,
  sampleFrames,
  withSeed,
} from './helpers.js';

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
    const absent = decodeClientFrame(encodeClientRequest({ type: 'join', requestId: 1, room: 'r', nickname: 'n', since: null }));
    const zero = decodeClientFrame(encodeClientRequest({ type: 'join', requestId: 1, room: 'r', nickname: 'n', since: 0 }));
    expect(absent).toMatchObject({ type: 'join', since: null });
    expect(zero).toMatchObject({ type: 'join', since: 0 });
  });

  test.each([0, 1, 2 ** 31 - 1, 2 ** 31, MAX_U32 - 1, MAX_U32])('request id %d is preserved by every request type', (requestId) => {
    roundTripClient({ type: 'join', requestId, room: 'r', nickname: 'n', since: 5 });
    roundTripClient({ type: 'join', requestId, room: 'r', nickname: 'n', since: 5, epoch: 1_795_686_000_000_123 });
    roundTripClient({ type: 'leave', requestId, room: 'r' });
    roundTripClient({ type: 'say', requestId, room: 'r', text: 't', to: null });
    roundTripClient({ type: 'say', requestId, room: 'r', text: 't', to: 'someone' });
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
    });
    roundTripServer({ type: 'left', requestId, room: 'r' });
    roundTripServer({ type: 'sent', requestId, room: 'r', seq: 3 });
    roundTripServer({ type: 'error', requestId, code: 'NotJoined', message: 'm', room: null, temporary: false });
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

  test('u64 fields round trip exactly up to 2^53 - 1', () => {
    for (const n of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 52, Number.MAX_SAFE_INTEGER]) {
      roundTripServer({ type: 'sent', requestId: 1, room: 'r', seq: n });
      roundTripServer({ type: 'message', room: 'r', seq: n, sender: { id: 'a', name: 'b' }, to: null, text: '', timestampMs: n });
    }
  });
});

describe('unicode text', () => {
  test.each(UNICODE_TEXTS.map((t) => [JSON.stringify(t).slice(0, 40), t] as const))('round trips %s', (_label, text) => {
    roundTripClient({ type: 'say', requestId: 1, room: text, text, to: text });
    roundTripClient({ type: 'join', requestId: 1, room: text, nickname: text, since: null });
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
    const bytes = encodeClientRequest({ type: 'join', requestId: 1, room: 'lobby', nickname: 'n', since: null });
    const result = outcome(decodeServerFrame, bytes);
    if (result.ok) expect(result.value).toMatchObject({ type: 'welcome', connectionId: 'lobby' });
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
