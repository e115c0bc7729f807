/**
 * The batch format between worker threads and the hub. A batch is one flat array
 * of operations (an op code followed by its fields) plus, from the hub, one
 * transferred ArrayBuffer holding every frame the batch refers to, so each
 * encoded frame crosses threads once per worker as part of a single copy-free
 * postMessage.
 */

/** Worker to hub. */
export const enum WorkerOp {
  /** conn */
  Open = 1,
  /** conn */
  Close = 2,
  /** conn, attempt, requestId, room, nickname, since (-1: none), epoch (0: unknown) */
  Join = 3,
  /** conn, room */
  Leave = 4,
  /** conn, requestId, room, text, to ('': the room) */
  Say = 5,
  /** queryId, kind, argument */
  Query = 6,
}

/** Hub to worker. */
export const enum HubOp {
  /** room, offset, length */
  Publish = 1,
  /** conn, offset, length */
  Send = 2,
  /** conn, attempt, room, offset, length */
  Joined = 3,
  /** queryId, result (structured-cloned) */
  QueryResult = 4,
  /** conn, attempt, room, offset, length (an Error frame) */
  JoinFailed = 5,
  /** directory (structured-cloned Directory) */
  Directory = 6,
  /** queryId, message: the sequencer cannot answer now (a cluster node without Redis) */
  QueryUnavailable = 7,
}

export type QueryKind = 'rooms' | 'room' | 'stats';

export interface RelayBatch {
  readonly kind: 'relay';
  readonly ops: unknown[];
  readonly buffer: ArrayBuffer | null;
}

/** Collects ops and frames for one destination; `take()` packs them into a batch. */
export class BatchWriter {
  private ops: unknown[] = [];
  private frames: Uint8Array[] = [];
  private frameOffsets = new Map<Uint8Array, number>();
  private bytes = 0;

  get empty(): boolean {
    return this.ops.length === 0;
  }

  push(...fields: unknown[]): void {
    for (const field of fields) this.ops.push(field);
  }

  /** Adds a frame (once per batch, however often it is referenced); pushes its offset and length. */
  pushFrame(frame: Uint8Array): void {
    let offset = this.frameOffsets.get(frame);
    if (offset === undefined) {
      offset = this.bytes;
      this.frameOffsets.set(frame, offset);
      this.frames.push(frame);
      this.bytes += frame.byteLength;
    }
    this.ops.push(offset, frame.byteLength);
  }

  take(): RelayBatch {
    let buffer: ArrayBuffer | null = null;
    if (this.bytes > 0) {
      const packed = new Uint8Array(this.bytes);
      let at = 0;
      for (const frame of this.frames) {
        packed.set(frame, at);
        at += frame.byteLength;
      }
      buffer = packed.buffer;
    }
    const batch: RelayBatch = { kind: 'relay', ops: this.ops, buffer };
    this.ops = [];
    this.frames = [];
    this.frameOffsets = new Map();
    this.bytes = 0;
    return batch;
  }
}

/** What a sequencer on the main thread does with each WorkerOp (one method per op, fields in relay order). */
export interface WorkerRequests {
  open(worker: number, connection: string): void;
  close(connection: string): void;
  /** `since` -1: none; `epoch` 0: unknown. */
  join(connection: string, attempt: number, requestId: number, room: string, nickname: string, since: number, epoch: number): void;
  leave(connection: string, room: string): void;
  /** `to` '': the room. */
  say(connection: string, requestId: number, room: string, text: string, to: string): void;
  query(worker: number, queryId: number, kind: QueryKind, argument: string): void;
}

/**
 * Carries out one batch from worker `from`, op by op, in order. Returns false when
 * an unknown op was met: a bug in the relay, not client input; the rest of the
 * batch is dropped and the caller says so.
 */
export function dispatchWorkerBatch(from: number, batch: RelayBatch, to: WorkerRequests): { ok: true } | { ok: false; op: unknown } {
  const ops = batch.ops;
  let i = 0;
  while (i < ops.length) {
    const op = ops[i++] as WorkerOp;
    switch (op) {
      case WorkerOp.Open:
        to.open(from, ops[i++] as string);
        break;
      case WorkerOp.Close:
        to.close(ops[i++] as string);
        break;
      case WorkerOp.Join:
        to.join(ops[i++] as string, ops[i++] as number, ops[i++] as number, ops[i++] as string, ops[i++] as string, ops[i++] as number, ops[i++] as number);
        break;
      case WorkerOp.Leave:
        to.leave(ops[i++] as string, ops[i++] as string);
        break;
      case WorkerOp.Say:
        to.say(ops[i++] as string, ops[i++] as number, ops[i++] as string, ops[i++] as string, ops[i++] as string);
        break;
      case WorkerOp.Query:
        to.query(from, ops[i++] as number, ops[i++] as QueryKind, ops[i++] as string);
        break;
      default:
        return { ok: false, op };
    }
  }
  return { ok: true };
}
