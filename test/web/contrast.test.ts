/**
 * The focus ring and the contrast of what marks a control, measured from the computed styles in
 * light and dark: the ring is never cut off by its container (room tabs, lists), it is 3:1 or
 * more against every background it is drawn on; field borders are 3:1 against the field and the
 * panel; the unread badge's text is 4.5:1 against the badge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { launchBrowser, openChat, type ChatPage } from './browser.js';

let host: Host;
let browser: Browser;
let chat: ChatPage;
const clients: TestClient[] = [];

/** Contrast helpers installed in the page (WCAG 2.x relative luminance). */
const HELPERS = `
window.rgb = (css) => { const m = css.match(/[\\d.]+/g).map(Number); return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; };
window.lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
window.ratio = (a, b) => { const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((p, q) => q - p); return Math.round(((x + 0.05) / (y + 0.05)) * 100) / 100; };
window.backdrop = (el) => { for (let e = el; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor; if (rgb(c).a > 0) return c; } return 'rgb(255, 255, 255)'; };
`;

interface Ring {
  readonly style: string;
  readonly width: number;
  /** Ratios of the ring's colour against the backgrounds it is drawn on. */
  readonly ratios: number[];
  /** Containers (overflow not visible) that cut the ring off. */
  readonly clippedBy: string[];
}

/** Focuses `selector` as a keyboard user would (so :focus-visible applies) and measures its ring. */
async function ring(page: Page, selector: string): Promise<Ring> {
  await page.keyboard.press('Shift');
  return page.evaluate((sel) => {
    const el = document.querySelector(sel) as HTMLElement;
    el.focus();
    const s = getComputedStyle(el);
    const w = globalThis as unknown as { ratio: (a: string, b: string) => number; backdrop: (e: Element) => string };
    const reach = parseFloat(s.outlineWidth) + parseFloat(s.outlineOffset);
    const box = el.getBoundingClientRect();
    const outer = { left: box.left - reach, top: box.top - reach, right: box.right + reach, bottom: box.bottom + reach };
    const clippedBy: string[] = [];
    for (let e = el.parentElement; e !== null; e = e.parentElement) {
      const o = getComputedStyle(e);
      if (o.overflowX === 'visible' && o.overflowY === 'visible') continue;
      const r = e.getBoundingClientRect();
      const inset = {
        l: parseFloat(o.borderLeftWidth),
        t: parseFloat(o.borderTopWidth),
        r: parseFloat(o.borderRightWidth),
        b: parseFloat(o.borderBottomWidth),
      };
      if (
        outer.left < r.left + inset.l - 0.5 ||
        outer.top < r.top + inset.t - 0.5 ||
        outer.right > r.right - inset.r + 0.5 ||
        outer.bottom > r.bottom - inset.b + 0.5
      ) {
        clippedBy.push(`${e.tagName.toLowerCase()}.${e.className}`);
      }
    }
    // An inset ring is drawn on the element, an outer one on what is around it (and that container's own surroundings).
    const on = parseFloat(s.outlineOffset) < 0 ? el : el.parentElement!;
    const ratios = [w.ratio(s.outlineColor, w.backdrop(on)), w.ratio(s.outlineColor, w.backdrop(on.parentElement!))];
    return { style: s.outlineStyle, width: parseFloat(s.outlineWidth), ratios, clippedBy };
  }, selector);
}

/** A field's border against the field's own background and the panel's. */
function fieldRatios(page: Page, selector: string): Promise<number[]> {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel) as HTMLElement;
    const w = globalThis as unknown as { ratio: (a: string, b: string) => number; backdrop: (e: Element) => string };
    const border = getComputedStyle(el).borderTopColor;
    return [w.ratio(border, w.backdrop(el)), w.ratio(border, w.backdrop(el.parentElement!))];
  }, selector);
}

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '1']), launchBrowser()]);
  chat = await openChat(browser, host);
  await chat.page.evaluate(HELPERS);
  const { page } = chat;
  // Joined by keyboard only: the focus rings show as they do for a keyboard user.
  await page.getByLabel('Nickname').fill('ann');
  for (const room of ['ca', 'cb']) {
    await page.getByLabel('Room', { exact: true }).fill(room);
    await page.getByLabel('Room', { exact: true }).press('Enter');
    await chat.log.getByText(`You joined ${room} as ann.`).waitFor();
  }
  const bob = await TestClient.connect(host.ws);
  clients.push(bob);
  await bob.join('ca', 'bob');
  await bob.join('cb', 'bob');
  await bob.say('ca', 'unread in ca');
  await page.locator('#tabs .badge').waitFor();
  // The room list comes from /api/rooms, refreshed a second after presence changes: wait for it, and for bob in the member list.
  await page.locator('#room-list button').first().waitFor();
  await page.locator('#members button.member').first().waitFor();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await browser?.close();
  await host?.stop();
});

describe.each(['light', 'dark'] as const)('%s', (scheme) => {
  it('draws whole focus rings of 3:1 or more on tabs and lists', async () => {
    const { page } = chat;
    await page.emulateMedia({ colorScheme: scheme });
    for (const selector of [
      '#tabs .tab.active .tab-open',
      '#tabs .tab:not(.active) .tab-open',
      '#tabs .tab.active .tab-close',
      '#room-list button',
      '#members button.member',
      '#nickname',
      '#message',
      '#send',
    ]) {
      const r = await ring(page, selector);
      expect(r.style, selector).toBe('solid');
      expect(r.width, selector).toBeGreaterThanOrEqual(2);
      expect(r.clippedBy, selector).toEqual([]);
      for (const x of r.ratios) expect(x, `${selector}: ${r.ratios.join(', ')}`).toBeGreaterThanOrEqual(3);
    }
  });

  it('gives field borders 3:1 and the unread badge 4.5:1', async () => {
    const { page } = chat;
    await page.emulateMedia({ colorScheme: scheme });
    for (const selector of ['#nickname', '#room', '#to', '#message']) {
      for (const x of await fieldRatios(page, selector)) expect(x, selector).toBeGreaterThanOrEqual(3);
    }
    const badge = await page.evaluate(() => {
      const el = document.querySelector('#tabs .badge') as HTMLElement;
      const s = getComputedStyle(el);
      return (globalThis as unknown as { ratio: (a: string, b: string) => number }).ratio(s.color, s.backgroundColor);
    });
    expect(badge).toBeGreaterThanOrEqual(4.5);
  });
});
