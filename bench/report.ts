/**
 * Builds bench/RESULTS.md from the result files present in bench/results/ (so a
 * run of some scenarios keeps the others' last numbers, each with its own date and
 * command), plus bench/analysis.md verbatim, and renders the F1 chart. A run made
 * under `--cpu-quota` has its own files (F1-cpu0.5.json...) and sections, which say so.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { chartSvg, renderPng } from './chart.js';
import { type CpuQuota, describeQuota } from './cpu-quota.js';
import type { Timing } from './generator.js';
import type { HttpMeasurement } from './http.js';
import type { SearchResult } from './search.js';

export function machine(): Record<string, string | number> {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const debian = existsSync('/etc/debian_version') ? readFileSync('/etc/debian_version', 'utf8').trim() : 'unknown';
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `Debian ${debian}, Linux ${os.release()}`,
    node: process.version,
    openFilesPerProcess: /Max open files\s+(\d+)/.exec(limits)?.[1] ?? 'unknown',
  };
}

/** The quota a result file was measured under (`cpuQuota` in the JSON; absent: none). */
export interface QuotaRecord {
  readonly cores: number;
  readonly quotaUs: number;
  readonly periodUs: number;
  readonly cgroupVersion: 1 | 2;
  readonly description: string;
}

export const quotaRecord = (q: CpuQuota | null): QuotaRecord | null =>
  q ? { cores: q.cores, quotaUs: q.quotaUs, periodUs: q.periodUs, cgroupVersion: q.cgroupVersion, description: describeQuota(q) } : null;

/** ", CPU quota 0.5 core" for a section title; empty without a quota. */
const quotaTitle = (q: QuotaRecord | null | undefined): string => (q ? `, CPU quota ${q.cores} core` : '');

/** The sentence that opens a section measured under a quota; null without one. */
export const quotaNote = (q: QuotaRecord | null | undefined): string | null =>
  q
    ? `**Under a CPU quota**: every server target (all its threads and processes together) was limited to ${q.description} through a cgroup of its own; the load generator had no limit.`
    : null;

/** Result files `base.json` and `base-cpuN.json` present in dir: the unlimited one first, then by quota. */
function variants(dir: string, base: string): string[] {
  if (!existsSync(dir)) return [];
  const cores = (n: string): number => Number(/-cpu([\d.]+)\.json$/.exec(n)?.[1] ?? Number.POSITIVE_INFINITY);
  return readdirSync(dir)
    .filter((n) => n === `${base}.json` || (n.startsWith(`${base}-cpu`) && /-cpu[\d.]+\.json$/.test(n)))
    .sort((a, b) => cores(b) - cores(a));
}

/** One row of an equal-rates run (equal-rates.ts): a target at one rate, medians of its repeats. */
export interface EqualRatesRow {
  readonly rate: number;
  readonly target: string;
  readonly label: string;
  readonly deliveriesPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly serverCpuSecPerMillion: number;
  readonly generatorCpuSecPerMillion: number;
  readonly lost: number;
  readonly passed: string;
  /** Under a quota: the share of CFS periods in which the target was throttled, percent. */
  readonly throttledPct: number | null;
  /** Against the baseline target at the same rate (null for the baseline itself). */
  readonly p99Ratio: number | null;
  readonly cpuRatio: number | null;
}

export interface EqualRatesFile {
  readonly scenario: { name: string; description: string };
  readonly timing: Timing;
  readonly repeats: number;
  readonly baseline: string;
  readonly command: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly cpuQuota?: QuotaRecord | null;
  readonly rows: readonly EqualRatesRow[];
}

const fixed = (v: number | null, digits: number): string => (v === null ? '-' : v.toFixed(digits));

/** The markdown table of an equal-rates run (printed by equal-rates.ts, and in RESULTS.md). */
export function equalRatesTable(rows: readonly EqualRatesRow[], baseline: string): string {
  const lines = [
    `| asked deliveries/s | server | got deliveries/s | p50 ms | p99 ms | server CPU s per 1M | generator CPU s per 1M | runs passed | throttled periods | p99 / ${baseline} | CPU per delivery / ${baseline} |`,
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${fmt(r.rate)} | ${r.label} | ${fmt(r.deliveriesPerSec)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.serverCpuSecPerMillion.toFixed(2)} | ${r.generatorCpuSecPerMillion.toFixed(2)} | ${r.passed} | ${r.throttledPct === null ? '-' : `${r.throttledPct}%`} | ${r.p99Ratio === null ? '-' : `${fixed(r.p99Ratio, 2)}x`} | ${r.cpuRatio === null ? '-' : `${fixed(r.cpuRatio, 2)}x`} |`,
    );
  }
  return lines.join('\n');
}

/** A target measured at one fixed rate (the cluster comparison). */
export interface FixedRate {
  readonly deliveriesPerSec: number;
  readonly runs: readonly { deliveriesPerSec: number; p50Ms: number; p99Ms: number; pass: boolean; cpuSecPerMillion: number }[];
  /** Medians of the runs. */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

interface FanoutFile {
  scenario: { name: string; description: string };
  timing: Timing;
  command: string;
  startedAt: string;
  finishedAt: string;
  machine: Record<string, string | number>;
  results: SearchResult[];
  cpuQuota?: QuotaRecord | null;
}

const read = <T>(dir: string, name: string): T | null => {
  const path = join(dir, name);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : null;
};

const fmt = (v: number): string => Math.round(v).toLocaleString('en-US');
const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');

function fanoutSection(title: string, f: FanoutFile, chart: string | null): string {
  const lines: string[] = [];
  lines.push(`### ${title}`, '');
  const note = quotaNote(f.cpuQuota);
  if (note) lines.push(note, '');
  lines.push(`${f.scenario.description}. Command: \`${f.command}\`; ${f.startedAt} to ${f.finishedAt}.`);
  lines.push(`Each run: ${f.timing.warmupMs} ms warm-up, ${f.timing.windowMs} ms measured, up to ${f.timing.drainMs} ms drain.`, '');
  lines.push(
    "| server | max deliveries/s | sends/s | repeats passed | p50 ms | p90 ms | p99 ms | p99.9 ms | server CPU s per 1M deliveries | server RSS MB | generator CPU (of one core) | generator CPU s per 1M | other processes' CPU (max, of one core) | runs (restarts) |",
  );
  lines.push('| --- | ---: | ---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of f.results) {
    if (r.error) {
      lines.push(`| ${r.label} | failed: ${r.error} | | | | | | | | | | | | ${r.runs.length} (${r.restarts}) |`);
      continue;
    }
    lines.push(
      `| ${r.label} | ${fmt(r.maxDeliveriesPerSec)} | ${fmt(r.sentPerSec)} | ${r.kneeRepeatsPassed} at ${fmt(r.kneeTargetDeliveriesPerSec)}/s | ${r.p50Ms.toFixed(1)} | ${r.p90Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.p999Ms.toFixed(1)} | ${r.cpuSecPerMillion.toFixed(2)} | ${r.rssMB} | ${r.generatorCpuPct}% | ${r.generatorCpuSecPerMillion.toFixed(2)} | ${r.otherCpuPct}% | ${r.runs.length} (${r.restarts}) |`,
    );
  }
  const host = f.results.find((r) => r.target === 'chat-host' && r.workers === 2 && !r.error);
  if (host) {
    const peers = f.results.filter((r) => r.target !== 'chat-host' && !r.error);
    const goals: Record<string, number> = { 'uws-bare': 0.9, ws: 12, 'socket.io': 20 };
    // The targets of issue 4 are set for F1; other scenarios show the ratio only.
    const withGoals = f.scenario.name === 'F1';
    if (peers.length > 0) {
      lines.push('', 'Chat host (2 workers) against each peer, same run:', '');
      lines.push(withGoals ? '| peer | host / peer | target | met |\n| --- | ---: | ---: | :---: |' : '| peer | host / peer |\n| --- | ---: |');
      for (const p of peers) {
        const goal = goals[p.target] ?? 0;
        const x = host.maxDeliveriesPerSec / p.maxDeliveriesPerSec;
        const r = ratio(host.maxDeliveriesPerSec, p.maxDeliveriesPerSec);
        lines.push(withGoals ? `| ${p.label} | ${r} | ${goal}x | ${x >= goal ? 'yes' : 'no'} |` : `| ${p.label} | ${r} |`);
      }
    }
  }
  if (chart) lines.push('', `![deliveries/s against p99 latency, every ${f.scenario.name} run](${chart})`);
  lines.push('', '<details><summary>Every run</summary>', '');
  lines.push(
    "| server | phase | asked deliveries/s | got deliveries/s | ratio | lost | p50 ms | p99 ms | server CPU s/1M | generator CPU s | others' CPU | pass |",
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  for (const r of f.results) {
    for (const run of r.runs) {
      lines.push(
        `| ${r.label} | ${run.phase} | ${fmt(run.targetDeliveriesPerSec)} | ${fmt(run.deliveriesPerSec)} | ${run.deliveryRatio} | ${fmt(run.lost)} | ${run.p50Ms.toFixed(1)} | ${run.p99Ms.toFixed(1)} | ${run.cpuSecPerMillion.toFixed(2)} | ${run.generatorCpuSec} | ${run.otherCpuPct}% | ${run.pass ? 'yes' : `no: ${run.failReasons.join('; ')}`} |`,
      );
    }
  }
  lines.push('', '</details>', '');
  return lines.join('\n');
}

async function chart(dir: string, f: FanoutFile, file: string, log: (line: string) => void): Promise<string | null> {
  const series = f.results.map((r) => ({
    name: r.label,
    points: r.runs.map((run) => ({ x: run.deliveriesPerSec, y: Math.max(run.p99Ms, 0.1), pass: run.pass })),
  }));
  try {
    await renderPng(chartSvg(`${f.scenario.name}: deliveries/s against p99 latency, every run`, series), join(dir, file));
    return `results/${file}`;
  } catch (error) {
    log(`chart not rendered: ${(error as Error).message}`);
    return existsSync(join(dir, file)) ? `results/${file}` : null;
  }
}

/** F1 on a 2-node cluster against the single node (run.ts `--scenario CLUSTER`). */
function clusterSection(f: {
  command: string;
  redis: string;
  startedAt: string;
  finishedAt: string;
  timing: Timing;
  results: { label: string; search: SearchResult; fixed: FixedRate }[];
  cpuQuota?: QuotaRecord | null;
}): string {
  const lines = [`## F1 on a 2-node cluster (Redis${quotaTitle(f.cpuQuota)})`, ''];
  const note = quotaNote(f.cpuQuota);
  if (note) lines.push(note, '');
  lines.push(`Command: \`${f.command}\`; ${f.startedAt} to ${f.finishedAt}. Redis: \`${f.redis}\` (Debian's redis-server 7.0), on the same 2 cores.`);
  lines.push('The cluster is 2 host processes of 1 worker each (the same 2 worker threads as the single node), every');
  lines.push("room's 100 members alternating between the nodes (senders too), so every message crosses Redis. Server CPU and");
  lines.push(
    `RSS count both nodes and redis-server. Each run: ${f.timing.warmupMs} ms warm-up, ${f.timing.windowMs} ms measured, up to ${f.timing.drainMs} ms drain.`,
    '',
  );
  lines.push(
    "| server | max deliveries/s | repeats passed | p50 ms | p99 ms | server CPU s per 1M | other processes' CPU (max, of one core) | p50 ms at 100,000/s (3 runs) | p99 ms at 100,000/s | runs at 100,000/s passed |",
  );
  lines.push('| --- | ---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |');
  for (const r of f.results) {
    const s = r.search;
    const passed = r.fixed.runs.filter((x) => x.pass).length;
    lines.push(
      `| ${r.label} | ${s.error ? `failed: ${s.error}` : fmt(s.maxDeliveriesPerSec)} | ${s.kneeRepeatsPassed} at ${fmt(s.kneeTargetDeliveriesPerSec)}/s | ${s.p50Ms.toFixed(1)} | ${s.p99Ms.toFixed(1)} | ${s.cpuSecPerMillion.toFixed(2)} | ${s.otherCpuPct}% | ${r.fixed.p50Ms.toFixed(2)} (${r.fixed.runs.map((x) => x.p50Ms.toFixed(2)).join(', ')}) | ${r.fixed.p99Ms.toFixed(2)} | ${passed}/${r.fixed.runs.length} |`,
    );
  }
  lines.push(
    '',
    'Output, in short (every run is in `bench/results/cluster-F1.json`; the progress lines `run.ts` printed are in `bench/results/cluster-F1.log`):',
    '',
    '```',
  );
  for (const r of f.results) {
    const s = r.search;
    lines.push(
      `F1 ${r.label}: max ${fmt(s.maxDeliveriesPerSec)} deliveries/s (${s.kneeRepeatsPassed} repeats at ${fmt(s.kneeTargetDeliveriesPerSec)}/s), p50 ${s.p50Ms.toFixed(3)} p99 ${s.p99Ms.toFixed(3)} ms`,
    );
    lines.push(
      `CLUSTER ${r.label} at ${fmt(r.fixed.deliveriesPerSec)}/s: p50 ${r.fixed.p50Ms.toFixed(3)} p99 ${r.fixed.p99Ms.toFixed(3)} ms (${r.fixed.runs.map((x) => (x.pass ? 'pass' : 'fail')).join(' ')})`,
    );
  }
  lines.push('```');
  const [single, two] = f.results;
  if (single && two) {
    lines.push(
      '',
      `Added by the Redis hop at 100,000 deliveries/s: p50 ${(two.fixed.p50Ms - single.fixed.p50Ms).toFixed(2)} ms (target: at most 2 ms). Cluster / single node max deliveries/s: ${ratio(two.search.maxDeliveriesPerSec, single.search.maxDeliveriesPerSec)}.`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

export async function writeReport(dir: string, log: (line: string) => void): Promise<void> {
  const out: string[] = [];
  out.push('# Benchmarks', '');
  out.push('Generated by `bench/run.ts` from the files in `bench/results/` (rebuilt on every run; a section');
  out.push('not re-run keeps its last numbers, with the date and command that produced them). Every number');
  out.push('below was measured by these scripts on the machine described here.', '');
  out.push(
    '```sh',
    'npm run bench                               # everything (F1-F4 for host 1w/2w and the peers, HTTP)',
    'npm run bench -- --quick --json             # F1 only: host (2 workers) + peers, short runs, JSON summary last',
    'npm run bench -- --scenario F2,F4           # some scenarios (F1 F2 F3 F4 HTTP)',
    'npm run bench -- --targets chat-host-2w,ws   # some targets (chat-host-2w chat-host-1w chat-host uws-bare ws socket.io; chat-host: default worker count)',
    'npm run bench -- --quick --cpu-quota 0.5    # every server target limited to half a core (a cgroup per target)',
    'node dist-bench/bench/equal-rates.js --rates 300000,600000 --targets chat-host-2w,uws-bare   # F1 at equal rates',
    '```',
    '',
  );
  const files = ['quick-F1', 'F1', 'F2', 'F3'].flatMap((base) => variants(dir, base)).map((n) => [n, read<FanoutFile>(dir, n)] as const);
  const anyMachine = files.find(([, f]) => f)?.[1]?.machine ?? machine();
  out.push('## Machine', '');
  for (const [k, v] of Object.entries(anyMachine)) out.push(`- ${k}: ${v}`);
  out.push(
    '- The load generator runs in the orchestrator process on the same 2 cores as the server under test:',
    '  every number is "server + generator on 2 cores". The generator\'s own CPU is in every table; at the',
    '  top rates it uses most of one core, so the servers get about one core and a bit.',
    '- Everything on loopback (127.0.0.1); each server is its own process, started fresh per scenario and',
    '  after every failed run.',
    '',
  );
  if (existsSync(join(dir, '..', 'analysis.md'))) out.push(readFileSync(join(dir, '..', 'analysis.md'), 'utf8'), '');
  out.push('## Fan-out', '');
  out.push('A run passes when p99 <= 100 ms, at least 98% of the expected deliveries arrive in the measured window,');
  out.push('nothing is missing after the drain, no connection closed and no error frame came. "max deliveries/s" is');
  out.push('the mean measured rate of the passing repeats at the highest rate where at least 2 of 3 repeats passed;');
  out.push('latency and CPU are medians of those repeats, RSS their maximum.', '');
  const fullF1 = files.find(([n]) => n === 'F1.json')?.[1];
  for (const [name, f] of files) {
    if (!f) continue;
    const chartFile =
      name === 'F1.json' || (name === 'quick-F1.json' && !fullF1) ? await chart(dir, f, name === 'F1.json' ? 'fanout.png' : 'fanout-quick.png', log) : null;
    const quota = quotaTitle(f.cpuQuota);
    out.push(
      fanoutSection(name.startsWith('quick') ? `${f.scenario.name} (quick${quota})` : `${f.scenario.name}${quota ? ` (${quota.slice(2)})` : ''}`, f, chartFile),
    );
  }
  for (const name of ['F1', 'F2', 'F3', 'BIG'].flatMap((s) => variants(dir, `equal-rates-${s}`))) {
    const e = read<EqualRatesFile>(dir, name)!;
    out.push(`### ${e.scenario.name} at equal rates (\`bench/results/${name}\`${quotaTitle(e.cpuQuota)})`, '');
    const note = quotaNote(e.cpuQuota);
    if (note) out.push(note, '');
    out.push(
      `${e.scenario.description}. Command: \`${e.command}\`; ${e.startedAt} to ${e.finishedAt}. Every target at every rate, ${e.repeats} runs each (medians; a failed run restarts the target); each run: ${e.timing.warmupMs} ms warm-up, ${e.timing.windowMs} ms measured, up to ${e.timing.drainMs} ms drain.`,
      '',
      equalRatesTable(e.rows, e.baseline),
      '',
    );
  }
  for (const name of variants(dir, 'F4')) {
    const f4 = read<{ scenario: { description: string }; command: string; startedAt: string; results: Array<Record<string, unknown>>; cpuQuota?: QuotaRecord }>(
      dir,
      name,
    )!;
    out.push(`### F4: join storm and capacity${f4.cpuQuota ? ` (${quotaTitle(f4.cpuQuota).slice(2)})` : ''}`, '');
    const note = quotaNote(f4.cpuQuota);
    if (note) out.push(note, '');
    out.push(`${f4.scenario.description}. Command: \`${f4.command}\`; ${f4.startedAt}.`, '');
    out.push(
      '| server | joined | time until all joined | joins/s | RSS before MB | RSS after MB | KB per connection | then 100,000 deliveries/s for 2 s | first error |',
    );
    out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |');
    for (const r of f4.results) {
      const c = r.check as { deliveriesPerSec: number; p99Ms: number; lost: number; pass: boolean } | null;
      out.push(
        `| ${r.label} | ${fmt(r.joined as number)} / ${fmt(r.connections as number)} | ${((r.joinMs as number) / 1000).toFixed(2)} s | ${fmt(r.joinsPerSec as number)} | ${r.rssBeforeMB} | ${r.rssAfterMB} | ${r.kbPerConnection} | ${c ? `${fmt(c.deliveriesPerSec)}/s, p99 ${c.p99Ms} ms, lost ${c.lost}, ${c.pass ? 'pass' : 'fail'}` : '-'} | ${r.firstError ?? ''} |`,
      );
    }
    out.push('');
  }
  // Older http.json files have no CPU figures.
  const cpuCells = (h: HttpMeasurement, f: HttpMeasurement): string =>
    h.serverCpuUsPerRequest === undefined
      ? '- | - | -'
      : `${h.serverCpuUsPerRequest}, ${f.serverCpuUsPerRequest} | ${h.serverCpuPct}, ${f.serverCpuPct}, ${h.clientCpuPct} / ${f.clientCpuPct} | ${ratio(f.serverCpuUsPerRequest, h.serverCpuUsPerRequest)}`;
  for (const name of variants(dir, 'http')) {
    const http = read<{ settings: Array<Record<string, number>>; command: string; startedAt: string; measurements: HttpMeasurement[]; cpuQuota?: QuotaRecord }>(
      dir,
      name,
    )!;
    out.push(`## HTTP (autocannon${quotaTitle(http.cpuQuota)})`, '');
    const note = quotaNote(http.cpuQuota);
    if (note) out.push(note, '');
    out.push(
      `autocannon in the orchestrator process, on the same 2 cores as the server; 1 s warm-up, then 5 s per endpoint and setting. Command: \`${http.command}\`; ${http.startedAt}. \`/app.js\` is whatever bundle \`npm run build\` produced at the time.`,
      '',
    );
    for (const setting of http.settings) {
      const workers = setting.workers ?? 1;
      const ms = http.measurements.filter((m) => m.pipelining === setting.pipelining && m.connections === setting.connections && (m.workers ?? 1) === workers);
      out.push(`${setting.connections} connections, pipelining ${setting.pipelining}, autocannon threads ${workers}:`, '');
      out.push(
        `| endpoint | ${ms.find((m) => m.server.startsWith('chat-host'))?.server ?? 'chat-host'} req/s | p50 / p99 ms | fastify req/s | p50 / p99 ms | host / fastify | target 3x | server CPU µs/request: host, fastify | CPU % of a core: host, fastify, autocannon (against each) | fastify µs / host µs |`,
        '| --- | ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: | ---: |',
      );
      for (const p of [...new Set(ms.map((m) => m.path))]) {
        const h = ms.find((m) => m.path === p && m.server.startsWith('chat-host'));
        const f = ms.find((m) => m.path === p && m.server === 'fastify');
        if (!h || !f) continue;
        if (h.error || f.error) {
          const cell = (m: HttpMeasurement): string => (m.error ? 'failed: the server died (below)' : fmt(m.requestsPerSec));
          out.push(`| \`GET ${p}\` | ${cell(h)} | | ${cell(f)} | | | not measured | | | |`);
          continue;
        }
        const bad = (m: HttpMeasurement): string =>
          (m.non2xx || m.errors ? ` (${m.non2xx} non-2xx, ${m.errors} errors)` : '') + (m.crashedAfter ? ' (then the server died, below)' : '');
        out.push(
          `| \`GET ${p}\` | ${fmt(h.requestsPerSec)}${bad(h)} | ${h.p50Ms} / ${h.p99Ms} | ${fmt(f.requestsPerSec)}${bad(f)} | ${f.p50Ms} / ${f.p99Ms} | ${ratio(h.requestsPerSec, f.requestsPerSec)} | ${h.requestsPerSec >= 3 * f.requestsPerSec ? 'met' : 'not met'} | ${cpuCells(h, f)} |`,
        );
      }
      out.push('');
      const deaths = ms.filter((m) => m.error || m.crashedAfter);
      for (const m of deaths) {
        const why = (m.error ?? m.crashedAfter)!.replace(/\s+/g, ' ').slice(0, 400);
        out.push(
          `- ${m.server}, \`GET ${m.path}\`: the server died ${m.error ? 'during the run' : 'just after the run, as autocannon closed its connections'}: ${why}`,
        );
      }
      if (deaths.length) out.push('');
    }
  }
  for (const name of variants(dir, 'cluster-F1')) {
    const cluster = read<Parameters<typeof clusterSection>[0]>(dir, name)!;
    out.push(clusterSection(cluster));
  }
  const missing = ['F1.json', 'F2.json', 'F3.json', 'F4.json', 'http.json'].filter((n) => !existsSync(join(dir, n)));
  if (missing.length) out.push('## Not run yet', '', `No results for: ${missing.join(', ')}.`, '');
  writeFileSync(join(dir, '..', 'RESULTS.md'), out.join('\n'));
}
