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
