/**
 * The web client under its Content-Security-Policy in a real Chromium: it loads, connects its
 * WebSocket (connect-src 'self') and chats with no violation reported, while the policy is
 * really enforced (an inline script is refused) and no other page may frame it.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHost, type Host } from '../helpers/host.js';
import { joinRoom, launchBrowser, openChat, say, waitForMessage } from './browser.js';

let host: Host;
let browser: Browser;

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '1']), launchBrowser()]);
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
});

it('connects and chats under the policy with no violation, and the policy refuses inline script', async () => {
  const chat = await openChat(browser, host);
  const { page } = chat;
  const document = await page.request.get(`${host.http}/`);
  expect(document.headers()['content-security-policy']).toContain("connect-src 'self'");
  await joinRoom(chat, 'ann', 'csp');
  await say(chat, 'under the policy');
  await waitForMessage(chat, 'under the policy');
  // A CSP violation is a console error ("Refused to ..."): none so far.
  expect(chat.errors).toEqual([]);

  // Enforced, not just sent: a script injected into the page is refused.
  const violated = await page.evaluate(
    () =>
      new Promise<string>((resolve) => {
        window.document.addEventListener('securitypolicyviolation', (e) => resolve(e.effectiveDirective), { once: true });
        const script = window.document.createElement('script');
        script.textContent = 'window.inlineScriptRan = true';
        window.document.body.append(script);
      }),
  );
  expect(violated).toBe('script-src-elem');
  expect(await page.evaluate(() => (window as unknown as { inlineScriptRan?: boolean }).inlineScriptRan)).toBeUndefined();
  await chat.context.close();
});

it('another page cannot frame the client (frame-ancestors, X-Frame-Options)', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const refused = page.waitForEvent('console', (m) => m.type() === 'error' && /frame-ancestors/.test(m.text()));
  await page.setContent(`<iframe src="${host.http}/"></iframe>`);
  expect((await refused).text()).toContain(host.http);
  const frame = page.frames().find((f) => f !== page.mainFrame());
  expect(frame).toBeDefined();
  expect(await frame!.locator('#conn').count()).toBe(0);
  await context.close();
});
