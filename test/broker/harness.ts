/**
 * Drives a Hub directly: fake worker ports that capture what the hub posts,
 * requests built with BatchWriter as a worker would send them, and the hub's
 * batches decoded back into ops with their frames decoded by decodeServerFrame.
 */
import { pino } from 'pino';
import type { ClusterStats, Directory, RoomDetail, RoomSummary } from '../../src/broker/broker.js';
import { Hub, type HubSettings } from '../../src/broker/hub.js';
import { BatchWriter, HubOp, type QueryKind, type RelayBatch, WorkerOp } from '../../src/broker/relay.js';
import { decodeServerFrame, type ServerEvent } from '../../src/protocol/index.js';

/** Lets setImmediate-scheduled batches move: a couple of turns of the event loop, no timers. */
export async function flush(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export const silentLog = pino({ level: 'silent' });

export interface Posted {
  readonly batch: RelayBatch;
  readonly transfer: ArrayBuffer[] | undefined;
}

/**
 * A worker's end of the relay: records every postMessage. Directory ops (the snapshot
 * every worker gets for HTTP, see hub.directory tests) are kept apart in `directories`,
 * so that `posted` shows the room traffic alone; a batch that held only a directory is
 * not in `posted`.
 */
export class FakeWorkerPort {
  readonly posted: Posted[] = [];
  readonly directories: Directory[] = [];
  postMessage(value: unknown, transfer?: ArrayBuffer[]): void {
    const batch = value as RelayBatch;
    const ops: unknown[] = [];
    for (let i = 0; i < batch.ops.length; ) {
      if (batch.ops[i] === HubOp.Directory && isDirectory(batch.ops[i + 1])) {
        this.directories.push(batch.ops[i + 1] as Directory);
        i += 2;
        continue;
      }
      ops.push(batch.ops[i++]);
    }
    if (ops.length > 0) this.posted.push({ batch: { ...batch, ops }, transfer });
  }
}

function isDirectory(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'stats' in value && 'rooms' in value;
}

export type Out =
  | { readonly op: 'publish'; readonly room: string; readonly frame: Uint8Array; readonly event: ServerEvent }
  | { readonly op: 'send'; readonly conn: string; readonly frame: Uint8Array; readonly event: ServerEvent }
  | { readonly op: 'joined'; readonly conn: string; readonly attempt: number; readonly room: string; readonly frame: Uint8Array; readonly event: ServerEvent }
  | { readonly op: 'joinFailed'; readonly conn: string; readonly attempt: number; readonly room: string; readonly frame: Uint8Array; readonly event: ServerEvent }
  | { readonly op: 'query'; readonly queryId: number; readonly result: unknown };

/** Parses one hub batch (HubOp layouts from relay.ts); frames are views into the batch buffer. */
export function decodeBatch(batch: RelayBatch): Out[] {
  if (batch.kind !== 'relay') throw new Error(`not a relay batch: ${String(batch.kind)}`);
  const ops = batch.ops;
  const out: Out[] = [];
  const frame = (offset: unknown, length: unknown): Uint8Array => {
    if (!batch.buffer) throw new Error('a frame reference in a batch without a buffer');
    const o = offset as number;
    const l = length as number;
    if (!Number.isInteger(o) || !Number.isInteger(l) || o < 0 || l <= 0 || o + l > batch.buffer.byteLength) {
      throw new Error(`frame reference ${o}+${l} outside the ${batch.buffer.byteLength}-byte buffer`);
    }
    return new Uint8Array(batch.buffer, o, l);
  };
  let i = 0;
  while (i < ops.length) {
    const op = ops[i++] as HubOp;
    switch (op) {
      case HubOp.Publish: {
        const room = ops[i++] as string;
        const f = frame(ops[i++], ops[i++]);
        out.push({ op: 'publish', room, frame: f, event: decodeServerFrame(f) });
        break;
      }
      case HubOp.Send: {
        const conn = ops[i++] as string;
        const f = frame(ops[i++], ops[i++]);
        out.push({ op: 'send', conn, frame: f, event: decodeServerFrame(f) });
        break;
      }
      case HubOp.Joined:
      case HubOp.JoinFailed: {
        const conn = ops[i++] as string;
        const attempt = ops[i++] as number;
        const room = ops[i++] as string;
        const f = frame(ops[i++], ops[i++]);
        out.push({ op: op === HubOp.Joined ? 'joined' : 'joinFailed', conn, attempt, room, frame: f, event: decodeServerFrame(f) });
        break;
      }
      case HubOp.QueryResult:
        out.push({ op: 'query', queryId: ops[i++] as number, result: ops[i++] });
        break;
      default:
        throw new Error(`unknown hub op ${String(op)} at ${i - 1}`);
    }
  }
  return out;
}

/** Strips frames for readable comparisons: op plus decoded event. */
export function summarize(outs: readonly Out[]): unknown[] {
  return outs.map((o) => {
    switch (o.op) {
      case 'publish':
        return { op: o.op, room: o.room, event: o.event };
      case 'send':
        return { op: o.op, conn: o.conn, event: o.event };
      case 'joined':
      case 'joinFailed':
        return { op: o.op, conn: o.conn, attempt: o.attempt, room: o.room, event: o.event };
      case 'query':
        return o;
    }
  });
}

export const DEFAULT_SETTINGS: HubSettings = { historyCapacity: 10, emptyRoomTtlMs: 60_000, joinHistory: 3 };

/** A hub with `workers` fake worker ports attached as indexes 0..workers-1, and a settable clock. */
export class HubHarness {
  readonly hub: Hub;
  readonly ports: FakeWorkerPort[] = [];
  clock = 1_700_000_000_000;
  private nextQuery = 1;
  /** How many of each port's posts take() has already returned. */
  private readonly seen: number[] = [];

  constructor(workers = 3, settings: HubSettings = DEFAULT_SETTINGS) {
    this.hub = new Hub(settings, silentLog, () => this.clock);
    for (let i = 0; i < workers; i++) this.attach(i);
  }

  attach(index: number, incarnation = index + 1, isRestart = false): FakeWorkerPort {
    const port = new FakeWorkerPort();
    this.ports[index] = port;
    this.seen[index] = 0;
    this.hub.attach(index, incarnation, port, isRestart);
    return port;
  }

  /** Sends the hub one batch from `worker`, built by `build`. */
  batch(worker: number, build: (w: BatchWriter) => void): void {
    const w = new BatchWriter();
    build(w);
    this.hub.receive(worker, w.take());
  }

  open(worker: number, ...conns: string[]): void {
    this.batch(worker, (w) => conns.forEach((c) => w.push(WorkerOp.Open, c)));
  }

  close(worker: number, conn: string): void {
    this.batch(worker, (w) => w.push(WorkerOp.Close, conn));
  }

  join(worker: number, conn: string, room: string, nickname: string, opts: { attempt?: number; requestId?: number; since?: number; epoch?: number } = {}): void {
    this.batch(worker, (w) => w.push(WorkerOp.Join, conn, opts.attempt ?? 1, opts.requestId ?? 100, room, nickname, opts.since ?? -1, opts.epoch ?? 0));
  }

  leave(worker: number, conn: string, room: string): void {
    this.batch(worker, (w) => w.push(WorkerOp.Leave, conn, room));
  }

  say(worker: number, conn: string, room: string, text: string, opts: { requestId?: number; to?: string } = {}): void {
    this.batch(worker, (w) => w.push(WorkerOp.Say, conn, opts.requestId ?? 200, room, text, opts.to ?? ''));
  }

  /** Sends a query from `worker`; returns its query id. */
  query(worker: number, kind: QueryKind, argument = ''): number {
    const id = this.nextQuery++;
    this.batch(worker, (w) => w.push(WorkerOp.Query, id, kind, argument));
    return id;
  }

  /** Runs a query from `worker` and returns its result once the hub has answered (consumes that worker's pending ops). */
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
    return this.newPosts(worker).flatMap((p) => decodeBatch(p.batch));
  }

  /** Lets pending batches go out, then forgets everything posted so far (a clean slate for the next step). */
  async settle(): Promise<void> {
    await flush();
    for (let i = 0; i < this.ports.length; i++) if (this.ports[i]) this.newPosts(i);
  }

  stop(): void {
    this.hub.stop();
  }
}
