/**
 * The connection status announces changes of state, not a countdown: through an outage of four
 * failed attempts the status region says "Offline" once, while the countdown beside it (outside
 * the region) ticks; then "Connected" once the host is reachable again.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startHost, type Host } from '../helpers/host.js';
import { launchBrowser, openChat, type ChatPage } from './browser.js';

const ATTEMPTS = 4;
let host: Host;
let browser: Browser;
let chat: ChatPage;

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '1', '--fault-injection']), launchBrowser()]);
  chat = await openChat(browser, host);
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
});

// Four attempts with the page's backoff take 4 to 8 s, and the countdown of the next one up to 8 s more.
it('announces each change of connection state once, never the countdown', { timeout: 60_000 }, async () => {
  const { page } = chat;
  const status = page.getByRole('status');
  expect(await status.count()).toBe(1);
  // Every text the status region takes, and every countdown shown beside it.
  await page.evaluate(() => {
    const w = window as unknown as { said: string[]; ticks: string[] };
    w.said = [];
    w.ticks = [];
    const region = document.querySelector('[role="status"]')!;
    new MutationObserver(() => w.said.push(region.textContent ?? '')).observe(region, { childList: true, characterData: true, subtree: true });
    const detail = document.getElementById('conn-detail');
    if (detail !== null)
      new MutationObserver(() => w.ticks.push(detail.textContent ?? '')).observe(detail, { childList: true, characterData: true, subtree: true });
  });
  // The host is cut off: the first connection meets a worker crash, the next attempts are refused.
  let refused = 0;
  let reachable = false;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (reachable) ws.connectToServer();
    else {
      refused += 1;
      void ws.close({ code: 1012, reason: 'test: host away' });
    }
  });
  expect((await fetch(`${host.http}/debug/crash-worker`, { method: 'POST' })).status).toBe(200);
  await expect.poll(() => refused, { timeout: 25_000, interval: 100 }).toBeGreaterThanOrEqual(ATTEMPTS);
  // The next wait counts down second by second, beside the region.
  await page.locator('#conn[data-state="waiting"]').waitFor();
  await page.locator('#conn-detail', { hasText: /retrying in \d+ s/i }).waitFor();
  reachable = true;
  await page.locator('#conn[data-state="open"]').waitFor();
  const { said, ticks } = await page.evaluate(() => {
    const w = window as unknown as { said: string[]; ticks: string[] };
    return { said: w.said, ticks: w.ticks };
  });
  expect(said).toEqual(['Offline: reconnecting by itself…', 'Connected']);
  expect(ticks.filter((t) => /retrying in \d+ s$/.test(t)).length).toBeGreaterThan(ATTEMPTS);
  expect(await page.locator('#conn-detail').textContent()).toBe('');
  expect(chat.errors).toEqual([]);
});
