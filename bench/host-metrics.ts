/**
 * What the benchmarks read about the host besides /proc: its Prometheus text at
 * GET /metrics (absent from older builds: every reader returns null then, and the
 * caller says "not available"), and the kernel's view of its TCP sockets.
 */
import { readFileSync } from 'node:fs';
import { parseSampleLine, type SeriesValues } from '../test/helpers/prometheus.js';

/** Series name with its labels exactly as written (`chat_x{thread="main"}`) -> value. */
export type MetricSamples = SeriesValues;

/**
 * Reads the Prometheus text format leniently with the tests' parser (test/helpers/prometheus.ts):
 * a line it does not read as a sample (comments, blank lines, anything malformed) is skipped, not
 * an error, as is a NaN value; a series written twice keeps its last value.
 */
export function parsePrometheusText(text: string): MetricSamples {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const sample = parseSampleLine(line);
    if (sample !== null && !Number.isNaN(sample.value)) samples.set(sample.series, sample.value);
  }
  return samples;
}

/** GET /metrics from the host; null when it does not answer 200 (older builds) or not within `timeoutMs`. */
export async function fetchHostMetrics(port: number, timeoutMs = 2000): Promise<MetricSamples | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await response.text();
    return response.status === 200 ? parsePrometheusText(body) : null;
  } catch (error) {
    // A refused or timed-out scrape is reported as "not available", with the reason.
    process.stderr.write(`GET /metrics failed: ${(error as Error).message}\n`);
    return null;
  }
}

/** One metric without labels (or the sum over its label sets); null when absent. */
export function metricValue(samples: MetricSamples, name: string): number | null {
  let total: number | null = null;
  for (const [series, value] of samples) {
    if (series === name || series.startsWith(`${name}{`)) total = (total ?? 0) + value;
  }
  return total;
}

export interface ThreadLag {
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** chat_event_loop_lag_{p99,max}_seconds by thread label, in milliseconds. */
export function lagByThread(samples: MetricSamples): Record<string, ThreadLag> {
  const lag: Record<string, { p99Ms: number; maxMs: number }> = {};
  for (const [series, value] of samples) {
    const m = /^chat_event_loop_lag_(p99|max)_seconds\{.*thread="([^"]+)".*\}$/.exec(series);
    if (!m) continue;
    lag[m[2]!] ??= { p99Ms: 0, maxMs: 0 };
    const entry = lag[m[2]!]!;
    if (m[1] === 'p99') entry.p99Ms = Number((value * 1000).toFixed(2));
    else entry.maxMs = Number((value * 1000).toFixed(2));
  }
  return lag;
}

/** "main 1.2/4.0 worker0 0.8/2.1" (p99/max ms), or "not available". */
export function formatLag(lag: Record<string, ThreadLag> | null): string {
  if (lag === null || Object.keys(lag).length === 0) return 'not available';
  return Object.entries(lag)
    .map(([thread, l]) => `${thread} ${l.p99Ms}/${l.maxMs}`)
    .join(' ');
}

/** TCP states as /proc/net/tcp writes them (include/net/tcp_states.h). */
export const TCP_ESTABLISHED = 0x01;

export interface TcpSocketState {
  readonly state: number;
  /** Bytes in the send queue (sent and not acknowledged, or not sent yet). */
  readonly sendQueue: number;
  /** Bytes received and not read by the application. */
  readonly receiveQueue: number;
}

/**
 * IPv4 TCP sockets of the machine (loopback benchmarks: both ends are here), keyed
 * `localPort>remotePort`. A socket closed and fully gone is simply absent.
 */
export function tcpSockets(): Map<string, TcpSocketState> {
  const sockets = new Map<string, TcpSocketState>();
  const lines = readFileSync('/proc/net/tcp', 'latin1').split('\n').slice(1);
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    const localPort = parseInt(f[1]!.split(':')[1]!, 16);
    const remotePort = parseInt(f[2]!.split(':')[1]!, 16);
    const [tx, rx] = f[4]!.split(':');
    sockets.set(`${localPort}>${remotePort}`, { state: parseInt(f[3]!, 16), sendQueue: parseInt(tx!, 16), receiveQueue: parseInt(rx!, 16) });
  }
  return sockets;
}
