/**
 * axe-core (WCAG 2.0/2.1 A and AA rules) over the page's main states, in light and in dark:
 * initial, joined with members, an unread badge, a private message, the emoji picker open, errors
 * shown, and on a phone with the people's drawer open.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { joinRoom, launchBrowser, openChat, say, waitForMessage, type ChatPage } from './browser.js';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

let host: Host;
let browser: Browser;
let chat: ChatPage;
const clients: TestClient[] = [];

interface Violation {
  readonly id: string;
  readonly help: string;
  readonly targets: string[];
}

/** The violations axe finds in the page as it is now, in both colour schemes. */
async function violations(): Promise<Record<string, Violation[]>> {
  const out: Record<string, Violation[]> = {};
  for (const scheme of ['light', 'dark'] as const) {
    await chat.page.emulateMedia({ colorScheme: scheme });
    out[scheme] = await chat.page.evaluate(async (tags) => {
      const axe = (
        window as unknown as {
          axe: {
            run: (ctx: Document, opts: object) => Promise<{ passes: unknown[]; violations: { id: string; help: string; nodes: { target: string[] }[] }[] }>;
          };
        }
      ).axe;
      const result = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
      // A run that checked nothing would find nothing: make it fail instead.
      if (result.passes.length === 0) throw new Error('axe checked nothing');
      return result.violations.map((v) => ({ id: v.id, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
    }, TAGS);
  }
  return out;
}

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '1']), launchBrowser()]);
  chat = await openChat(browser, host);
  // Through the debugging protocol: the page's own CSP (script-src 'self') does not apply.
  await chat.page.evaluate(AXE);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await browser?.close();
  await host?.stop();
});

it('finds no WCAG A/AA violations in the main states, light and dark', { timeout: 90_000 }, async () => {
  const { page } = chat;
  const none = { light: [], dark: [] };
  expect(await violations(), 'initial').toEqual(none);

  await joinRoom(chat, 'ann', 'axe');
  for (const name of ['bob', 'carol']) {
    const c = await TestClient.connect(host.ws);
    clients.push(c);
    await c.join('axe', name);
    await c.say('axe', `hello from ${name}, see https://example.org/${name}`);
  }
  await waitForMessage(chat, 'hello from carol, see https://example.org/carol');
  await page.locator('#members button.member', { hasText: 'carol' }).waitFor();
  expect(await violations(), 'joined with members').toEqual(none);

  // Another room open, with unread messages in the first one: the tab's badge.
  await joinRoom(chat, 'ann', 'axe2');
  await clients[0]!.say('axe', 'while ann is in axe2');
  await page.locator('#tabs .badge').waitFor();
  expect(await violations(), 'unread badge').toEqual(none);
  await page.locator('#tabs button.tab-open[data-room="axe"]').click();

  await page.locator('#members button.member', { hasText: 'bob' }).click();
  await say(chat, 'just for bob');
  await waitForMessage(chat, 'just for bob');
  expect(await violations(), 'private message').toEqual(none);

  await page.getByRole('button', { name: 'Insert emoji' }).click();
  await page.locator('#emoji-panel button[data-emoji]').first().waitFor();
  expect(await violations(), 'emoji picker').toEqual(none);
  await page.keyboard.press('Escape');

  await page.getByLabel('Room', { exact: true }).fill('no spaces');
  await page.getByRole('button', { name: 'Join' }).click();
  await page.locator('#join-error').getByText('That room name is not allowed', { exact: false }).waitFor();
  await page.getByLabel('Message', { exact: true }).fill('x'.repeat(2001));
  await page.getByLabel('Message', { exact: true }).press('Enter');
  await page.locator('#say-error').getByText('characters long', { exact: false }).waitFor();
  expect(await violations(), 'errors').toEqual(none);

  // A phone: the join form folded away, the people open as a drawer.
  await page.setViewportSize({ width: 360, height: 740 });
  await page.getByRole('button', { name: /^People/ }).click();
  await page.locator('#members-pane button.member').first().waitFor();
  expect(await violations(), 'phone, people drawer').toEqual(none);
  expect(chat.errors).toEqual([]);
});
