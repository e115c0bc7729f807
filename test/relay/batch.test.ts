/**
 * The relay's batch codec: BatchWriter (ops in order, each frame packed once per
 * batch, take() starts afresh), and every op written by its write function and read
 * back by its dispatch function with the same fields.
 */
import { describe, expect, test } from 'vitest';
import {
  BatchWriter,
  dispatchHubBatch,
  dispatchWorkerBatch,
  HubOp,
  type HubEvents,
  type RelayBatch,
  WorkerOp,
  type WorkerRequests,
  writeClose,
  writeDirectory,
  writeJoin,
  writeJoined,
  writeJoinFailed,
  writeLeave,
  writeMembers,
  writeOpen,
  writePublish,
  writeQuery,
  writeQueryResult,
  writeQueryUnavailable,
  writeSay,
  writeSend,
  writeSendInRoom,
} from '../../src/relay/batch.js';
import type { Directory } from '../../src/sequencer/sequencer.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

/** The bytes an (offset, length) pair of a batch refers to. */
function slice(buffer: ArrayBuffer | null, offset: unknown, length: unknown): number[] {
  expect(buffer).not.toBeNull();
  return [...new Uint8Array(buffer!, offset as number, length as number)];
}

describe('BatchWriter', () => {
  test('the op codes are the documented numbers (both sides of the relay depend on them)', () => {
    expect([WorkerOp.Open, WorkerOp.Close, WorkerOp.Join, WorkerOp.Leave, WorkerOp.Say, WorkerOp.Query, WorkerOp.Members]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect([HubOp.Publish, HubOp.Send, HubOp.Joined, HubOp.QueryResult, HubOp.JoinFailed, HubOp.Directory, HubOp.QueryUnavailable]).toEqual([
      1, 2, 3, 4, 5, 6, 7,
    ]);
  });

  test('a new writer is empty and its batch has no ops and no buffer', () => {
    const w = new BatchWriter();
    expect(w.empty).toBe(true);
    expect(w.take()).toEqual({ kind: 'relay', ops: [], buffer: null });
  });

  test('ops are written flat, in order', () => {
    const w = new BatchWriter();
    writeOpen(w, 'c1');
    expect(w.empty).toBe(false);
    writeJoin(w, 'c1', 1, { requestId: 7, room: 'lobby', nickname: 'ann', since: null, epoch: 0 });
    writeJoin(w, 'c2', 1, { requestId: 8, room: 'lobby', nickname: 'bob', since: 3, epoch: 9, addressSlot: 513, resumeKey: 'k' });
    writeQuery(w, 3, 'stats', '');
    const batch = w.take();
    expect(batch.kind).toBe('relay');
    expect(batch.ops).toEqual([
      ...[WorkerOp.Open, 'c1'],
      ...[WorkerOp.Join, 'c1', 1, 7, 'lobby', 'ann', -1, 0, -1, ''], // no address slot: -1; no resume key: ''
      ...[WorkerOp.Join, 'c2', 1, 8, 'lobby', 'bob', 3, 9, 513, 'k'],
      ...[WorkerOp.Query, 3, 'stats', ''],
    ]);
    expect(batch.buffer).toBeNull(); // no frames, nothing to transfer
  });

  test('frames are packed back to back; each reference gets its offset and length', () => {
    const a = bytes(1, 2, 3);
    const b = bytes(4, 5, 6, 7, 8);
    const c = bytes(9, 10);
    const w = new BatchWriter();
    w.push(HubOp.Send, 'x');
    w.pushFrame(a);
    w.push(HubOp.Publish, 'room');
    w.pushFrame(b);
    w.push(HubOp.Send, 'y');
    w.pushFrame(c);
    const batch = w.take();
    expect(batch.ops).toEqual([HubOp.Send, 'x', 0, 3, HubOp.Publish, 'room', 3, 5, HubOp.Send, 'y', 8, 2]);
    expect(batch.buffer).toBeInstanceOf(ArrayBuffer);
    expect(batch.buffer!.byteLength).toBe(10);
    expect([...new Uint8Array(batch.buffer!)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Reading each reference back gives each frame's own bytes.
    expect(slice(batch.buffer, batch.ops[2], batch.ops[3])).toEqual([...a]);
    expect(slice(batch.buffer, batch.ops[6], batch.ops[7])).toEqual([...b]);
    expect(slice(batch.buffer, batch.ops[10], batch.ops[11])).toEqual([...c]);
  });

  test('a frame referenced many times is packed once', () => {
    const shared = bytes(7, 7, 7, 7);
    const other = bytes(1, 1);
    const w = new BatchWriter();
    for (let i = 0; i < 5; i++) {
      w.push(HubOp.Send, `c${i}`);
      w.pushFrame(shared);
    }
    w.push(HubOp.Send, 'z');
    w.pushFrame(other);
    w.push(HubOp.Publish, 'r');
    w.pushFrame(shared);
    const batch = w.take();
    expect(batch.buffer!.byteLength).toBe(6);
    const refs: [unknown, unknown][] = [];
    for (let i = 0; i < batch.ops.length; i += 4) refs.push([batch.ops[i + 2], batch.ops[i + 3]]);
    expect(refs).toEqual([
      [0, 4],
      [0, 4],
      [0, 4],
      [0, 4],
      [0, 4],
      [4, 2],
      [0, 4],
    ]);
    expect(slice(batch.buffer, 0, 4)).toEqual([7, 7, 7, 7]);
    expect(slice(batch.buffer, 4, 2)).toEqual([1, 1]);
  });

  test('a frame that is a view into a larger buffer is packed as just its own bytes', () => {
    const big = Uint8Array.from({ length: 32 }, (_, i) => i);
    const view = big.subarray(10, 14);
    const w = new BatchWriter();
    w.push(HubOp.Send, 'c');
    w.pushFrame(bytes(99));
    w.push(HubOp.Send, 'c');
    w.pushFrame(view);
    const batch = w.take();
    expect(batch.ops.slice(-2)).toEqual([1, 4]);
    expect(batch.buffer!.byteLength).toBe(5);
    expect(slice(batch.buffer, 1, 4)).toEqual([10, 11, 12, 13]);
  });

  test('the buffer is a copy: changing a frame after take() does not change the batch', () => {
    const frame = bytes(1, 2, 3, 4);
    const w = new BatchWriter();
    w.push(HubOp.Send, 'c');
    w.pushFrame(frame);
    const batch = w.take();
    frame[0] = 42;
    expect(slice(batch.buffer, 0, 4)).toEqual([1, 2, 3, 4]);
    expect(batch.buffer).not.toBe(frame.buffer);
  });

  test('take() resets: ops, frames and offsets start again from nothing', () => {
    const frame = bytes(5, 6, 7, 8);
    const w = new BatchWriter();
    w.push(HubOp.Send, 'a');
    w.pushFrame(bytes(1, 2));
    w.push(HubOp.Send, 'a');
    w.pushFrame(frame);
    const first = w.take();
    expect(first.ops).toEqual([HubOp.Send, 'a', 0, 2, HubOp.Send, 'a', 2, 4]);
    expect(w.empty).toBe(true);
    expect(w.take()).toEqual({ kind: 'relay', ops: [], buffer: null });

    // The same frame in the next batch is packed again, at that batch's offset 0.
    w.push(HubOp.Publish, 'r');
    w.pushFrame(frame);
    const second = w.take();
    expect(second.ops).toEqual([HubOp.Publish, 'r', 0, 4]);
    expect(second.buffer!.byteLength).toBe(4);
    expect(slice(second.buffer, 0, 4)).toEqual([5, 6, 7, 8]);
    // The first batch is untouched by what came after.
    expect(first.ops).toHaveLength(8);
    expect(first.buffer!.byteLength).toBe(6);
    expect(second.buffer).not.toBe(first.buffer);
  });

  test('an empty frame is referenced with length 0 and needs no buffer of its own', () => {
    const w = new BatchWriter();
    w.push(HubOp.Send, 'c');
    w.pushFrame(new Uint8Array(0));
    const batch = w.take();
    expect(batch.ops).toEqual([HubOp.Send, 'c', 0, 0]);
    expect(batch.buffer).toBeNull();
  });
});

/** Records every WorkerRequests call with its arguments. */
function recordRequests(calls: unknown[][]): WorkerRequests {
  return {
    open: (...args) => void calls.push(['open', ...args]),
    close: (...args) => void calls.push(['close', ...args]),
    join: (...args) => void calls.push(['join', ...args]),
    leave: (...args) => void calls.push(['leave', ...args]),
    say: (...args) => void calls.push(['say', ...args]),
    members: (...args) => void calls.push(['members', ...args]),
    query: (...args) => void calls.push(['query', ...args]),
  };
}

/** Records every HubEvents call; frames as plain byte arrays. */
function recordEvents(calls: unknown[][]): HubEvents {
  const bytesOf = (frame: Uint8Array): number[] => [...frame];
  return {
    onPublish: (room, frame) => void calls.push(['publish', room, bytesOf(frame)]),
    onSend: (conn, frame) => void calls.push(['send', conn, bytesOf(frame)]),
    onSendInRoom: (conn, room, frame) => void calls.push(['sendInRoom', conn, room, bytesOf(frame)]),
    onJoined: (conn, attempt, room, frame) => void calls.push(['joined', conn, attempt, room, bytesOf(frame)]),
    onJoinFailed: (conn, attempt, room, frame) => void calls.push(['joinFailed', conn, attempt, room, bytesOf(frame)]),
    onRemoved: (conn, room, frame) => void calls.push(['removed', conn, room, bytesOf(frame)]),
    onDirectory: (directory) => void calls.push(['directory', directory]),
    onQueryResult: (queryId, result) => void calls.push(['queryResult', queryId, result]),
    onQueryUnavailable: (queryId, message) => void calls.push(['queryUnavailable', queryId, message]),
  };
}

/** A batch as it crosses threads: structured-cloned, its buffer transferred. */
function acrossThreads(batch: RelayBatch): RelayBatch {
  return structuredClone(batch, { transfer: batch.buffer ? [batch.buffer] : [] });
}

describe('worker to main thread: every op round trips', () => {
  test('each write function is read back by dispatchWorkerBatch as the same call, in order', () => {
    const w = new BatchWriter();
    writeOpen(w, 'c1');
    writeJoin(w, 'c1', 3, { requestId: 9, room: 'lobby', nickname: 'Ann', since: null, epoch: 0 });
    writeJoin(w, 'c1', 4, { requestId: 10, room: 'other', nickname: 'ann', since: 0, epoch: 1_700_000_000_000_123 });
    writeJoin(w, 'c1', 5, { requestId: 2 ** 32 - 1, room: 'r.2', nickname: 'zoë 🙂', since: 2 ** 40, epoch: 7 });
    writeSay(w, 'c1', { requestId: 11, room: 'lobby', text: 'hi', to: null });
    writeSay(w, 'c1', { requestId: 0, room: 'lobby', text: 'psst\n\ttab', to: 'c2' });
    writeLeave(w, 'c1', 'lobby');
    writeClose(w, 'c1');
    writeMembers(w, 'c1', { requestId: 12, room: 'lobby', after: '', prefix: '', limit: 0 });
    writeMembers(w, 'c1', { requestId: 13, room: 'lobby', after: 'ann\u0000c1', prefix: 'Zoë', limit: 100 });
    writeQuery(w, 1, 'stats', '');
    writeQuery(w, 2, 'room', 'lobby');
    writeQuery(w, 3, 'rooms', '');
    const calls: unknown[][] = [];
    expect(dispatchWorkerBatch(4, acrossThreads(w.take()), recordRequests(calls))).toEqual({ ok: true });
    expect(calls).toEqual([
      ['open', 4, 'c1'],
      ['join', 'c1', 3, { requestId: 9, room: 'lobby', nickname: 'Ann', since: null, epoch: 0 }],
      ['join', 'c1', 4, { requestId: 10, room: 'other', nickname: 'ann', since: 0, epoch: 1_700_000_000_000_123 }],
      ['join', 'c1', 5, { requestId: 2 ** 32 - 1, room: 'r.2', nickname: 'zoë 🙂', since: 2 ** 40, epoch: 7 }],
      ['say', 'c1', { requestId: 11, room: 'lobby', text: 'hi', to: null }],
      ['say', 'c1', { requestId: 0, room: 'lobby', text: 'psst\n\ttab', to: 'c2' }],
      ['leave', 'c1', 'lobby'],
      ['close', 'c1'],
      ['members', 'c1', { requestId: 12, room: 'lobby', after: '', prefix: '', limit: 0 }],
      ['members', 'c1', { requestId: 13, room: 'lobby', after: 'ann\u0000c1', prefix: 'Zoë', limit: 100 }],
      ['query', 4, 1, 'stats', ''],
      ['query', 4, 2, 'room', 'lobby'],
      ['query', 4, 3, 'rooms', ''],
    ]);
  });

  test('an unknown op stops the batch there and is returned; the ops before it were carried out', () => {
    const w = new BatchWriter();
    writeOpen(w, 'c0');
    w.push(99, 'junk');
    writeOpen(w, 'c1');
    const calls: unknown[][] = [];
    expect(dispatchWorkerBatch(0, w.take(), recordRequests(calls))).toEqual({ ok: false, op: 99 });
    expect(calls).toEqual([['open', 0, 'c0']]);
  });

  test('an empty batch is carried out as nothing', () => {
    const calls: unknown[][] = [];
    expect(dispatchWorkerBatch(0, new BatchWriter().take(), recordRequests(calls))).toEqual({ ok: true });
    expect(calls).toEqual([]);
  });
});

describe('main thread to worker: every op round trips', () => {
  test('each write function is read back by dispatchHubBatch as the same call, frames byte for byte, in order', () => {
    const shared = bytes(1, 2, 3, 4);
    const directory: Directory = {
      stats: { workers: 2, connections: 3, rooms: 1, workerRestarts: 0, perWorker: [{ index: 0, incarnation: 1, connections: 3 }] },
      rooms: [{ name: 'lobby', members: 3, headSeq: 12 }],
    };
    const w = new BatchWriter();
    writePublish(w, 'lobby', shared);
    writeSend(w, 'c1', bytes(5, 6));
    writeJoined(w, 'c2', 7, 'lobby', bytes(8));
    writeJoinFailed(w, 'c3', 8, 'lobby', bytes(9, 9, 9));
    writeDirectory(w, directory);
    writeQueryResult(w, 1, [{ name: 'lobby', members: 3, headSeq: 12 }]);
    writeQueryResult(w, 2, null);
    writeQueryUnavailable(w, 3, 'the cluster is unavailable');
    writeSend(w, 'c4', shared);
    writeSendInRoom(w, 'c5', 'lobby', bytes(7, 7));
    const batch = w.take();
    expect(batch.buffer!.byteLength).toBe(4 + 2 + 1 + 3 + 2); // the shared frame once
    const calls: unknown[][] = [];
    expect(dispatchHubBatch(acrossThreads(batch), recordEvents(calls))).toEqual({ ok: true });
    expect(calls).toEqual([
      ['publish', 'lobby', [1, 2, 3, 4]],
      ['send', 'c1', [5, 6]],
      ['joined', 'c2', 7, 'lobby', [8]],
      ['joinFailed', 'c3', 8, 'lobby', [9, 9, 9]],
      ['directory', directory],
      ['queryResult', 1, [{ name: 'lobby', members: 3, headSeq: 12 }]],
      ['queryResult', 2, null],
      ['queryUnavailable', 3, 'the cluster is unavailable'],
      ['send', 'c4', [1, 2, 3, 4]],
      ['sendInRoom', 'c5', 'lobby', [7, 7]],
    ]);
  });

  test('every frame read back is a view of the one transferred buffer, not a copy', () => {
    const w = new BatchWriter();
    writePublish(w, 'r', bytes(1, 2));
    writeSend(w, 'c', bytes(3));
    const batch = acrossThreads(w.take());
    const frames: Uint8Array[] = [];
    const events = recordEvents([]);
    dispatchHubBatch(batch, { ...events, onPublish: (_room, frame) => void frames.push(frame), onSend: (_conn, frame) => void frames.push(frame) });
    expect(frames.map((f) => f.buffer)).toEqual([batch.buffer, batch.buffer]);
    expect(frames.map((f) => [f.byteOffset, f.byteLength])).toEqual([
      [0, 2],
      [2, 1],
    ]);
  });

  test('an unknown op stops the batch there and is returned', () => {
    const w = new BatchWriter();
    writeQueryResult(w, 1, 'first');
    w.push(42);
    writeQueryResult(w, 2, 'never');
    const calls: unknown[][] = [];
    expect(dispatchHubBatch(w.take(), recordEvents(calls))).toEqual({ ok: false, op: 42 });
    expect(calls).toEqual([['queryResult', 1, 'first']]);
  });
});
