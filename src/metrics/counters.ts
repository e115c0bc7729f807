/**
 * What each thread counts, as plain numbers (an increment on a hot path is one
 * add). The main thread gathers these at scrape time and turns them into
 * Prometheus metrics (host-metrics.ts). No count is keyed by anything a client
 * chooses: error codes, close codes and refusal reasons are the host's own.
 */
import type { ErrorCodeName } from '../protocol/index.js';
import type { LagWindow } from './lag.js';

export type RefusalReason = 'global-limit' | 'per-ip-limit' | 'origin' | 'draining';

/** Counted by a worker thread for its own sockets. */
export interface WorkerCounts {
  connections: number;
  connectionsOpened: number;
  refused: Record<RefusalReason, number>;
  requests: number;
  deliveries: number;
  errors: Partial<Record<ErrorCodeName, number>>;
  rateLimited: number;
  /** Closes the host started, by close code. */
  closes: Record<number, number>;
  backpressureCloses: number;
  relayBatchesReceived: number;
  relayBatchesSent: number;
  /**
   * The workerman-chat listener's share (--compat-port) of connections, connectionsOpened,
   * refused, requests and deliveries, which count both protocols; the FlatBuffers share is
   * the rest. Frames it answered with a BadRequest error are counted apart.
   */
  compatConnections: number;
  compatConnectionsOpened: number;
  compatRefused: Record<RefusalReason, number>;
  compatRequests: number;
  compatDeliveries: number;
  compatBadRequests: number;
}

export interface WorkerSnapshot extends WorkerCounts {
  readonly lag: LagWindow;
}

export function newWorkerCounts(): WorkerCounts {
  return {
    connections: 0,
    connectionsOpened: 0,
    refused: { 'global-limit': 0, 'per-ip-limit': 0, origin: 0, draining: 0 },
    requests: 0,
    deliveries: 0,
    errors: {},
    rateLimited: 0,
    closes: {},
    backpressureCloses: 0,
    relayBatchesReceived: 0,
    relayBatchesSent: 0,
    compatConnections: 0,
    compatConnectionsOpened: 0,
    compatRefused: { 'global-limit': 0, 'per-ip-limit': 0, origin: 0, draining: 0 },
    compatRequests: 0,
    compatDeliveries: 0,
    compatBadRequests: 0,
  };
}

/** Counted by the hub (main thread). */
export interface HubCounts {
  joins: number;
  roomMessages: number;
  privateMessages: number;
  errors: Partial<Record<ErrorCodeName, number>>;
  /** Batches received from / sent to each worker slot. */
  relayBatchesReceived: Record<number, number>;
  relayBatchesSent: Record<number, number>;
}

export function newHubCounts(): HubCounts {
  return { joins: 0, roomMessages: 0, privateMessages: 0, errors: {}, relayBatchesReceived: {}, relayBatchesSent: {} };
}

export function countError(errors: Partial<Record<ErrorCodeName, number>>, code: ErrorCodeName): void {
  errors[code] = (errors[code] ?? 0) + 1;
}
