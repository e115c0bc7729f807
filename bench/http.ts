/**
 * HTTP with autocannon (in this process, on the same 2 cores as the server):
 * each endpoint against the chat host and against the fastify reference serving
 * the same public/ folder, one after the other, after a short warm-up.
 */
import { createRequire } from 'node:module';
import type { RunningTarget } from './targets.js';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  throughput: { average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export const ENDPOINTS = ['/healthz', '/api/rooms', '/', '/app.js'] as const;

export interface HttpOptions {
  readonly connections: number;
  readonly pipelining: number;
  readonly durationSec: number;
  readonly warmupSec: number;
  /** autocannon worker threads (1: autocannon in this thread only). */
  readonly workers: number;
}

export interface HttpMeasurement {
  readonly server: string;
  readonly path: string;
  readonly connections: number;
  readonly pipelining: number;
  readonly workers: number;
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly mbPerSec: number;
  readonly non2xx: number;
  readonly errors: number;
  /** Server CPU (utime+stime of its process) per request over the measured window. */
  readonly serverCpuUsPerRequest: number;
  /** Server CPU over the measured window, in percent of one core. */
  readonly serverCpuPct: number;
  /** This process's CPU (autocannon and its threads) over the measured window, in percent of one core. */
  readonly clientCpuPct: number;
  /** Set when the measurement could not be made (the server died: why); the figures are then 0. */
  readonly error?: string;
  /** Set when the server died just after the run (as autocannon closed its connections): why. */
  readonly crashedAfter?: string;
}

/** What a measurement was of: the same fields for a measured and a failed one. */
function setting(server: string, path: string, options: HttpOptions) {
  return { server, path, connections: options.connections, pipelining: options.pipelining, workers: options.workers };
}

/** The record of a measurement that failed (e.g. the server crashed during it). */
export function failedHttp(server: string, path: string, options: HttpOptions, error: string): HttpMeasurement {
  return {
    ...setting(server, path, options),
    requestsPerSec: 0,
    p50Ms: 0,
    p99Ms: 0,
    mbPerSec: 0,
    non2xx: 0,
    errors: 0,
    serverCpuUsPerRequest: 0,
    serverCpuPct: 0,
    clientCpuPct: 0,
    error,
  };
}

export async function measureHttp(server: string, target: RunningTarget, path: string, options: HttpOptions): Promise<HttpMeasurement> {
  const url = `http://127.0.0.1:${target.port}${path}`;
  // With workers, autocannon splits the connections over that many threads of its own.
  const common = { url, connections: options.connections, pipelining: options.pipelining, ...(options.workers > 1 ? { workers: options.workers } : {}) };
  await autocannon({ ...common, duration: options.warmupSec });
  const server0 = target.probe.cpuSeconds();
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await autocannon({ ...common, duration: options.durationSec });
  const seconds = (performance.now() - t0) / 1000;
  const serverCpu = target.probe.cpuSeconds() - server0;
  const client = process.cpuUsage(client0);
  return {
    ...setting(server, path, options),
    requestsPerSec: Math.round(r.requests.average),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    mbPerSec: Number((r.throughput.average / 2 ** 20).toFixed(2)),
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    serverCpuUsPerRequest: r.requests.total ? Number(((serverCpu / r.requests.total) * 1e6).toFixed(2)) : 0,
    serverCpuPct: Math.round((serverCpu / seconds) * 100),
    clientCpuPct: Math.round(((client.user + client.system) / 1e6 / seconds) * 100),
  };
}
