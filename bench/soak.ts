/**
 * The soak test (issue 5): starts the chat host (2 workers, loopback, any free
 * port), holds a steady F1 load (1,000 connections, 10 rooms of 100, 10 senders
 * per room, 64-byte texts) at half the host's measured F1 capacity for M minutes,
 * and every 30 s prints one line: deliveries/s and latency over the interval,
 * deliveries outstanding, host RSS, event-loop lag per host thread (from GET
 * /metrics when the host serves it). At the end: RSS and lag drift, losses.
 * Writes bench/results/soak.json. Everything is bounded by --minutes; it stops by itself.
 *
 *   npm run soak -- --minutes 30 [--rate DELIVERIES_PER_SEC] [--every 30] [--workers 2]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { chatAdapter } from './adapters.js';
import { Generator, type ProgressSample } from './generator.js';
import { fetchHostMetrics, formatLag, lagByThread, type ThreadLag } from './host-metrics.js';
import { machineBusySeconds } from './machine-load.js';
import { machine } from './report.js';
import { SCENARIOS } from './scenarios.js';
import { commandFor, ROOT, runUntilDone, startTarget } from './targets.js';

const RESULTS = join(ROOT, 'bench', 'results');
const F1 = SCENARIOS.F1!;
const WARMUP_MAX_MS = 30_000;
const RSS_EVERY_MS = 1000;
const DRAIN_MS = 5000;

interface SoakArgs {
  readonly minutes: number;
  readonly rate: number | null;
  readonly everyMs: number;
  readonly workers: number;
}

function readArgs(): SoakArgs {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '30' },
      rate: { type: 'string' },
      every: { type: 'string', default: '30' },
      workers: { type: 'string', default: '2' },
    },
    strict: true,
  });
  const positive = (name: string, raw: string | undefined): number => {
    const n = Number(raw);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number, got ${raw}`);
    return n;
  };
  return {
    minutes: positive('minutes', values.minutes),
    rate: values.rate === undefined ? null : positive('rate', values.rate),
    everyMs: positive('every', values.every) * 1000,
    workers: Math.round(positive('workers', values.workers)),
  };
}

/** Half the chat host's (2 workers) F1 maxDeliveriesPerSec, from the full run if there is one, else the quick one. */
function halfMeasuredCapacity(): { rate: number; source: string } {
  for (const file of ['F1.json', 'quick-F1.json']) {
    const path = join(RESULTS, file);
    if (!existsSync(path)) continue;
    const data = JSON.parse(readFileSync(path, 'utf8')) as {
      finishedAt: string;
      results: Array<{ target: string; workers: number | null; maxDeliveriesPerSec: number; error: string | null }>;
    };
    const host = data.results.find((r) => r.target === 'chat-host' && r.workers === 2 && r.error === null && r.maxDeliveriesPerSec > 0);
    if (host)
      return {
        rate: Math.round(host.maxDeliveriesPerSec / 2),
        source: `half of chat-host (2w) F1 ${host.maxDeliveriesPerSec}/s in bench/results/${file} (${data.finishedAt})`,
      };
  }
  throw new Error('no chat-host (2w) F1 result in bench/results/F1.json or quick-F1.json: run `npm run bench -- --quick` first, or pass --rate');
}

/** One line of the soak: the generator's interval sample plus what the soak reads about the host. */
interface Row extends Omit<ProgressSample, 'elapsedMs'> {
  /** Since the load started (warm-up included). */
  readonly elapsedS: number;
  readonly rssMB: number;
  /** Per host thread, over the host's last 5-second window; null: /metrics not available. */
  readonly lag: Record<string, ThreadLag> | null;
  /** The generator's own event-loop delay over the interval (it adds to every latency measured). */
  readonly generatorLagP99Ms: number;
  /** CPU over the interval, percent of one core: the host, the generator, every other process. */
  readonly hostCpuPct: number;
  readonly generatorCpuPct: number;
  readonly otherCpuPct: number;
}

interface CpuMark {
  readonly t: number;
  readonly host: number;
  readonly generator: number;
  readonly machine: number;
}

const mb = (bytes: number): number => Number((bytes / 2 ** 20).toFixed(1));
const fmt = (v: number): string => Math.round(v).toLocaleString('en-US');
const log = (line: string): void => {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
};

/** Least-squares slope of y over x. */
function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den > 0 ? num / den : 0;
}

async function lagNow(port: number): Promise<Record<string, ThreadLag> | null> {
  // A host under load answers late; a scrape that misses one interval is not worth more.
  const metrics = await fetchHostMetrics(port, 5000);
  if (metrics === null) return null;
  const lag = lagByThread(metrics);
  return Object.keys(lag).length > 0 ? lag : null;
}

async function main(): Promise<void> {
  const args = readArgs();
  const { rate, source } = args.rate !== null ? { rate: args.rate, source: '--rate' } : halfMeasuredCapacity();
  const totalMs = args.minutes * 60_000;
  const warmupMs = Math.min(WARMUP_MAX_MS, totalMs / 4);
  const spec = { name: 'chat-host', workers: args.workers } as const;
  const startedAt = new Date().toISOString();
  const host = await startTarget(spec);
  log(
    `soak: ${F1.description}; ${fmt(rate)} deliveries/s (${source}); ${args.minutes} min (${warmupMs / 1000} s warm-up); host pid ${host.pid} port ${host.port}: node ${commandFor(spec).join(' ')}`,
  );
  const gen = new Generator(chatAdapter, F1, host.port);
  // RSS from /proc/PID/stat (the same resident pages as VmRSS in /proc/PID/status), every second.
  const rssSeries: Array<[number, number]> = [];
  const rssTimer = setInterval(() => rssSeries.push([performance.now(), host.probe.rssBytes()]), RSS_EVERY_MS);
  const generatorLag = monitorEventLoopDelay({ resolution: 10 });
  try {
    const joined = await gen.connectAll();
    log(`joined ${joined.joined}/${joined.connections} in ${joined.joinMs} ms${joined.firstError ? ` (${joined.firstError})` : ''}`);
    if (joined.failed > 0) throw new Error(`join failed: ${joined.firstError}`);

    const rows: Row[] = [];
    const pending: Array<Promise<void>> = [];
    let start: { t: number; rss: number; lag: Record<string, ThreadLag> | null } | null = null;
    const startTimer = setTimeout(() => {
      const t = performance.now();
      const rss = host.probe.rssBytes();
      generatorLag.reset();
      generatorLag.enable();
      lastCpu = cpuMark();
      pending.push(
        lagNow(host.port).then((lag) => {
          start = { t, rss, lag };
          log(`start (after warm-up): rss ${mb(rss)} MB, event-loop lag p99/max ms: ${formatLag(lag)}`);
        }),
      );
    }, warmupMs);
    const cpuMark = (): CpuMark => {
      const own = process.cpuUsage();
      return { t: performance.now(), host: host.probe.cpuSeconds(), generator: (own.user + own.system) / 1e6, machine: machineBusySeconds() };
    };
    let lastCpu = cpuMark();
    const onSample = (s: ProgressSample): void => {
      const rss = host.probe.rssBytes();
      const cpu = cpuMark();
      const seconds = (cpu.t - lastCpu.t) / 1000;
      const pct = (v: number): number => Math.max(0, Math.round((v / seconds) * 100));
      const hostCpuPct = pct(cpu.host - lastCpu.host);
      const generatorCpuPct = pct(cpu.generator - lastCpu.generator);
      const otherCpuPct = pct(cpu.machine - lastCpu.machine - (cpu.host - lastCpu.host) - (cpu.generator - lastCpu.generator));
      lastCpu = cpu;
      const generatorLagP99Ms = Number((generatorLag.percentile(99) / 1e6).toFixed(2));
      generatorLag.reset();
      pending.push(
        lagNow(host.port).then((lag) => {
          const { elapsedMs, ...interval } = s;
          const row: Row = {
            elapsedS: Math.round((warmupMs + elapsedMs) / 1000),
            ...interval,
            rssMB: mb(rss),
            lag,
            generatorLagP99Ms,
            hostCpuPct,
            generatorCpuPct,
            otherCpuPct,
          };
          rows.push(row);
          log(
            `+${String(row.elapsedS).padStart(5)} s  ${fmt(row.deliveriesPerSec)} deliveries/s  p50 ${row.p50Ms} p99 ${row.p99Ms} ms  outstanding ${fmt(row.outstanding)}  closed ${row.closedConnections}  ` +
              `rss ${row.rssMB} MB  host lag p99/max ms: ${formatLag(lag)}  generator lag p99 ${generatorLagP99Ms} ms  cpu host/generator/others ${hostCpuPct}/${generatorCpuPct}/${otherCpuPct}%`,
          );
        }),
      );
    };
    const result = await gen.run(rate / F1.roomSize, { warmupMs, windowMs: totalMs - warmupMs, drainMs: DRAIN_MS }, host.probe, undefined, {
      everyMs: args.everyMs,
      onSample,
    });
    clearTimeout(startTimer);
    await Promise.all(pending);
    const endRss = host.probe.rssBytes();
    const endT = performance.now();

    const s0 = start as { t: number; rss: number; lag: Record<string, ThreadLag> | null } | null;
    if (s0 === null) throw new Error('the run ended before the warm-up did');
    const after = rssSeries.filter(([t]) => t >= s0.t);
    const hours = (endT - s0.t) / 3_600_000;
    const driftMB = mb(endRss - s0.rss);
    const last = rows.at(-1);
    const lagDrift: Record<string, { startP99Ms: number; endP99Ms: number; maxP99Ms: number; maxMs: number }> = {};
    for (const thread of Object.keys(last?.lag ?? {})) {
      const series = rows.map((r) => r.lag?.[thread]).filter((l): l is ThreadLag => l !== undefined);
      lagDrift[thread] = {
        startP99Ms: s0.lag?.[thread]?.p99Ms ?? series[0]?.p99Ms ?? 0,
        endP99Ms: last!.lag![thread]!.p99Ms,
        maxP99Ms: Math.max(...series.map((l) => l.p99Ms)),
        maxMs: Math.max(...series.map((l) => l.maxMs)),
      };
    }
    const summary = {
      deliveriesPerSec: result.deliveriesPerSec,
      sentPerSec: result.sentPerSec,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      p999Ms: result.p999Ms,
      maxMs: result.maxMs,
      lost: result.lost,
      closedConnections: result.closedConnections,
      errorFrames: result.errorFrames,
      firstError: gen.firstError,
      rssStartMB: mb(s0.rss),
      rssEndMB: mb(endRss),
      rssMaxMB: mb(Math.max(s0.rss, endRss, ...after.map(([, b]) => b))),
      rssDriftMB: driftMB,
      rssDriftPctPerHour: hours > 0 ? Number((((driftMB / mb(s0.rss)) * 100) / hours).toFixed(1)) : 0,
      rssSlopeMBPerHour: Number(slope(after.map(([t, b]) => [(t - s0.t) / 3_600_000, b / 2 ** 20] as const)).toFixed(1)),
      measuredHours: Number(hours.toFixed(3)),
      lag: Object.keys(lagDrift).length > 0 ? lagDrift : 'not available',
      serverCpuSecPerMillion: result.cpuSecPerMillion,
      generatorCpuSecPerMillion: result.generatorCpuSecPerMillion,
      otherCpuPct: result.otherCpuPct,
    };
    log(
      `summary: ${fmt(summary.deliveriesPerSec)} deliveries/s, p50 ${summary.p50Ms} p99 ${summary.p99Ms} p99.9 ${summary.p999Ms} max ${summary.maxMs} ms over the whole window; lost ${summary.lost}, closed ${summary.closedConnections}, error frames ${summary.errorFrames}${summary.firstError ? ` (${summary.firstError})` : ''}`,
    );
    log(
      `summary: rss start ${summary.rssStartMB} MB, end ${summary.rssEndMB} MB, max ${summary.rssMaxMB} MB; drift ${summary.rssDriftMB} MB (${summary.rssDriftPctPerHour}%/hour over ${(hours * 60).toFixed(1)} min; least-squares slope ${summary.rssSlopeMBPerHour} MB/hour)`,
    );
    if (typeof summary.lag === 'string') log('summary: event-loop lag: not available (no /metrics)');
    else
      for (const [thread, l] of Object.entries(summary.lag))
        log(`summary: lag ${thread}: p99 ${l.startP99Ms} ms at start, ${l.endP99Ms} ms at end, highest p99 ${l.maxP99Ms} ms, highest max ${l.maxMs} ms`);
    mkdirSync(RESULTS, { recursive: true });
    const command = `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim();
    writeFileSync(
      join(RESULTS, 'soak.json'),
      `${JSON.stringify({ command, startedAt, finishedAt: new Date().toISOString(), machine: machine(), scenario: F1, rate, rateSource: source, minutes: args.minutes, warmupMs, everyMs: args.everyMs, hostCommand: `node ${commandFor(spec).join(' ')}`, join: joined, summary, rows, rssEverySecondMB: after.map(([t, b]) => [Math.round((t - s0.t) / 1000), mb(b)]) }, null, 1)}\n`,
    );
    log('wrote bench/results/soak.json');
  } finally {
    clearInterval(rssTimer);
    generatorLag.disable();
    gen.close();
    await host.stop();
  }
}

runUntilDone(main, (line) => process.stderr.write(`${line}\n`));
