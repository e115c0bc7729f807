/**
 * Several targets at the same list of fixed rates, in one run: where the rate search
 * compares knees, this compares latency and CPU per delivery at equal load.
 *
 *   node dist-bench/bench/equal-rates.js --rates 300000,600000,900000 --targets chat-host-2w,uws-bare
 *   node dist-bench/bench/equal-rates.js --scenario F1 --rates 200000,400000 --targets chat-host-1w,uws-bare \
 *        --cpu-quota 0.5 --repeats 3 --seconds 3 --out bench/results/equal-rates-F1-cpu0.5.json
 *
 * Targets: chat-host-2w, chat-host-1w, chat-host (the host's default worker count: its
 * CPUs, or its CPU quota when lower), chat-cluster, uws-bare, ws, socket.io. Each target is started once and joined; a short warm-up run at the first
 * rate, then `--repeats` runs at every rate (a failed run restarts the target and
 * joins again, as in the rate search); the medians are reported. `--baseline`
 * (default uws-bare when listed, else the last target) is the target every other is
 * divided by at the same rate: p99 and server CPU per delivery.
 *
 * stdout: one JSON line per rate and target (with the ratios), then a markdown
 * table. Progress on stderr. `--out FILE` also writes everything as JSON; a file in
 * bench/results/ named equal-rates-<scenario>.json (or equal-rates-<scenario>-cpu<cores>.json
 * under a quota) gets a section in RESULTS.md on the next report.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuQuota, describeQuota, setCpuQuota } from './cpu-quota.js';
import { Generator, type RunResult, type Timing } from './generator.js';
import { QUIET_PCT, waitForQuiet } from './machine-load.js';
import { type EqualRatesFile, type EqualRatesRow, equalRatesTable, machine, quotaRecord } from './report.js';
import { SCENARIOS } from './scenarios.js';
import { median } from './search.js';
import { adapterFor, label, NAMED_TARGETS, type RunningTarget, runUntilDone, startTarget, type TargetSpec } from './targets.js';

const log = (line: string): void => {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
};

interface Measured {
  readonly run: RunResult;
  /** Percent of CFS periods throttled during the run; null without a quota. */
  readonly throttledPct: number | null;
}

/** One target at every rate; restarts it after a failed run. */
async function measureTarget(
  spec: TargetSpec,
  scenarioName: string,
  rates: readonly number[],
  repeats: number,
  timing: Timing,
): Promise<Map<number, Measured[]>> {
  const scenario = SCENARIOS[scenarioName]!;
  const name = label(spec);
  let running: RunningTarget | null = null;
  let gen: Generator | null = null;
  const open = async (): Promise<void> => {
    running = await startTarget(spec);
    gen = new Generator(adapterFor(spec.name), scenario, running.ports ?? running.port);
    const join = await gen.connectAll();
    if (join.failed > 0) throw new Error(`${name}: join failed: ${join.firstError}`);
    log(`${scenario.name} ${name}: ${join.joined}/${join.connections} joined in ${join.joinMs} ms`);
  };
  const close = async (): Promise<void> => {
    gen?.close();
    await running?.stop();
    gen = null;
    running = null;
  };
  const out = new Map<number, Measured[]>();
  try {
    await open();
    // Warm-up: the JIT and the sockets' buffers, not reported.
    await gen!.run(rates[0]! / scenario.roomSize, { warmupMs: 500, windowMs: 1500, drainMs: 1500 }, running!.probe);
    for (const rate of rates) {
      const runs: Measured[] = [];
      for (let i = 0; i < repeats; i++) {
        const q = await waitForQuiet(QUIET_PCT, 8_000);
        if (q.busyPct > QUIET_PCT) log(`machine still busy (${q.busyPct}% of a core) after ${q.waitedMs} ms; running anyway`);
        const target: RunningTarget = running!;
        const before = target.cgroup?.stats();
        const r = await gen!.run(rate / scenario.roomSize, timing, target.probe);
        const after = target.cgroup?.stats();
        const throttledPct =
          before && after ? Math.round((100 * (after.throttledPeriods - before.throttledPeriods)) / Math.max(1, after.periods - before.periods)) : null;
        runs.push({ run: r, throttledPct });
        log(
          `${scenario.name} ${name} ${rate}/s: ${r.pass ? 'PASS' : 'FAIL'} deliveries ${r.deliveriesPerSec}/s p50 ${r.p50Ms} p99 ${r.p99Ms} ms ` +
            `cpu/M ${r.cpuSecPerMillion} s gen cpu/M ${r.generatorCpuSecPerMillion} s lost ${r.lost} other ${r.otherCpuPct}%` +
            (throttledPct !== null ? ` throttled ${throttledPct}% of periods` : '') +
            (r.pass ? '' : ` [${r.failReasons.join('; ')}]`),
        );
        if (!r.pass) {
          await close();
          await open();
        }
        await new Promise((res) => setTimeout(res, 300));
      }
      out.set(rate, runs);
    }
  } finally {
    await close();
  }
  return out;
}

runUntilDone(async () => {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', default: 'F1' },
      rates: { type: 'string', default: '300000,600000,900000' },
      targets: { type: 'string', default: 'chat-host-2w,uws-bare' },
      baseline: { type: 'string' },
      repeats: { type: 'string', default: '3' },
      /** The measured window of each run. */
      seconds: { type: 'string', default: '3' },
      'cpu-quota': { type: 'string' },
      /** Flags added to the chat host's command line (every chat-host target), e.g. "--worker-young-mb 0". */
      'host-flags': { type: 'string', default: '' },
      out: { type: 'string' },
    },
  });
  const hostFlags = values['host-flags']!.split(' ').filter(Boolean);
  const specOf = (t: string): TargetSpec => {
    const spec = NAMED_TARGETS[t]!;
    return spec.name === 'chat-host' && hostFlags.length > 0 ? { ...spec, hostFlags: [...(spec.hostFlags ?? []), ...hostFlags] } : spec;
  };
  const scenario = SCENARIOS[values.scenario!];
  if (!scenario) throw new Error(`unknown scenario ${values.scenario}`);
  const rates = values.rates!.split(',').map((r) => Number(r.trim()));
  if (rates.some((r) => !(r > 0))) throw new Error(`--rates: positive numbers, got ${values.rates}`);
  const targets = values.targets!.split(',').map((t) => t.trim());
  for (const t of targets) if (!NAMED_TARGETS[t]) throw new Error(`unknown target ${t} (${Object.keys(NAMED_TARGETS).join(' ')})`);
  const baseline = values.baseline ? values.baseline : targets.includes('uws-bare') ? 'uws-bare' : targets[targets.length - 1]!;
  if (!targets.includes(baseline)) throw new Error(`--baseline ${baseline} is not among --targets`);
  const repeats = Math.max(1, Math.round(Number(values.repeats)));
  const timing: Timing = { warmupMs: 500, windowMs: Number(values.seconds) * 1000, drainMs: 3000 };
  const quota = setCpuQuota(values['cpu-quota'] !== undefined ? Number(values['cpu-quota']) : null);
  if (quota) log(`every target under a CPU quota of ${describeQuota(quota)}`);
  const command = `node dist-bench/bench/equal-rates.js ${process.argv.slice(2).join(' ')}`;
  const startedAt = new Date().toISOString();

  const measured = new Map<string, Map<number, Measured[]>>();
  for (const t of targets) measured.set(t, await measureTarget(specOf(t), scenario.name, rates, repeats, timing));

  const summary = (t: string, rate: number): Omit<EqualRatesRow, 'p99Ratio' | 'cpuRatio'> => {
    const runs = measured.get(t)!.get(rate)!;
    const of = (f: (r: RunResult) => number): number => median(runs.map((m) => f(m.run)));
    const throttled = runs.map((m) => m.throttledPct).filter((v): v is number => v !== null);
    return {
      rate,
      target: t,
      label: label(NAMED_TARGETS[t]!),
      deliveriesPerSec: Math.round(of((r) => r.deliveriesPerSec)),
      p50Ms: of((r) => r.p50Ms),
      p99Ms: of((r) => r.p99Ms),
      serverCpuSecPerMillion: of((r) => r.cpuSecPerMillion),
      generatorCpuSecPerMillion: of((r) => r.generatorCpuSecPerMillion),
      lost: Math.max(...runs.map((m) => m.run.lost)),
      passed: `${runs.filter((m) => m.run.pass).length}/${runs.length}`,
      throttledPct: throttled.length ? median(throttled) : null,
    };
  };
  const ratio = (a: number, b: number): number | null => (b > 0 ? Number((a / b).toFixed(3)) : null);
  const rows: EqualRatesRow[] = [];
  for (const rate of rates) {
    const base = summary(baseline, rate);
    for (const t of targets) {
      const s = t === baseline ? base : summary(t, rate);
      const row: EqualRatesRow = {
        ...s,
        p99Ratio: t === baseline ? null : ratio(s.p99Ms, base.p99Ms),
        cpuRatio: t === baseline ? null : ratio(s.serverCpuSecPerMillion, base.serverCpuSecPerMillion),
      };
      rows.push(row);
      process.stdout.write(`${JSON.stringify({ scenario: scenario.name, ...row, ...(quota ? { cpuQuota: describeQuota(quota) } : {}) })}\n`);
    }
  }
  process.stdout.write(`\n${equalRatesTable(rows, label(NAMED_TARGETS[baseline]!))}\n`);
  if (values.out) {
    const file: EqualRatesFile & { machine: Record<string, string | number> } = {
      scenario: { name: scenario.name, description: scenario.description },
      timing,
      repeats,
      baseline: label(NAMED_TARGETS[baseline]!),
      command,
      startedAt,
      finishedAt: new Date().toISOString(),
      ...(quota ? { cpuQuota: quotaRecord(cpuQuota()) } : {}),
      machine: machine(),
      rows,
    };
    const path = resolve(values.out);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(file, null, 1)}\n`);
    log(`written ${path}`);
  }
}, log);
