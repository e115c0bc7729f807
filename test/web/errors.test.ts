/**
 * Errors reach screen readers and name their field: the error regions are in the page (and the
 * accessibility tree) before they fill; each error marks its input invalid and describes it; an
 * error about the connection goes away once the page is connected again.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, WebSocketRoute } from 'playwright-core';
import { startHost, type Host } from '../helpers/host.js';
import { launchBrowser, openChat, type ChatPage } from './browser.js';

const MAX_TEXT = 50;
let host: Host;
let browser: Browser;
let chat: ChatPage;

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '1', '--fault-injection', '--max-text', `${MAX_TEXT}`]), launchBrowser()]);
  chat = await openChat(browser, host);
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
});

it('keeps error regions present, ties each error to its field and clears a connection error once reconnected', async () => {
  const { page } = chat;
  const nickname = page.getByLabel('Nickname');
  const room = page.getByLabel('Room', { exact: true });
  const message = page.getByLabel('Message', { exact: true });
  // Empty, yet rendered: a live region hidden with display:none is not announced when it fills.
  for (const id of ['join-error', 'say-error']) {
    expect(await page.locator(`#${id}`).evaluate((el) => getComputedStyle(el).display), id).not.toBe('none');
  }
  expect(await nickname.getAttribute('aria-describedby')).toContain('join-error');
  expect(await room.getAttribute('aria-describedby')).toContain('join-error');
  expect(await message.getAttribute('aria-describedby')).toContain('say-error');

  await nickname.fill('');
  await page.getByRole('button', { name: 'Join' }).click();
  await page.locator('#join-error').getByText('Enter a nickname first.').waitFor();
  expect(await nickname.getAttribute('aria-invalid')).toBe('true');
  expect(await room.getAttribute('aria-invalid')).toBeNull();

  await nickname.fill('ann');
  await room.fill('no spaces allowed');
  await page.getByRole('button', { name: 'Join' }).click();
  await page.locator('#join-error').getByText('That room name is not allowed', { exact: false }).waitFor();
  expect(await room.getAttribute('aria-invalid')).toBe('true');
  expect(await nickname.getAttribute('aria-invalid')).toBeNull();

  await room.fill('errs');
  await page.getByRole('button', { name: 'Join' }).click();
  await chat.log.getByText('You joined errs as ann.').waitFor();
  expect(await room.getAttribute('aria-invalid')).toBeNull();
  expect(await page.locator('#join-error').textContent()).toBe('');

  // Too long: the message box is marked; editing it takes the mark away.
  const max = MAX_TEXT;
  await message.fill('x'.repeat(max + 1));
  await message.press('Enter');
  await page
    .locator('#say-error')
    .getByText(`That message is ${max + 1} characters long`, { exact: false })
    .waitFor();
  expect(await message.getAttribute('aria-invalid')).toBe('true');
  await message.fill('ok now');
  expect(await message.getAttribute('aria-invalid')).toBeNull();

  // Offline: "Not connected right now" under the box, gone once the page is back.
  const held: WebSocketRoute[] = [];
  let hold = true;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (hold) held.push(ws);
    else ws.connectToServer();
  });
  expect((await fetch(`${host.http}/debug/crash-worker`, { method: 'POST' })).status).toBe(200);
  await chat.log.getByText('Connection lost: the host is restarting. Reconnecting…').waitFor();
  await message.fill('while offline');
  await message.press('Enter');
  await page.locator('#say-error').getByText('Not connected right now.', { exact: false }).waitFor();
  hold = false;
  for (const ws of held) await ws.close({ code: 1012, reason: 'test: released' });
  await page.locator('#conn[data-state="open"]').waitFor();
  await chat.log.getByText(/^Reconnected\./).waitFor();
  expect(await page.locator('#say-error').textContent()).toBe('');
  expect(await message.inputValue()).toBe('while offline');
  expect(chat.errors).toEqual([]);
});
