/**
 * The batch format between the worker threads and the main thread, written and
 * read only here. A batch is one flat array of operations (an op code followed by
 * its fields) plus, from the main thread, one transferred ArrayBuffer holding every
 * frame the batch refers to, so each encoded frame crosses threads once per worker
 * as part of a single copy-free postMessage.
 *
 * Each op is a write function and a case of its dispatch function, side by side:
 * adding a field means changing that pair, and the handler interface it calls.
 */
import type { Directory, JoinRequest, MembersRequest, QueryKind, SayRequest } from '../sequencer/sequencer.js';
import type { BrokerHandler } from './broker.js';

/** Worker to main thread. */
export const enum WorkerOp {
  Open = 1,
  Close = 2,
  Join = 3,
  Leave = 4,
  Say = 5,
  Query = 6,
  Members = 7,
}

/** Main thread to worker. */
export const enum HubOp {
  Publish = 1,
  Send = 2,
  Joined = 3,
  QueryResult = 4,
  JoinFailed = 5,
  Directory = 6,
  QueryUnavailable = 7,
  SendInRoom = 8,
  Removed = 9,
}

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

  /** Appends fields as they are; the write functions below are its callers (and tests of malformed batches). */
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

/** A batch op the reader does not know: a bug in the relay, never client input. */
export type DispatchResult = { readonly ok: true } | { readonly ok: false; readonly op: unknown };

// ------------------------------------------------------------ worker to main thread

/** What the main thread does with each WorkerOp. */
export interface WorkerRequests {
  open(worker: number, connection: string): void;
  close(connection: string): void;
  join(connection: string, attempt: number, request: JoinRequest): void;
  leave(connection: string, room: string): void;
  say(connection: string, request: SayRequest): void;
  members(connection: string, request: MembersRequest): void;
  query(worker: number, queryId: number, kind: QueryKind, argument: string): void;
}

export function writeOpen(w: BatchWriter, connection: string): void {
  w.push(WorkerOp.Open, connection);
}

export function writeClose(w: BatchWriter, connection: string): void {
  w.push(WorkerOp.Close, connection);
}

/** `since` null travels as -1, no resume key as ''. */
export function writeJoin(w: BatchWriter, connection: string, attempt: number, request: JoinRequest): void {
  w.push(
    WorkerOp.Join,
    connection,
    attempt,
    request.requestId,
    request.room,
    request.nickname,
    request.since ?? -1,
    request.epoch,
    request.addressSlot ?? -1,
    request.resumeKey ?? '',
  );
}

export function writeLeave(w: BatchWriter, connection: string, room: string): void {
  w.push(WorkerOp.Leave, connection, room);
}

/** `to` null (the room) travels as ''. */
export function writeSay(w: BatchWriter, connection: string, request: SayRequest): void {
  w.push(WorkerOp.Say, connection, request.requestId, request.room, request.text, request.to ?? '');
}

export function writeMembers(w: BatchWriter, connection: string, request: MembersRequest): void {
  w.push(WorkerOp.Members, connection, request.requestId, request.room, request.after, request.prefix, request.limit);
}

export function writeQuery(w: BatchWriter, queryId: number, kind: QueryKind, argument: string): void {
  w.push(WorkerOp.Query, queryId, kind, argument);
}

/**
 * Carries out one batch from worker `from`, op by op, in order. On an unknown op
 * the rest of the batch is dropped and the op is returned for the caller to report.
 */
export function dispatchWorkerBatch(from: number, batch: RelayBatch, to: WorkerRequests): DispatchResult {
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
      case WorkerOp.Join: {
        const connection = ops[i++] as string;
        const attempt = ops[i++] as number;
        const requestId = ops[i++] as number;
        const room = ops[i++] as string;
        const nickname = ops[i++] as string;
        const since = ops[i++] as number;
        const epoch = ops[i++] as number;
        const addressSlot = ops[i++] as number;
        const resumeKey = ops[i++] as string;
        to.join(connection, attempt, {
          requestId,
          room,
          nickname,
          since: since < 0 ? null : since,
          epoch,
          ...(addressSlot >= 0 ? { addressSlot } : {}),
          ...(resumeKey !== '' ? { resumeKey } : {}),
        });
        break;
      }
      case WorkerOp.Leave:
        to.leave(ops[i++] as string, ops[i++] as string);
        break;
      case WorkerOp.Say: {
        const connection = ops[i++] as string;
        const requestId = ops[i++] as number;
        const room = ops[i++] as string;
        const text = ops[i++] as string;
        const recipient = ops[i++] as string;
        to.say(connection, { requestId, room, text, to: recipient === '' ? null : recipient });
        break;
      }
      case WorkerOp.Members: {
        const connection = ops[i++] as string;
        const requestId = ops[i++] as number;
        const room = ops[i++] as string;
        const after = ops[i++] as string;
        const prefix = ops[i++] as string;
        const limit = ops[i++] as number;
        to.members(connection, { requestId, room, after, prefix, limit });
        break;
      }
      case WorkerOp.Query:
        to.query(from, ops[i++] as number, ops[i++] as QueryKind, ops[i++] as string);
        break;
      default:
        return { ok: false, op };
    }
  }
  return { ok: true };
}

// ------------------------------------------------------------ main thread to worker

/** What a worker does with each HubOp: the frame ops go to the transport, the rest to the worker's end of the relay. */
export interface HubEvents extends BrokerHandler {
  onDirectory(directory: Directory): void;
  onQueryResult(queryId: number, result: unknown): void;
  onQueryUnavailable(queryId: number, message: string): void;
}

export function writePublish(w: BatchWriter, room: string, frame: Uint8Array): void {
  w.push(HubOp.Publish, room);
  w.pushFrame(frame);
}

export function writeSend(w: BatchWriter, connection: string, frame: Uint8Array): void {
  w.push(HubOp.Send, connection);
  w.pushFrame(frame);
}

export function writeSendInRoom(w: BatchWriter, connection: string, room: string, frame: Uint8Array): void {
  w.push(HubOp.SendInRoom, connection, room);
  w.pushFrame(frame);
}

export function writeJoined(w: BatchWriter, connection: string, attempt: number, room: string, frame: Uint8Array): void {
  w.push(HubOp.Joined, connection, attempt, room);
  w.pushFrame(frame);
}

export function writeJoinFailed(w: BatchWriter, connection: string, attempt: number, room: string, frame: Uint8Array): void {
  w.push(HubOp.JoinFailed, connection, attempt, room);
  w.pushFrame(frame);
}

export function writeRemoved(w: BatchWriter, connection: string, room: string, frame: Uint8Array): void {
  w.push(HubOp.Removed, connection, room);
  w.pushFrame(frame);
}

/** The Directory is structured-cloned with the batch. */
export function writeDirectory(w: BatchWriter, directory: Directory): void {
  w.push(HubOp.Directory, directory);
}

/** The result is structured-cloned with the batch. */
export function writeQueryResult(w: BatchWriter, queryId: number, result: unknown): void {
  w.push(HubOp.QueryResult, queryId, result);
}

export function writeQueryUnavailable(w: BatchWriter, queryId: number, message: string): void {
  w.push(HubOp.QueryUnavailable, queryId, message);
}

/** Carries out one batch from the main thread, op by op, in order; frames are views into the batch's buffer. */
export function dispatchHubBatch(batch: RelayBatch, to: HubEvents): DispatchResult {
  const ops = batch.ops;
  const buffer = batch.buffer;
  const frame = (offset: number, length: number): Uint8Array => new Uint8Array(buffer!, offset, length);
  let i = 0;
  while (i < ops.length) {
    const op = ops[i++] as HubOp;
    switch (op) {
      case HubOp.Publish: {
        const room = ops[i++] as string;
        to.onPublish(room, frame(ops[i++] as number, ops[i++] as number));
        break;
      }
      case HubOp.Send: {
        const connection = ops[i++] as string;
        to.onSend(connection, frame(ops[i++] as number, ops[i++] as number));
        break;
      }
      case HubOp.SendInRoom: {
        const connection = ops[i++] as string;
        const room = ops[i++] as string;
        to.onSendInRoom(connection, room, frame(ops[i++] as number, ops[i++] as number));
        break;
      }
      case HubOp.Removed: {
        const connection = ops[i++] as string;
        const room = ops[i++] as string;
        to.onRemoved(connection, room, frame(ops[i++] as number, ops[i++] as number));
        break;
      }
      case HubOp.Joined:
      case HubOp.JoinFailed: {
        const connection = ops[i++] as string;
        const attempt = ops[i++] as number;
        const room = ops[i++] as string;
        const joinFrame = frame(ops[i++] as number, ops[i++] as number);
        if (op === HubOp.Joined) to.onJoined(connection, attempt, room, joinFrame);
        else to.onJoinFailed(connection, attempt, room, joinFrame);
        break;
      }
      case HubOp.Directory:
        to.onDirectory(ops[i++] as Directory);
        break;
      case HubOp.QueryResult:
        to.onQueryResult(ops[i++] as number, ops[i++]);
        break;
      case HubOp.QueryUnavailable:
        to.onQueryUnavailable(ops[i++] as number, ops[i++] as string);
        break;
      default:
        return { ok: false, op };
    }
  }
  return { ok: true };
}
