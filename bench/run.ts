/**
 * The benchmark orchestrator.
 *
 *   npm run bench                          everything: F1-F4 (host with 1 and 2 workers, the
 *                                          three peers), HTTP; writes bench/RESULTS.md
 *   npm run bench -- --quick --json        F1 only, host (2 workers) and peers, short runs; the
 *                                          last stdout line is one JSON summary
 *   npm run bench -- --scenario F2,F4      only these (F1 F2 F3 F4 HTTP S1)
 *   npm run bench -- --scenario S1 [--rate 100000] [--repeats 3] [--window 60] [--max-backpressure BYTES]
 *                                          slow consumers (slow-consumers.ts); writes results/S1.json only
 *   npm run bench -- --results-dir DIR     write the result files to DIR and the report to DIR/../RESULTS.md
 *   npm run bench -- --targets ws,uws-bare only these targets (chat-host-1w chat-host-2w chat-host compat uws-bare ws socket.io;
 *                                          chat-host: the host's default worker count (its CPUs, or its CPU quota
 *                                          when lower; not in the default run, where it is chat-host-2w here);
 *                                          compat: the host's workerman-chat port, --compat-port, with JSON clients)
 *   npm run bench -- --scenario CLUSTER   F1 on a 2-node cluster (one redis-server) against the single
 *                                          node, in the same run: rate search, then p50/p99 at a fixed
 *                                          100,000 deliveries/s for both (not part of the default run)
 *   npm run bench -- --report-only        rebuild RESULTS.md from bench/results/*.json
 *   npm run bench -- --cpu-quota 0.5 ...   every server target (all its threads and processes) under
 *                                          the same CPU quota, in cores, through a cgroup (cpu-quota.ts);
 *                                          result files get a suffix (quick-F1-cpu0.5.json, http-cpu0.5.json)
 *                                          so that they sit next to the unlimited ones
 *
 * Progress goes to stderr; results to bench/results/*.json, then RESULTS.md is
 * rebuilt from every result file present (report.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Generator, type Scenario } from './generator.js';
import { ENDPOINTS, failedHttp, type HttpMeasurement, measureHttp } from './http.js';
import { cpuQuota, describeQuota, setCpuQuota } from './cpu-quota.js';
import { type FixedRate, machine, quotaRecord, writeReport } from './report.js';
import { FULL_TIMING, F4, QUICK_TIMING, SCENARIOS } from './scenarios.js';
import { median, type SearchResult, searchTarget } from './search.js';
import { QUIET_PCT, waitForQuiet } from './machine-load.js';
import { runSlowConsumers } from './slow-consumers.js';
import { adapterFor, hostCommand, label, NAMED_TARGETS, REDIS_COMMAND, ROOT, runUntilDone, startProcess, startTarget, type TargetSpec } from './targets.js';

let RESULTS = join(ROOT, 'bench', 'results');

const ALL_TARGETS: Record<string, TargetSpec> = NAMED_TARGETS;

interface Args {
  quick: boolean;
  json: boolean;
  scenarios: string[];
  targets: string[];
  /** --cpu-quota: cores per server target; null: no limit. */
  cpuQuota: number | null;
  /** S1 only. */
  slow: { deliveriesPerSec: number; repeats: number; windowMs: number; maxBackpressureBytes: number | null };
}

function parseArgs(argv: readonly string[]): Args {
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  const scenarios = (value('--scenario') ?? (quick ? 'F1' : 'F1,HTTP,F4,F2,F3')).split(',').map((s) => s.trim().toUpperCase());
  const targets = (
    value('--targets') ??
    (quick
      ? 'chat-host-2w,uws-bare,ws,socket.io'
      : Object.keys(ALL_TARGETS)
          .filter((t) => t !== 'chat-host')
          .join(','))
  ).split(',');
  for (const s of scenarios) if (!['F1', 'F2', 'F3', 'F4', 'HTTP', 'S1', 'CLUSTER'].includes(s)) throw new Error(`unknown scenario ${s}`);
  for (const t of targets) if (!ALL_TARGETS[t]) throw new Error(`unknown target ${t}`);
  const positive = (flag: string, fallback: number): number => {
    const raw = value(flag);
    const n = raw === undefined ? fallback : Number(raw);
    if (!(n > 0)) throw new Error(`${flag} must be a positive number, got ${raw}`);
    return n;
  };
  const slow = {
    deliveriesPerSec: positive('--rate', 100_000),
    repeats: Math.round(positive('--repeats', 3)),
    windowMs: positive('--window', 60) * 1000,
    maxBackpressureBytes: value('--max-backpressure') !== undefined ? Math.round(positive('--max-backpressure', 1)) : null,
  };
  const cpuQuota = value('--cpu-quota') !== undefined ? positive('--cpu-quota', 1) : null;
  return { quick, json: argv.includes('--json'), scenarios, targets, cpuQuota, slow };
}

const log = (line: string): void => {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
};

/**
 * Writes a result file; under --cpu-quota its name gets a suffix (F1.json: F1-cpu0.5.json)
 * and it records the quota.
 */
function save(name: string, data: object): void {
  mkdirSync(RESULTS, { recursive: true });
  const q = cpuQuota();
  const file = q ? name.replace(/\.json$/, `-cpu${q.cores}.json`) : name;
  writeFileSync(join(RESULTS, file), `${JSON.stringify(q ? { ...data, cpuQuota: quotaRecord(q) } : data, null, 1)}\n`);
}

async function fanout(id: string, args: Args, command: string): Promise<SearchResult[]> {
  const scenario = SCENARIOS[id]!;
  const timing = args.quick ? QUICK_TIMING : FULL_TIMING;
  const startedAt = new Date().toISOString();
  const results: SearchResult[] = [];
  for (const t of args.targets) {
    const spec = ALL_TARGETS[t]!;
    try {
      results.push(
        await searchTarget(spec, scenario, {
          timing,
          startDeliveries: scenario.startDeliveries,
          maxDeliveries: 8_000_000,
          bisectSteps: args.quick ? 2 : 3,
          repeats: 3,
          log,
          quietWaitMs: args.quick ? 8_000 : 12_000,
        }),
      );
    } catch (error) {
      log(`${id} ${label(spec)}: ${(error as Error).message}`);
    }
    // Saved after every target, so that an interrupted run keeps what it measured.
    save(`${args.quick ? 'quick-' : ''}${id}.json`, {
      scenario,
      timing,
      command,
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: machine(),
      results,
    });
  }
  return results;
}

/** The rate at which the cluster's extra latency is measured (issue 6: at most 2 ms added to p50). */
const FIXED_DELIVERIES = 100_000;

/**
 * F1 on the single node (2 workers) and on 2 nodes of 1 worker each sharing one
 * redis-server (the same 2 worker threads in all, the generator spreading every
 * room's members over both nodes): the rate search, then 3 runs at FIXED_DELIVERIES.
 */
async function cluster(command: string): Promise<void> {
  const scenario = SCENARIOS.F1!;
  const startedAt = new Date().toISOString();
  const results: { target: string; label: string; search: SearchResult; fixed: FixedRate }[] = [];
  for (const target of ['chat-host-2w', 'chat-cluster']) {
    const spec = ALL_TARGETS[target]!;
    const search = await searchTarget(spec, scenario, {
      timing: QUICK_TIMING,
      startDeliveries: scenario.startDeliveries,
      maxDeliveries: 8_000_000,
      bisectSteps: 2,
      repeats: 3,
      log,
      quietWaitMs: 8_000,
    });
    const fixed = await fixedRate(spec, scenario, FIXED_DELIVERIES, 3);
    log(
      `CLUSTER ${label(spec)} at ${FIXED_DELIVERIES}/s: p50 ${fixed.p50Ms} p99 ${fixed.p99Ms} ms (${fixed.runs.map((r) => (r.pass ? 'pass' : 'fail')).join(' ')})`,
    );
    results.push({ target, label: label(spec), search, fixed });
    save('cluster-F1.json', {
      scenario,
      timing: QUICK_TIMING,
      command,
      redis: REDIS_COMMAND.map((arg) => (arg === '' ? '""' : arg)).join(' '),
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: machine(),
      results,
    });
  }
}

async function fixedRate(spec: TargetSpec, scenario: Scenario, deliveries: number, repeats: number): Promise<FixedRate> {
  const running = await startTarget(spec);
  const gen = new Generator(adapterFor(spec.name), scenario, running.ports ?? running.port);
  try {
    const join = await gen.connectAll();
    if (join.failed > 0) throw new Error(`join failed: ${join.firstError}`);
    const runs = [];
    for (let i = 0; i < repeats; i++) {
      await waitForQuiet(QUIET_PCT, 8_000);
      const r = await gen.run(deliveries / scenario.roomSize, QUICK_TIMING, running.probe);
      runs.push({ deliveriesPerSec: r.deliveriesPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms, pass: r.pass, cpuSecPerMillion: r.cpuSecPerMillion });
    }
    return { deliveriesPerSec: deliveries, runs, p50Ms: median(runs.map((r) => r.p50Ms)), p99Ms: median(runs.map((r) => r.p99Ms)) };
  } finally {
    gen.close();
    await running.stop();
  }
}

interface JoinStorm {
  readonly target: string;
  readonly label: string;
  readonly connections: number;
  readonly joined: number;
  readonly failed: number;
  readonly joinMs: number;
  readonly joinsPerSec: number;
  readonly rssBeforeMB: number;
  readonly rssAfterMB: number;
  readonly kbPerConnection: number;
  /** RSS 1 s after the joins (what F4 read before it waited for the RSS to settle) and its KB per connection. */
  readonly rssAt1sMB: number;
  readonly kbPerConnectionAt1s: number;
  /** How long after the joins the RSS settled (`rssAfterMB`), or null when it had not within SETTLE_LIMIT_MS (then the last read). */
  readonly settledAfterMs: number | null;
  readonly firstError: string | null;
  /** A 2-second check at 100,000 deliveries/s with everyone joined. */
  readonly check: { deliveriesPerSec: number; p99Ms: number; lost: number; pass: boolean } | null;
}

/** F4 reads the RSS every SETTLE_READ_MS after the joins until SETTLE_READS reads in a row lie within SETTLE_BAND_BYTES, at most SETTLE_LIMIT_MS. */
const SETTLE_READ_MS = 250;
const SETTLE_READS = 8;
const SETTLE_BAND_BYTES = 256 * 1024;
const SETTLE_LIMIT_MS = 20_000;

/**
 * The RSS once it has stopped moving, so that a read is never taken while a server is still
 * collecting the join storm's garbage. Settled: the last SETTLE_READS reads (2 s) within
 * SETTLE_BAND_BYTES of each other; the last of them is the figure. An idle server hardly
 * collects (V8 collects when it allocates), so what garbage it holds when the joins end it
 * mostly keeps: that, not the moment of the read, is the spread between runs (RESULTS.md).
 */
async function settledRss(read: () => number): Promise<{ bytes: number; afterMs: number | null }> {
  const start = performance.now();
  const reads: number[] = [];
  for (;;) {
    reads.push(read());
    const recent = reads.slice(-SETTLE_READS);
    if (recent.length === SETTLE_READS && Math.max(...recent) - Math.min(...recent) <= SETTLE_BAND_BYTES) {
      return { bytes: recent[recent.length - 1]!, afterMs: Math.round(performance.now() - start) + 1000 };
    }
    if (performance.now() - start >= SETTLE_LIMIT_MS) return { bytes: reads[reads.length - 1]!, afterMs: null };
    await new Promise((r) => setTimeout(r, SETTLE_READ_MS));
  }
}

async function joinStorm(args: Args, command: string): Promise<void> {
  const startedAt = new Date().toISOString();
  const results: JoinStorm[] = [];
  for (const t of args.targets) {
    const spec = ALL_TARGETS[t]!;
    const running = await startTarget(spec);
    await new Promise((r) => setTimeout(r, 500));
    const rssBefore = running.probe.rssBytes();
    const gen = new Generator(adapterFor(spec.name), F4, running.port);
    try {
      const join = await gen.connectAll(F4.concurrency, 180_000);
      await new Promise((r) => setTimeout(r, 1000));
      const rssAt1s = running.probe.rssBytes();
      const settled = await settledRss(running.probe.rssBytes);
      const rssAfter = settled.bytes;
      let check: JoinStorm['check'] = null;
      if (join.joined > 0) {
        const r = await gen.run(100_000 / F4.roomSize, { warmupMs: 500, windowMs: 2000, drainMs: 3000 }, running.probe);
        check = { deliveriesPerSec: r.deliveriesPerSec, p99Ms: r.p99Ms, lost: r.lost, pass: r.pass };
      }
      const result: JoinStorm = {
        target: t,
        label: label(spec),
        connections: join.connections,
        joined: join.joined,
        failed: join.failed,
        joinMs: join.joinMs,
        joinsPerSec: Math.round(join.joined / (join.joinMs / 1000)),
        rssBeforeMB: Number((rssBefore / 2 ** 20).toFixed(1)),
        rssAfterMB: Number((rssAfter / 2 ** 20).toFixed(1)),
        kbPerConnection: join.joined > 0 ? Number(((rssAfter - rssBefore) / 1024 / join.joined).toFixed(2)) : 0,
        rssAt1sMB: Number((rssAt1s / 2 ** 20).toFixed(1)),
        kbPerConnectionAt1s: join.joined > 0 ? Number(((rssAt1s - rssBefore) / 1024 / join.joined).toFixed(2)) : 0,
        settledAfterMs: settled.afterMs,
        firstError: join.firstError,
        check,
      };
      results.push(result);
      log(
        `F4 ${result.label}: ${result.joined}/${result.connections} joined in ${result.joinMs} ms, ${result.kbPerConnection} KB/connection ` +
          `(RSS ${result.rssBeforeMB} -> ${result.rssAfterMB} MB, ${result.settledAfterMs === null ? `not settled in ${SETTLE_LIMIT_MS} ms` : `settled ${result.settledAfterMs} ms after the joins`}; ` +
          `${result.kbPerConnectionAt1s} KB at 1 s), check ${JSON.stringify(check)}`,
      );
    } finally {
      gen.close();
      await running.stop();
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  save('F4.json', { scenario: F4, command, startedAt, finishedAt: new Date().toISOString(), machine: machine(), results });
}

async function slowConsumers(args: Args, command: string): Promise<void> {
  const startedAt = new Date().toISOString();
  const result = await runSlowConsumers({
    deliveriesPerSec: args.slow.deliveriesPerSec,
    timing: { warmupMs: 1000, windowMs: args.slow.windowMs, drainMs: 3000 },
    repeats: args.slow.repeats,
    stalledCount: 5,
    maxBackpressureBytes: args.slow.maxBackpressureBytes,
    workers: 2,
    quietWaitMs: 12_000,
    log,
  });
  const { baseline, stall } = result;
  log(
    `S1 summary (medians of ${result.repeats}): baseline ${baseline.deliveriesPerSec}/s p50 ${baseline.p50Ms} p99 ${baseline.p99Ms} ms (range ${baseline.p99RangeMs.join('-')}) lost ${baseline.lost} rss max ${baseline.rssMaxMB} MB; ` +
      `stall ${stall.deliveriesPerSec}/s p50 ${stall.p50Ms} p99 ${stall.p99Ms} ms (range ${stall.p99RangeMs.join('-')}) lost ${stall.lost} rss max ${stall.rssMaxMB} MB; ` +
      `p99 change ${result.p99ChangePct}% (${result.p99ChangeWithinTenPct ? 'within' : 'over'} 10%${result.noisy ? `; NOISY: other processes took up to ${Math.max(baseline.otherCpuMaxPct, stall.otherCpuMaxPct)}% of a core` : ''}); stalled closed by the host ${result.stalledClosedByHost}, ` +
      `after ${result.closeAfterMs ? `${result.closeAfterMs.min}/${result.closeAfterMs.median}/${result.closeAfterMs.max} ms (min/median/max)` : '-'}; close frames ${JSON.stringify(result.closeCodes)}`,
  );
  save('S1.json', { command, startedAt, finishedAt: new Date().toISOString(), machine: machine(), ...result });
}

async function http(command: string): Promise<void> {
  const startedAt = new Date().toISOString();
  // autocannon is one JavaScript thread on the same 2 cores; without pipelining it
  // tops out near 50,000-60,000 tiny responses/s whatever the server, so each
  // endpoint is also measured with 10 requests in flight per connection.
  // One autocannon thread is the limit at the top rates: the last setting gives it 2 worker threads.
  const settings = [
    { connections: 50, pipelining: 1, durationSec: 5, warmupSec: 1, workers: 1 },
    { connections: 50, pipelining: 10, durationSec: 5, warmupSec: 1, workers: 1 },
    { connections: 100, pipelining: 10, durationSec: 5, warmupSec: 1, workers: 2 },
  ];
  const measurements: HttpMeasurement[] = [];
  const servers = [
    // Under an equal CPU quota the host runs as a user would start it there: its default worker count follows the quota.
    cpuQuota() ? { name: 'chat-host (default workers)', args: hostCommand(0) } : { name: 'chat-host (2w)', args: hostCommand(2) },
    { name: 'fastify', args: ['dist-bench/bench/peers/fastify-static.js', '--port', '0', '--public-dir', 'public'] },
  ];
  for (const server of servers) {
    let running = await startProcess(server.args);
    try {
      for (const options of settings) {
        for (const path of ENDPOINTS) {
          let m: HttpMeasurement;
          try {
            m = await measureHttp(server.name, running, path, options);
          } catch (error) {
            // A server that dies under load is a finding: recorded, then a fresh one for the rest.
            const why = running.exitedBy?.() ?? (error as Error).message;
            measurements.push(failedHttp(server.name, path, options, why));
            log(`HTTP ${server.name} ${path} pipelining ${options.pipelining} autocannon threads ${options.workers}: FAILED: ${why}; restarting the server`);
            await running.stop();
            running = await startProcess(server.args);
            continue;
          }
          // autocannon closes its connections with requests still in flight: a server that
          // dies of that does so within moments.
          await new Promise((r) => setTimeout(r, 500));
          const died = running.exitedBy?.();
          if (died) m = { ...m, crashedAfter: died };
          measurements.push(m);
          log(
            `HTTP ${server.name} ${path} pipelining ${options.pipelining} autocannon threads ${options.workers}: ${m.requestsPerSec} req/s p50 ${m.p50Ms} p99 ${m.p99Ms} ms non2xx ${m.non2xx} errors ${m.errors}; server CPU ${m.serverCpuPct}% (${m.serverCpuUsPerRequest} µs/request), autocannon CPU ${m.clientCpuPct}%`,
          );
          if (died) {
            log(`HTTP ${server.name}: the server died after that run: ${died}; restarting it`);
            await running.stop();
            running = await startProcess(server.args);
          }
        }
      }
    } finally {
      await running.stop();
    }
  }
  save('http.json', { settings, servers, command, startedAt, finishedAt: new Date().toISOString(), machine: machine(), measurements });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  const resultsDir = argv.indexOf('--results-dir');
  if (resultsDir >= 0) RESULTS = resolve(argv[resultsDir + 1] ?? '.');
  const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  if (argv.includes('--report-only')) return writeReport(RESULTS, log);
  const quota = setCpuQuota(args.cpuQuota);
  if (quota) log(`every server target under a CPU quota of ${describeQuota(quota)}, one cgroup per target in ${quota.parent}`);
  let f1: SearchResult[] = [];
  for (const s of args.scenarios) {
    log(`--- ${s}`);
    if (s === 'F4') await joinStorm(args, command);
    else if (s === 'CLUSTER') await cluster(command);
    else if (s === 'HTTP') await http(command);
    else if (s === 'S1') await slowConsumers(args, command);
    else {
      const results = await fanout(s, args, command);
      if (s === 'F1') f1 = results;
    }
  }
  // RESULTS.md has no S1 section (its figures are written by hand): an S1-only run leaves it alone.
  if (args.scenarios.some((s) => s !== 'S1')) await writeReport(RESULTS, log);
  if (args.json) {
    const summary = {
      scenario: 'F1',
      ...(quota ? { cpuQuota: quotaRecord(quota) } : {}),
      results: f1.map((r) => ({
        target: r.target,
        ...(r.workers !== null ? { workers: r.workers } : {}),
        maxDeliveriesPerSec: r.maxDeliveriesPerSec,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        cpuSecPerMillion: r.cpuSecPerMillion,
        rssMB: r.rssMB,
      })),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  }
}

runUntilDone(main, log);
