/**
 * The web client when its access token expires: the host closes the page's connection with
 * 4002, the page says so and stops (the same token would be refused), and a fresh access link
 * opened in the same tab (only the fragment changes, so no reload) reconnects it and rejoins
 * its rooms with `since`, showing what was said meanwhile.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/admission/token.js';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { joinRoom, launchBrowser, openChat, waitForMessage } from './browser.js';

const secret = 'web-expiry-secret-of-at-least-32-characters';
const tokens = new TokenVerifier(secret);
/** A token for `name` in every room that expires `seconds` from now. */
const token = (name: string, seconds: number): string => tokens.sign({ name, rooms: '*', exp: Date.now() / 1000 + seconds });
let host: Host;
let browser: Browser;

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '1', '--token-secret', secret]), launchBrowser()]);
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
});

it('says the token expired, waits for a fresh link, then rejoins and shows what was missed', async () => {
  const chat = await openChat(browser, host, undefined, `/#token=${token('ann', 3600)}`);
  await joinRoom(chat, 'ann', 'lobby');
  const bob = await TestClient.connect(host.ws);
  await bob.join('side', 'bob', null, token('bob', 3600));

  // A short token in the address (the page is loaded already), used by the next join: the
  // connection now ends when it expires, 3 s after it is signed.
  await chat.page.evaluate(
    (t) => {
      location.hash = `#token=${t}`;
    },
    token('ann', 3),
  );
  await joinRoom(chat, 'ann', 'side');
  await bob.say('side', 'before it expired');
  await waitForMessage(chat, 'before it expired');

  // Every room says so; the one in view is "side".
  const shown = chat.log.locator('.room-log:not([hidden])');
  await shown.getByText('Connection lost: your access token expired. Open this page with a fresh access link (#token=…) to rejoin.').waitFor();
  await chat.page.locator('#conn[data-state="stopped"]').waitFor();
  expect(await chat.page.locator('#conn').textContent()).toContain('your access token expired');
  await bob.say('side', 'said while the token was stale');

  // A fresh link in the same tab: the page reconnects and rejoins both rooms with `since`.
  await chat.page.evaluate(
    (t) => {
      location.hash = `#token=${t}`;
    },
    token('ann', 3600),
  );
  await chat.page.locator('#conn[data-state="open"]').waitFor();
  await shown.getByText('Reconnected. 1 message you missed:').waitFor();
  await waitForMessage(chat, 'said while the token was stale');
  expect(await chat.log.locator('.gap').count()).toBe(0);
  expect(chat.errors).toEqual([]);
  await bob.close();
  await chat.context.close();
});
