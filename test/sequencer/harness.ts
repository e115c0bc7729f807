/**
 * Drives the main thread's end of the relay with the in-process sequencer behind it:
 * fake worker ports capture what it posts, requests go in as worker batches written
 * with the relay's own codec (relay/batch.ts), and the batches that come back are
 * read with the same codec, their frames decoded by decodeServerFrame.
 */
import { pino } from 'pino';
import { decodeServerFrame, type ServerEvent } from '../../src/protocol/index.js';
import {
  BatchWriter,
  dispatchHubBatch,
  HubOp,
  type HubEvents,
  type RelayBatch,
  writeClose,
  writeJoin,
  writeLeave,
  writeOpen,
  writeQuery,
  writeSay,
} from '../../src/relay/batch.js';
import { MainEnd } from '../../src/relay/main-end.js';
import { InProcessSequencer } from '../../src/sequencer/in-process.js';
import type { ClusterStats, Directory, QueryKind, RoomDetail, RoomSummary, SequencerSettings } from '../../src/sequencer/sequencer.js';

/** Lets setImmediate-scheduled batches move: a couple of turns of the event loop, no timers. */
export async function flush(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export const silentLog = pino({ level: 'silent' });

export type Out =
  | { readonly op: 'publish'; readonly room: string; readonly frame: Uint8Array; readonly event: ServerEvent }
  | { readonly op: 'send'; readonly conn: string; readonly frame: Uint8Array; readonly event: ServerEvent }
  | { readonly op: 'sendInRoom'; readonly conn: string; readonly room: string; readonly frame: Uint8Array; readonly event: ServerEvent }
  | { readonly op: 'joined'; readonly conn: string; readonly attempt: number; readonly room: string; readonly frame: Uint8Array; readonly event: ServerEvent }
  | {
      readonly op: 'joinFailed';
      readonly conn: string;
      readonly attempt: number;
      readonly room: string;
      readonly frame: Uint8Array;
      readonly event: ServerEvent;
    }
  | { readonly op: 'removed'; readonly conn: string; readonly room: string; readonly frame: Uint8Array; readonly event: ServerEvent }
  | { readonly op: 'query'; readonly queryId: number; readonly result: unknown }
  | { readonly op: 'queryUnavailable'; readonly queryId: number; readonly message: string }
  | { readonly op: 'directory'; readonly directory: Directory };

/**
 * Reads one main-thread batch with the relay's codec into Outs; frames are views into
 * the batch buffer, checked to lie inside it, and decoded.
 */
export function decodeBatch(batch: RelayBatch): Out[] {
  if (batch.kind !== 'relay') throw new Error(`not a relay batch: ${String(batch.kind)}`);
  const out: Out[] = [];
  const checked = (frame: Uint8Array): Uint8Array => {
    if (!batch.buffer || frame.buffer !== batch.buffer) throw new Error('a frame outside the batch buffer');
    if (frame.byteLength <= 0 || frame.byteOffset + frame.byteLength > batch.buffer.byteLength) {
      throw new Error(`frame reference ${frame.byteOffset}+${frame.byteLength} outside the ${batch.buffer.byteLength}-byte buffer`);
    }
    return frame;
  };
  const events: HubEvents = {
    onPublish: (room, frame) => out.push({ op: 'publish', room, frame: checked(frame), event: decodeServerFrame(frame) }),
    onSend: (conn, frame) => out.push({ op: 'send', conn, frame: checked(frame), event: decodeServerFrame(frame) }),
    onSendInRoom: (conn, room, frame) => out.push({ op: 'sendInRoom', conn, room, frame: checked(frame), event: decodeServerFrame(frame) }),
    onJoined: (conn, attempt, room, frame) => out.push({ op: 'joined', conn, attempt, room, frame: checked(frame), event: decodeServerFrame(frame) }),
    onJoinFailed: (conn, attempt, room, frame) => out.push({ op: 'joinFailed', conn, attempt, room, frame: checked(frame), event: decodeServerFrame(frame) }),
    onRemoved: (conn, room, frame) => out.push({ op: 'removed', conn, room, frame: checked(frame), event: decodeServerFrame(frame) }),
    onDirectory: (directory) => out.push({ op: 'directory', directory }),
    onQueryResult: (queryId, result) => out.push({ op: 'query', queryId, result }),
    onQueryUnavailable: (queryId, message) => out.push({ op: 'queryUnavailable', queryId, message }),
  };
  const result = dispatchHubBatch(batch, events);
  if (!result.ok) throw new Error(`unknown hub op ${String(result.op)}`);
  return out;
}

export interface Posted {
  readonly batch: RelayBatch;
  readonly transfer: ArrayBuffer[] | undefined;
  /** The batch read back, directories left out. */
  readonly outs: Out[];
}

/**
 * A worker's end of the relay: records every postMessage. Directories (the snapshot
 * every worker gets for HTTP, see the directory tests) are kept apart in
 * `directories`, so that `posted` shows the room traffic alone; a batch that held only
 * a directory is not in `posted`.
 */
export class FakeWorkerPort {
  readonly posted: Posted[] = [];
  readonly directories: Directory[] = [];
  postMessage(value: unknown, transfer?: ArrayBuffer[]): void {
    const batch = value as RelayBatch;
    const outs: Out[] = [];
    for (const o of decodeBatch(batch)) {
      if (o.op === 'directory') this.directories.push(o.directory);
      else outs.push(o);
    }
    if (outs.length === 0) return;
    // The batch as a test sees it: its ops without the directory's (a directory op is its code and one object).
    const ops: unknown[] = [];
    for (let i = 0; i < batch.ops.length; i++) {
      if (batch.ops[i] === HubOp.Directory && isDirectory(batch.ops[i + 1])) i++;
      else ops.push(batch.ops[i]);
    }
    this.posted.push({ batch: { ...batch, ops }, transfer, outs });
  }
}

function isDirectory(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'stats' in value && 'rooms' in value;
}

/** Strips frames for readable comparisons: op plus decoded event. */
export function summarize(outs: readonly Out[]): unknown[] {
  return outs.map((o) => {
    switch (o.op) {
      case 'publish':
        return { op: o.op, room: o.room, event: o.event };
      case 'send':
        return { op: o.op, conn: o.conn, event: o.event };
      case 'sendInRoom':
      case 'removed':
        return { op: o.op, conn: o.conn, room: o.room, event: o.event };
      case 'joined':
      case 'joinFailed':
        return { op: o.op, conn: o.conn, attempt: o.attempt, room: o.room, event: o.event };
      default:
        return o;
    }
  });
}

/** Presence goes out only when a test calls tick() (the tick's timer is far beyond any test). */
export const DEFAULT_SETTINGS: SequencerSettings = {
  historyCapacity: 10,
  emptyRoomTtlMs: 60_000,
  joinHistory: 3,
  presenceEventsMaxMembers: 5,
  maxRoomsTotal: 1000,
  newRoomsPerMinute: 1000,
  presenceTickMs: 3_600_000,
  presenceCountTickMs: 0,
};

/** The relay's main end and an in-process sequencer, `workers` fake worker ports attached as indexes 0..workers-1, a settable clock. */
export class RelayHarness {
  readonly sequencer: InProcessSequencer;
  readonly relay: MainEnd;
  readonly ports: FakeWorkerPort[] = [];
  clock = 1_700_000_000_000;
  private nextQuery = 1;
  /** How many of each port's posts take() has already returned. */
  private readonly seen: number[] = [];

  constructor(workers = 3, settings: SequencerSettings = DEFAULT_SETTINGS) {
    this.sequencer = new InProcessSequencer(settings, () => this.clock);
    this.relay = new MainEnd(this.sequencer, silentLog);
    void this.relay.start();
    for (let i = 0; i < workers; i++) this.attach(i);
  }

  attach(index: number, incarnation = index + 1, isRestart = false): FakeWorkerPort {
    const port = new FakeWorkerPort();
    this.ports[index] = port;
    this.seen[index] = 0;
    this.relay.attach(index, incarnation, port, isRestart);
    return port;
  }

  /** Sends one batch from `worker`, built by `build`. */
  batch(worker: number, build: (w: BatchWriter) => void): void {
    const w = new BatchWriter();
    build(w);
    this.relay.receive(worker, w.take());
  }

  open(worker: number, ...conns: string[]): void {
    this.batch(worker, (w) => {
      for (const c of conns) writeOpen(w, c);
    });
  }

  close(worker: number, conn: string): void {
    this.batch(worker, (w) => writeClose(w, conn));
  }

  join(
    worker: number,
    conn: string,
    room: string,
    nickname: string,
    opts: { attempt?: number; requestId?: number; since?: number; epoch?: number; addressSlot?: number; resumeKey?: string } = {},
  ): void {
    const request = {
      requestId: opts.requestId ?? 100,
      room,
      nickname,
      since: opts.since ?? null,
      epoch: opts.epoch ?? 0,
      ...(opts.addressSlot === undefined ? {} : { addressSlot: opts.addressSlot }),
      ...(opts.resumeKey === undefined ? {} : { resumeKey: opts.resumeKey }),
    };
    this.batch(worker, (w) => writeJoin(w, conn, opts.attempt ?? 1, request));
  }

  leave(worker: number, conn: string, room: string): void {
    this.batch(worker, (w) => writeLeave(w, conn, room));
  }

  say(worker: number, conn: string, room: string, text: string, opts: { requestId?: number; to?: string } = {}): void {
    this.batch(worker, (w) => writeSay(w, conn, { requestId: opts.requestId ?? 200, room, text, to: opts.to ?? null }));
  }

  /** Sends a query from `worker`; returns its query id. */
  query(worker: number, kind: QueryKind, argument = ''): number {
    const id = this.nextQuery++;
    this.batch(worker, (w) => writeQuery(w, id, kind, argument));
    return id;
  }

  /** Runs a query from `worker` and returns its result once answered (consumes that worker's pending ops). */
  async ask(kind: 'rooms', worker?: number): Promise<RoomSummary[]>;
  async ask(kind: 'room', worker: number, argument: string): Promise<RoomDetail | null>;
  async ask(kind: 'stats', worker?: number): Promise<ClusterStats>;
  async ask(kind: QueryKind, worker = 0, argument = ''): Promise<unknown> {
    const id = this.query(worker, kind, argument);
    await flush();
    const answers = this.take(worker).filter((o): o is Extract<Out, { op: 'query' }> => o.op === 'query' && o.queryId === id);
    if (answers.length !== 1) throw new Error(`expected one answer to query ${id}, got ${answers.length}`);
    return answers[0]!.result;
  }

  /** The posts to `worker` not yet returned by take(). */
  newPosts(worker: number): Posted[] {
    const port = this.ports[worker]!;
    const posts = port.posted.slice(this.seen[worker]);
    this.seen[worker] = port.posted.length;
    return posts;
  }

  /** Every op posted to `worker` since the last take(), decoded, in order. */
  take(worker: number): Out[] {
    return this.newPosts(worker).flatMap((p) => p.outs);
  }

  /** Ends the presence tick now: each room's gathered joins and leaves go out as one Presence frame. */
  tick(): void {
    this.sequencer.flushPresence();
  }

  /** Lets pending batches go out, then forgets everything posted so far (a clean slate for the next step). */
  async settle(): Promise<void> {
    await flush();
    for (let i = 0; i < this.ports.length; i++) if (this.ports[i]) this.newPosts(i);
  }

  stop(): void {
    void this.relay.stop();
  }
}
