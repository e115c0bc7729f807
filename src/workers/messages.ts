/** Control messages between the supervisor (main thread) and a worker thread. */
import type { SharedCounts } from '../admission/connection-limits.js';
import type { Config } from '../config.js';
import type { WorkerSnapshot } from '../metrics/counters.js';
import type { RelayBatch } from '../relay/batch.js';

export interface WorkerData {
  readonly index: number;
  readonly incarnation: number;
  /** This node's id (see Supervisor); connection ids start with it. */
  readonly nodeId: string;
  readonly port: number;
  /** The workerman-chat listener's port (concrete, never 0); -1: off. */
  readonly compatPort: number;
  readonly config: Config;
  /** Connection counts shared by every worker (connection limits). */
  readonly shared: SharedCounts;
}

export type ToWorker =
  | RelayBatch
  | { readonly kind: 'shutdown' }
  /** Report your counts for a scrape. */
  | { readonly kind: 'metrics-collect'; readonly id: number }
  /** The answer to this worker's metrics-request. */
  | { readonly kind: 'metrics-text'; readonly id: number; readonly text: string };

export type FromWorker =
  | RelayBatch
  | { readonly kind: 'listening'; readonly port: number; readonly compatPort?: number }
  | { readonly kind: 'listen-failed' }
  | { readonly kind: 'crashed'; readonly error: string }
  /** GET /metrics arrived here: gather every thread's counts. */
  | { readonly kind: 'metrics-request'; readonly id: number }
  | { readonly kind: 'metrics-snapshot'; readonly id: number; readonly snapshot: WorkerSnapshot }
  /** Sent on the way out, so that the counts of an ending worker are not lost. */
  | { readonly kind: 'final-counts'; readonly snapshot: WorkerSnapshot };
