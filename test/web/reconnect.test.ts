/**
 * Losing the connection in a real browser: a worker crash (close 1012; the room history survives
 * in the main thread) and a full host restart on the same port (history lost: a gap marker).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, WebSocketRoute } from 'playwright-core';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { joinRoom, launchBrowser, openChat, say, waitForMessage, type ChatPage } from './browser.js';

const HOST_ARGS = ['--workers', '1', '--fault-injection'];
let host: Host;
let browser: Browser;
let chat: ChatPage;
const clients: TestClient[] = [];

async function client(): Promise<TestClient> {
  const c = await TestClient.connect(host.ws);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(HOST_ARGS), launchBrowser()]);
  chat = await openChat(browser, host);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await browser?.close();
  await host?.stop();
});

describe('web client reconnect', () => {
  it('reconnects after a worker crash and shows what was said while it was away', async () => {
    await joinRoom(chat, 'alice', 'recover');
    const bob = await client();
    await bob.join('recover', 'bob');
    await bob.say('recover', 'before the crash');
    await waitForMessage(chat, 'before the crash');

    // Hold the page's next connections (routed through playwright, not connected to the host)
    // until the missed messages exist; the current connection is not routed and meets the crash.
    let hold = true;
    const held: WebSocketRoute[] = [];
    await chat.page.routeWebSocket(/\/ws$/, (ws) => {
      if (hold) held.push(ws);
      else ws.connectToServer();
    });
    const crash = await fetch(`${host.http}/debug/crash-worker`, { method: 'POST' });
    expect(crash.status).toBe(200);
    // The close was the worker's 1012, shown in plain words; the page tries again by itself.
    await chat.log.getByText('Connection lost: the host is restarting. Reconnecting…').waitFor();
    await chat.page.locator('#conn[data-state="connecting"]').waitFor();
    expect(await chat.page.locator('.tab.away').count()).toBe(1);
    await bob.closed;
    await host.waitForLog((line) => line.msg === 'worker restarted');

    const carol = await client();
    await carol.join('recover', 'carol');
    await carol.say('recover', 'said while you were away, one');
    await carol.say('recover', 'said while you were away, two');

    // Let go: the held attempt ends, the next one reaches the host and rejoins with `since`.
    hold = false;
    for (const ws of held) await ws.close({ code: 1012, reason: 'test: released' });
    await chat.page.locator('#conn[data-state="open"]').waitFor();
    await chat.log.getByText('Reconnected. 2 messages you missed:').waitFor();
    await waitForMessage(chat, 'said while you were away, one');
    await waitForMessage(chat, 'said while you were away, two');
    await chat.log.getByText('carol joined while you were away').waitFor();
    expect(await chat.log.locator('.gap').count()).toBe(0);
    // Each missed message shown once, in order, after the one seen before.
    const texts = await chat.log.locator('.msg .text').allTextContents();
    expect(texts).toEqual(['before the crash', 'said while you were away, one', 'said while you were away, two']);

    // The rejoined room works both ways.
    await say(chat, 'alice is back');
    await carol.next('message', (m) => m.text === 'alice is back');
    await carol.say('recover', 'welcome back');
    await waitForMessage(chat, 'welcome back');
  });

  it('marks a gap after a full host restart that lost the history', async () => {
    const port = host.port;
    await chat.page.unrouteAll();
    const lost = chat.log.getByText('Connection lost: the host is shutting down. Reconnecting…');
    const before = await lost.count();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await host.stop();
    await lost.nth(before).waitFor();
    await chat.page.locator('#conn[data-state="waiting"], #conn[data-state="connecting"]').waitFor();
    host = await startHost([...HOST_ARGS, '--port', String(port)]);
    expect(host.port).toBe(port);

    const gap = chat.log.locator('.gap');
    await gap.waitFor();
    expect(await gap.textContent()).toContain('could not be recovered');
    await chat.page.locator('#conn[data-state="open"]').waitFor();

    // After the gap, the room works again with the new host's numbering.
    const dave = await client();
    const joined = await dave.join('recover', 'dave');
    expect(joined.members.map((m) => m.name)).toContain('alice');
    await dave.say('recover', 'first message after the restart');
    await waitForMessage(chat, 'first message after the restart');
    await say(chat, 'alice after the restart');
    await dave.next('message', (m) => m.text === 'alice after the restart');
    expect(chat.errors).toEqual([]);
  });
});
