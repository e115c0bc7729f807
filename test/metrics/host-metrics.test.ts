/** /metrics: summing worker counts, and the Prometheus exposition built from one scrape's input. */
import { describe, expect, test } from 'vitest';
import { addCounts, HostMetrics, type ScrapeInput } from '../../src/metrics/host-metrics.js';
import { newHubCounts, newWorkerCounts, type HubCounts, type RefusalReason, type WorkerCounts, type WorkerSnapshot } from '../../src/metrics/counters.js';
import { CloseCode, ErrorCode } from '../../src/protocol/index.js';
import { parseSamples, type Sample, sampleValue, samplesNamed } from '../helpers/prometheus.js';

/** Worker counts with every plain number field set from `base` (distinct per field), plus the records. */
function filledCounts(base: number): WorkerCounts {
  const counts = newWorkerCounts();
  let i = 0;
  for (const key of Object.keys(counts) as (keyof WorkerCounts)[]) {
    if (typeof counts[key] === 'number') (counts as unknown as Record<string, number>)[key] = base + i++;
  }
  counts.refused = { 'global-limit': base + 100, 'per-ip-limit': base + 101, origin: base + 102, draining: base + 103 };
  counts.errors = { RateLimited: base + 200, InvalidText: base + 201 };
  counts.closes = { [CloseCode.PolicyViolation]: base + 300, [CloseCode.TooSlow]: base + 301 };
  return counts;
}

const snapshot = (counts: WorkerCounts, p99Seconds: number, maxSeconds: number): WorkerSnapshot => ({ ...counts, lag: { p99Seconds, maxSeconds } });

describe('addCounts', () => {
  test('with no parts gives zero counts', () => {
    expect(addCounts()).toEqual(newWorkerCounts());
  });

  test('sums every numeric field, whatever fields WorkerCounts has', () => {
    const a = filledCounts(1000);
    const b = filledCounts(50_000);
    const total = addCounts(a, b);
    const fields = Object.keys(newWorkerCounts()) as (keyof WorkerCounts)[];
    for (const key of fields) {
      const [x, y, sum] = [a[key], b[key], total[key]];
      if (typeof x === 'number') {
        expect(sum, key).toBe(x + (y as number));
      } else {
        // A nested record: every key of either part, summed.
        const keys = new Set([...Object.keys(x), ...Object.keys(y as object)]);
        expect(Object.keys(sum as object).sort(), key).toEqual([...keys].sort());
        for (const k of keys) {
          const get = (r: unknown): number => (r as Record<string, number | undefined>)[k] ?? 0;
          expect(get(sum), `${key}.${k}`).toBe(get(x) + get(y));
        }
      }
    }
  });

  test('merges records whose keys differ between parts', () => {
    const a = newWorkerCounts();
    const b = newWorkerCounts();
    a.errors = { RateLimited: 2 };
    b.errors = { RateLimited: 3, Internal: 1 };
    a.closes = { 1008: 4 };
    b.closes = { 4001: 5 };
    a.refused.origin = 7;
    b.refused.draining = 1;
    const total = addCounts(a, b, a);
    expect(total.errors).toEqual({ RateLimited: 7, Internal: 1 });
    expect(total.closes).toEqual({ 1008: 8, 4001: 5 });
    expect(total.refused).toEqual({ 'global-limit': 0, 'per-ip-limit': 0, origin: 14, draining: 1 });
  });

  test('does not modify its parts, and the result shares no records with them', () => {
    const a = filledCounts(10);
    const b = filledCounts(20);
    const before = JSON.stringify([a, b]);
    const total = addCounts(a, b);
    expect(JSON.stringify([a, b])).toBe(before);
    expect(total.refused).not.toBe(a.refused);
    expect(total.errors).not.toBe(a.errors);
    expect(total.closes).not.toBe(a.closes);
    const single = addCounts(a);
    expect(single).toEqual(a);
    single.errors.Internal = 99;
    single.refused.origin = 99;
    expect(a.errors.Internal).toBeUndefined();
    expect(a.refused.origin).toBe(112);
  });

  test('accepts snapshots (lag is not a count and is left out)', () => {
    const total = addCounts(snapshot(filledCounts(1), 0.5, 1), snapshot(filledCounts(2), 0.5, 1));
    expect(total).not.toHaveProperty('lag');
    expect(total.connections).toBe(3);
  });
});

describe('HostMetrics.render', () => {
  /** Two live workers (slots 0 and 2: slots need not be dense), one retired incarnation, and the hub. */
  function scrapeInput(scale = 1): ScrapeInput {
    const w0 = newWorkerCounts();
    Object.assign(w0, {
      connections: 3 * scale,
      connectionsOpened: 10 * scale,
      requests: 100 * scale,
      deliveries: 400 * scale,
      rateLimited: 2 * scale,
      backpressureCloses: 1 * scale,
    });
    Object.assign(w0, { relayBatchesSent: 50 * scale, relayBatchesReceived: 40 * scale });
    w0.refused = { 'global-limit': 1 * scale, 'per-ip-limit': 2 * scale, origin: 0, draining: 0 };
    w0.errors = { RateLimited: 5 * scale, InvalidText: 1 * scale };
    w0.closes = { [CloseCode.PolicyViolation]: 1 * scale, [CloseCode.TooSlow]: 1 * scale };

    const w2 = newWorkerCounts();
    Object.assign(w2, {
      connections: 4 * scale,
      connectionsOpened: 20 * scale,
      requests: 200 * scale,
      deliveries: 800 * scale,
      rateLimited: 3 * scale,
      backpressureCloses: 0,
    });
    Object.assign(w2, { relayBatchesSent: 30 * scale, relayBatchesReceived: 20 * scale });
    w2.refused = { 'global-limit': 0, 'per-ip-limit': 1 * scale, origin: 4 * scale, draining: 0 };
    w2.errors = { RateLimited: 1 * scale };
    w2.closes = { [CloseCode.PolicyViolation]: 2 * scale };

    const retired = newWorkerCounts();
    Object.assign(retired, { connections: 0, connectionsOpened: 1000, requests: 5000, deliveries: 9000, rateLimited: 7, backpressureCloses: 6 });
    retired.refused = { 'global-limit': 0, 'per-ip-limit': 0, origin: 0, draining: 9 };
    retired.errors = { Internal: 2 };
    retired.closes = { [CloseCode.TooSlow]: 6, [CloseCode.ServiceRestart]: 11 };

    const hub: HubCounts = newHubCounts();
    Object.assign(hub, { joins: 30 * scale, roomMessages: 70 * scale, privateMessages: 5 * scale });
    hub.errors = { NicknameTaken: 4 * scale, RateLimited: 100 };
    hub.relayBatchesReceived = { 0: 45 * scale, 1: 500, 2: 30 * scale };
    hub.relayBatchesSent = { 0: 40 * scale, 1: 600, 2: 26 * scale };

    return {
      workers: new Map([
        [0, snapshot(w0, 0.002, 0.01)],
        [2, snapshot(w2, 0.004, 0.05)],
      ]),
      retired,
      hub,
      links: new Map([
        // Worker 0 sent 50, the hub carried out 45: 5 queued to the hub. The hub sent 40, worker 0 received 40.
        [0, { sent: 40 * scale, received: 45 * scale }],
        // Slot 1 has no live worker: ignored.
        [1, { sent: 1000, received: 0 }],
        // Worker 2 sent 30 but the hub counted 31 (a race between the two reads): clamped at 0, not -1.
        // The hub sent 26, worker 2 received 20: 6 queued to the worker.
        [2, { sent: 26 * scale, received: 30 * scale + 1 }],
      ]),
      rooms: 12,
      workerRestarts: 1,
      mainLag: { p99Seconds: 0.001, maxSeconds: 0.02 },
      redis: null,
    };
  }

  /** Our own metrics (the rest are prom-client's default process and Node.js metrics, also prefixed). */
  const OWN = [
    'chat_connections',
    'chat_workers',
    'chat_rooms',
    'chat_connections_opened_total',
    'chat_connections_refused_total',
    'chat_requests_total',
    'chat_joins_total',
    'chat_room_messages_total',
    'chat_private_messages_total',
    'chat_deliveries_total',
    'chat_errors_total',
    'chat_rate_limited_total',
    'chat_closes_total',
    'chat_backpressure_closes_total',
    'chat_relay_batches_total',
    'chat_relay_queue_depth',
    'chat_event_loop_lag_p99_seconds',
    'chat_event_loop_lag_max_seconds',
    'chat_worker_restarts_total',
    'chat_connections_by_protocol',
    'chat_connections_opened_by_protocol_total',
    'chat_connections_refused_by_protocol_total',
    'chat_requests_by_protocol_total',
    'chat_deliveries_by_protocol_total',
    'chat_compat_bad_requests_total',
  ];

  /** Every label value the host may emit, per metric and label name. */
  const REFUSAL_REASONS: readonly RefusalReason[] = ['global-limit', 'per-ip-limit', 'origin', 'draining'];
  const ERROR_CODES = Object.keys(ErrorCode).filter((k) => Number.isNaN(Number(k)));
  const CLOSE_CODES = Object.values(CloseCode).map(String);
  const allowedLabel = (metric: string, label: string, v: string): boolean => {
    switch (`${metric} ${label}`) {
      case 'chat_connections_refused_total reason':
      case 'chat_connections_refused_by_protocol_total reason':
        return (REFUSAL_REASONS as readonly string[]).includes(v);
      case 'chat_connections_by_protocol protocol':
      case 'chat_connections_opened_by_protocol_total protocol':
      case 'chat_connections_refused_by_protocol_total protocol':
      case 'chat_requests_by_protocol_total protocol':
      case 'chat_deliveries_by_protocol_total protocol':
        return v === 'flatbuffers' || v === 'workerman';
      case 'chat_errors_total code':
        return ERROR_CODES.includes(v);
      case 'chat_closes_total code':
        return CLOSE_CODES.includes(v);
      case 'chat_relay_batches_total direction':
      case 'chat_relay_queue_depth direction':
        return v === 'to_hub' || v === 'to_workers';
      case 'chat_event_loop_lag_p99_seconds thread':
      case 'chat_event_loop_lag_max_seconds thread':
        return v === 'main' || /^worker(0|[1-9][0-9]*)$/.test(v);
      default:
        return false;
    }
  };

  test('every metric name, in samples and in HELP/TYPE lines, starts with chat_', async () => {
    const text = await new HostMetrics().render(scrapeInput());
    const samples = parseSamples(text);
    expect(samples.length).toBeGreaterThan(OWN.length);
    for (const s of samples) expect(s.name).toMatch(/^chat_/);
    for (const line of text.split('\n').filter((l) => l.startsWith('# HELP ') || l.startsWith('# TYPE '))) {
      expect(line.split(' ')[2]).toMatch(/^chat_/);
    }
    // Process and runtime metrics are there too, under the same prefix.
    expect(samples.some((s) => s.name === 'chat_process_cpu_user_seconds_total')).toBe(true);
  });

  test('exactly our metrics besides the default process/runtime ones, with the right types', async () => {
    const text = await new HostMetrics().render(scrapeInput());
    const typed = new Map(
      text
        .split('\n')
        .filter((l) => l.startsWith('# TYPE '))
        .map((l) => l.split(' ').slice(2, 4) as [string, string]),
    );
    const own = [...typed.keys()].filter((name) => !/^chat_(process|nodejs)_/.test(name));
    expect(own.sort()).toEqual([...OWN].sort());
    for (const name of OWN) expect(typed.get(name), name).toBe(name.endsWith('_total') ? 'counter' : 'gauge');
  });

  test('label values stay within the host-defined sets', async () => {
    const samples = parseSamples(await new HostMetrics().render(scrapeInput()));
    const own = samples.filter((s) => OWN.includes(s.name));
    expect(own.length).toBeGreaterThan(0);
    for (const s of own) {
      for (const [label, v] of Object.entries(s.labels)) expect(allowedLabel(s.name, label, v), `${s.name}{${label}="${v}"}`).toBe(true);
    }
  });

  test('gauges: connections of the live workers (retired ones have none), workers, rooms', async () => {
    const samples = parseSamples(await new HostMetrics().render(scrapeInput()));
    expect(sampleValue(samples, 'chat_connections')).toBe(3 + 4);
    expect(sampleValue(samples, 'chat_workers')).toBe(2);
    expect(sampleValue(samples, 'chat_rooms')).toBe(12);
  });

  test('counters show the totals of retired plus live workers', async () => {
    const samples = parseSamples(await new HostMetrics().render(scrapeInput()));
    expect(sampleValue(samples, 'chat_connections_opened_total')).toBe(1000 + 10 + 20);
    expect(sampleValue(samples, 'chat_requests_total')).toBe(5000 + 100 + 200);
    expect(sampleValue(samples, 'chat_deliveries_total')).toBe(9000 + 400 + 800);
    expect(sampleValue(samples, 'chat_rate_limited_total')).toBe(7 + 2 + 3);
    expect(sampleValue(samples, 'chat_backpressure_closes_total')).toBe(6 + 1 + 0);
    expect(sampleValue(samples, 'chat_worker_restarts_total')).toBe(1);
  });

  test('refusals by reason: all four reasons, summed', async () => {
    const samples = parseSamples(await new HostMetrics().render(scrapeInput()));
    expect(sampleValue(samples, 'chat_connections_refused_total', { reason: 'global-limit' })).toBe(1);
    expect(sampleValue(samples, 'chat_connections_refused_total', { reason: 'per-ip-limit' })).toBe(3);
    expect(sampleValue(samples, 'chat_connections_refused_total', { reason: 'origin' })).toBe(4);
    expect(sampleValue(samples, 'chat_connections_refused_total', { reason: 'draining' })).toBe(9);
    expect(samplesNamed(samples, 'chat_connections_refused_total')).toHaveLength(4);
  });

  test('closes by close code, summed over retired and live workers', async () => {
    const samples = parseSamples(await new HostMetrics().render(scrapeInput()));
    expect(sampleValue(samples, 'chat_closes_total', { code: '1008' })).toBe(1 + 2);
    expect(sampleValue(samples, 'chat_closes_total', { code: '4001' })).toBe(6 + 1);
    expect(sampleValue(samples, 'chat_closes_total', { code: '1012' })).toBe(11);
    expect(samplesNamed(samples, 'chat_closes_total')).toHaveLength(3);
  });

  test('hub counters come from the hub', async () => {
    const samples = parseSamples(await new HostMetrics().render(scrapeInput()));
    expect(sampleValue(samples, 'chat_joins_total')).toBe(30);
    expect(sampleValue(samples, 'chat_room_messages_total')).toBe(70);
    expect(sampleValue(samples, 'chat_private_messages_total')).toBe(5);
    expect(sampleValue(samples, 'chat_relay_batches_total', { direction: 'to_hub' })).toBe(45 + 500 + 30);
    expect(sampleValue(samples, 'chat_relay_batches_total', { direction: 'to_workers' })).toBe(40 + 600 + 26);
  });

  test('errors_total merges worker (live and retired) and hub error codes', async () => {
    const samples = parseSamples(await new HostMetrics().render(scrapeInput()));
    expect(sampleValue(samples, 'chat_errors_total', { code: 'RateLimited' })).toBe(5 + 1 + 100); // workers + hub
    expect(sampleValue(samples, 'chat_errors_total', { code: 'InvalidText' })).toBe(1); // a worker only
    expect(sampleValue(samples, 'chat_errors_total', { code: 'Internal' })).toBe(2); // retired only
    expect(sampleValue(samples, 'chat_errors_total', { code: 'NicknameTaken' })).toBe(4); // the hub only
    expect(samplesNamed(samples, 'chat_errors_total')).toHaveLength(4);
  });

  test('relay queue depth: posted minus carried out per live worker, clamped at 0', async () => {
    const samples = parseSamples(await new HostMetrics().render(scrapeInput()));
    // to_hub: worker 0: 50 - 45 = 5; worker 2: 30 - 31 -> 0. to_workers: worker 0: 40 - 40 = 0; worker 2: 26 - 20 = 6.
    expect(sampleValue(samples, 'chat_relay_queue_depth', { direction: 'to_hub' })).toBe(5);
    expect(sampleValue(samples, 'chat_relay_queue_depth', { direction: 'to_workers' })).toBe(6);
  });

  test('relay queue depth is 0 with no workers', async () => {
    const input = { ...scrapeInput(), workers: new Map() };
    const samples = parseSamples(await new HostMetrics().render(input));
    expect(sampleValue(samples, 'chat_relay_queue_depth', { direction: 'to_hub' })).toBe(0);
    expect(sampleValue(samples, 'chat_relay_queue_depth', { direction: 'to_workers' })).toBe(0);
  });

  test('event-loop lag gauges are labelled thread="main" and "worker<slot>"', async () => {
    const samples = parseSamples(await new HostMetrics().render(scrapeInput()));
    expect(sampleValue(samples, 'chat_event_loop_lag_p99_seconds', { thread: 'main' })).toBe(0.001);
    expect(sampleValue(samples, 'chat_event_loop_lag_p99_seconds', { thread: 'worker0' })).toBe(0.002);
    expect(sampleValue(samples, 'chat_event_loop_lag_p99_seconds', { thread: 'worker2' })).toBe(0.004);
    expect(sampleValue(samples, 'chat_event_loop_lag_max_seconds', { thread: 'main' })).toBe(0.02);
    expect(sampleValue(samples, 'chat_event_loop_lag_max_seconds', { thread: 'worker0' })).toBe(0.01);
    expect(sampleValue(samples, 'chat_event_loop_lag_max_seconds', { thread: 'worker2' })).toBe(0.05);
    expect(
      samplesNamed(samples, 'chat_event_loop_lag_p99_seconds')
        .map((s) => s.labels.thread)
        .sort(),
    ).toEqual(['main', 'worker0', 'worker2']);
  });

  test('a second render shows the new totals, not the sum of both scrapes', async () => {
    const metrics = new HostMetrics();
    await metrics.render(scrapeInput(1));
    const samples = parseSamples(await metrics.render(scrapeInput(3)));
    expect(sampleValue(samples, 'chat_connections')).toBe(3 * 3 + 4 * 3);
    expect(sampleValue(samples, 'chat_connections_opened_total')).toBe(1000 + 30 + 60);
    expect(sampleValue(samples, 'chat_requests_total')).toBe(5000 + 300 + 600);
    expect(sampleValue(samples, 'chat_connections_refused_total', { reason: 'per-ip-limit' })).toBe(9);
    expect(sampleValue(samples, 'chat_errors_total', { code: 'RateLimited' })).toBe(15 + 3 + 100);
    expect(sampleValue(samples, 'chat_closes_total', { code: '1008' })).toBe(9);
    expect(sampleValue(samples, 'chat_joins_total')).toBe(90);
    expect(sampleValue(samples, 'chat_relay_batches_total', { direction: 'to_hub' })).toBe(135 + 500 + 90);
    expect(sampleValue(samples, 'chat_relay_queue_depth', { direction: 'to_hub' })).toBe(150 - 135);
    expect(sampleValue(samples, 'chat_worker_restarts_total')).toBe(1);
  });

  test('rendering the same input twice gives the same values', async () => {
    const metrics = new HostMetrics();
    const own = (text: string): Sample[] => parseSamples(text).filter((s) => OWN.includes(s.name));
    const first = own(await metrics.render(scrapeInput()));
    const second = own(await metrics.render(scrapeInput()));
    expect(second).toEqual(first);
  });

  test('a worker that ends between scrapes: its counts move to retired, counters hold, its series go', async () => {
    const metrics = new HostMetrics();
    const before = scrapeInput();
    const beforeSamples = parseSamples(await metrics.render(before));
    // What the supervisor does on exit: retired += the last snapshot with no connections; the slot leaves the map.
    const gone = before.workers.get(2)!;
    const after: ScrapeInput = {
      ...before,
      workers: new Map([[0, before.workers.get(0)!]]),
      retired: addCounts(before.retired, { ...gone, connections: 0 }),
      workerRestarts: 2,
    };
    const samples = parseSamples(await metrics.render(after));
    for (const name of ['chat_connections_opened_total', 'chat_requests_total', 'chat_deliveries_total', 'chat_rate_limited_total']) {
      expect(sampleValue(samples, name), name).toBe(sampleValue(beforeSamples, name));
    }
    expect(sampleValue(samples, 'chat_errors_total', { code: 'RateLimited' })).toBe(sampleValue(beforeSamples, 'chat_errors_total', { code: 'RateLimited' }));
    expect(sampleValue(samples, 'chat_connections')).toBe(3);
    expect(sampleValue(samples, 'chat_workers')).toBe(1);
    expect(sampleValue(samples, 'chat_worker_restarts_total')).toBe(2);
    expect(
      samplesNamed(samples, 'chat_event_loop_lag_p99_seconds')
        .map((s) => s.labels.thread)
        .sort(),
    ).toEqual(['main', 'worker0']);
  });

  test('chat_redis_up: on a cluster node only, 1 while Redis is up and 0 otherwise', async () => {
    const metrics = new HostMetrics();
    expect(parseSamples(await metrics.render(scrapeInput())).some((s) => s.name === 'chat_redis_up')).toBe(false);
    const at = (status: 'up' | 'down' | 'connecting') => ({ ...scrapeInput(), redis: { status, since: 1_700_000_000_000 } });
    const text = await metrics.render(at('connecting'));
    expect(text).toContain('# TYPE chat_redis_up gauge');
    expect(sampleValue(parseSamples(text), 'chat_redis_up')).toBe(0);
    expect(sampleValue(parseSamples(await metrics.render(at('up'))), 'chat_redis_up')).toBe(1);
    expect(sampleValue(parseSamples(await metrics.render(at('down'))), 'chat_redis_up')).toBe(0);
  });

  test('two HostMetrics do not share a registry', async () => {
    const a = new HostMetrics();
    const b = new HostMetrics();
    await a.render(scrapeInput(2));
    const samples = parseSamples(await b.render(scrapeInput(1)));
    expect(sampleValue(samples, 'chat_requests_total')).toBe(5300);
  });
});
