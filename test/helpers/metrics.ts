/** Reads GET /metrics (Prometheus text) into a map of `name{labels}` to value. */
export async function scrape(baseUrl: string): Promise<Map<string, number>> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return parseMetrics(await res.text());
}

export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    values.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return values;
}

/** Scrapes until `accept` holds for the metrics (they are gathered at scrape time from every thread). */
export async function waitForMetrics(baseUrl: string, accept: (m: Map<string, number>) => boolean): Promise<Map<string, number>> {
  for (;;) {
    const metrics = await scrape(baseUrl);
    if (accept(metrics)) return metrics;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
