/**
 * S1, slow consumers (issue 5): one room of 100 members on the chat host (2
 * workers), 10 of them sending at a fixed rate well below the knee. Each repeat
 * has two phases on the same host and connections: a baseline (all 100 read) and
 * a stall (5 listeners stop reading their sockets: socket.pause(), so the kernel
 * buffers fill and the host's backpressure grows until it closes them). For the
 * 95 others: deliveries/s, p50/p99, lost; the host's RSS sampled through both
 * phases; for each stalled socket whether and when the host closed it (the kernel's
 * view of the host's side of the TCP connection, polled) and with which close
 * frame (read after resuming the socket at the end of the phase). Between repeats
 * the stalled members are replaced by fresh ones, so every phase starts with 100.
 */
import { type RunResult, Generator, type Scenario, type Timing } from './generator.js';
import { fetchHostMetrics, metricValue, TCP_ESTABLISHED, tcpSockets } from './host-metrics.js';
import { chatAdapter } from './adapters.js';
import { DISTURBED_PCT, QUIET_PCT, waitForQuiet } from './machine-load.js';
import { median } from './search.js';
import { type RunningTarget, startTarget } from './targets.js';
import type { WsConn } from './wsclient.js';

export const S1: Scenario & { readonly description: string } = {
  name: 'S1',
  description: 'one room of 100 members, 10 senders, 64-byte texts; 5 listeners stop reading in the stall phase',
  connections: 100,
  roomSize: 100,
  sendersPerRoom: 10,
  textBytes: 64,
};

export interface SlowConsumerOptions {
  /** Asked deliveries/s with all 100 members reading (sends/s = this / 100). */
  readonly deliveriesPerSec: number;
  readonly timing: Timing;
  readonly repeats: number;
  readonly stalledCount: number;
  /** --max-backpressure for the host; null: the host's default. */
  readonly maxBackpressureBytes: number | null;
  readonly workers: number;
  /** Before each phase, wait (at most this long) until other processes leave the CPU; 0: no wait. */
  readonly quietWaitMs: number;
  readonly log: (line: string) => void;
}

export interface StalledSocket {
  readonly index: number;
  /** From the stall to the first poll that saw the host's side of the TCP connection closed; null: still open at the end of the phase. */
  readonly closedByHostAfterMs: number | null;
  /** How the host's side looked when first seen closed: "gone" or a TCP state number. */
  readonly hostSideWhenClosed: string | null;
  /** Largest kernel queues seen while the connection was established, bytes. */
  readonly hostSendQueueMax: number;
  readonly clientReceiveQueueMax: number;
  /** After resuming: the close frame received, or how the socket ended. */
  readonly closeCode: number | null;
  readonly closeReason: string;
  readonly endedAs: 'close frame' | 'tcp closed without close frame' | 'still open';
  /** The socket error, when the TCP connection ended with one (a reset rather than a FIN). */
  readonly socketError: string | null;
  /** Room messages read from the backlog after resuming. */
  readonly backlogMessages: number;
}

export interface PhaseRecord {
  readonly phase: 'baseline' | 'stall';
  readonly repeat: number;
  readonly readers: number;
  readonly run: Pick<
    RunResult,
    | 'sentPerSec'
    | 'deliveriesPerSec'
    | 'deliveryRatio'
    | 'lost'
    | 'p50Ms'
    | 'p90Ms'
    | 'p99Ms'
    | 'p999Ms'
    | 'maxMs'
    | 'latencySamples'
    | 'serverCpuSec'
    | 'generatorCpuSec'
    | 'otherCpuPct'
    | 'closedConnections'
    | 'errorFrames'
    | 'pass'
    | 'failReasons'
  >;
  readonly rssStartMB: number;
  readonly rssMaxMB: number;
  readonly rssEndMB: number;
  /** chat_backpressure_closes_total after the phase minus before; null when /metrics is not available. */
  readonly backpressureClosesDelta: number | null;
  readonly stalled: readonly StalledSocket[];
}

export interface PhaseSummary {
  readonly deliveriesPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Smallest and largest p99 of the repeats: the noise to read the change against. */
  readonly p99RangeMs: readonly [number, number];
  readonly lost: number;
  readonly rssMaxMB: number;
  /** The largest CPU share other processes took during a phase, percent of one core. */
  readonly otherCpuMaxPct: number;
}

export interface SlowConsumerResult {
  readonly scenario: typeof S1;
  readonly deliveriesPerSec: number;
  readonly sendsPerSec: number;
  readonly timing: Timing;
  readonly repeats: number;
  readonly stalledCount: number;
  readonly maxBackpressureBytes: number | null;
  readonly hostCommand: string;
  readonly join: { joined: number; failed: number; joinMs: number };
  readonly phases: readonly PhaseRecord[];
  readonly baseline: PhaseSummary;
  readonly stall: PhaseSummary;
  /** (stall p99 - baseline p99) / baseline p99, medians of the repeats, percent. */
  readonly p99ChangePct: number;
  readonly p99ChangeWithinTenPct: boolean;
  /**
   * Other processes took more than DISTURBED_PCT of a core during some phase: the p99
   * figures then say more about the machine than about the host.
   */
  readonly noisy: boolean;
  readonly stalledClosedByHost: string;
  readonly closeCodes: Record<string, number>;
  readonly closeAfterMs: { readonly min: number; readonly median: number; readonly max: number } | null;
  readonly rssMaxMB: number;
}

const POLL_MS = 100;
const RSS_EVERY_MS = 200;
/** After resuming a stalled socket, how long it may take to read its backlog and the close. */
const RESUME_WAIT_MS = 5000;
const mb = (bytes: number): number => Number((bytes / 2 ** 20).toFixed(1));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Watches the stalled sockets through /proc/net/tcp until stop(): the first moment the host's side is closed, and the queues. */
function watchStalled(conns: readonly WsConn[], hostPort: number, stalledAt: number) {
  const watched = conns.map((conn) => ({
    conn,
    clientPort: conn.socket.localPort!,
    closedAfterMs: null as number | null,
    hostSideWhenClosed: null as string | null,
    hostSendQueueMax: 0,
    clientReceiveQueueMax: 0,
  }));
  const poll = (): void => {
    const sockets = tcpSockets();
    const now = performance.now();
    for (const w of watched) {
      if (w.closedAfterMs !== null) continue;
      const hostSide = sockets.get(`${hostPort}>${w.clientPort}`);
      const clientSide = sockets.get(`${w.clientPort}>${hostPort}`);
      if (hostSide === undefined || hostSide.state !== TCP_ESTABLISHED) {
        w.closedAfterMs = Math.round(now - stalledAt);
        w.hostSideWhenClosed = hostSide === undefined ? 'gone' : `tcp state ${hostSide.state}`;
        continue;
      }
      w.hostSendQueueMax = Math.max(w.hostSendQueueMax, hostSide.sendQueue);
      w.clientReceiveQueueMax = Math.max(w.clientReceiveQueueMax, clientSide?.receiveQueue ?? 0);
    }
  };
  const timer = setInterval(poll, POLL_MS);
  return {
    watched,
    stop(): void {
      poll();
      clearInterval(timer);
    },
  };
}

export async function runSlowConsumers(options: SlowConsumerOptions): Promise<SlowConsumerResult> {
  const { log, timing } = options;
  const hostFlags = options.maxBackpressureBytes !== null ? ['--max-backpressure', String(options.maxBackpressureBytes)] : [];
  const spec = { name: 'chat-host', workers: options.workers, hostFlags } as const;
  const host: RunningTarget = await startTarget(spec);
  const gen = new Generator(chatAdapter, S1, host.port);
  const rssSamples: number[] = [];
  const rssTimer = setInterval(() => rssSamples.push(host.probe.rssBytes()), RSS_EVERY_MS);
  const phases: PhaseRecord[] = [];
  try {
    const join = await gen.connectAll(50);
    log(`S1: ${join.joined}/${join.connections} joined in ${join.joinMs} ms${join.firstError ? ` (${join.firstError})` : ''}`);
    if (join.failed > 0) throw new Error(`S1 join failed: ${join.firstError}`);
    // The members to stall: the last listeners of the room; not probes in any phase,
    // so that both phases measure latency on the same 95 members.
    let designated = gen.conns.filter((c) => !gen.isSender(c)).slice(-options.stalledCount);
    for (const c of designated) c.probe = false;
    const sendsPerSec = options.deliveriesPerSec / S1.roomSize;

    const phase = async (kind: PhaseRecord['phase'], repeat: number): Promise<PhaseRecord> => {
      if (options.quietWaitMs > 0) {
        const q = await waitForQuiet(QUIET_PCT, options.quietWaitMs);
        if (q.busyPct > QUIET_PCT) log(`machine still busy (${q.busyPct}% of a core) after ${q.waitedMs} ms; running anyway`);
      }
      const closesBefore = await backpressureCloses(host.port);
      rssSamples.length = 0;
      const rssStart = host.probe.rssBytes();
      let watcher: ReturnType<typeof watchStalled> | null = null;
      if (kind === 'stall') {
        gen.stall(designated);
        watcher = watchStalled(designated, host.port, performance.now());
      }
      const readers = [...gen.roomSizes().values()].reduce((a, b) => a + b, 0);
      const r = await gen.run(sendsPerSec, timing, host.probe);
      watcher?.stop();
      const rssEnd = host.probe.rssBytes();
      const rssMax = Math.max(rssStart, rssEnd, ...rssSamples);
      const stalled = watcher ? await resumeAndRead(watcher.watched) : [];
      const closesAfter = await backpressureCloses(host.port);
      const record: PhaseRecord = {
        phase: kind,
        repeat,
        readers,
        run: {
          sentPerSec: r.sentPerSec,
          deliveriesPerSec: r.deliveriesPerSec,
          deliveryRatio: r.deliveryRatio,
          lost: r.lost,
          p50Ms: r.p50Ms,
          p90Ms: r.p90Ms,
          p99Ms: r.p99Ms,
          p999Ms: r.p999Ms,
          maxMs: r.maxMs,
          latencySamples: r.latencySamples,
          serverCpuSec: r.serverCpuSec,
          generatorCpuSec: r.generatorCpuSec,
          otherCpuPct: r.otherCpuPct,
          closedConnections: r.closedConnections,
          errorFrames: r.errorFrames,
          pass: r.pass,
          failReasons: r.failReasons,
        },
        rssStartMB: mb(rssStart),
        rssMaxMB: mb(rssMax),
        rssEndMB: mb(rssEnd),
        backpressureClosesDelta: closesBefore !== null && closesAfter !== null ? closesAfter - closesBefore : null,
        stalled,
      };
      phases.push(record);
      log(
        `S1 ${kind} ${repeat}: ${readers} readers, ${r.deliveriesPerSec} deliveries/s (sends ${r.sentPerSec}/s) p50 ${r.p50Ms} p99 ${r.p99Ms} max ${r.maxMs} ms lost ${r.lost} ` +
          `closed ${r.closedConnections} rss ${record.rssStartMB}->${record.rssEndMB} (max ${record.rssMaxMB}) MB other ${r.otherCpuPct}%` +
          (r.pass ? '' : ` [${r.failReasons.join('; ')}]`),
      );
      for (const s of stalled) {
        log(
          `  stalled #${s.index}: host side closed ${s.closedByHostAfterMs === null ? 'no' : `after ${s.closedByHostAfterMs} ms (${s.hostSideWhenClosed})`}; ` +
            `then ${s.endedAs}${s.closeCode !== null ? ` ${s.closeCode} "${s.closeReason}"` : ''}${s.socketError ? ` (${s.socketError})` : ''}; queues host send ${s.hostSendQueueMax} B, client receive ${s.clientReceiveQueueMax} B; backlog ${s.backlogMessages} messages`,
        );
      }
      if (record.backpressureClosesDelta !== null) log(`  chat_backpressure_closes_total +${record.backpressureClosesDelta}`);
      return record;
    };

    for (let repeat = 1; repeat <= options.repeats; repeat++) {
      await phase('baseline', repeat);
      await sleep(300);
      await phase('stall', repeat);
      designated = await gen.replace(designated);
      await sleep(300);
    }

    const summarize = (kind: PhaseRecord['phase']): PhaseSummary => {
      const runs = phases.filter((p) => p.phase === kind);
      const p99s = runs.map((p) => p.run.p99Ms);
      return {
        deliveriesPerSec: Math.round(median(runs.map((p) => p.run.deliveriesPerSec))),
        p50Ms: median(runs.map((p) => p.run.p50Ms)),
        p99Ms: median(p99s),
        p99RangeMs: [Math.min(...p99s), Math.max(...p99s)],
        lost: runs.reduce((a, p) => a + p.run.lost, 0),
        rssMaxMB: Math.max(...runs.map((p) => p.rssMaxMB)),
        otherCpuMaxPct: Math.max(...runs.map((p) => p.run.otherCpuPct)),
      };
    };
    const baseline = summarize('baseline');
    const stall = summarize('stall');
    const p99ChangePct = baseline.p99Ms > 0 ? Number((((stall.p99Ms - baseline.p99Ms) / baseline.p99Ms) * 100).toFixed(1)) : 0;
    const stalledSockets = phases.flatMap((p) => p.stalled);
    const closeAfter = stalledSockets.map((s) => s.closedByHostAfterMs).filter((v): v is number => v !== null);
    const closeCodes: Record<string, number> = {};
    for (const s of stalledSockets) {
      const key = s.closeCode !== null ? `${s.closeCode} ${s.closeReason}` : s.endedAs;
      closeCodes[key] = (closeCodes[key] ?? 0) + 1;
    }
    return {
      scenario: S1,
      deliveriesPerSec: options.deliveriesPerSec,
      sendsPerSec,
      timing,
      repeats: options.repeats,
      stalledCount: options.stalledCount,
      maxBackpressureBytes: options.maxBackpressureBytes,
      hostCommand: `node ${['dist/main.js', '...', ...hostFlags].join(' ')}`,
      join: { joined: join.joined, failed: join.failed, joinMs: join.joinMs },
      phases,
      baseline,
      stall,
      p99ChangePct,
      p99ChangeWithinTenPct: p99ChangePct <= 10,
      noisy: Math.max(baseline.otherCpuMaxPct, stall.otherCpuMaxPct) > DISTURBED_PCT,
      stalledClosedByHost: `${closeAfter.length}/${stalledSockets.length}`,
      closeCodes,
      closeAfterMs: closeAfter.length > 0 ? { min: Math.min(...closeAfter), median: median(closeAfter), max: Math.max(...closeAfter) } : null,
      rssMaxMB: Math.max(baseline.rssMaxMB, stall.rssMaxMB),
    };
  } finally {
    clearInterval(rssTimer);
    gen.close();
    await host.stop();
  }
}

async function backpressureCloses(port: number): Promise<number | null> {
  const metrics = await fetchHostMetrics(port);
  return metrics === null ? null : metricValue(metrics, 'chat_backpressure_closes_total');
}

/** Resumes each stalled socket, reads its backlog and whatever close follows (bounded wait). */
async function resumeAndRead(watched: ReturnType<typeof watchStalled>['watched']): Promise<StalledSocket[]> {
  const before = watched.map((w) => w.conn.messages);
  for (const w of watched) w.conn.socket.resume();
  const until = performance.now() + RESUME_WAIT_MS;
  while (performance.now() < until && watched.some((w) => w.closedAfterMs !== null && !w.conn.closed)) await sleep(50);
  return watched.map((w, i) => ({
    index: w.conn.index,
    closedByHostAfterMs: w.closedAfterMs,
    hostSideWhenClosed: w.hostSideWhenClosed,
    hostSendQueueMax: w.hostSendQueueMax,
    clientReceiveQueueMax: w.clientReceiveQueueMax,
    closeCode: w.conn.closeCode,
    closeReason: w.conn.closeReason,
    endedAs: w.conn.closeCode !== null ? 'close frame' : w.conn.closed ? 'tcp closed without close frame' : 'still open',
    socketError: w.conn.endError,
    backlogMessages: w.conn.messages - before[i]!,
  }));
}
