/** /metrics split by protocol (--compat-port): the FlatBuffers share is the total less the workerman-chat one, both labels always there. */
import { describe, expect, test } from 'vitest';
import { newHubCounts, newWorkerCounts, type WorkerSnapshot } from '../../src/metrics/counters.js';
import { HostMetrics, type ScrapeInput } from '../../src/metrics/host-metrics.js';
import { parseSamples, sampleValue } from '../helpers/prometheus.js';

function input(workers: WorkerSnapshot[]): ScrapeInput {
  return {
    workers: new Map(workers.map((w, i) => [i, w])),
    retired: newWorkerCounts(),
    hub: newHubCounts(),
    links: new Map(),
    rooms: 0,
    workerRestarts: 0,
    mainLag: { p99Seconds: 0, maxSeconds: 0 },
    redis: null,
  };
}

describe('metrics by protocol', () => {
  test('each count is split into flatbuffers and workerman, summed over the workers', async () => {
    const a = newWorkerCounts();
    Object.assign(a, { connections: 5, compatConnections: 2, connectionsOpened: 9, compatConnectionsOpened: 4, requests: 30, compatRequests: 10 });
    Object.assign(a, { deliveries: 100, compatDeliveries: 60, compatBadRequests: 3 });
    a.refused.origin = 3;
    a.compatRefused.origin = 1;
    const b = newWorkerCounts();
    Object.assign(b, { connections: 1, compatConnections: 1, requests: 2, compatRequests: 2 });
    const samples = parseSamples(await new HostMetrics().render(input([a, b].map((c) => ({ ...c, lag: { p99Seconds: 0, maxSeconds: 0 } })))));
    const value = (name: string, labels: Record<string, string>): number => sampleValue(samples, name, labels);
    expect(value('chat_connections_by_protocol', { protocol: 'workerman' })).toBe(3);
    expect(value('chat_connections_by_protocol', { protocol: 'flatbuffers' })).toBe(3);
    expect(sampleValue(samples, 'chat_connections')).toBe(6);
    expect(value('chat_connections_opened_by_protocol_total', { protocol: 'workerman' })).toBe(4);
    expect(value('chat_connections_opened_by_protocol_total', { protocol: 'flatbuffers' })).toBe(5);
    expect(value('chat_requests_by_protocol_total', { protocol: 'workerman' })).toBe(12);
    expect(value('chat_requests_by_protocol_total', { protocol: 'flatbuffers' })).toBe(20);
    expect(value('chat_deliveries_by_protocol_total', { protocol: 'workerman' })).toBe(60);
    expect(value('chat_deliveries_by_protocol_total', { protocol: 'flatbuffers' })).toBe(40);
    expect(value('chat_connections_refused_by_protocol_total', { protocol: 'workerman', reason: 'origin' })).toBe(1);
    expect(value('chat_connections_refused_by_protocol_total', { protocol: 'flatbuffers', reason: 'origin' })).toBe(2);
    expect(sampleValue(samples, 'chat_compat_bad_requests_total')).toBe(3);
  });

  test('without compat traffic both labels are there, the workerman ones at 0 (fixed label sets)', async () => {
    const samples = parseSamples(await new HostMetrics().render(input([])));
    for (const name of ['chat_connections_by_protocol', 'chat_requests_by_protocol_total', 'chat_deliveries_by_protocol_total']) {
      expect(samples.filter((s) => s.name === name).map((s) => s.labels.protocol)).toEqual(['flatbuffers', 'workerman']);
    }
    expect(samples.filter((s) => s.name === 'chat_connections_refused_by_protocol_total')).toHaveLength(8);
  });
});
