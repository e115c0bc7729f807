/**
 * The small ones: the nickname field's limit and when it is remembered; a join asked for while
 * offline does not take the view away; the emoji picker is a disclosure that closes when left and
 * hands the focus back after a pick, and ArrowDown goes straight down across its groups; names as
 * read by the browser's accessibility tree (no bullet, no capitals); the log names its room; old
 * messages show their date; scrolled up in a long conversation, what is being read stays.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, CDPSession, WebSocketRoute } from 'playwright-core';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { joinRoom, launchBrowser, openChat, type ChatPage } from './browser.js';

const FAST = ['--rate-limit', '1000000', '--rate-burst', '1000000', '--rate-limit-per-ip', '1000000'];
let host: Host;
let browser: Browser;
let chat: ChatPage;
let cdp: CDPSession;
const clients: TestClient[] = [];

async function client(room: string, nickname: string): Promise<TestClient> {
  const c = await TestClient.connect(host.ws);
  clients.push(c);
  await c.join(room, nickname);
  return c;
}

/** The accessible name Chromium gives the element (what a screen reader reads). */
async function axName(selector: string): Promise<string> {
  const { root } = (await cdp.send('DOM.getDocument', { depth: 0 })) as { root: { nodeId: number } };
  const { nodeId } = (await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector })) as { nodeId: number };
  const { nodes } = (await cdp.send('Accessibility.getPartialAXTree', { nodeId, fetchRelatives: false })) as { nodes: { name?: { value: string } }[] };
  return nodes[0]?.name?.value ?? '';
}

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '1', '--fault-injection', ...FAST]), launchBrowser()]);
  chat = await openChat(browser, host);
  cdp = await chat.context.newCDPSession(chat.page);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await browser?.close();
  await host?.stop();
});

it('limits the nickname to 32 characters and remembers it only once the host took it', async () => {
  const { page } = chat;
  expect(await page.getByLabel('Nickname').getAttribute('maxlength')).toBe('32');
  await client('small', 'taken');
  await page.getByLabel('Nickname').fill('taken');
  await page.getByLabel('Room', { exact: true }).fill('small');
  await page.getByRole('button', { name: 'Join' }).click();
  await page.locator('#join-error').getByText('already uses that nickname', { exact: false }).waitFor();
  expect(await page.evaluate(() => localStorage.getItem('chat.nickname'))).toBeNull();
  await joinRoom(chat, 'ann', 'small');
  expect(await page.evaluate(() => localStorage.getItem('chat.nickname'))).toBe('ann');
});

it('reads names as words: no bullet before members, no capitals in headings, the room in the log name', async () => {
  const { page } = chat;
  await client('small', 'bob');
  await page.locator('#members button.member', { hasText: 'bob' }).waitFor();
  expect(await axName('#members button.member[data-id]')).toMatch(/^(bob|taken)$/);
  expect(await axName('#members-title')).toBe('People');
  expect(await axName('#log')).toBe('Conversation in small');
});

it('makes the emoji picker a disclosure that closes when left and returns to the message box after a pick', async () => {
  const { page } = chat;
  const toggle = page.getByRole('button', { name: 'Insert emoji' });
  const panel = page.locator('#emoji-panel');
  expect(await toggle.getAttribute('aria-haspopup')).toBeNull();
  await toggle.click();
  await panel.locator('button[data-emoji]').first().waitFor();
  // Tab leaves the panel (one tab stop): it closes.
  await page.keyboard.press('Tab');
  await panel.waitFor({ state: 'hidden' });
  expect(await toggle.getAttribute('aria-expanded')).toBe('false');

  await toggle.click();
  // From the first group's last button, ArrowDown lands straight below it in the next group.
  const groups = panel.locator('.emoji-grid');
  const last = groups.nth(0).locator('button').last();
  await last.focus();
  await page.keyboard.press('ArrowDown');
  const focused = page.locator('#emoji-panel button:focus');
  const [from, to] = [await last.boundingBox(), await focused.boundingBox()];
  expect(await focused.evaluate((b) => b.closest('.emoji-grid') === document.querySelectorAll('#emoji-panel .emoji-grid')[1])).toBe(true);
  expect(Math.abs(to!.x - from!.x)).toBeLessThan(from!.width / 2);
  const emoji = await focused.getAttribute('data-emoji');
  await page.keyboard.press('Enter');
  await panel.waitFor({ state: 'hidden' });
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('message');
  expect(await page.getByLabel('Message', { exact: true }).inputValue()).toBe(emoji);
  await page.getByLabel('Message', { exact: true }).fill('');
});

it('shows the date of messages not from today', async () => {
  const { page } = chat;
  // The page lives two days later than the host: today's messages are from the day before yesterday.
  await page.clock.setSystemTime(Date.now() + 2 * 86_400_000);
  const sent = await client('small', 'dora');
  await sent.say('small', 'said two days ago');
  const time = chat.log.locator('.msg', { hasText: 'said two days ago' }).locator('time');
  await time.waitFor();
  expect(await time.textContent()).toContain(String(new Date().getFullYear()));
});

it('keeps the view on the room it was in when a join asked for offline completes', async () => {
  const { page } = chat;
  const held: WebSocketRoute[] = [];
  let hold = true;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (hold) held.push(ws);
    else ws.connectToServer();
  });
  expect((await fetch(`${host.http}/debug/crash-worker`, { method: 'POST' })).status).toBe(200);
  await chat.log.getByText('Connection lost: the host is restarting. Reconnecting…').first().waitFor();
  await page.getByLabel('Room', { exact: true }).fill('later');
  await page.getByRole('button', { name: 'Join' }).click();
  await page.locator('#join-error').getByText('Not connected yet. You will join later', { exact: false }).waitFor();
  await page.getByLabel('Message', { exact: true }).fill('a draft for small');
  hold = false;
  for (const ws of held) await ws.close({ code: 1012, reason: 'test: released' });
  await page.locator('#tabs button.tab-open[data-room="later"]').waitFor();
  expect(await page.locator('#tabs button.tab-open[data-room="small"]').getAttribute('aria-current')).toBe('true');
  expect(await page.locator('#chat-title').textContent()).toBe('small');
  expect(await page.getByLabel('Message', { exact: true }).inputValue()).toBe('a draft for small');
});

it('does not delete what the person scrolled up to read in a long conversation', async () => {
  const { page } = chat;
  await page.locator('#tabs button.tab-open[data-room="small"]').click();
  const talker = await client('long', 'talker');
  await joinRoom(chat, 'ann', 'long');
  await Promise.all(Array.from({ length: 990 }, (_, i) => talker.say('long', `line ${i + 1}`)));
  const log = chat.log.locator('.room-log:not([hidden])');
  await log.locator('.msg .text', { hasText: /^line 990$/ }).waitFor({ state: 'attached' });
  // Up to the first line, then 40 more arrive below.
  await page.locator('#log').evaluate((el) => {
    el.scrollTop = 0;
  });
  const first = log.locator('.msg .text', { hasText: /^line 1$/ });
  const top = await first.boundingBox();
  await Promise.all(Array.from({ length: 40 }, (_, i) => talker.say('long', `more ${i + 1}`)));
  await log.locator('.msg .text', { hasText: /^more 40$/ }).waitFor({ state: 'attached' });
  expect(await first.count()).toBe(1);
  expect((await first.boundingBox())!.y).toBe(top!.y);
  expect(chat.errors).toEqual([]);
});
