/**
 * The resume key fields added at the end of Join and Joined: they round-trip, they are
 * absent when empty (so an older peer's frames read the same), and a Join's key, which
 * the host only hashes and compares, is bounded in bytes.
 */
import { describe, expect, test } from 'vitest';
import {
  CloseCode,
  decodeClientFrame,
  decodeServerFrame,
  encodeClientRequest,
  encodeJoined,
  MAX_RESUME_KEY_BYTES,
  PROTOCOL_VERSION,
  ProtocolError,
  type ClientRequest,
} from '../../src/protocol/index.js';

const join = (resumeKey?: string): ClientRequest => ({
  type: 'join',
  requestId: 3,
  room: 'lobby',
  nickname: 'ann',
  since: 4,
  epoch: 9,
  protocolVersion: PROTOCOL_VERSION,
  ...(resumeKey === undefined ? {} : { resumeKey }),
});

const joined = {
  room: 'lobby',
  you: { id: 'n.1.1', name: 'ann' },
  members: [{ id: 'n.1.1', name: 'ann' }],
  history: [],
  headSeq: 4,
  recovered: true,
  epoch: 9,
  memberCount: 1,
  nextAfter: '',
};

describe('Join.resume_key', () => {
  test('round-trips; an empty or absent key is not written and reads as absent', () => {
    expect(decodeClientFrame(encodeClientRequest(join('k'.repeat(24))))).toEqual(join('k'.repeat(24)));
    expect(decodeClientFrame(encodeClientRequest(join()))).toEqual(join());
    expect(encodeClientRequest(join(''))).toEqual(encodeClientRequest(join()));
  });

  test(`up to ${MAX_RESUME_KEY_BYTES} bytes is read; one byte more is STRING_TOO_LONG (close 1007)`, () => {
    expect(decodeClientFrame(encodeClientRequest(join('é'.repeat(MAX_RESUME_KEY_BYTES / 2))))).toMatchObject({ resumeKey: 'é'.repeat(32) });
    const over = encodeClientRequest(join(`${'k'.repeat(MAX_RESUME_KEY_BYTES)}x`));
    const error = (() => {
      try {
        decodeClientFrame(over);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: 'STRING_TOO_LONG', closeCode: CloseCode.InvalidPayload });
  });
});

describe('Joined.resume_key', () => {
  test('round-trips; a Joined without one (a host before it) reads without one', () => {
    const withKey = decodeServerFrame(encodeJoined(7, { ...joined, resumeKey: 'abc_-XYZ' }));
    expect(withKey).toEqual({ type: 'joined', requestId: 7, ...joined, resumeKey: 'abc_-XYZ' });
    const without = decodeServerFrame(encodeJoined(7, joined));
    expect(without).toEqual({ type: 'joined', requestId: 7, ...joined });
    expect('resumeKey' in without).toBe(false);
  });
});
