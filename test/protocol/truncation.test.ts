import { describe, expect, test } from 'vitest';
import { CLIENT_FRAME, SERVER_FRAME } from '../../src/protocol/index.js';
import type { TableSpec } from '../../src/protocol/verify.js';
import {
  BASE_SEED,
  bodyTypePos,
  type Frame,
  ProtocolError,
  Rng,
  assertClientRequest,
  assertServerEvent,
  decodeClientFrame,
  decodeServerFrame,
  hex,
  outcome,
  sampleFrames,
  withSeed,
} from './helpers.js';

const frames = sampleFrames();
const cases = frames.map((f) => [f.name, f] as const);

function decoderFor(frame: Frame): (b: Uint8Array) => unknown {
  return frame.direction === 'client' ? decodeClientFrame : decodeServerFrame;
}

function bodyTypes(spec: TableSpec): number[] {
  const union = spec.fields.find((f) => f.kind === 'unionType');
  if (union?.kind !== 'unionType') throw new Error(`${spec.name} has no union`);
  return union.members.map((_m, i) => i + 1);
}

test('the sample frames cover every body type of both directions (Members, MemberPage and Presence too)', () => {
  for (const [direction, spec] of [
    ['client', CLIENT_FRAME],
    ['server', SERVER_FRAME],
  ] as const) {
    const seen = new Set(frames.filter((f) => f.direction === direction).map((f) => f.bytes[bodyTypePos(f.bytes)]!));
    expect(
      [...seen].sort((a, b) => a - b),
      direction,
    ).toEqual(bodyTypes(spec));
  }
  // Empty and non-empty member vectors of the protocol 2 frames are among them.
  const names = frames.map((f) => f.name);
  expect(names).toEqual(
    expect.arrayContaining(['server memberPage empty', 'server memberPage more follow', 'server presence count only', 'server presence both']),
  );
});

describe('every truncation of a valid frame is a ProtocolError', () => {
  test.each(cases)('%s', (_name, frame) => {
    const decode = decoderFor(frame);
    // Sanity: the whole frame decodes, so the failures below are caused by the cut.
    expect(() => decode(frame.bytes)).not.toThrow();
    for (let i = 0; i < frame.bytes.length; i++) {
      const cut = frame.bytes.subarray(0, i);
      let thrown: unknown;
      let returned: unknown;
      try {
        returned = decode(cut);
      } catch (error) {
        thrown = error;
      }
      if (thrown === undefined) {
        throw new Error(`truncation to ${i}/${frame.bytes.length} bytes decoded as ${JSON.stringify(returned)}: ${hex(cut)}`);
      }
      if (!(thrown instanceof ProtocolError)) {
        throw new Error(`truncation to ${i} bytes threw ${String(thrown)} instead of a ProtocolError: ${hex(cut)}`);
      }
      expect(typeof thrown.code, `code at length ${i}`).toBe('string');
      expect(thrown.closeCode, `closeCode at length ${i}`).toBe(1007);
    }
  });

  test.each(cases)('%s, decoded in the wrong direction: ProtocolError or a typed object', (_name, frame) => {
    const decode: (b: Uint8Array) => unknown = frame.direction === 'client' ? decodeServerFrame : decodeClientFrame;
    const check: (v: unknown) => void = frame.direction === 'client' ? assertServerEvent : assertClientRequest;
    for (let i = 0; i < frame.bytes.length; i++) {
      const result = outcome(decode, frame.bytes.subarray(0, i));
      if (result.ok) check(result.value);
    }
  });

  test('truncated copies (not views) fail the same way', () => {
    for (const frame of frames) {
      const decode = decoderFor(frame);
      for (let i = 0; i < frame.bytes.length; i++) {
        const result = outcome(decode, frame.bytes.slice(0, i));
        expect(result.ok, `${frame.name} cut to ${i}`).toBe(false);
      }
    }
  });
});

describe('frames with trailing bytes', () => {
  test.each(cases)('%s: decodes to the same object or throws ProtocolError', (_name, frame) => {
    const seed = Rng.derive(BASE_SEED, `trailing ${frame.name}`);
    const rng = new Rng(seed);
    const decode = decoderFor(frame);
    const expected = decode(frame.bytes);
    for (let extra = 1; extra <= 32; extra++) {
      for (const fill of ['zeros', 'ones', 'random'] as const) {
        const tail = fill === 'zeros' ? new Uint8Array(extra) : fill === 'ones' ? new Uint8Array(extra).fill(0xff) : rng.bytes(extra);
        const longer = new Uint8Array(frame.bytes.length + extra);
        longer.set(frame.bytes);
        longer.set(tail, frame.bytes.length);
        withSeed(seed, `${extra} trailing ${fill} bytes`, () => {
          const result = outcome(decode, longer);
          // Trailing bytes are never referenced, so they cannot change what the frame means.
          if (result.ok) expect(result.value).toStrictEqual(expected);
        });
      }
    }
  });
});
