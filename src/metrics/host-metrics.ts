/**
 * GET /metrics: the Prometheus view of the whole host, built on the main thread
 * with prom-client from the counts every worker reports at scrape time plus the
 * hub's own. Every name starts with chat_; labels take only host-defined values
 * (error codes, close codes, refusal reasons, thread names), never a room name
 * or anything else a client chooses.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { ErrorCodeName } from '../protocol/index.js';
import { newWorkerCounts, type HubCounts, type RefusalReason, type WorkerCounts, type WorkerSnapshot } from './counters.js';
import type { LagWindow } from './lag.js';
import type { RedisHealth } from '../sequencer/sequencer.js';

/** What the supervisor hands over for one scrape. */
export interface ScrapeInput {
  /** The live workers' snapshots, by worker slot. */
  readonly workers: ReadonlyMap<number, WorkerSnapshot>;
  /** Counts of worker incarnations that have ended (so counters never go backwards). */
  readonly retired: WorkerCounts;
  readonly hub: HubCounts;
  /** Per worker slot: batches the hub sent to / received from the current incarnation. */
  readonly links: ReadonlyMap<number, { readonly sent: number; readonly received: number }>;
  readonly rooms: number;
  readonly workerRestarts: number;
  readonly mainLag: LagWindow;
  /** A cluster node's link to Redis; null on a single node (no chat_redis_up then). */
  readonly redis: RedisHealth | null;
}

type Setter = (input: ScrapeInput, total: WorkerCounts) => void;

export class HostMetrics {
  readonly registry = new Registry();
  private readonly setters: Setter[] = [];
  /** Registered at the first scrape of a cluster node: a gauge without labels would say 0 on a single node. */
  private redisUp: Gauge | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'chat_' });
    const counter = (name: string, help: string, labelNames: readonly string[], set: (c: Counter, input: ScrapeInput, total: WorkerCounts) => void): void => {
      const metric = new Counter({ name, help, labelNames, registers: [this.registry] });
      this.setters.push((input, total) => {
        // Values are absolute totals gathered from the threads, so set rather than add.
        metric.reset();
        set(metric, input, total);
      });
    };
    const gauge = (name: string, help: string, labelNames: readonly string[], set: (g: Gauge, input: ScrapeInput, total: WorkerCounts) => void): void => {
      const metric = new Gauge({ name, help, labelNames, registers: [this.registry] });
      this.setters.push((input, total) => {
        metric.reset();
        set(metric, input, total);
      });
    };

    gauge('chat_connections', 'Open WebSocket connections.', [], (g, _i, t) => g.set(t.connections));
    gauge('chat_workers', 'Worker threads running.', [], (g, i) => g.set(i.workers.size));
    gauge('chat_rooms', 'Rooms that exist (with members, or empty and keeping history).', [], (g, i) => g.set(i.rooms));
    counter('chat_connections_opened_total', 'WebSocket connections accepted.', [], (c, _i, t) => c.inc(t.connectionsOpened));
    counter('chat_connections_refused_total', 'WebSocket upgrades refused, by reason.', ['reason'], (c, _i, t) => {
      for (const [reason, n] of Object.entries(t.refused) as [RefusalReason, number][]) c.inc({ reason }, n);
    });
    counter('chat_requests_total', 'Client frames decoded and accepted for processing.', [], (c, _i, t) => c.inc(t.requests));
    counter('chat_joins_total', 'Successful joins.', [], (c, i) => c.inc(i.hub.joins));
    counter('chat_room_messages_total', 'Messages sequenced into rooms.', [], (c, i) => c.inc(i.hub.roomMessages));
    counter('chat_private_messages_total', 'Private messages delivered to a member.', [], (c, i) => c.inc(i.hub.privateMessages));
    counter('chat_deliveries_total', 'Frames handed to sockets (a room frame counts once per member socket).', [], (c, _i, t) => c.inc(t.deliveries));
    counter('chat_errors_total', 'Error replies sent to clients, by error code.', ['code'], (c, i, t) => {
      const errors: Partial<Record<ErrorCodeName, number>> = { ...t.errors };
      for (const [code, n] of Object.entries(i.hub.errors) as [ErrorCodeName, number][]) errors[code] = (errors[code] ?? 0) + n;
      for (const [code, n] of Object.entries(errors) as [ErrorCodeName, number][]) c.inc({ code }, n);
    });
    counter('chat_rate_limited_total', 'Requests refused by the per-connection rate limit.', [], (c, _i, t) => c.inc(t.rateLimited));
    counter('chat_closes_total', 'Connections the host closed, by WebSocket close code.', ['code'], (c, _i, t) => {
      for (const [code, n] of Object.entries(t.closes)) c.inc({ code }, n);
    });
    counter('chat_backpressure_closes_total', 'Connections closed for reading too slowly (send buffer over --max-backpressure).', [], (c, _i, t) =>
      c.inc(t.backpressureCloses),
    );
    counter('chat_relay_batches_total', 'Relay batches between the worker threads and the hub.', ['direction'], (c, i) => {
      c.inc({ direction: 'to_hub' }, sum(Object.values(i.hub.relayBatchesReceived)));
      c.inc({ direction: 'to_workers' }, sum(Object.values(i.hub.relayBatchesSent)));
    });
    gauge('chat_relay_queue_depth', 'Relay batches posted but not yet carried out, at scrape time.', ['direction'], (g, i) => {
      let toHub = 0;
      let toWorkers = 0;
      for (const [slot, link] of i.links) {
        const worker = i.workers.get(slot);
        if (!worker) continue;
        toHub += Math.max(0, worker.relayBatchesSent - link.received);
        toWorkers += Math.max(0, link.sent - worker.relayBatchesReceived);
      }
      g.set({ direction: 'to_hub' }, toHub);
      g.set({ direction: 'to_workers' }, toWorkers);
    });
    gauge('chat_event_loop_lag_p99_seconds', 'Event-loop lag p99 per thread over the last 5-second window.', ['thread'], (g, i) => {
      g.set({ thread: 'main' }, i.mainLag.p99Seconds);
      for (const [slot, w] of i.workers) g.set({ thread: `worker${slot}` }, w.lag.p99Seconds);
    });
    gauge('chat_event_loop_lag_max_seconds', 'Event-loop lag maximum per thread over the last 5-second window.', ['thread'], (g, i) => {
      g.set({ thread: 'main' }, i.mainLag.maxSeconds);
      for (const [slot, w] of i.workers) g.set({ thread: `worker${slot}` }, w.lag.maxSeconds);
    });
    counter('chat_worker_restarts_total', 'Worker threads restarted after a crash.', [], (c, i) => c.inc(i.workerRestarts));
    // The same counts split by the protocol spoken (the totals above stay as they were): always both labels.
    gauge('chat_connections_by_protocol', 'Open WebSocket connections, by protocol.', ['protocol'], (g, _i, t) =>
      byProtocol(t.connections, t.compatConnections, (protocol, n) => g.set({ protocol }, n)),
    );
    counter('chat_connections_opened_by_protocol_total', 'WebSocket connections accepted, by protocol.', ['protocol'], (c, _i, t) =>
      byProtocol(t.connectionsOpened, t.compatConnectionsOpened, (protocol, n) => c.inc({ protocol }, n)),
    );
    counter('chat_connections_refused_by_protocol_total', 'WebSocket upgrades refused, by protocol and reason.', ['protocol', 'reason'], (c, _i, t) => {
      for (const [reason, n] of Object.entries(t.refused) as [RefusalReason, number][]) {
        byProtocol(n, t.compatRefused[reason], (protocol, m) => c.inc({ protocol, reason }, m));
      }
    });
    counter('chat_requests_by_protocol_total', 'Client frames decoded and accepted for processing, by protocol.', ['protocol'], (c, _i, t) =>
      byProtocol(t.requests, t.compatRequests, (protocol, n) => c.inc({ protocol }, n)),
    );
    counter('chat_deliveries_by_protocol_total', 'Frames handed to sockets, by protocol.', ['protocol'], (c, _i, t) =>
      byProtocol(t.deliveries, t.compatDeliveries, (protocol, n) => c.inc({ protocol }, n)),
    );
    counter(
      'chat_compat_bad_requests_total',
      'workerman-chat frames answered with a BadRequest error (not JSON, unknown type, a field of the wrong type).',
      [],
      (c, _i, t) => c.inc(t.compatBadRequests),
    );
  }

  /** The exposition text for one scrape. */
  async render(input: ScrapeInput): Promise<string> {
    const total = addCounts(input.retired, ...input.workers.values());
    for (const set of this.setters) set(input, total);
    if (input.redis) {
      this.redisUp ??= new Gauge({
        name: 'chat_redis_up',
        help: 'Whether this cluster node is connected to Redis and in step with the cluster (1), or not (0: joins and messages get Unavailable).',
        registers: [this.registry],
      });
      this.redisUp.set(input.redis.status === 'up' ? 1 : 0);
    }
    return this.registry.metrics();
  }
}

/** The protocols a connection may speak: the FlatBuffers share of a count is the total less the workerman-chat one. */
function byProtocol(total: number, workerman: number, set: (protocol: 'flatbuffers' | 'workerman', n: number) => void): void {
  set('flatbuffers', total - workerman);
  set('workerman', workerman);
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

/** Adds worker counts field by field (nested records included). */
export function addCounts(...parts: WorkerCounts[]): WorkerCounts {
  const total = newWorkerCounts();
  for (const part of parts) {
    total.connections += part.connections;
    total.connectionsOpened += part.connectionsOpened;
    total.requests += part.requests;
    total.deliveries += part.deliveries;
    total.rateLimited += part.rateLimited;
    total.backpressureCloses += part.backpressureCloses;
    total.relayBatchesReceived += part.relayBatchesReceived;
    total.relayBatchesSent += part.relayBatchesSent;
    total.compatConnections += part.compatConnections;
    total.compatConnectionsOpened += part.compatConnectionsOpened;
    total.compatRequests += part.compatRequests;
    total.compatDeliveries += part.compatDeliveries;
    total.compatBadRequests += part.compatBadRequests;
    for (const [k, n] of Object.entries(part.refused) as [RefusalReason, number][]) total.refused[k] += n;
    for (const [k, n] of Object.entries(part.compatRefused) as [RefusalReason, number][]) total.compatRefused[k] += n;
    for (const [k, n] of Object.entries(part.errors) as [ErrorCodeName, number][]) total.errors[k] = (total.errors[k] ?? 0) + n;
    for (const [k, n] of Object.entries(part.closes)) total.closes[Number(k)] = (total.closes[Number(k)] ?? 0) + n;
  }
  return total;
}
