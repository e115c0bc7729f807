/**
 * Mutation fuzzing of both decoders. For every input, each decoder must either return
 * a complete, correctly typed object or throw a ProtocolError (closeCode 1007); and an
 * object that a mutated frame decodes to must survive encode -> decode unchanged.
 *
 * Deterministic: every category draws from a mulberry32 stream seeded from BASE_SEED
 * (set PROTOCOL_TEST_SEED to explore others); failures name the seed and the case.
 */
import { isDeepStrictEqual } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import {
  BASE_SEED,
  type Frame,
  Rng,
  assertClientRequest,
  assertServerEvent,
  bodyTypePos,
  decodeClientFrame,
  decodeServerFrame,
  encodeClientRequest,
  encodeServerEvent,
  hex,
  outcome,
  randomClientRequest,
  randomServerEvent,
  sampleFrames,
  writeU16,
  writeU32,
} from './helpers.js';

const TIMEOUT_MS = 20_000;
const CLIENT_BODY_TYPES = 3;
const SERVER_BODY_TYPES = 8;

const CORPUS_SEED = Rng.derive(BASE_SEED, 'fuzz corpus');
/** Sample frames plus random valid frames of every type. */
const corpus: readonly Frame[] = (() => {
  const rng = new Rng(CORPUS_SEED);
  const frames = sampleFrames();
  for (let i = 0; i < 24; i++) {
    frames.push({ name: `random client ${i}`, direction: 'client', bytes: encodeClientRequest(randomClientRequest(rng)) });
    frames.push({ name: `random server ${i}`, direction: 'server', bytes: encodeServerEvent(randomServerEvent(rng)) });
  }
  return frames;
})();
const samples = sampleFrames();

interface Stats {
  cases: number;
  accepted: number;
  codes: Map<string, number>;
}

let executed = 0;
const allStats: Stats[] = [];

function newStats(): Stats {
  const stats: Stats = { cases: 0, accepted: 0, codes: new Map() };
  allStats.push(stats);
  return stats;
}

// PROTOCOL_FUZZ_STATS=1 prints how the cases were decided (to see that mutations reach deep).
afterAll(() => {
  if (!process.env['PROTOCOL_FUZZ_STATS']) return;
  for (const s of allStats) console.log(`${s.cases} cases, ${s.accepted} decodes accepted, rejected:`, Object.fromEntries(s.codes));
  console.log(`total ${executed} cases (seed ${BASE_SEED})`);
});

/**
 * Decodes `bytes` both ways and checks the contract. Returns the ProtocolError codes
 * (or 'ok') of [client, server] so that callers can make sharper assertions.
 */
function check(bytes: Uint8Array, stats: Stats, seed: number | null, what: string): [string, string] {
  stats.cases++;
  executed++;
  try {
    const client = outcome(decodeClientFrame, bytes);
    if (client.ok) {
      assertClientRequest(client.value);
      const again = decodeClientFrame(encodeClientRequest(client.value));
      if (!isDeepStrictEqual(again, client.value)) {
        throw new Error(`client re-encode changed ${JSON.stringify(client.value)} into ${JSON.stringify(again)}`);
      }
    }
    const server = outcome(decodeServerFrame, bytes);
    if (server.ok) {
      assertServerEvent(server.value);
      const again = decodeServerFrame(encodeServerEvent(server.value));
      if (!isDeepStrictEqual(again, server.value)) {
        throw new Error(`server re-encode changed ${JSON.stringify(server.value)} into ${JSON.stringify(again)}`);
      }
    }
    const codes: [string, string] = [client.ok ? 'ok' : client.error.code, server.ok ? 'ok' : server.error.code];
    for (const code of codes) {
      if (code === 'ok') stats.accepted++;
      else stats.codes.set(code, (stats.codes.get(code) ?? 0) + 1);
    }
    return codes;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const origin = seed === null ? '[exhaustive, no randomness]' : `[seed=${seed}, PROTOCOL_TEST_SEED=${BASE_SEED}]`;
    throw new Error(`${origin} ${what}: ${message}\n  input: ${hex(bytes)}`);
  }
}

function flipBit(bytes: Uint8Array, bit: number): void {
  bytes[bit >> 3]! ^= 1 << (bit & 7);
}

describe('fuzz: decoders return a complete object or throw ProtocolError', () => {
  test('random byte arrays, lengths 0..512', { timeout: TIMEOUT_MS }, () => {
    const seed = Rng.derive(BASE_SEED, 'random bytes');
    const rng = new Rng(seed);
    const stats = newStats();
    for (let i = 0; i < 25_000; i++) {
      let length = rng.int(513);
      if (rng.bool()) length -= length % 4; // mostly not rejected by the length check alone
      const bytes = rng.bytes(length);
      // Sometimes make the root offset plausible so that the walk goes deeper.
      if (length >= 8 && rng.bool(0.5)) writeU32(bytes, 0, 4 * rng.range(1, Math.max(1, (length >> 2) - 1)));
      check(bytes, stats, seed, `random case ${i}`);
    }
    expect(stats.cases).toBe(25_000);
  });

  test('every single bit flip of every sample frame', { timeout: TIMEOUT_MS }, () => {
    const stats = newStats();
    for (const frame of samples) {
      for (let bit = 0; bit < frame.bytes.length * 8; bit++) {
        const bytes = frame.bytes.slice();
        flipBit(bytes, bit);
        check(bytes, stats, null, `${frame.name} with bit ${bit} flipped`);
      }
    }
    // The mutations must reach past the first check: some survive, many kinds of fault are found.
    expect(stats.accepted).toBeGreaterThan(0);
    expect([...stats.codes.keys()].sort()).toEqual(expect.arrayContaining(['BAD_OFFSET', 'BAD_UTF8', 'FRAME_TRUNCATED', 'UNKNOWN_BODY']));
  });

  test('multi bit flips', { timeout: TIMEOUT_MS }, () => {
    const seed = Rng.derive(BASE_SEED, 'multi bit flips');
    const rng = new Rng(seed);
    const stats = newStats();
    for (let i = 0; i < 20_000; i++) {
      const frame = rng.pick(corpus);
      const bytes = frame.bytes.slice();
      const flips = rng.range(2, 16);
      for (let k = 0; k < flips; k++) flipBit(bytes, rng.int(bytes.length * 8));
      check(bytes, stats, seed, `case ${i}: ${flips} bit flips of ${frame.name}`);
    }
    expect(stats.accepted).toBeGreaterThan(0);
  });

  test('byte splices between valid frames', { timeout: TIMEOUT_MS }, () => {
    const seed = Rng.derive(BASE_SEED, 'splices');
    const rng = new Rng(seed);
    const stats = newStats();
    for (let i = 0; i < 15_000; i++) {
      const into = rng.pick(corpus).bytes;
      const from = rng.pick(corpus).bytes;
      const start = rng.int(from.length);
      const length = rng.range(1, Math.min(64, from.length - start));
      const chunk = from.subarray(start, start + length);
      let bytes: Uint8Array;
      if (rng.bool(0.7)) {
        // Overwrite in place (keeps the length, usually at the same alignment).
        const at = rng.bool() ? start % into.length : rng.int(into.length);
        bytes = into.slice();
        bytes.set(chunk.subarray(0, Math.min(chunk.length, bytes.length - at)), at);
      } else {
        // Replace a range with the chunk (changes the length and shifts the rest).
        const at = rng.int(into.length + 1);
        const drop = rng.int(Math.min(64, into.length - at) + 1);
        bytes = new Uint8Array(into.length - drop + chunk.length);
        bytes.set(into.subarray(0, at));
        bytes.set(chunk, at);
        bytes.set(into.subarray(at + drop), at + chunk.length);
      }
      check(bytes, stats, seed, `splice case ${i}`);
    }
    expect(stats.accepted).toBeGreaterThan(0);
  });

  test('huge and boundary values in every aligned word and half-word', { timeout: TIMEOUT_MS }, () => {
    const seed = Rng.derive(BASE_SEED, 'huge lengths');
    const rng = new Rng(seed);
    const stats = newStats();
    for (const frame of samples) {
      const n = frame.bytes.length;
      for (let at = 0; at + 4 <= n; at += 4) {
        for (const value of [0xffffffff, 0x7fffffff, 0x80000000, 0x0001_86a1, n, n - 4, rng.u32()]) {
          const bytes = frame.bytes.slice();
          writeU32(bytes, at, value);
          check(bytes, stats, seed, `${frame.name} with u32 ${value.toString(16)} at ${at}`);
        }
      }
      // vtable entries are 16-bit: sizes and field offsets.
      for (let at = 0; at + 2 <= n; at += 2) {
        for (const value of [0xffff, 0x8000, 0x7fff, 0xfffe, 1]) {
          const bytes = frame.bytes.slice();
          writeU16(bytes, at, value);
          check(bytes, stats, seed, `${frame.name} with u16 ${value.toString(16)} at ${at}`);
        }
      }
    }
    for (let i = 0; i < 8_000; i++) {
      const frame = rng.pick(corpus);
      const bytes = frame.bytes.slice();
      const words = rng.range(1, 3);
      for (let k = 0; k < words; k++) {
        const at = 4 * rng.int(bytes.length >> 2);
        writeU32(bytes, at, rng.pick([0xffffffff, 0x7fffffff, 0x80000000, rng.u32(), rng.int(2 * bytes.length)]));
      }
      check(bytes, stats, seed, `random word case ${i} of ${frame.name}`);
    }
    expect(stats.codes.get('VECTOR_TOO_LONG') ?? 0).toBeGreaterThan(0);
    expect(stats.codes.get('BAD_OFFSET') ?? 0).toBeGreaterThan(0);
  });

  test('union type byte set to every value', { timeout: TIMEOUT_MS }, () => {
    const seed = CORPUS_SEED; // the corpus holds random valid frames
    const stats = newStats();
    for (const frame of corpus) {
      const typeAt = bodyTypePos(frame.bytes);
      for (let type = 0; type < 256; type++) {
        const bytes = frame.bytes.slice();
        bytes[typeAt] = type;
        const [client, server] = check(bytes, stats, seed, `${frame.name} with body type ${type}`);
        const expectFor = (code: string, members: number, which: string): void => {
          const want = type === 0 ? 'MISSING_BODY' : type > members ? 'UNKNOWN_BODY' : undefined;
          if (want !== undefined && code !== want) {
            throw new Error(`[seed=${seed}] ${frame.name} with body type ${type}: ${which} decoder gave ${code}, expected ${want}: ${hex(bytes)}`);
          }
        };
        expectFor(client, CLIENT_BODY_TYPES, 'client');
        expectFor(server, SERVER_BODY_TYPES, 'server');
      }
    }
    expect(stats.cases).toBe(corpus.length * 256);
  });

  test('ran at least 100,000 cases', () => {
    expect(executed).toBeGreaterThanOrEqual(100_000);
  });
});
