/** The web client on a host that requires join tokens: the token comes from the page address (#token=...). */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/admission/token.js';
import { startHost, type Host } from '../helpers/host.js';
import { joinRoom, launchBrowser, openChat } from './browser.js';

const secret = 'web-test-secret-of-at-least-32-characters';
let host: Host;
let browser: Browser;

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '1', '--token-secret', secret]), launchBrowser()]);
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
});

it('joins the rooms its token allows and says plainly why another room is refused', async () => {
  const token = new TokenVerifier(secret).sign({ name: 'ann', rooms: ['lobby'], exp: Date.now() / 1000 + 3600 });
  const chat = await openChat(browser, host, undefined, `/#token=${token}`);
  await joinRoom(chat, 'ann', 'lobby');

  await chat.page.getByLabel('Room', { exact: true }).fill('staff');
  await chat.page.getByRole('button', { name: 'Join' }).click();
  await chat.page.getByText('Your access token does not allow you into “staff” under that nickname (or it has expired).').waitFor();
  // No request address carries the token (the fragment stays in the browser); it travels only inside join frames.
  expect(chat.requests.length).toBeGreaterThan(0);
  expect(chat.requests.filter((url) => url.includes(token))).toEqual([]);
  expect(chat.errors).toEqual([]);
  await chat.context.close();
});
