/**
 * The web client in headless Chromium against the real host: presence, room and private
 * messages, text-only rendering, errors, keyboard, links, no outside requests, phone width.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { decodeClientFrame, encodeClientRequest, PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { joinRoom, launchBrowser, messageLocator, openChat, say, toPicker, waitForMessage, type ChatPage } from './browser.js';

let host: Host;
let browser: Browser;
const pages: ChatPage[] = [];

async function open(viewport?: { width: number; height: number }): Promise<ChatPage> {
  const chat = await openChat(browser, host, viewport);
  pages.push(chat);
  return chat;
}

beforeAll(async () => {
  // One test fills a room's history with 40 messages at once: past the default burst of 40 requests.
  [host, browser] = await Promise.all([startHost(['--workers', '2', '--rate-burst', '100']), launchBrowser()]);
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
});

describe('web client', () => {
  it('two people in one room see each other and both see a message', async () => {
    const ann = await open();
    const bob = await open();
    await joinRoom(ann, 'ann', 'lobby');
    await joinRoom(bob, 'bob', 'lobby');
    await ann.page.locator('#members button.member', { hasText: 'bob' }).waitFor();
    await bob.page.locator('#members button.member', { hasText: 'ann' }).waitFor();
    await bob.page.locator('#members .me', { hasText: 'bob (you)' }).waitFor();
    await ann.log.getByText('bob joined').waitFor();
    // The whole list came with Joined and Presence: a count, no paging, no request for members.
    await ann.page.locator('#member-count').getByText('2 people here', { exact: true }).waitFor();
    expect(await ann.page.locator('#members-more').isHidden()).toBe(true);
    expect(ann.sent.filter((r) => r.type === 'members')).toEqual([]);
    expect(ann.sent.filter((r) => r.type === 'join').map((r) => r.type === 'join' && r.protocolVersion)).toEqual([PROTOCOL_VERSION]);

    await say(ann, 'hello from ann');
    const own = await waitForMessage(ann, 'hello from ann');
    await waitForMessage(bob, 'hello from ann');
    // Own messages look different; name and time are shown.
    expect(await own.locator('xpath=..').getAttribute('class')).toContain('own');
    const other = bob.log.locator('.msg', { hasText: 'hello from ann' });
    expect(await other.getAttribute('class')).not.toContain('own');
    expect(await other.locator('.who').textContent()).toBe('ann');
    expect(await other.locator('time').textContent()).toMatch(/\d/);
    // The message box is emptied after sending.
    expect(await ann.page.getByLabel('Message').inputValue()).toBe('');
  });

  it('a private message reaches only the sender and the recipient', async () => {
    const [a, b, c] = [await open(), await open(), await open()];
    await joinRoom(a, 'pa', 'secret');
    await joinRoom(b, 'pb', 'secret');
    await joinRoom(c, 'pc', 'secret');
    // Pick the recipient in the member list.
    const pb = a.page.locator('#members button.member', { hasText: 'pb' });
    await pb.click();
    expect(await toPicker(a).inputValue()).toBe('pb');
    expect(await pb.getAttribute('aria-pressed')).toBe('true');
    await say(a, 'just between us');
    const sent = await waitForMessage(a, 'just between us');
    const received = await waitForMessage(b, 'just between us');
    expect(await sent.locator('xpath=..').getAttribute('class')).toContain('private');
    expect(await received.locator('xpath=..').getAttribute('class')).toContain('private');
    expect(await b.log.locator('.msg.private .pm').textContent()).toBe('private to you');
    // Back to everyone with the "To" picker, then a room message as a barrier for the third person.
    await a.page.getByRole('button', { name: 'Write to everyone' }).click();
    expect(await toPicker(a).inputValue()).toBe('');
    expect(await pb.getAttribute('aria-pressed')).toBe('false');
    await say(a, 'barrier for everyone');
    await waitForMessage(c, 'barrier for everyone');
    await waitForMessage(b, 'barrier for everyone');
    expect(await messageLocator(c, 'just between us').count()).toBe(0);
    expect(await c.log.locator('.msg.private').count()).toBe(0);

    // The "To" picker by keyboard: type part of a name, arrows, Enter. Everyone else is listed, never me.
    const to = toPicker(a);
    await to.focus();
    await a.page.keyboard.type('P');
    const options = a.page.getByRole('listbox', { name: 'Matching people' }).getByRole('option');
    await expect.poll(() => options.allTextContents()).toEqual(['pb', 'pc']);
    expect(await to.getAttribute('aria-expanded')).toBe('true');
    await a.page.keyboard.press('ArrowDown');
    expect(await to.getAttribute('aria-activedescendant')).toBe(await options.nth(1).getAttribute('id'));
    await a.page.keyboard.press('Enter');
    expect(await to.inputValue()).toBe('pc');
    expect(await to.getAttribute('aria-expanded')).toBe('false');
    expect(await a.page.evaluate(() => document.activeElement?.id)).toBe('message');
    await a.page.keyboard.type('only for pc');
    await a.page.keyboard.press('Enter');
    await waitForMessage(c, 'only for pc');
    // Escape closes the list and keeps the recipient; an emptied box means everyone again.
    await to.fill('zz');
    await a.page.getByText('No one here by that name.').waitFor();
    await to.press('Escape');
    expect(await to.inputValue()).toBe('pc');
    await to.fill('');
    await to.press('Tab');
    expect(await a.page.getByLabel('Message').getAttribute('placeholder')).toBe('Write a message…');
    await say(a, 'second barrier');
    await waitForMessage(b, 'second barrier');
    expect(await messageLocator(b, 'only for pc').count()).toBe(0);
    // Everyone in the room is listed, so the picker never asked the host.
    expect(a.sent.filter((r) => r.type === 'members')).toEqual([]);
  });

  it('says plainly that the page is out of date when the host speaks another protocol version', async () => {
    const chat = await open();
    // Rewrite the page's joins to an older version on their way to the host.
    await chat.page.routeWebSocket(/\/ws$/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((message) => {
        if (typeof message === 'string') return server.send(message);
        const request = decodeClientFrame(new Uint8Array(message));
        server.send(Buffer.from(request.type === 'join' ? encodeClientRequest({ ...request, protocolVersion: PROTOCOL_VERSION - 1 }) : message));
      });
    });
    await chat.page.reload();
    await chat.page.locator('#conn[data-state="open"]').waitFor();
    await chat.page.getByLabel('Nickname').fill('old-page');
    await chat.page.getByLabel('Room', { exact: true }).fill('versions');
    await chat.page.getByRole('button', { name: 'Join' }).click();
    await chat.page.locator('#join-error').getByText('This page is out of date: reload it.', { exact: true }).waitFor();
    expect(await chat.page.locator('.tab').count()).toBe(0);
  });

  it('renders HTML in messages as literal text and runs nothing', async () => {
    const x = await open();
    const y = await open();
    await joinRoom(x, 'mallory', 'html');
    await joinRoom(y, 'victim', 'html');
    const img = '<img src=x onerror="window.__pwned=1">';
    const script = '<script>window.__pwned=2</script>';
    await say(x, `${img} and ${script}`);
    for (const chat of [x, y]) {
      const text = await waitForMessage(chat, 'and <script>');
      expect(await text.textContent()).toBe(`${img} and ${script}`);
      expect(await chat.log.locator('img').count()).toBe(0);
      expect(await chat.log.locator('script').count()).toBe(0);
      expect(await chat.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    }
    // A nickname with markup is text too.
    const z = await open();
    await joinRoom(z, '<b>bold</b>', 'html');
    await y.page.locator('#members button.member', { hasText: '<b>bold</b>' }).waitFor();
    expect(await y.page.locator('#members b').count()).toBe(0);
  });

  it('shows a taken nickname in plain words under the join form', async () => {
    const first = await open();
    const second = await open();
    await joinRoom(first, 'Dana', 'taken');
    await second.page.getByLabel('Nickname').fill('dana');
    await second.page.getByLabel('Room', { exact: true }).fill('taken');
    await second.page.getByRole('button', { name: 'Join' }).click();
    const error = second.page.locator('#join-form #join-error');
    await error.getByText('already uses that nickname').waitFor();
    expect(await error.textContent()).toBe('Someone in “taken” already uses that nickname. Please pick another one.');
    expect(await second.page.locator('.tab').count()).toBe(0);
  });

  it('shows a refused message in plain words under the message box and keeps the text', async () => {
    const m = await open();
    await joinRoom(m, 'bell', 'refused');
    const bad = 'ring \u0007 the bell';
    await m.page.getByLabel('Message').fill(bad);
    await m.page.getByRole('button', { name: 'Send' }).click();
    const error = m.page.locator('#composer #say-error');
    await error.getByText('That message cannot be sent').waitFor();
    expect(await error.textContent()).toContain('control characters');
    expect(await m.page.getByLabel('Message').inputValue()).toBe(bad);
    // The next good message clears the error.
    await say(m, 'a good one');
    await waitForMessage(m, 'a good one');
    expect(await error.textContent()).toBe('');
    expect(await m.log.locator('.msg').count()).toBe(1);
  });

  it('Enter sends, Shift+Enter makes a new line', async () => {
    const k = await open();
    await joinRoom(k, 'keys', 'keyboard');
    const box = k.page.getByLabel('Message');
    await box.click();
    await box.pressSequentially('first line');
    await box.press('Shift+Enter');
    await box.pressSequentially('second line');
    expect(await box.inputValue()).toBe('first line\nsecond line');
    await box.press('Enter');
    const text = await waitForMessage(k, 'second line');
    expect(await text.textContent()).toBe('first line\nsecond line');
    expect(await box.inputValue()).toBe('');
    // The Send button works too.
    await box.fill('by button');
    await k.page.getByRole('button', { name: 'Send' }).click();
    await waitForMessage(k, 'by button');
  });

  it('makes http and https links clickable with noopener, and leaves other schemes as text', async () => {
    const l = await open();
    await joinRoom(l, 'linker', 'links');
    await say(l, 'see https://example.org/a?b=1. and http://example.com/x, not javascript:alert(1) nor data:text/html,hi');
    const text = await waitForMessage(l, 'see https://example.org');
    const anchors = text.locator('a');
    expect(await anchors.count()).toBe(2);
    expect(await anchors.nth(0).getAttribute('href')).toBe('https://example.org/a?b=1');
    expect(await anchors.nth(1).getAttribute('href')).toBe('http://example.com/x');
    for (let i = 0; i < 2; i++) {
      expect(await anchors.nth(i).getAttribute('rel')).toBe('noopener noreferrer');
      expect(await anchors.nth(i).getAttribute('target')).toBe('_blank');
    }
    expect(await text.textContent()).toContain('javascript:alert(1)');
    await say(l, 'javascript:alert(document.domain)');
    const js = await waitForMessage(l, 'javascript:alert(document.domain)');
    expect(await js.locator('a').count()).toBe(0);
  });

  it('has an emoji picker that inserts emoji, then returns to the message box, and closes with Escape', async () => {
    const e = await open();
    await joinRoom(e, 'smiley', 'emoji');
    const toggle = e.page.getByRole('button', { name: 'Insert emoji' });
    await toggle.click();
    const panel = e.page.locator('#emoji-panel');
    await panel.waitFor();
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    await panel.getByRole('button', { name: '🎉' }).click();
    expect(await e.page.getByLabel('Message').inputValue()).toBe('🎉');
    // A pick closes the panel and goes back to the message box; Escape closes it and goes back to its button.
    await panel.waitFor({ state: 'hidden' });
    expect(await e.page.evaluate(() => document.activeElement?.id)).toBe('message');
    await toggle.click();
    await panel.waitFor();
    await e.page.keyboard.press('Escape');
    await panel.waitFor({ state: 'hidden' });
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    expect(await e.page.evaluate(() => document.activeElement?.id)).toBe('emoji-button');
  });

  it('counts unread messages in other rooms and lists rooms with member counts', async () => {
    const u = await open();
    const v = await open();
    await joinRoom(u, 'uma', 'first-room');
    await joinRoom(u, 'uma', 'second-room');
    await joinRoom(v, 'vic', 'first-room');
    // u looks at second-room; two messages arrive in first-room.
    await say(v, 'unread one');
    await say(v, 'unread two');
    await waitForMessage(v, 'unread two');
    const tab = u.page.locator('.tab-open', { hasText: 'first-room' });
    await tab.locator('.badge', { hasText: '2' }).waitFor();
    await tab.click();
    await waitForMessage(u, 'unread two');
    await tab.locator('.badge').waitFor({ state: 'detached' });
    // The room list (GET /api/rooms) shows first-room with 2 people; clicking a room joins it.
    await u.page.locator('.room-link', { hasText: 'first-room' }).locator('.count', { hasText: '2 people' }).waitFor();
    await v.page.locator('.room-link', { hasText: 'second-room' }).click();
    await v.log.getByText('You joined second-room as vic.').waitFor();
    // Presence comes once per 100 ms tick: a join and a leave within one tick cancel out, so let u hear of vic first.
    await u.log.locator('.room-log[data-room="second-room"] .notice', { hasText: 'vic joined' }).waitFor({ state: 'attached' });
    // Leaving closes the tab; the other member sees the leave notice.
    await v.page.getByRole('button', { name: 'Leave second-room' }).click();
    await v.page.locator('.tab-open', { hasText: 'second-room' }).waitFor({ state: 'detached' });
    await u.page.locator('.tab-open', { hasText: 'second-room' }).click();
    await u.log.getByText('vic left').waitFor();
  });

  it('shows the history on join, follows new messages, and offers a marker when scrolled up', async () => {
    const talker = await TestClient.connect(host.ws);
    try {
      await talker.join('busy', 'talker');
      for (let i = 1; i <= 40; i++) await talker.say('busy', `history line ${i}`);
      const reader = await open({ width: 800, height: 600 });
      await joinRoom(reader, 'reader', 'busy');
      // The most recent history (--join-history, 50 by default) is shown, oldest first.
      await reader.log.getByText('Recent messages in busy').waitFor();
      const texts = await reader.log.locator('.msg .text').allTextContents();
      expect(texts).toEqual(Array.from({ length: 40 }, (_, i) => `history line ${i + 1}`));
      const log = reader.page.locator('#log');
      const atBottom = () => log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 48);
      expect(await atBottom()).toBe(true);

      // At the bottom, a new message is followed.
      await talker.say('busy', 'followed line');
      await waitForMessage(reader, 'followed line');
      expect(await atBottom()).toBe(true);

      // Scrolled up, a new message shows the marker instead of moving the view.
      await log.evaluate((el) => {
        el.scrollTop = 0;
      });
      await reader.page.waitForFunction(() => document.getElementById('log')!.scrollTop === 0);
      await talker.say('busy', 'while scrolled up');
      await waitForMessage(reader, 'while scrolled up');
      const jump = reader.page.locator('#jump');
      await jump.getByText('1 new message').waitFor();
      expect(await log.evaluate((el) => el.scrollTop)).toBe(0);
      await jump.click();
      await jump.waitFor({ state: 'hidden' });
      expect(await atBottom()).toBe(true);
    } finally {
      await talker.close();
    }
  });

  it('works from the keyboard alone and remembers the nickname', async () => {
    const k = await open();
    await k.page.getByLabel('Nickname').focus();
    await k.page.keyboard.type('typist');
    await k.page.keyboard.press('Tab');
    expect(await k.page.evaluate(() => document.activeElement?.id)).toBe('room');
    await k.page.keyboard.press('Control+A');
    await k.page.keyboard.type('keys-only');
    await k.page.keyboard.press('Enter');
    await k.log.getByText('You joined keys-only as typist.').waitFor();
    // Joining puts the focus in the message box.
    expect(await k.page.evaluate(() => document.activeElement?.id)).toBe('message');
    await k.page.keyboard.type('no mouse needed');
    await k.page.keyboard.press('Enter');
    await waitForMessage(k, 'no mouse needed');
    await k.page.reload();
    await k.page.locator('#conn[data-state="open"]').waitFor();
    expect(await k.page.getByLabel('Nickname').inputValue()).toBe('typist');
  });

  it('fits a 360 px wide phone screen without horizontal scrolling', async () => {
    const p = await open({ width: 360, height: 740 });
    await joinRoom(p, 'phone-user-with-a-long-nickname', 'narrow-room');
    await say(p, 'a very long word: ' + 'x'.repeat(300) + ' https://example.org/' + 'y'.repeat(200));
    await waitForMessage(p, 'a very long word');
    await p.page.getByRole('button', { name: 'Insert emoji' }).click();
    expect(await p.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await p.page.keyboard.press('Escape');
    expect(await p.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  });

  it('makes no request to any host but the chat host', async () => {
    const origin = new URL(host.http);
    for (const chat of pages) {
      expect(chat.requests.length).toBeGreaterThan(0);
      for (const url of chat.requests) expect(new URL(url).host).toBe(origin.host);
      expect(chat.errors).toEqual([]);
    }
  });
});
