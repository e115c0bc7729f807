/** The room registry: rooms by name, rooms per connection, and the sweep of empty rooms. */
import { describe, expect, test } from 'vitest';
import { RoomRegistry } from '../../src/rooms/registry.js';

const TTL = 60_000;
const registry = (): RoomRegistry => new RoomRegistry({ historyCapacity: 5, emptyRoomTtlMs: TTL });

describe('rooms', () => {
  test('getOrCreate creates a room once and returns the same one after', () => {
    const reg = registry();
    expect(reg.get('lobby')).toBeUndefined();
    expect(reg.size).toBe(0);
    const room = reg.getOrCreate('lobby', 10);
    expect(room.name).toBe('lobby');
    expect(room.emptySince).toBe(10);
    expect(reg.get('lobby')).toBe(room);
    expect(reg.getOrCreate('lobby', 99)).toBe(room);
    expect(room.emptySince).toBe(10); // not re-created
    expect(reg.size).toBe(1);
  });

  test('rooms use the configured history capacity', () => {
    const room = registry().getOrCreate('r', 0);
    for (let i = 0; i < 8; i++) room.append({ id: 'a', name: 'a' }, `m${i}`, i);
    expect(room.recent(100).map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
  });

  test('names are case-sensitive and all() lists every room', () => {
    const reg = registry();
    const a = reg.getOrCreate('Lobby', 0);
    const b = reg.getOrCreate('lobby', 0);
    expect(a).not.toBe(b);
    expect([...reg.all()].map((r) => r.name).sort()).toEqual(['Lobby', 'lobby']);
    expect(reg.size).toBe(2);
  });
});

describe('rooms per connection', () => {
  test('noteJoined and noteLeft keep roomsOf', () => {
    const reg = registry();
    expect([...reg.roomsOf('c1')]).toEqual([]);
    reg.noteJoined('c1', 'a');
    reg.noteJoined('c1', 'b');
    reg.noteJoined('c2', 'a');
    reg.noteJoined('c1', 'a'); // twice: still once
    expect([...reg.roomsOf('c1')].sort()).toEqual(['a', 'b']);
    expect([...reg.roomsOf('c2')]).toEqual(['a']);

    reg.noteLeft('c1', 'a');
    expect([...reg.roomsOf('c1')]).toEqual(['b']);
    expect([...reg.roomsOf('c2')]).toEqual(['a']);
    reg.noteLeft('c1', 'b');
    expect([...reg.roomsOf('c1')]).toEqual([]);
  });

  test('noteLeft for an unknown connection or room is harmless', () => {
    const reg = registry();
    reg.noteLeft('nobody', 'a');
    reg.noteJoined('c1', 'a');
    reg.noteLeft('c1', 'zzz');
    expect([...reg.roomsOf('c1')]).toEqual(['a']);
    expect([...reg.roomsOf('nobody')]).toEqual([]);
  });

  test('a connection can rejoin after leaving all its rooms', () => {
    const reg = registry();
    reg.noteJoined('c1', 'a');
    reg.noteLeft('c1', 'a');
    reg.noteJoined('c1', 'b');
    expect([...reg.roomsOf('c1')]).toEqual(['b']);
  });
});

describe('sweep', () => {
  test('a room with members is never swept', () => {
    const reg = registry();
    reg.getOrCreate('busy', 0).add({ id: 'c1', name: 'ann', worker: 0 });
    expect(reg.sweep(TTL * 1000)).toBe(0);
    expect(reg.get('busy')).toBeDefined();
  });

  test('an empty room is swept only once the TTL has passed since it became empty', () => {
    const reg = registry();
    const room = reg.getOrCreate('quiet', 0);
    room.add({ id: 'c1', name: 'ann', worker: 0 });
    room.append({ id: 'c1', name: 'ann' }, 'hi', 1);
    room.remove('c1', 5_000); // empty from t = 5000

    expect(reg.sweep(5_000 + TTL - 1)).toBe(0);
    expect(reg.get('quiet')).toBe(room);
    expect(reg.get('quiet')!.headSeq).toBe(1); // history kept while within the TTL

    expect(reg.sweep(5_000 + TTL + 1)).toBe(1);
    expect(reg.get('quiet')).toBeUndefined();
    expect(reg.size).toBe(0);
    // A later join starts the room afresh.
    expect(reg.getOrCreate('quiet', 100_000).headSeq).toBe(0);
  });

  test('a room that was created and never joined counts as empty from its creation', () => {
    const reg = registry();
    reg.getOrCreate('never', 1_000);
    expect(reg.sweep(1_000 + TTL - 1)).toBe(0);
    expect(reg.sweep(1_000 + TTL + 1)).toBe(1);
    expect(reg.get('never')).toBeUndefined();
  });

  test('rejoining resets the clock', () => {
    const reg = registry();
    const room = reg.getOrCreate('r', 0);
    room.add({ id: 'c1', name: 'ann', worker: 0 });
    room.remove('c1', 1_000);
    room.add({ id: 'c2', name: 'bob', worker: 1 }); // rejoined before the TTL ran out
    expect(reg.sweep(1_000 + TTL + 1)).toBe(0);
    room.remove('c2', 50_000); // empty again from t = 50000
    expect(reg.sweep(50_000 + TTL - 1)).toBe(0);
    expect(reg.get('r')).toBe(room);
    expect(reg.sweep(50_000 + TTL + 1)).toBe(1);
  });

  test('only the expired rooms go, and sweep counts them', () => {
    const reg = registry();
    reg.getOrCreate('old1', 0);
    reg.getOrCreate('old2', 10);
    reg.getOrCreate('young', 30_000);
    reg.getOrCreate('busy', 0).add({ id: 'c', name: 'c', worker: 0 });
    expect(reg.sweep(TTL + 11)).toBe(2);
    expect([...reg.all()].map((r) => r.name).sort()).toEqual(['busy', 'young']);
  });
});
