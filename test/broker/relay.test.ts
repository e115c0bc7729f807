/** BatchWriter: ops in order, each frame packed once per batch, take() starts afresh. */
import { describe, expect, test } from 'vitest';
import { BatchWriter, HubOp, WorkerOp } from '../../src/broker/relay.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

/** The bytes an (offset, length) pair of a batch refers to. */
function slice(buffer: ArrayBuffer | null, offset: unknown, length: unknown): number[] {
  expect(buffer).not.toBeNull();
  return [...new Uint8Array(buffer!, offset as number, length as number)];
}

describe('BatchWriter', () => {
  test('the op codes are the documented numbers (both sides of the relay depend on them)', () => {
    expect([WorkerOp.Open, WorkerOp.Close, WorkerOp.Join, WorkerOp.Leave, WorkerOp.Say, WorkerOp.Query]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([HubOp.Publish, HubOp.Send, HubOp.Joined, HubOp.QueryResult, HubOp.JoinFailed]).toEqual([1, 2, 3, 4, 5]);
  });

  test('a new writer is empty and its batch has no ops and no buffer', () => {
    const w = new BatchWriter();
    expect(w.empty).toBe(true);
    expect(w.take()).toEqual({ kind: 'relay', ops: [], buffer: null });
  });

  test('push appends the fields flat, in order', () => {
    const w = new BatchWriter();
    w.push(WorkerOp.Open, 'c1');
    expect(w.empty).toBe(false);
    w.push(WorkerOp.Join, 'c1', 1, 7, 'lobby', 'ann', -1);
    w.push(WorkerOp.Query, 3, 'stats', '');
    const batch = w.take();
    expect(batch.kind).toBe('relay');
    expect(batch.ops).toEqual([WorkerOp.Open, 'c1', WorkerOp.Join, 'c1', 1, 7, 'lobby', 'ann', -1, WorkerOp.Query, 3, 'stats', '']);
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
    expect(refs).toEqual([[0, 4], [0, 4], [0, 4], [0, 4], [0, 4], [4, 2], [0, 4]]);
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
