/**
 * A private draft never goes to the whole room: the recipient is kept by name and found again
 * after the host's restart and after the recipient's own reconnect (a new id each time); while
 * no one by that name is here, Enter refuses to send; Escape takes the recipient away; the
 * composer always says who will read the message.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, WebSocketRoute } from 'playwright-core';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { joinRoom, launchBrowser, openChat, say, toPicker, waitForMessage, type ChatPage } from './browser.js';

const ROOM = 'whisper';
let host: Host;
let browser: Browser;
let chat: ChatPage;
const clients: TestClient[] = [];

async function client(nickname: string): Promise<TestClient> {
  const c = await TestClient.connect(host.ws);
  clients.push(c);
  await c.join(ROOM, nickname);
  return c;
}

/** Alice's room messages (public) seen by `c` so far, up to and including the barrier `text`. */
async function publicTexts(c: TestClient, text: string): Promise<string[]> {
  await c.next('message', (m) => m.text === text);
  return [
    ...c
      .takeMessages(ROOM)
      .filter((m) => m.to === null)
      .map((m) => m.text),
    text,
  ];
}

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '1', '--fault-injection']), launchBrowser()]);
  chat = await openChat(browser, host);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await browser?.close();
  await host?.stop();
});

it('keeps the private recipient by name across reconnects and never sends a private draft to the room', async () => {
  const { page } = chat;
  const audience = page.locator('#audience');
  await joinRoom(chat, 'alice', ROOM);
  await expect.poll(() => audience.textContent()).toBe(`Everyone in ${ROOM} will read this.`);
  let bob = await client('bob');
  let carol = await client('carol');
  await page.locator('#members button.member', { hasText: 'bob' }).click();
  await expect.poll(() => audience.textContent()).toBe('Private: only bob will read this. Escape: write to everyone.');
  expect(await page.getByLabel('Message').getAttribute('aria-describedby')).toContain('audience');

  // 1. The worker holding everyone crashes. Bob and carol are back (new ids) before alice's page is.
  const held: WebSocketRoute[] = [];
  let hold = true;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (hold) held.push(ws);
    else ws.connectToServer();
  });
  expect((await fetch(`${host.http}/debug/crash-worker`, { method: 'POST' })).status).toBe(200);
  await chat.log.getByText('Connection lost: the host is restarting. Reconnecting…').waitFor();
  await Promise.all([bob.closed, carol.closed]);
  await host.waitForLog((line) => line.msg === 'worker restarted');
  bob = await client('bob');
  carol = await client('carol');
  hold = false;
  for (const ws of held) await ws.close({ code: 1012, reason: 'test: released' });
  await chat.log.getByText(/^Reconnected\./).waitFor();
  await expect.poll(() => audience.textContent()).toBe('Private: only bob will read this. Escape: write to everyone.');
  expect(await toPicker(chat).inputValue()).toBe('bob');
  await say(chat, 'secret after the restart');
  const first = await bob.next('message', (m) => m.text === 'secret after the restart');
  expect(first.to?.id).toBe(bob.id);

  // 2. Bob's connection blips: he is back under a new id, and the recipient follows him.
  await bob.close();
  await chat.log.getByText('bob left').waitFor();
  await expect
    .poll(() => audience.textContent())
    .toBe('bob is not here now: a private message to bob is not sent until they are back. Escape: write to everyone.');
  bob = await client('bob');
  await expect.poll(() => audience.textContent()).toBe('Private: only bob will read this. Escape: write to everyone.');
  await say(chat, 'secret after the blip');
  const second = await bob.next('message', (m) => m.text === 'secret after the blip');
  expect(second.to?.id).toBe(bob.id);

  // 3. Bob is gone: Enter refuses, in plain words, and the draft stays in the box.
  await bob.close();
  await expect.poll(() => audience.textContent()).toContain('bob is not here now');
  await say(chat, 'secret while bob is away');
  await page.locator('#say-error').getByText('bob left; your message was not sent.', { exact: false }).waitFor();
  expect(await page.getByLabel('Message').inputValue()).toBe('secret while bob is away');
  expect(chat.sent.filter((r) => r.type === 'say' && r.text === 'secret while bob is away')).toEqual([]);

  // 4. Escape in the message box: to everyone, and the composer says so before anything is sent.
  await page.getByLabel('Message').fill('for everyone');
  await page.getByLabel('Message').press('Escape');
  await expect.poll(() => audience.textContent()).toBe(`Everyone in ${ROOM} will read this.`);
  expect(await toPicker(chat).inputValue()).toBe('');
  await page.getByLabel('Message').press('Enter');
  // Carol, in the room all along, saw only the public message: no secret ever reached the room.
  expect(await publicTexts(carol, 'for everyone')).toEqual(['for everyone']);
  expect(carol.takeMessages(ROOM)).toEqual([]);
  await waitForMessage(chat, 'for everyone');
  expect(chat.errors).toEqual([]);
});
