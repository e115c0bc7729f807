/**
 * Coming back to a room where messages arrived meanwhile: they start under a "12 new messages"
 * divider scrolled into view, and the jump button counts them down to the newest.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { joinRoom, launchBrowser, openChat, waitForMessage, type ChatPage } from './browser.js';

let host: Host;
let browser: Browser;
let chat: ChatPage;
let bob: TestClient;

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '1', '--rate-burst', '100']), launchBrowser()]);
  // A short window: twelve messages do not fit in the conversation's view.
  chat = await openChat(browser, host, { width: 1100, height: 560 });
  bob = await TestClient.connect(host.ws);
});

afterAll(async () => {
  await bob?.close();
  await browser?.close();
  await host?.stop();
});

it('marks where the unread messages start and offers the jump to the newest', async () => {
  const { page } = chat;
  await joinRoom(chat, 'ann', 'ua');
  await bob.join('ua', 'bob');
  for (let i = 1; i <= 20; i++) await bob.say('ua', `seen ${i}`);
  await waitForMessage(chat, 'seen 20');
  await joinRoom(chat, 'ann', 'ub');
  for (let i = 1; i <= 12; i++) await bob.say('ua', `new ${i}`);
  const tabA = page.locator('#tabs button.tab-open[data-room="ua"]');
  await tabA.locator('.badge', { hasText: /^12 unread$/ }).waitFor();

  await tabA.click();
  const divider = chat.log.locator('.room-log:not([hidden])').getByRole('separator');
  await divider.getByText('12 new messages', { exact: true }).waitFor();
  // It stands right before the first new message, and the view starts there.
  expect(await divider.evaluate((d) => d.nextElementSibling?.querySelector('.text')?.textContent)).toBe('new 1');
  const [logBox, dividerBox] = [await chat.log.boundingBox(), await divider.boundingBox()];
  expect(dividerBox!.y).toBeGreaterThanOrEqual(logBox!.y);
  expect(dividerBox!.y + dividerBox!.height).toBeLessThanOrEqual(logBox!.y + logBox!.height);
  expect(await tabA.locator('.badge').count()).toBe(0);
  const jump = page.locator('#jump');
  expect(await jump.textContent()).toBe('12 new messages ↓');
  await jump.click();
  await jump.waitFor({ state: 'hidden' });
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('message');
  const last = await waitForMessage(chat, 'new 12');
  const lastBox = await last.boundingBox();
  expect(lastBox!.y + lastBox!.height).toBeLessThanOrEqual(logBox!.y + logBox!.height + 1);
  expect(chat.errors).toEqual([]);
});
