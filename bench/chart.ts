/**
 * The chart in RESULTS.md: every F1 run, deliveries/s (x, log) against p99
 * latency (y, log), one colour per server, drawn as SVG and screenshotted to PNG
 * with the Debian chromium through playwright-core.
 */
import { chromium } from 'playwright-core';

export interface Series {
  readonly name: string;
  readonly points: readonly { readonly x: number; readonly y: number; readonly pass: boolean }[];
}

const COLORS = ['#1b6ac9', '#d9480f', '#2b8a3e', '#862e9c', '#c92a2a', '#495057'];

export function chartSvg(title: string, series: readonly Series[]): string {
  const W = 900;
  const H = 520;
  const L = 80;
  const R = 200;
  const T = 50;
  const B = 60;
  const xs = series.flatMap((s) => s.points.map((p) => p.x)).filter((v) => v > 0);
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter((v) => v > 0);
  const x0 = Math.floor(Math.log10(Math.min(...xs, 1e4)));
  const x1 = Math.ceil(Math.log10(Math.max(...xs, 1e5)));
  const y0 = Math.floor(Math.log10(Math.min(...ys, 1)));
  const y1 = Math.ceil(Math.log10(Math.max(...ys, 1000)));
  const px = (v: number): number => L + ((Math.log10(v) - x0) / (x1 - x0)) * (W - L - R);
  const py = (v: number): number => H - B - ((Math.log10(Math.max(v, 10 ** y0)) - y0) / (y1 - y0)) * (H - T - B);
  const parts: string[] = [];
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2 - R / 2}" y="28" text-anchor="middle" font-size="17" font-weight="bold">${title}</text>`);
  for (let e = x0; e <= x1; e++) {
    const x = px(10 ** e);
    parts.push(`<line x1="${x}" y1="${T}" x2="${x}" y2="${H - B}" stroke="#ddd"/>`);
    parts.push(`<text x="${x}" y="${H - B + 20}" text-anchor="middle" font-size="13">${(10 ** e).toLocaleString('en-US')}</text>`);
  }
  for (let e = y0; e <= y1; e++) {
    const y = py(10 ** e);
    parts.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${L - 8}" y="${y + 4}" text-anchor="end" font-size="13">${10 ** e}</text>`);
  }
  const limit = py(100);
  parts.push(`<line x1="${L}" y1="${limit}" x2="${W - R}" y2="${limit}" stroke="#c92a2a" stroke-dasharray="6 4"/>`);
  parts.push(`<text x="${W - R - 4}" y="${limit - 6}" text-anchor="end" font-size="12" fill="#c92a2a">p99 limit 100 ms</text>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 15}" text-anchor="middle" font-size="14">deliveries per second (log)</text>`);
  parts.push(`<text transform="translate(20 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle" font-size="14">p99 latency, ms (log)</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = [...s.points].filter((p) => p.x > 0).sort((a, b) => a.x - b.x);
    for (const p of pts) {
      const cx = px(p.x).toFixed(1);
      const cy = py(p.y).toFixed(1);
      parts.push(
        p.pass
          ? `<circle cx="${cx}" cy="${cy}" r="4.5" fill="${color}"/>`
          : `<circle cx="${cx}" cy="${cy}" r="4.5" fill="white" stroke="${color}" stroke-width="2"/>`,
      );
    }
    const ly = T + 10 + i * 24;
    parts.push(`<circle cx="${W - R + 24}" cy="${ly}" r="5" fill="${color}"/>`);
    parts.push(`<text x="${W - R + 36}" y="${ly + 5}" font-size="14">${s.name}</text>`);
  });
  const ly = T + 10 + series.length * 24 + 10;
  parts.push(`<text x="${W - R + 18}" y="${ly}" font-size="12" fill="#555">filled: run passed</text>`);
  parts.push(`<text x="${W - R + 18}" y="${ly + 16}" font-size="12" fill="#555">hollow: run failed</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">${parts.join('')}</svg>`;
}

export async function renderPng(svg: string, path: string): Promise<void> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 520 } });
    await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`);
    await page.screenshot({ path, clip: { x: 0, y: 0, width: 900, height: 520 } });
  } finally {
    await browser.close();
  }
}
