/**
 * The rate search for one target and one scenario: doubling steps until a run
 * fails, a few bisection steps between the last pass and the first failure, then
 * repeats at the best passing rate (near saturation latency is bimodal, so one
 * good run proves little, and one bad run neither: a step fails only when a second
 * try fails too). The reported maximum is the highest rate at which at
 * least 2 of 3 repeats pass. Every failed run is followed by a restart of the
 * target and a new set of joined connections.
 */
import { Generator, type JoinResult, type RunResult, type Scenario, type Timing } from './generator.js';
import { DISTURBED_PCT, QUIET_PCT, waitForQuiet } from './machine-load.js';
import { adapterFor, label, type RunningTarget, startTarget, type TargetSpec } from './targets.js';

export interface SearchOptions {
  readonly timing: Timing;
  /** First rate tried, deliveries/s. */
  readonly startDeliveries: number;
  readonly maxDeliveries: number;
  readonly bisectSteps: number;
  readonly repeats: number;
  readonly log: (line: string) => void;
  /** Before each run, wait (at most this long) until other processes leave the CPU; 0: no wait. */
  readonly quietWaitMs?: number;
  /** The p99 pass limit; PASS_P99_MS unless a test loosens it. */
  readonly p99LimitMs?: number;
  /** The share of the expected deliveries that must arrive within the window; PASS_RATIO unless a test loosens it. */
  readonly passRatio?: number;
  /** Starts the target; the default spawns its process. */
  readonly start?: (spec: TargetSpec) => Promise<RunningTarget>;
}

export interface RunRecord extends RunResult {
  readonly phase: 'step' | 'bisect' | 'repeat';
  readonly targetDeliveriesPerSec: number;
}

export interface SearchResult {
  readonly target: string;
  readonly workers: number | null;
  readonly label: string;
  readonly scenario: string;
  readonly join: JoinResult;
  readonly runs: readonly RunRecord[];
  readonly restarts: number;
  /** The rate (deliveries/s asked for) whose repeats decided the result; 0 when none passed. */
  readonly kneeTargetDeliveriesPerSec: number;
  readonly kneeRepeatsPassed: string;
  readonly maxDeliveriesPerSec: number;
  readonly sentPerSec: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly cpuSecPerMillion: number;
  readonly rssMB: number;
  readonly generatorCpuSecPerMillion: number;
  readonly generatorCpuPct: number;
  /** The largest CPU share other processes took during the decisive repeats, percent of one core. */
  readonly otherCpuPct: number;
  readonly error: string | null;
}

/** The middle value (the mean of the two middle ones for an even count); 0 for none. */
export const median = (values: readonly number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function searchTarget(spec: TargetSpec, scenario: Scenario, options: SearchOptions): Promise<SearchResult> {
  const { timing, log } = options;
  const start = options.start ?? ((s: TargetSpec) => startTarget(s));
  const name = label(spec);
  const runs: RunRecord[] = [];
  let restarts = 0;
  let running = await start(spec);
  let gen = new Generator(adapterFor(spec.name), scenario, running.ports ?? running.port);
  const join = await gen.connectAll();
  log(
    `${scenario.name} ${name}: ${join.joined}/${join.connections} joined in ${join.joinMs} ms, settled ${join.settleMs} ms later${join.firstError ? ` (${join.firstError})` : ''}`,
  );

  const base = {
    target: spec.name,
    workers: spec.name === 'chat-host' || spec.name === 'chat-host-compat' || spec.name === 'chat-cluster' ? (spec.workers ?? 2) : null,
    label: name,
    scenario: scenario.name,
    join,
  };
  const empty = {
    kneeTargetDeliveriesPerSec: 0,
    kneeRepeatsPassed: '0/0',
    maxDeliveriesPerSec: 0,
    sentPerSec: 0,
    p50Ms: 0,
    p90Ms: 0,
    p99Ms: 0,
    p999Ms: 0,
    cpuSecPerMillion: 0,
    rssMB: 0,
    generatorCpuSecPerMillion: 0,
    generatorCpuPct: 0,
    otherCpuPct: 0,
  };
  if (join.failed > 0) {
    gen.close();
    await running.stop();
    return { ...base, ...empty, runs, restarts, error: `join failed: ${join.firstError}` };
  }

  // A fresh target first runs unmeasured at half the first rate, as equal-rates.ts does: a cold
  // JIT (its compiler threads inside the target's CPU quota, when there is one) is not what is
  // measured, and without this every restart after a failure would make the next run fail cold.
  const warmUp = async (): Promise<void> => {
    await gen.run(options.startDeliveries / 2 / scenario.roomSize, { warmupMs: 500, windowMs: 1500, drainMs: 1500 }, running.probe);
  };

  const restart = async (): Promise<void> => {
    restarts++;
    gen.close();
    await running.stop();
    running = await start(spec);
    gen = new Generator(adapterFor(spec.name), scenario, running.ports ?? running.port);
    const again = await gen.connectAll();
    if (again.failed > 0) throw new Error(`rejoin failed: ${again.firstError}`);
    await warmUp();
  };

  const attempt = async (deliveries: number, phase: RunRecord['phase']): Promise<RunRecord> => {
    if (options.quietWaitMs) {
      const q = await waitForQuiet(QUIET_PCT, options.quietWaitMs);
      if (q.busyPct > QUIET_PCT) log(`machine still busy (${q.busyPct}% of a core) after ${q.waitedMs} ms; running anyway`);
      else if (q.waitedMs > 1000) log(`waited ${q.waitedMs} ms for other processes to leave the CPU`);
    }
    const r = await gen.run(deliveries / scenario.roomSize, timing, running.probe, options.p99LimitMs, null, options.passRatio);
    const record = { phase, targetDeliveriesPerSec: Math.round(deliveries), ...r };
    runs.push(record);
    log(
      `${scenario.name} ${name} ${phase} ${Math.round(deliveries)}/s: ${r.pass ? 'PASS' : 'FAIL'} deliveries ${r.deliveriesPerSec}/s ratio ${r.deliveryRatio} ` +
        `p50 ${r.p50Ms} p99 ${r.p99Ms} ms cpu/M ${r.cpuSecPerMillion} s rss ${r.serverRssMB} MB gen ${r.generatorCpuSec} s other ${r.otherCpuPct}%` +
        (r.pass ? '' : ` [${r.failReasons.join('; ')}]`),
    );
    // After an overload the kernel's socket queues and the server's buffers are in no
    // state to measure the next rate from (on loopback, runs after a failed one fail
    // too, with both processes idle): every failed run is followed by a fresh target.
    if (!r.pass) await restart();
    await new Promise((res) => setTimeout(res, 300));
    return record;
  };

  // Other processes share the 2 cores; a run during which they took more than
  // DISTURBED_PCT of a core is re-done rather than counted as a failure (bounded).
  const disturbed = (r: RunRecord): boolean => !r.pass && r.otherCpuPct > DISTURBED_PCT;

  // Step and bisection decisions: a rate fails only when a second undisturbed run
  // (on a fresh target) fails too. On loopback a single stall can fail a rate far
  // below the knee.
  const decide = async (deliveries: number, phase: RunRecord['phase']): Promise<boolean> => {
    let strikes = 0;
    for (let i = 0; i < 4; i++) {
      const r = await attempt(deliveries, phase);
      if (r.pass) return true;
      if (!disturbed(r) && ++strikes === 2) return false;
    }
    return false;
  };

  try {
    await warmUp();
    let lo = 0;
    let hi = Number.POSITIVE_INFINITY;
    for (let d = options.startDeliveries; d <= options.maxDeliveries; d *= 2) {
      if (await decide(d, 'step')) lo = d;
      else {
        hi = d;
        break;
      }
    }
    // Nothing passed at the first rate: walk down.
    for (let d = options.startDeliveries / 2; lo === 0 && d >= options.startDeliveries / 16; d /= 2) {
      if (await decide(d, 'step')) lo = d;
      else hi = d;
    }
    for (let i = 0; i < options.bisectSteps && lo > 0 && Number.isFinite(hi) && hi / lo > 1.1; i++) {
      const mid = Math.sqrt(lo * hi);
      if (await decide(mid, 'bisect')) lo = mid;
      else hi = mid;
    }
    // Near the knee latency is bimodal: step down (by 20%) up to 5 times before giving up.
    for (let tries = 0; tries < 5 && lo > 0; tries++) {
      const repeats: RunRecord[] = [];
      for (let i = 0; repeats.length < options.repeats && i < options.repeats * 2; i++) {
        const r = await attempt(lo, 'repeat');
        if (!disturbed(r)) repeats.push(r);
      }
      const passed = repeats.filter((r) => r.pass);
      if (passed.length * 2 > repeats.length) {
        const deliveries = passed.map((r) => r.deliveriesPerSec);
        return {
          ...base,
          runs,
          restarts,
          kneeTargetDeliveriesPerSec: Math.round(lo),
          kneeRepeatsPassed: `${passed.length}/${repeats.length}`,
          maxDeliveriesPerSec: Math.round(deliveries.reduce((a, b) => a + b, 0) / deliveries.length),
          sentPerSec: Math.round(median(passed.map((r) => r.sentPerSec))),
          p50Ms: median(passed.map((r) => r.p50Ms)),
          p90Ms: median(passed.map((r) => r.p90Ms)),
          p99Ms: median(passed.map((r) => r.p99Ms)),
          p999Ms: median(passed.map((r) => r.p999Ms)),
          cpuSecPerMillion: median(passed.map((r) => r.cpuSecPerMillion)),
          rssMB: Math.max(...passed.map((r) => r.serverRssMB)),
          generatorCpuSecPerMillion: median(passed.map((r) => r.generatorCpuSecPerMillion)),
          generatorCpuPct: Math.round((median(passed.map((r) => r.generatorCpuSec)) / (timing.windowMs / 1000)) * 100),
          otherCpuPct: Math.max(...repeats.map((r) => r.otherCpuPct)),
          error: null,
        };
      }
      log(`${scenario.name} ${name}: only ${passed.length}/${repeats.length} repeats passed at ${Math.round(lo)}/s; stepping down`);
      lo *= 0.8;
    }
    return { ...base, ...empty, runs, restarts, error: 'no rate passed a majority of repeats' };
  } finally {
    gen.close();
    await running.stop();
  }
}
