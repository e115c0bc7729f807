import { parsePrometheusText, type MetricSamples } from '../../bench/host-metrics.js';

/** Reads GET /metrics (Prometheus text) into a map of `name{labels}` to value. */
export async function scrape(baseUrl: string): Promise<MetricSamples> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return parsePrometheusText(await res.text());
}
