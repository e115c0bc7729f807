/** Control messages between the supervisor (main thread) and a worker thread. */
import type { RelayBatch } from '../broker/relay.js';
import type { Config } from '../config.js';

export interface WorkerData {
  readonly index: number;
  readonly incarnation: number;
  /** This node's id (see Supervisor); connection ids start with it. */
  readonly nodeId: string;
  readonly port: number;
  readonly config: Config;
}

export type ToWorker = RelayBatch | { readonly kind: 'shutdown' };

export type FromWorker =
  | RelayBatch
  | { readonly kind: 'listening'; readonly port: number }
  | { readonly kind: 'listen-failed' }
  | { readonly kind: 'crashed'; readonly error: string };
