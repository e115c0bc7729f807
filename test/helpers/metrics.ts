import { parseSeriesValues, type SeriesValues } from './prometheus.js';

/** Reads GET /metrics (Prometheus text, read strictly) into a map of `name{labels}` to value. */
export async function scrape(baseUrl: string): Promise<SeriesValues> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return parseSeriesValues(await res.text());
}
