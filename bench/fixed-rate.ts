/**
 * One target under one fixed load, with what the kernel saw: joins a scenario, sends
 * at a fixed rate for a few seconds, and prints the run's figures plus the machine's
 * TCP counters (`nstat`) per delivery. For comparing two servers at equal rates,
 * where the rate search only compares their knees.
 *
 *   node dist-bench/bench/fixed-rate.js --scenario F2 --target uws-bare --rate 300000
 *   node dist-bench/bench/fixed-rate.js --scenario F2 --target chat-host --workers 1 --rate 300000
 *   node dist-bench/bench/fixed-rate.js --scenario F2 --join-concurrency 50   # the join storm of issue 12
 *   node dist-bench/bench/fixed-rate.js --scenario F1 --target uws-bare --rate 300000 --cpu-quota 0.5
 *                                          the target (all its threads and processes) in a cgroup limited
 *                                          to half a core (cpu-quota.ts); the JSON line says so and how
 *                                          often the target was throttled
 *
 * For several targets at the same list of rates in one run, see equal-rates.ts.
 *
 * The first line says how long the joins took (and how long until the presence they
 * caused stopped arriving) and the server's RSS before and after them.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { describeQuota, setCpuQuota } from './cpu-quota.js';
import { Generator } from './generator.js';
import { SCENARIOS } from './scenarios.js';
import { adapterFor, label, runUntilDone, startTarget, type TargetName } from './targets.js';

const COUNTERS = ['TcpOutSegs', 'IpExtInOctets', 'TcpExtTCPLossProbes', 'TcpExtTCPToZeroWindowAdv'];

/** The machine's counters (nstat -a: absolute values, -z: zeros too). */
function counters(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of execFileSync('nstat', ['-az', ...COUNTERS], { encoding: 'utf8' })
    .split('\n')
    .slice(1)) {
    const [name, value] = line.trim().split(/\s+/);
    if (name && value !== undefined) out[name] = Number(value);
  }
  return out;
}

runUntilDone(
  async () => {
    const { values } = parseArgs({
      options: {
        scenario: { type: 'string', default: 'F2' },
        target: { type: 'string', default: 'chat-host' },
        workers: { type: 'string', default: '2' },
        rate: { type: 'string', default: '100000' },
        seconds: { type: 'string', default: '3' },
        'join-concurrency': { type: 'string', default: '200' },
        /** More flags for the chat host, space-separated (e.g. "--presence-events-max-members 0"). */
        'host-flags': { type: 'string', default: '' },
        /** Cores for the target's cgroup (e.g. 0.5); none by default. */
        'cpu-quota': { type: 'string' },
      },
    });
    const quota = setCpuQuota(values['cpu-quota'] !== undefined ? Number(values['cpu-quota']) : null);
    if (quota) process.stderr.write(`the target under a CPU quota of ${describeQuota(quota)}\n`);
    const scenario = SCENARIOS[values.scenario!];
    if (!scenario) throw new Error(`unknown scenario ${values.scenario}`);
    const spec = { name: values.target as TargetName, workers: Number(values.workers), hostFlags: values['host-flags']!.split(' ').filter(Boolean) };
    const target = await startTarget(spec);
    const generator = new Generator(adapterFor(spec.name), scenario, target.port);
    try {
      const rssBefore = target.probe.rssBytes();
      const cpuBefore = target.probe.cpuSeconds();
      const ownCpuBefore = process.cpuUsage();
      const joined = await generator.connectAll(Number(values['join-concurrency']));
      const rssAfter = target.probe.rssBytes();
      const serverCpu = target.probe.cpuSeconds() - cpuBefore;
      const ownCpu = process.cpuUsage(ownCpuBefore);
      const generatorCpu = (ownCpu.user + ownCpu.system) / 1e6;
      const mb = (bytes: number): number => Number((bytes / 2 ** 20).toFixed(1));
      process.stdout.write(
        `${label(spec)}: ${joined.joined}/${joined.connections} joined in ${joined.joinMs} ms (${values['join-concurrency']} in flight), ` +
          `settled ${joined.settleMs} ms later, server RSS ${mb(rssBefore)} MB before, ${mb(rssAfter)} MB after, ` +
          `CPU meanwhile: server ${serverCpu.toFixed(2)} s, generator ${generatorCpu.toFixed(2)} s${joined.firstError ? ` (${joined.firstError})` : ''}\n`,
      );
      const sendsPerSec = Number(values.rate) / scenario.roomSize;
      // A first run warms both sides up; the second is the one reported.
      await generator.run(sendsPerSec, { warmupMs: 500, windowMs: 2000, drainMs: 2000 }, target.probe);
      const before = counters();
      const throttleBefore = target.cgroup?.stats();
      const r = await generator.run(sendsPerSec, { warmupMs: 500, windowMs: Number(values.seconds) * 1000, drainMs: 3000 }, target.probe);
      const after = counters();
      const throttleAfter = target.cgroup?.stats();
      const throttled =
        throttleBefore && throttleAfter
          ? {
              cpuQuota: describeQuota(quota!),
              throttledPct: Math.round(
                (100 * (throttleAfter.throttledPeriods - throttleBefore.throttledPeriods)) / Math.max(1, throttleAfter.periods - throttleBefore.periods),
              ),
            }
          : {};
      const perDelivery = Object.fromEntries(COUNTERS.map((c) => [c, Number((((after[c] ?? 0) - (before[c] ?? 0)) / Math.max(1, r.received)).toFixed(4))]));
      process.stdout.write(
        `${JSON.stringify({
          target: label(spec),
          deliveriesPerSec: r.deliveriesPerSec,
          p50Ms: r.p50Ms,
          p99Ms: r.p99Ms,
          lost: r.lost,
          serverCpuSecPerMillion: r.cpuSecPerMillion,
          generatorCpuSecPerMillion: r.generatorCpuSecPerMillion,
          pass: r.pass,
          ...throttled,
          perDelivery,
        })}\n`,
      );
    } finally {
      generator.close();
      await target.stop();
    }
  },
  (line) => process.stderr.write(`${line}\n`),
);
