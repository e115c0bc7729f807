/**
 * The fan-out load generator: N connections over WsConn, joined to rooms of equal
 * size before anything is measured; a fixed aggregate send rate spread round-robin
 * over the senders; every room message counted on arrival; send times read from
 * the messages of a few probe connections into an HDR histogram (microseconds).
 *
 * A run: warm-up, measured window, drain. Throughput and the delivery ratio come
 * from the window; latency from messages sent in the window, whenever they arrive
 * (during the drain too); "lost" is what has not arrived after the drain.
 */
import * as hdr from 'hdr-histogram-js';
import { type Adapter, Kind } from './adapters.js';
import { machineBusySeconds } from './machine-load.js';
import { nowUs, readStamp, STAMP_MARKER, stampText, writeStamp } from './stamp.js';
import { type FrameSink, maskedFrameSize, WsConn, writeMaskedFrame } from './wsclient.js';

export interface Scenario {
  readonly name: string;
  readonly connections: number;
  readonly roomSize: number;
  /** Senders per room (they are members too and receive their own messages). */
  readonly sendersPerRoom: number;
  readonly textBytes: number;
}

export interface Timing {
  readonly warmupMs: number;
  readonly windowMs: number;
  /** Longest wait after the window for the last messages. */
  readonly drainMs: number;
}

/** What the generator reads about the server process (utime+stime and RSS), when it can. */
export interface ServerProbe {
  cpuSeconds(): number;
  rssBytes(): number;
}

export interface JoinResult {
  readonly connections: number;
  readonly joined: number;
  readonly failed: number;
  readonly joinMs: number;
  /** After the last join: how long until frames stopped arriving (a join storm's presence frames draining). */
  readonly settleMs: number;
  readonly firstError: string | null;
}

export interface RunResult {
  readonly sendsPerSecTarget: number;
  readonly sentPerSec: number;
  readonly deliveriesPerSec: number;
  readonly deliveryRatio: number;
  readonly sent: number;
  readonly expected: number;
  readonly received: number;
  readonly lost: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly latencySamples: number;
  readonly serverCpuSec: number;
  readonly cpuSecPerMillion: number;
  readonly serverRssMB: number;
  readonly generatorCpuSec: number;
  readonly generatorCpuSecPerMillion: number;
  /** CPU used by other processes on the machine during the window, percent of one core. */
  readonly otherCpuPct: number;
  readonly closedConnections: number;
  readonly errorFrames: number;
  readonly pass: boolean;
  readonly failReasons: readonly string[];
}

/** One progress sample of a long run (see run()'s `progress`): the interval since the previous sample. */
export interface ProgressSample {
  /** Since the start of the measured window. */
  readonly elapsedMs: number;
  readonly deliveriesPerSec: number;
  /** Latency of the probe messages that arrived in the interval. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Since the start of the run: expected deliveries not (yet) arrived, i.e. in flight or lost. */
  readonly outstanding: number;
  readonly closedConnections: number;
  readonly errorFrames: number;
}

export interface Progress {
  readonly everyMs: number;
  /** Called from the send loop: it must return at once (start async work, do not await it). */
  onSample(sample: ProgressSample): void;
}

export const PASS_P99_MS = 100;
export const PASS_RATIO = 0.98;

interface Sender {
  readonly conn: WsConn;
  /** Plain (unmasked) say payload whose stamp digits are rewritten before each send. */
  readonly payload: Uint8Array;
  readonly stampAt: number;
  readonly frameSize: number;
  pendingCount: number;
}

const round = (v: number, digits = 2): number => Number(v.toFixed(digits));

export class Generator implements FrameSink {
  readonly conns: WsConn[] = [];
  private senders: Sender[] = [];
  /** Room messages received, all connections. */
  received = 0;
  closed = 0;
  errorFrames = 0;
  firstError: string | null = null;
  private recording = false;
  private windowStartUs = 0;
  private readonly histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
  /** Latency over the current progress interval; filled only while a run reports progress. */
  private readonly intervalHistogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
  private sampling = false;
  private nextIndex = 0;
  /** Every frame received, of any kind (for settling after the joins). */
  private framesReceived = 0;
  private readonly joinWaiters = new Map<WsConn, (error: Error | null) => void>();

  constructor(
    private readonly adapter: Adapter,
    readonly scenario: Scenario,
    /** One port, or several (the nodes of a cluster): each room's members then take turns between them. */
    private readonly port: number | readonly number[],
  ) {}

  get rooms(): number {
    return Math.ceil(this.scenario.connections / this.scenario.roomSize);
  }

  // ------------------------------------------------------------ FrameSink (hot path)

  onFrame(conn: WsConn, buf: Buffer, start: number, end: number): void {
    this.framesReceived++;
    const kind = this.adapter.classify(buf, start, end);
    if (kind === Kind.Message) {
      conn.messages++;
      // What a stalled connection reads once resumed is its backlog, not a delivery of the run.
      if (conn.stalled) return;
      this.received++;
      if (conn.probe && this.recording) {
        const sentUs = readStamp(buf, start, end);
        if (sentUs >= this.windowStartUs) {
          const latencyUs = Math.max(1, nowUs() - sentUs);
          this.histogram.recordValue(latencyUs);
          if (this.sampling) this.intervalHistogram.recordValue(latencyUs);
        }
      }
      return;
    }
    if (kind === Kind.Step) {
      conn.step++;
      if (!conn.joined && this.adapter.advance(conn)) {
        conn.joined = true;
        this.joinWaiters.get(conn)?.(null);
      }
    } else if (kind === Kind.Ping) {
      conn.send(this.adapter.opcode, this.adapter.pong);
    } else if (kind === Kind.Error) {
      this.errorFrames++;
      conn.errors++;
      this.firstError ??= `error frame: ${buf
        .toString('latin1', start, Math.min(end, start + 300))
        .replace(/[^\x20-\x7e]+/g, ' ')
        .trim()}`;
      this.joinWaiters.get(conn)?.(new Error('error frame during join'));
    }
  }

  onClose(conn: WsConn, error: Error | null): void {
    // A stalled connection is expected to be closed by the server: its caller reads how.
    if (conn.stalled) return;
    this.closed++;
    const how = conn.closeCode !== null ? ` with ${conn.closeCode} "${conn.closeReason}"` : '';
    this.firstError ??= `connection ${conn.index} closed by the server${how}${error ? `: ${error.message}` : ''}`;
    this.joinWaiters.get(conn)?.(new Error('closed during join'));
  }

  // ------------------------------------------------------------ join

  /**
   * Connects and joins every connection, `concurrency` handshakes at a time.
   * Connection i is in room i % rooms; the first sendersPerRoom members of a room
   * send; about 64 connections spread over the rooms are latency probes. With
   * several ports, the members of every room (senders too) alternate between them.
   */
  async connectAll(concurrency = 200, joinTimeoutMs = 60_000): Promise<JoinResult> {
    const { connections, sendersPerRoom } = this.scenario;
    const rooms = this.rooms;
    const probeEvery = Math.max(1, Math.floor(connections / 64));
    let next = 0;
    let joined = 0;
    let failed = 0;
    const t0 = performance.now();
    const deadline = t0 + joinTimeoutMs;
    const lane = async (): Promise<void> => {
      while (next < connections && performance.now() < deadline) {
        const i = next++;
        try {
          await this.connectOne(i, `r${i % rooms}`, i % probeEvery === 0, deadline);
          joined++;
        } catch (error) {
          failed++;
          this.firstError ??= `connection ${i}: ${(error as Error).message}`;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, connections) }, lane));
    this.nextIndex = connections;
    const joinMs = performance.now() - t0;
    this.conns.sort((a, b) => a.index - b.index);
    const text = stampText(this.scenario.textBytes);
    const perRoom = new Map<string, number>();
    this.senders = [];
    for (const conn of this.conns) {
      const n = perRoom.get(conn.room) ?? 0;
      perRoom.set(conn.room, n + 1);
      if (n >= sendersPerRoom || !conn.joined) continue;
      const payload = this.adapter.sayPayload(conn.room, text);
      const stampAt = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).indexOf(STAMP_MARKER);
      this.senders.push({ conn, payload, stampAt, frameSize: maskedFrameSize(payload.length), pendingCount: 0 });
    }
    const settleMs = await this.settle();
    return { connections, joined, failed, joinMs: round(joinMs, 1), settleMs: round(settleMs, 1), firstError: this.firstError };
  }

  /**
   * Waits until no frame has arrived for `quietMs`, at most `maxMs`. A member's join
   * completes with its own snapshot, while the presence it caused may still be on its
   * way to the others; measuring before it drains would charge the join storm to the
   * first run. Since protocol 2 the chat host batches presence: one Presence frame per
   * room per 100 ms tick to every member (not one MemberJoined per join per member:
   * 12.5 million frames for 5,000 joins into one room under protocol 1), so the storm
   * costs members x ticks frames and stops at most a tick after the last join, well
   * inside `quietMs`. Presence frames are Kind.Other: they count here, never as
   * deliveries. Servers without presence settle at once.
   */
  private async settle(quietMs = 500, maxMs = 60_000): Promise<number> {
    const t0 = performance.now();
    let seen = this.framesReceived;
    let quietSince = t0;
    while (performance.now() - t0 < maxMs) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const now = performance.now();
      if (this.framesReceived !== seen) {
        seen = this.framesReceived;
        quietSince = now;
      } else if (now - quietSince >= quietMs) break;
    }
    return performance.now() - t0;
  }

  /**
   * Connects connection `index`, joins `room`, and adds it to conns; rejects on failure or at `deadline`.
   * With several ports (the nodes of a cluster), the members of every room (senders too) alternate between them.
   */
  private async connectOne(index: number, room: string, probe: boolean, deadline: number): Promise<WsConn> {
    const ports = typeof this.port === 'number' ? [this.port] : this.port;
    const port = ports[Math.floor(index / this.rooms) % ports.length]!;
    const conn = await WsConn.connect(index, { port, path: this.adapter.path, room, probe }, this);
    this.conns.push(conn);
    if (conn.joined) return conn;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('join timeout')), Math.max(1, deadline - performance.now()));
      this.joinWaiters.set(conn, (error) => {
        clearTimeout(timer);
        this.joinWaiters.delete(conn);
        if (error) reject(error);
        else resolve();
      });
      if (conn.step === 0 && this.adapter.advance(conn)) {
        conn.joined = true;
        this.joinWaiters.get(conn)?.(null);
      }
    });
    return conn;
  }

  /** Each room's member count, as joined and reading (stalled members are not counted). */
  roomSizes(): Map<string, number> {
    const sizes = new Map<string, number>();
    for (const c of this.conns) if (c.joined && !c.stalled) sizes.set(c.room, (sizes.get(c.room) ?? 0) + 1);
    return sizes;
  }

  isSender(conn: WsConn): boolean {
    return this.senders.some((s) => s.conn === conn);
  }

  /**
   * Makes these members slow consumers: they stay in their rooms but stop reading
   * their sockets, so the kernel buffers fill and the server's backpressure grows.
   * They leave the generator's counts (expected, received, closed) and latency.
   */
  stall(conns: readonly WsConn[]): void {
    for (const conn of conns) {
      if (this.isSender(conn)) throw new Error(`connection ${conn.index} sends; only a listener can be stalled`);
      conn.stalled = true;
      conn.probe = false;
      conn.socket.pause();
    }
  }

  /**
   * Drops these connections and joins as many fresh ones to the same rooms (new
   * indexes, not probes, not senders), so that the rooms keep their size.
   */
  async replace(conns: readonly WsConn[], joinTimeoutMs = 30_000): Promise<WsConn[]> {
    const deadline = performance.now() + joinTimeoutMs;
    const fresh: WsConn[] = [];
    for (const old of conns) {
      old.destroy();
      this.conns.splice(this.conns.indexOf(old), 1);
      fresh.push(await this.connectOne(this.nextIndex++, old.room, false, deadline));
    }
    return fresh;
  }

  // ------------------------------------------------------------ load

  /**
   * Sends `sendsPerSec` messages per second in total for warm-up + window, then
   * waits up to drainMs for every expected delivery.
   */
  async run(
    sendsPerSec: number,
    timing: Timing,
    server: ServerProbe | null,
    p99LimitMs = PASS_P99_MS,
    progress: Progress | null = null,
    passRatio = PASS_RATIO,
  ): Promise<RunResult> {
    const sizes = this.roomSizes();
    const senderRoomSize = this.senders.map((s) => sizes.get(s.conn.room) ?? 0);
    const startReceived = this.received;
    const startClosed = this.closed;
    const startErrors = this.errorFrames;
    let sent = 0;
    let expected = 0;
    let cursor = 0;
    const touched: Sender[] = [];
    const sendDue = (count: number): void => {
      const senders = this.senders;
      for (let k = 0; k < count; k++) {
        const s = senders[cursor]!;
        expected += senderRoomSize[cursor]!;
        cursor = cursor + 1 === senders.length ? 0 : cursor + 1;
        if (s.pendingCount++ === 0) touched.push(s);
      }
      sent += count;
      const now = nowUs();
      for (const s of touched) {
        const out = Buffer.allocUnsafe(s.frameSize * s.pendingCount);
        writeStamp(s.payload, s.stampAt, now);
        let at = 0;
        for (let k = 0; k < s.pendingCount; k++) at = writeMaskedFrame(out, at, this.adapter.opcode, s.payload);
        s.conn.write(out);
        s.pendingCount = 0;
      }
      touched.length = 0;
    };

    this.histogram.reset();
    this.intervalHistogram.reset();
    const t0 = performance.now();
    const windowStart = t0 + timing.warmupMs;
    const windowEnd = windowStart + timing.windowMs;
    let nextSampleAt = progress ? windowStart + progress.everyMs : Number.POSITIVE_INFINITY;
    let lastSample = { t: windowStart, received: 0 };
    const sample = (now: number): void => {
      const h = this.intervalHistogram;
      const seconds = (now - lastSample.t) / 1000;
      progress!.onSample({
        elapsedMs: Math.round(now - windowStart),
        deliveriesPerSec: round((this.received - lastSample.received) / seconds, 0),
        p50Ms: round(h.getValueAtPercentile(50) / 1000, 3),
        p99Ms: round(h.getValueAtPercentile(99) / 1000, 3),
        maxMs: round(h.maxValue / 1000, 3),
        outstanding: Math.max(0, expected - (this.received - startReceived)),
        closedConnections: this.closed - startClosed,
        errorFrames: this.errorFrames - startErrors,
      });
      h.reset();
      lastSample = { t: now, received: this.received };
    };
    let win: { sent: number; expected: number; received: number; cpu: ReturnType<typeof process.cpuUsage>; serverCpu: number; busy: number; t: number } | null =
      null;
    let winEnd: { sent: number; expected: number; received: number; genCpu: number; serverCpu: number; busy: number; rss: number; t: number } | null = null;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        if (win === null && now >= windowStart) {
          win = { sent, expected, received: this.received, cpu: process.cpuUsage(), serverCpu: server?.cpuSeconds() ?? 0, busy: machineBusySeconds(), t: now };
          this.windowStartUs = nowUs();
          this.recording = true;
          this.sampling = progress !== null;
          lastSample = { t: now, received: this.received };
        }
        if (now >= nextSampleAt) {
          sample(now);
          nextSampleAt += progress!.everyMs;
        }
        if (now >= windowEnd) {
          const cpu = process.cpuUsage(win!.cpu);
          winEnd = {
            sent,
            expected,
            received: this.received,
            genCpu: (cpu.user + cpu.system) / 1e6,
            serverCpu: server?.cpuSeconds() ?? 0,
            rss: server?.rssBytes() ?? 0,
            busy: machineBusySeconds(),
            t: now,
          };
          clearInterval(timer);
          resolve();
          return;
        }
        if (this.senders.length === 0) return;
        const due = Math.floor((sendsPerSec * (now - t0)) / 1000) - sent;
        if (due > 0) sendDue(due);
      }, 2);
    });
    const drainUntil = performance.now() + timing.drainMs;
    while (this.received - startReceived < expected && performance.now() < drainUntil && this.closed === startClosed) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.recording = false;
    this.sampling = false;

    const w = win!;
    const e = winEnd!;
    const seconds = (e.t - w.t) / 1000;
    const windowDeliveries = e.received - w.received;
    const windowExpected = e.expected - w.expected;
    const received = this.received - startReceived;
    const lost = Math.max(0, expected - received);
    const h = this.histogram;
    const ms = (p: number): number => round(h.getValueAtPercentile(p) / 1000, 3);
    const serverCpuSec = e.serverCpu - w.serverCpu;
    const result = {
      sendsPerSecTarget: round(sendsPerSec, 1),
      sentPerSec: round((e.sent - w.sent) / seconds, 0),
      deliveriesPerSec: round(windowDeliveries / seconds, 0),
      deliveryRatio: windowExpected > 0 ? round(windowDeliveries / windowExpected, 4) : 0,
      sent,
      expected,
      received,
      lost,
      p50Ms: ms(50),
      p90Ms: ms(90),
      p99Ms: ms(99),
      p999Ms: ms(99.9),
      maxMs: round(h.maxValue / 1000, 3),
      latencySamples: h.totalCount,
      serverCpuSec: round(serverCpuSec, 2),
      cpuSecPerMillion: windowDeliveries > 0 ? round((serverCpuSec / windowDeliveries) * 1e6, 3) : 0,
      serverRssMB: round(e.rss / 2 ** 20, 1),
      generatorCpuSec: round(e.genCpu, 2),
      generatorCpuSecPerMillion: windowDeliveries > 0 ? round((e.genCpu / windowDeliveries) * 1e6, 3) : 0,
      otherCpuPct: Math.max(0, Math.round(((e.busy - w.busy - serverCpuSec - e.genCpu) / seconds) * 100)),
      closedConnections: this.closed - startClosed,
      errorFrames: this.errorFrames - startErrors,
    };
    const failReasons: string[] = [];
    if (result.latencySamples === 0) failReasons.push('no latency samples');
    if (result.p99Ms > p99LimitMs) failReasons.push(`p99 ${result.p99Ms} ms > ${p99LimitMs}`);
    if (result.deliveryRatio < passRatio) failReasons.push(`delivery ratio ${result.deliveryRatio} < ${passRatio}`);
    if (lost > 0) failReasons.push(`${lost} lost after ${timing.drainMs} ms drain`);
    if (result.closedConnections > 0) failReasons.push(`${result.closedConnections} connections closed`);
    if (result.errorFrames > 0) failReasons.push(`${result.errorFrames} error frames`);
    return { ...result, pass: failReasons.length === 0, failReasons };
  }

  close(): void {
    for (const c of this.conns) c.destroy();
    this.conns.length = 0;
    this.senders = [];
  }
}
