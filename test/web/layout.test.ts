/**
 * Layouts: at 768 px the conversation has the width and a 64-character room name stays on one
 * line; at 360 px the join form folds away once joined, and the room list and the people open as
 * drawers within the screen; at 320 px with text at 200 %, Send stays on the screen.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { joinRoom, launchBrowser, openChat, type ChatPage } from './browser.js';

const LONG_ROOM = `r${'o'.repeat(62)}m`;
let host: Host;
let browser: Browser;
const pages: ChatPage[] = [];
let bob: TestClient;

async function open(width: number, height: number): Promise<ChatPage> {
  const chat = await openChat(browser, host, { width, height });
  pages.push(chat);
  return chat;
}

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '1']), launchBrowser()]);
  bob = await TestClient.connect(host.ws);
  await bob.join(LONG_ROOM, 'bob');
});

afterAll(async () => {
  await bob?.close();
  await browser?.close();
  await host?.stop();
});

it('gives the conversation the width at 768 px and keeps a long room name on one line', async () => {
  const chat = await open(768, 1024);
  await joinRoom(chat, 'ann', LONG_ROOM);
  const log = await chat.log.boundingBox();
  expect(log!.width).toBeGreaterThanOrEqual(440);
  const lines = await chat.page
    .locator('#tabs .tab-name')
    .evaluate((el) => Math.round(el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight)));
  expect(lines).toBe(1);
  expect(await chat.page.locator('#tabs .tab-open').getAttribute('title')).toBe(LONG_ROOM);
  expect(await chat.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(768);
});

it('folds the join form away at 360 px once joined and opens rooms and people as drawers', async () => {
  const chat = await open(360, 740);
  const { page } = chat;
  expect(await page.getByRole('button', { name: 'Join a room' }).isVisible()).toBe(false);
  await joinRoom(chat, 'cat', LONG_ROOM);
  await page.locator('#join-form').waitFor({ state: 'hidden' });
  // The conversation starts within the first screen.
  const log = await chat.log.boundingBox();
  expect(log!.y).toBeLessThan(300);

  const rooms = page.getByRole('button', { name: 'Rooms', exact: true });
  await rooms.click();
  expect(await rooms.getAttribute('aria-expanded')).toBe('true');
  const link = page.locator('#room-list button').first();
  await link.waitFor();
  const box = await link.boundingBox();
  expect(box!.y + box!.height).toBeLessThanOrEqual(740);
  expect(await page.evaluate(() => document.activeElement?.closest('#rooms-pane') !== null)).toBe(true);
  await page.keyboard.press('Escape');
  await page.locator('#rooms-pane').waitFor({ state: 'hidden' });
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('rooms-toggle');

  const people = page.getByRole('button', { name: /^People/ });
  await people.click();
  const member = page.locator('#members button.member', { hasText: 'bob' });
  await member.waitFor();
  expect((await member.boundingBox())!.y).toBeLessThan(740);
  await member.click();
  await page.locator('#members-pane').waitFor({ state: 'hidden' });
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('message');

  await page.getByRole('button', { name: 'Join a room' }).click();
  await page.getByLabel('Room', { exact: true }).waitFor();
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('room');
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  expect(chat.errors).toEqual([]);
});

it('keeps Send on a 320 px screen with text at 200 %', async () => {
  const chat = await open(320, 700);
  const { page } = chat;
  await joinRoom(chat, 'dee', 'big-text');
  // Zoomed to 200 %, as the browser's zoom does it: the page lays out in 160 CSS pixels.
  await page.evaluate(() => {
    document.documentElement.style.zoom = '2';
  });
  const fits = await page.evaluate(() => {
    const send = document.getElementById('send')!.getBoundingClientRect();
    const row = document.querySelector('.compose-row')!.getBoundingClientRect();
    return { send: send.right <= row.right + 0.5 && send.right <= window.innerWidth, page: document.documentElement.scrollWidth <= window.innerWidth };
  });
  expect(fits).toEqual({ send: true, page: true });
});
