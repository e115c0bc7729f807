/**
 * Re-renders never throw the keyboard focus to <body>: the room list's refresh, Enter on a tab,
 * a message in a background room and a member joining leave the focus where it was; leaving a
 * room with its × moves it to the next tab, or to the message box after the last one.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { joinRoom, launchBrowser, openChat, type ChatPage } from './browser.js';

let host: Host;
let browser: Browser;
let chat: ChatPage;
const clients: TestClient[] = [];

async function client(room: string, nickname: string): Promise<TestClient> {
  const c = await TestClient.connect(host.ws);
  clients.push(c);
  await c.join(room, nickname);
  return c;
}

/** Remembers the focused element; `stillFocused` then tells whether that very node has the focus. */
async function markFocus(): Promise<void> {
  await chat.page.evaluate(() => {
    (window as unknown as { marked: Element | null }).marked = document.activeElement;
  });
}

function stillFocused(): Promise<boolean> {
  return chat.page.evaluate(
    () => document.activeElement !== document.body && document.activeElement === (window as unknown as { marked: Element | null }).marked,
  );
}

function focusedDescription(): Promise<string> {
  return chat.page.evaluate(() => {
    const el = document.activeElement;
    return el === null ? 'none' : `${el.tagName.toLowerCase()}#${el.id}.${el.className}[${el.getAttribute('data-room') ?? ''}]`;
  });
}

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '1']), launchBrowser()]);
  chat = await openChat(browser, host);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await browser?.close();
  await host?.stop();
});

it('keeps the keyboard focus through re-renders and moves it on when a room is left', async () => {
  const { page } = chat;
  for (const room of ['fa', 'fb', 'fc']) await joinRoom(chat, 'ann', room);
  const roomLink = (name: string) => page.locator(`#room-list button[data-room="${name}"]`);
  const tab = (name: string) => page.locator(`#tabs button.tab-open[data-room="${name}"]`);

  // The room list refreshes (every 5 s): someone opens a new room and fills ours, the focused item stays focused.
  await roomLink('fa').focus();
  await markFocus();
  await client('fnew', 'dan');
  await client('fa', 'eve');
  await roomLink('fnew').waitFor();
  await roomLink('fa').getByText('2 people').waitFor();
  expect(await stillFocused(), await focusedDescription()).toBe(true);

  // Enter on a tab opens its room; the focus stays on that tab.
  await tab('fa').focus();
  await markFocus();
  await page.keyboard.press('Enter');
  await page.locator('#chat-title').getByText('fa', { exact: true }).waitFor({ state: 'attached' });
  expect(await tab('fa').getAttribute('aria-current')).toBe('true');
  expect(await stillFocused(), await focusedDescription()).toBe(true);

  // A message in a background room: its tab gets a badge, the focus stays.
  const bea = await client('fb', 'bea');
  await bea.say('fb', 'while you are elsewhere');
  await tab('fb').locator('.badge').waitFor();
  expect(await stillFocused(), await focusedDescription()).toBe(true);

  // A member joining the room on screen: a focused member stays focused.
  await page.locator('#members button.member', { hasText: 'eve' }).focus();
  await markFocus();
  await client('fa', 'fay');
  await page.locator('#members button.member', { hasText: 'fay' }).waitFor();
  await chat.log.getByText('fay joined').waitFor();
  expect(await stillFocused(), await focusedDescription()).toBe(true);

  // Leaving with ×: the focus goes to the next tab; after the last tab, to the message box.
  await page.getByRole('button', { name: 'Leave fa' }).focus();
  await page.keyboard.press('Enter');
  await tab('fa').waitFor({ state: 'detached' });
  expect(await focusedDescription()).toBe('button#.tab-open[fb]');
  await page.getByRole('button', { name: 'Leave fc' }).focus();
  await page.keyboard.press('Enter');
  await tab('fc').waitFor({ state: 'detached' });
  expect(await focusedDescription()).toBe('textarea#message.[]');
  expect(chat.errors).toEqual([]);
});
