/** The fan-out scenarios of issue 4 and the run timings. */
import type { Scenario, Timing } from './generator.js';

export const SCENARIOS: Record<string, Scenario & { readonly description: string; readonly startDeliveries: number }> = {
  F1: {
    name: 'F1',
    description: '1,000 connections, 10 rooms of 100, 10 senders per room, 64-byte texts',
    connections: 1000,
    roomSize: 100,
    sendersPerRoom: 10,
    textBytes: 64,
    startDeliveries: 50_000,
  },
  F2: {
    name: 'F2',
    description: 'one room of 5,000 members, one sender, 64-byte texts',
    connections: 5000,
    roomSize: 5000,
    sendersPerRoom: 1,
    textBytes: 64,
    startDeliveries: 50_000,
  },
  F3: {
    name: 'F3',
    description: '10,000 connections in 5,000 rooms of 2, both members send, 64-byte texts',
    connections: 10_000,
    roomSize: 2,
    sendersPerRoom: 2,
    textBytes: 64,
    startDeliveries: 20_000,
  },
  /**
   * A room as big as the open-file limit allows (about 19,500 connections per process,
   * on both sides): for fixed-rate.ts, not part of `npm run bench`.
   */
  BIG: {
    name: 'BIG',
    description: 'one room of 19,000 members, one sender, 64-byte texts',
    connections: 19_000,
    roomSize: 19_000,
    sendersPerRoom: 1,
    textBytes: 64,
    startDeliveries: 19_000,
  },
};

/**
 * F4: as many connections as the 20,000 open files per process allow on both
 * sides (the generator and the server each hold one descriptor per connection,
 * plus a few dozen of their own), in rooms of 100.
 */
export const F4 = {
  name: 'F4',
  description:
    "19,500 connections (the 20,000-file cap per process, minus headroom for each process's own descriptors) joining rooms of 100, 500 handshakes in flight",
  connections: 19_500,
  roomSize: 100,
  sendersPerRoom: 1,
  textBytes: 64,
  concurrency: 500,
} as const;

export const QUICK_TIMING: Timing = { warmupMs: 500, windowMs: 2000, drainMs: 2000 };
export const FULL_TIMING: Timing = { warmupMs: 1000, windowMs: 3000, drainMs: 3000 };
