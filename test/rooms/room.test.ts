/** One room's state: members, per-worker counts, the gap-free sequence and the history ring. */
import { describe, expect, test } from 'vitest';
import type { ChatMessage, MemberInfo } from '../../src/protocol/index.js';
import { Room } from '../../src/rooms/room.js';

const ann: MemberInfo = { id: 'c1', name: 'Ann' };
const bob: MemberInfo = { id: 'c2', name: 'bob' };

const seqs = (messages: readonly ChatMessage[]): number[] => messages.map((m) => m.seq);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A room with `count` messages appended (texts m1, m2, ...). */
function roomWith(capacity: number, count: number): Room {
  const room = new Room('r', capacity, 0);
  for (let i = 1; i <= count; i++) room.append(ann, `m${i}`, 1000 + i);
  return room;
}

describe('members', () => {
  test('a new room is empty, empty since its creation', () => {
    const room = new Room('lobby', 10, 123);
    expect(room.name).toBe('lobby');
    expect(room.size).toBe(0);
    expect(room.memberList()).toEqual([]);
    expect(room.workers()).toEqual([]);
    expect(room.emptySince).toBe(123);
    expect(room.headSeq).toBe(0);
  });

  test('add and remove members', () => {
    const room = new Room('lobby', 10, 0);
    room.add({ ...ann, worker: 0 });
    room.add({ ...bob, worker: 1 });
    expect(room.size).toBe(2);
    expect(room.member('c1')).toEqual({ id: 'c1', name: 'Ann', worker: 0 });
    expect(room.memberList()).toEqual([
      { id: 'c1', name: 'Ann', worker: 0 },
      { id: 'c2', name: 'bob', worker: 1 },
    ]);

    expect(room.remove('c1', 5)).toEqual({ id: 'c1', name: 'Ann', worker: 0 });
    expect(room.member('c1')).toBeUndefined();
    expect(room.size).toBe(1);
    expect(room.memberList()).toEqual([{ id: 'c2', name: 'bob', worker: 1 }]);
  });

  test('removing an unknown member returns undefined and changes nothing', () => {
    const room = new Room('lobby', 10, 0);
    room.add({ ...ann, worker: 0 });
    expect(room.remove('nobody', 5)).toBeUndefined();
    expect(room.size).toBe(1);
    expect(room.workers()).toEqual([0]);
    expect(room.emptySince).toBeNull();
    // Removing twice: the second is a no-op too.
    room.remove('c1', 6);
    expect(room.remove('c1', 7)).toBeUndefined();
    expect(room.emptySince).toBe(6);
  });

  test('hasNickname ignores case and forgets a name when its member leaves', () => {
    const room = new Room('lobby', 10, 0);
    room.add({ ...ann, worker: 0 });
    expect(room.hasNickname('Ann')).toBe(true);
    expect(room.hasNickname('ann')).toBe(true);
    expect(room.hasNickname('ANN')).toBe(true);
    expect(room.hasNickname('Anne')).toBe(false);
    expect(room.hasNickname('bob')).toBe(false);
    room.remove('c1', 1);
    expect(room.hasNickname('ann')).toBe(false);
  });

  test('workers() lists workers with members, ascending, and follows the counts per worker', () => {
    const room = new Room('lobby', 10, 0);
    room.add({ id: 'a', name: 'a', worker: 1 });
    room.add({ id: 'b', name: 'b', worker: 1 });
    room.add({ id: 'c', name: 'c', worker: 0 });
    expect(room.workers()).toEqual([0, 1]);

    room.remove('a', 1);
    expect(room.workers()).toEqual([0, 1]); // b is still on worker 1
    room.remove('c', 2);
    expect(room.workers()).toEqual([1]);
    room.remove('b', 3);
    expect(room.workers()).toEqual([]);

    room.add({ id: 'd', name: 'd', worker: 3 });
    room.add({ id: 'e', name: 'e', worker: 2 });
    expect(room.workers()).toEqual([2, 3]);
  });

  test('emptySince is null while there are members and the time of the last leave after', () => {
    const room = new Room('lobby', 10, 100);
    expect(room.emptySince).toBe(100);
    room.add({ ...ann, worker: 0 });
    expect(room.emptySince).toBeNull();
    room.add({ ...bob, worker: 0 });
    room.remove('c1', 200);
    expect(room.emptySince).toBeNull();
    room.remove('c2', 300);
    expect(room.emptySince).toBe(300);
    room.add({ ...ann, worker: 1 });
    expect(room.emptySince).toBeNull();
    room.remove('c1', 400);
    expect(room.emptySince).toBe(400);
  });
});

describe('sequence and history', () => {
  test('append numbers messages 1, 2, 3 without gaps and fills in the message', () => {
    const room = new Room('lobby', 10, 0);
    const m1 = room.append(ann, 'one', 1001);
    const m2 = room.append(bob, 'two', 1002);
    const m3 = room.append(ann, 'three', 1003);
    expect(seqs([m1, m2, m3])).toEqual([1, 2, 3]);
    expect(m2).toEqual({ room: 'lobby', seq: 2, sender: bob, to: null, text: 'two', timestampMs: 1002 });
    expect(room.headSeq).toBe(3);
    expect(room.recent(10)).toEqual([m1, m2, m3]);
  });

  test('recent(limit) gives the last `limit` messages, oldest first', () => {
    const room = roomWith(10, 6);
    expect(seqs(room.recent(3))).toEqual([4, 5, 6]);
    expect(seqs(room.recent(6))).toEqual(range(1, 6));
    expect(seqs(room.recent(100))).toEqual(range(1, 6));
    expect(room.recent(0)).toEqual([]);
  });

  test('the ring keeps only the last `capacity` messages (capacity 5, 12 appended)', () => {
    const room = roomWith(5, 12);
    expect(room.headSeq).toBe(12);
    expect(seqs(room.recent(10))).toEqual([8, 9, 10, 11, 12]);
    expect(room.recent(10).map((m) => m.text)).toEqual(['m8', 'm9', 'm10', 'm11', 'm12']);
    expect(seqs(room.recent(2))).toEqual([11, 12]);
  });

  test('the ring wraps correctly at every fill level', () => {
    const room = new Room('r', 4, 0);
    for (let n = 1; n <= 13; n++) {
      room.append(ann, `m${n}`, n);
      expect(seqs(room.recent(100))).toEqual(range(Math.max(1, n - 3), n));
    }
  });

  test('capacity 0 keeps nothing but still sequences', () => {
    const room = roomWith(0, 3);
    expect(room.headSeq).toBe(3);
    expect(room.append(ann, 'four', 4).seq).toBe(4);
    expect(room.recent(10)).toEqual([]);
    expect(room.historyFor(null, 10)).toEqual({ messages: [], recovered: false });
    expect(room.historyFor(4, 10)).toEqual({ messages: [], recovered: true });
    expect(room.historyFor(3, 10)).toEqual({ messages: [], recovered: false });
  });

  describe('historyFor (capacity 5, 12 appended: seq 8..12 kept)', () => {
    test('since null: recent(limit), not recovered', () => {
      const room = roomWith(5, 12);
      expect(room.historyFor(null, 3)).toEqual({ messages: room.recent(3), recovered: false });
      expect(seqs(room.historyFor(null, 3).messages)).toEqual([10, 11, 12]);
      expect(seqs(room.historyFor(null, 10).messages)).toEqual(range(8, 12));
    });

    test('since == head: nothing missed, recovered', () => {
      expect(roomWith(5, 12).historyFor(12, 3)).toEqual({ messages: [], recovered: true });
    });

    test('since within the kept messages: exactly the messages after it, recovered', () => {
      const room = roomWith(5, 12);
      for (let since = 8; since <= 11; since++) {
        const slice = room.historyFor(since, 3);
        expect(slice.recovered).toBe(true);
        expect(seqs(slice.messages)).toEqual(range(since + 1, 12));
      }
    });

    test('recovered history is not cut to the join limit', () => {
      const slice = roomWith(5, 12).historyFor(8, 2);
      expect(slice.recovered).toBe(true);
      expect(seqs(slice.messages)).toEqual([9, 10, 11, 12]);
    });

    test('since just below the oldest kept (oldest - 1): all kept messages, recovered', () => {
      const slice = roomWith(5, 12).historyFor(7, 3);
      expect(slice.recovered).toBe(true);
      expect(seqs(slice.messages)).toEqual(range(8, 12));
    });

    test('since older than that: recent(limit), not recovered', () => {
      const room = roomWith(5, 12);
      for (const since of [6, 1, 0]) {
        const slice = room.historyFor(since, 3);
        expect(slice.recovered).toBe(false);
        expect(seqs(slice.messages)).toEqual([10, 11, 12]);
      }
    });

    test('since beyond head (the host restarted and the room was reset): recent(limit), not recovered', () => {
      const room = roomWith(5, 12);
      const slice = room.historyFor(40, 3);
      expect(slice.recovered).toBe(false);
      expect(seqs(slice.messages)).toEqual([10, 11, 12]);
      expect(room.historyFor(13, 10)).toEqual({ messages: room.recent(10), recovered: false });
    });
  });

  test('historyFor in a room that never wrapped: since 0 recovers everything', () => {
    const room = roomWith(10, 4);
    expect(room.historyFor(0, 2)).toEqual({ messages: room.recent(4), recovered: true });
    expect(seqs(room.historyFor(0, 2).messages)).toEqual([1, 2, 3, 4]);
  });

  test('a fresh room: since 0 is recovered (nothing missed), since 5 is not', () => {
    const room = new Room('r', 5, 0);
    expect(room.historyFor(0, 3)).toEqual({ messages: [], recovered: true });
    expect(room.historyFor(5, 3)).toEqual({ messages: [], recovered: false });
  });
});
