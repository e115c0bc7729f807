/**
 * Alerts while the page is hidden: the unread count in the title and a dot on the icon, also for
 * the room on screen; desktop notifications, once opted into (permission granted), for private
 * messages and mentions of the nickname only. Visibility and Notification are spied on in the page.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { joinRoom, launchBrowser, openChat, type ChatPage } from './browser.js';

/** Records every notification instead of showing it; lets the test hide and show the page. */
const SPY = `
window.notes = [];
const Real = window.Notification;
window.Notification = class {
  constructor(title, options) { window.notes.push({ title, body: options && options.body }); }
  addEventListener() {}
  close() {}
  static get permission() { return Real.permission; }
  static requestPermission() { return Real.requestPermission(); }
};
let hidden = false;
Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
window.setHidden = (h) => { hidden = h; document.dispatchEvent(new Event('visibilitychange')); };
`;

let host: Host;
let browser: Browser;
let chat: ChatPage;
let bob: TestClient;

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '1']), launchBrowser()]);
  chat = await openChat(browser, host);
  await chat.context.grantPermissions(['notifications'], { origin: host.http });
  await chat.context.addInitScript(SPY);
  await chat.page.reload();
  await chat.page.locator('#conn[data-state="open"]').waitFor();
  bob = await TestClient.connect(host.ws);
});

afterAll(async () => {
  await bob?.close();
  await browser?.close();
  await host?.stop();
});

it('counts unread in the title and icon while hidden and notifies of private messages and mentions', async () => {
  const { page } = chat;
  const notes = () => page.evaluate(() => (window as unknown as { notes: { title: string; body: string }[] }).notes);
  const setHidden = (hidden: boolean) => page.evaluate((h) => (window as unknown as { setHidden: (h: boolean) => void }).setHidden(h), hidden);
  const icon = () => page.locator('#favicon').getAttribute('href');
  await joinRoom(chat, 'ann', 'na');
  const joined = await bob.join('na', 'bob');
  const ann = joined.members.find((m) => m.name === 'ann')!;
  const optIn = page.getByLabel('Desktop notifications when someone writes to me privately or names me');
  await optIn.check();
  expect(await optIn.isChecked()).toBe(true);

  await setHidden(true);
  await bob.say('na', 'just chatting');
  await expect.poll(() => page.title()).toBe('(1) Chat');
  expect(await icon()).toBe('/favicon-unread.svg');
  await bob.say('na', 'hey ANN, look at this');
  await expect.poll(() => page.title()).toBe('(2) Chat');
  await bob.say('na', 'annex is not a mention');
  await expect.poll(() => page.title()).toBe('(3) Chat');
  await bob.say('na', 'psst', ann.id);
  await expect.poll(() => page.title()).toBe('(4) Chat');
  expect(await notes()).toEqual([
    { title: 'bob in na', body: 'hey ANN, look at this' },
    { title: 'bob, privately in na', body: 'psst' },
  ]);

  // Back on the page: the count and the dot go.
  await setHidden(false);
  await expect.poll(() => page.title()).toBe('Chat');
  expect(await icon()).toBe('/favicon.svg');
  // Visible: no notifications, and none without the opt-in.
  await bob.say('na', 'ann, you are here');
  await chat.log.getByText('ann, you are here').waitFor();
  await optIn.uncheck();
  await setHidden(true);
  await bob.say('na', 'ann, now hidden again');
  await expect.poll(() => page.title()).toBe('(1) Chat');
  expect(await notes()).toHaveLength(2);
  expect(chat.errors).toEqual([]);
});
