/** The web client's rule for refused rejoins, and its resume key bookkeeping, without a browser. */
import { describe, expect, it } from 'vitest';
import type { JoinedInfo } from '../../src/protocol/index.js';
import { BACKOFF_MAX_MS } from '../../src/web/connection.js';
import { applyRejoin, NICKNAME_RETRY_EXTRA_MS, NICKNAME_RETRY_MIN_MS, rejoinRetryDelay, RoomState } from '../../src/web/rooms.js';

const ann = { id: '1.1', name: 'ann' };

function joined(over: Partial<JoinedInfo> = {}): JoinedInfo {
  return { room: 'r', you: ann, members: [ann], history: [], headSeq: 0, recovered: false, epoch: 1, memberCount: 1, nextAfter: '', ...over };
}

const IDLE_MS = 120_000;
const half = () => 0.5;

describe('rejoinRetryDelay', () => {
  it('retries every temporary refusal with the growing, capped backoff, without end', () => {
    const room = new RoomState('r', 'ann', joined());
    const delays = Array.from({ length: 12 }, (_, i) => rejoinRetryDelay(room, i % 2 === 0 ? 'Unavailable' : 'RateLimited', true, i * 1e9, IDLE_MS, half));
    expect(delays.slice(0, 5)).toEqual([375, 750, 1500, 3000, 6000]);
    expect(delays.slice(5).every((d) => d === BACKOFF_MAX_MS * 0.75)).toBe(true);
  });

  it('gives up at once on a permanent refusal', () => {
    for (const code of ['InvalidNickname', 'Unauthorized', 'UnsupportedVersion', 'TooManyRooms'] as const) {
      expect(rejoinRetryDelay(new RoomState('r', 'ann', joined()), code, false, 0, IDLE_MS)).toBeNull();
    }
  });

  it('retries NicknameTaken for the idle timeout plus 30 s from the first one (at least 60 s), then gives up', () => {
    const room = new RoomState('r', 'ann', joined());
    const window = IDLE_MS + NICKNAME_RETRY_EXTRA_MS;
    expect(rejoinRetryDelay(room, 'NicknameTaken', false, 1_000, IDLE_MS, half)).toBe(375);
    expect(rejoinRetryDelay(room, 'NicknameTaken', false, 1_000 + window - 1, IDLE_MS, half)).not.toBeNull();
    expect(rejoinRetryDelay(room, 'NicknameTaken', false, 1_000 + window, IDLE_MS, half)).toBeNull();
    const short = new RoomState('r', 'ann', joined());
    expect(rejoinRetryDelay(short, 'NicknameTaken', false, 0, 8_000, half)).not.toBeNull();
    expect(rejoinRetryDelay(short, 'NicknameTaken', false, NICKNAME_RETRY_MIN_MS - 1, 8_000, half)).not.toBeNull();
    expect(rejoinRetryDelay(short, 'NicknameTaken', false, NICKNAME_RETRY_MIN_MS, 8_000, half)).toBeNull();
  });

  it('a successful rejoin starts the count and the NicknameTaken window afresh', () => {
    const room = new RoomState('r', 'ann', joined());
    rejoinRetryDelay(room, 'Unavailable', true, 0, IDLE_MS, half);
    rejoinRetryDelay(room, 'NicknameTaken', false, 0, IDLE_MS, half);
    applyRejoin(room, joined());
    expect(rejoinRetryDelay(room, 'NicknameTaken', false, 10 * IDLE_MS, IDLE_MS, half)).toBe(375);
  });
});

describe('the resume key', () => {
  it('comes from Joined, is replaced by a rejoin that brings one, and kept when it brings none', () => {
    const room = new RoomState('r', 'ann', joined({ resumeKey: 'first' }));
    expect(room.resumeKey).toBe('first');
    applyRejoin(room, joined({ resumeKey: 'second' }));
    expect(room.resumeKey).toBe('second');
    applyRejoin(room, joined());
    expect(room.resumeKey).toBe('second');
  });
});
