/**
 * Right-to-left text keeps its own direction wherever user text is shown: messages, nicknames
 * (sender, member list, "To" options, notices) and what the person types.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Locator } from 'playwright-core';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { joinRoom, launchBrowser, openChat, toPicker, waitForMessage, type ChatPage } from './browser.js';

const SARA = 'سارة';
const ARABIC = 'مرحبا بالجميع، كيف الحال؟';
const HEBREW = 'שלום לכולם';

let host: Host;
let browser: Browser;
let chat: ChatPage;
let sara: TestClient;

/** The direction the text is laid out in (the computed `direction` of the element). */
function direction(locator: Locator): Promise<string> {
  return locator.evaluate((el) => getComputedStyle(el).direction);
}

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '1']), launchBrowser()]);
  chat = await openChat(browser, host);
  sara = await TestClient.connect(host.ws);
});

afterAll(async () => {
  await sara?.close();
  await browser?.close();
  await host?.stop();
});

it('lays out Arabic and Hebrew right to left, and English left to right, side by side', async () => {
  const { page } = chat;
  await joinRoom(chat, 'ann', 'rtl');
  await sara.join('rtl', SARA);
  await sara.say('rtl', ARABIC);
  await sara.say('rtl', HEBREW);
  await sara.say('rtl', 'hello in English');
  expect(await direction(await waitForMessage(chat, ARABIC))).toBe('rtl');
  expect(await direction(await waitForMessage(chat, HEBREW))).toBe('rtl');
  expect(await direction(await waitForMessage(chat, 'hello in English'))).toBe('ltr');
  expect(await direction(chat.log.locator('.msg .who bdi').first())).toBe('rtl');
  expect(await direction(page.locator('#members button.member', { hasText: SARA }))).toBe('rtl');
  expect(await direction(chat.log.locator('.notice bdi', { hasText: SARA }))).toBe('rtl');
  await toPicker(chat).fill(SARA.slice(0, 2));
  expect(await direction(page.getByRole('option', { name: SARA }))).toBe('rtl');
  expect(await direction(toPicker(chat))).toBe('rtl');
  await toPicker(chat).press('Escape');
  await page.getByLabel('Message').fill(HEBREW);
  expect(await direction(page.getByLabel('Message'))).toBe('rtl');
  expect(chat.errors).toEqual([]);
});
