/**
 * The web client told that its nickname was lost: its node of a two-node cluster was
 * frozen past --node-ttl, someone else took the name meanwhile, and the woken node takes
 * the page out of the room with an unasked NicknameLost. The page says so in plain words,
 * drops the room, and offers the join form for it again; a join under another name works.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitInStep } from '../helpers/shared-host.js';
import { joinRoom, launchBrowser, openChat } from './browser.js';

let redis: RedisServer;
let hosts: Host[] = [];
let browser: Browser;
const clients: TestClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const args = ['--workers', '1', '--node-ttl', '2', '--redis', redis.url];
  [hosts, browser] = await Promise.all([Promise.all([startHost(args), startHost(args)]), launchBrowser()]);
  await Promise.all(hosts.map((h) => waitInStep(h)));
});

afterAll(async () => {
  for (const h of hosts) h.process.kill('SIGCONT');
  await Promise.all(clients.map((c) => c.close()));
  await browser?.close();
  await Promise.all(hosts.map((h) => h.stop()));
  await redis?.dispose();
});

it('a page whose nickname was taken while its node was taken for dead is told, and joins again under another name', { timeout: 60_000 }, async () => {
  const [frozen, awake] = hosts as [Host, Host];
  const chat = await openChat(browser, frozen);
  await joinRoom(chat, 'ann', 'haunt');
  const witness = await TestClient.connect(awake.ws);
  clients.push(witness);
  await witness.join('haunt', 'wes');
  await chat.page.locator('#members button.member', { hasText: 'wes' }).waitFor();
  expect(await chat.page.locator('#tabs button[data-room="haunt"]').count()).toBe(1);

  frozen.process.kill('SIGSTOP');
  await witness.next('memberLeft', (e) => e.member.name === 'ann');
  const impostor = await TestClient.connect(awake.ws);
  clients.push(impostor);
  await impostor.join('haunt', 'ann');
  frozen.process.kill('SIGCONT');

  const error = chat.page.locator('#join-error');
  await error.getByText('Someone else took your nickname in “haunt” while the host was cut off from its cluster', { exact: false }).waitFor();
  expect(await chat.page.getByLabel('Room', { exact: true }).inputValue()).toBe('haunt');
  expect(await chat.page.locator('#tabs button[data-room="haunt"]').count()).toBe(0);
  await expect.poll(() => chat.page.evaluate(() => document.activeElement?.id)).toBe('nickname');

  await joinRoom(chat, 'ann again', 'haunt');
  await witness.next('memberJoined', (e) => e.member.name === 'ann again');
  expect(chat.errors).toEqual([]);
});
