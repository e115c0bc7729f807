/**
 * The web client in big rooms. The members are bare protocol connections (test/web/crowd.ts),
 * not browser pages: 5,000 of them in one room (over the host's default presence-events limit
 * of 1,000: Presence carries only the count there), 150 in another (over one page of 100, with
 * presence lists). One page joins, pages through the list, finds a member by name prefix among
 * the 5,000 and writes to them privately.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientRequest } from '../../src/protocol/index.js';
import { nicknameKey } from '../../src/rooms/rules.js';
import { startHost, type Host } from '../helpers/host.js';
import { joinRoom, launchBrowser, openChat, say, toPicker, waitForMessage, type ChatPage } from './browser.js';
import { Crowd } from './crowd.js';

const CROWD = 5000;
const PAGE = 100;
const STEMS = ['ann', 'Bob', 'cleo', 'DAVE', 'Émile'];
/** ann-0000, Bob-0001, cleo-0002, DAVE-0003, Émile-0004, ann-0005, ... */
const NAMES = Array.from({ length: CROWD }, (_, i) => `${STEMS[i % STEMS.length]}-${String(i).padStart(4, '0')}`);
/** The host's order: by case-folded nickname ("Émile" after every ASCII letter). */
const byKey = (a: string, b: string) => (nicknameKey(a) < nicknameKey(b) ? -1 : nicknameKey(a) > nicknameKey(b) ? 1 : 0);
const SORTED = [...NAMES].sort(byKey);

let host: Host;
let browser: Browser;
let arena: Crowd | undefined;
let hall: Crowd | undefined;
const pages: ChatPage[] = [];

async function open(): Promise<ChatPage> {
  const chat = await openChat(browser, host);
  pages.push(chat);
  return chat;
}

function membersRequests(chat: ChatPage): Extract<ClientRequest, { type: 'members' }>[] {
  return chat.sent.filter((r): r is Extract<ClientRequest, { type: 'members' }> => r.type === 'members');
}

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(['--workers', '2', '--max-connections-per-ip', String(CROWD + 500)]), launchBrowser()]);
  const started = Date.now();
  arena = await Crowd.join(host.ws, 'arena', NAMES, 50);
  console.log(`${CROWD} members joined arena in ${Date.now() - started} ms`);
}, 120_000);

afterAll(async () => {
  await Promise.all(pages.map((p) => p.context.close()));
  await Promise.all([arena?.close(), hall?.close()]);
  await browser?.close();
  await host?.stop();
}, 60_000);

describe('web client in big rooms', () => {
  it('pages through 5,000 members, finds one by prefix and writes to them privately', async () => {
    const chat = await open();
    const { page } = chat;
    await joinRoom(chat, 'viewer', 'arena');
    const count = page.locator('#member-count');
    await count.getByText(`${CROWD + 1} people here`, { exact: true }).waitFor();

    // The first page, from Joined, in the host's order; me on top.
    const buttons = page.locator('#members button.member');
    expect(await buttons.allTextContents()).toEqual(SORTED.slice(0, PAGE));
    expect(await page.locator('#members .me').textContent()).toBe('viewer (you)');
    expect(membersRequests(chat)).toEqual([]);

    // Scrolling to the end of the list loads the next page (one request).
    await page.locator('#member-scroll').evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await expect.poll(() => buttons.count()).toBe(2 * PAGE);
    expect(await buttons.allTextContents()).toEqual(SORTED.slice(0, 2 * PAGE));
    expect(membersRequests(chat)).toHaveLength(1);

    // "Show more" from the keyboard loads the next page and goes on to its first name.
    const more = page.getByRole('button', { name: /^Show more people/ });
    await more.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => buttons.count()).toBe(3 * PAGE);
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe(SORTED[2 * PAGE]);
    // With the mouse (scrolling it into view may ask first: one page or two, never the same one twice).
    await more.click();
    const settled = async () => !(await page.locator('#members-more').textContent())?.includes('loading') && (await buttons.count()) >= 4 * PAGE;
    await expect.poll(settled).toBe(true);
    const loaded = await buttons.count();
    expect(await buttons.allTextContents()).toEqual(SORTED.slice(0, loaded));
    const pageRequests = membersRequests(chat);
    expect(pageRequests).toHaveLength(loaded / PAGE - 1);
    expect(pageRequests.every((r) => r.prefix === '' && r.limit === 0)).toBe(true);
    expect(new Set(pageRequests.map((r) => r.after)).size).toBe(pageRequests.length);

    // Typing a prefix in "To" asks the host (debounced: one request for the whole word) and finds the two matches.
    const to = toPicker(chat);
    const before = membersRequests(chat).length;
    await to.pressSequentially('dave-432', { delay: 25 });
    const options = page.getByRole('listbox', { name: 'Matching people' }).getByRole('option');
    await expect.poll(() => options.allTextContents()).toEqual(['DAVE-4323', 'DAVE-4328']);
    const searches = membersRequests(chat).slice(before);
    expect(searches.map((r) => [r.prefix, r.after])).toEqual([['dave-432', '']]);
    await to.press('ArrowDown');
    await to.press('Enter');
    expect(await to.inputValue()).toBe('DAVE-4328');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('message');
    expect(await page.getByLabel('Message').getAttribute('placeholder')).toBe('Private message to DAVE-4328…');

    // The private message reaches that raw socket, and only it.
    await say(chat, 'psst, only for you');
    const received = await arena!.message('DAVE-4328', (m) => m.text === 'psst, only for you');
    expect(received.to?.id).toBe(arena!.member('DAVE-4328').id);
    expect(received.sender.name).toBe('viewer');
    const shown = await waitForMessage(chat, 'psst, only for you');
    expect(await shown.locator('xpath=..').getAttribute('class')).toContain('private');
    await page.getByRole('button', { name: 'Write to everyone' }).click();
    expect(await to.inputValue()).toBe('');
    await say(chat, 'hello, everyone');
    await arena!.message('DAVE-4323', (m) => m.text === 'hello, everyone');
    await arena!.message('DAVE-4328', (m) => m.text === 'hello, everyone');
    expect(arena!.member('DAVE-4323').messages.map((m) => m.text)).not.toContain('psst, only for you');

    // Someone leaves: Presence carries only the count in a room this big. The list offers a refresh,
    // which loads the first page again, without them.
    await arena!.leave(SORTED[0]!);
    await count.getByText(`${CROWD} people here`, { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Refresh the list' }).click();
    await expect.poll(() => buttons.first().textContent()).toBe(SORTED[1]);
    expect(await buttons.allTextContents()).toEqual(SORTED.slice(1, 1 + PAGE));
    // No join or leave notices in a room without presence lists.
    expect(await chat.log.locator('.notice', { hasText: / (joined|left)$/ }).count()).toBe(0);
    expect(chat.errors).toEqual([]);
  }, 60_000);

  it('keeps a partly loaded list in order through presence, and finds the rest with "Show more"', async () => {
    // m-000, m-002, ... m-298: 150 members, over one page, under the presence-events limit.
    const names = Array.from({ length: 150 }, (_, i) => `m-${String(2 * i).padStart(3, '0')}`);
    hall = await Crowd.join(host.ws, 'hall', names, 50);
    const chat = await open();
    const { page } = chat;
    await joinRoom(chat, 'viewer', 'hall');
    const count = page.locator('#member-count');
    await count.getByText('151 people here', { exact: true }).waitFor();
    const buttons = page.locator('#members button.member');
    expect(await buttons.allTextContents()).toEqual(names.slice(0, PAGE));

    // One who sorts within the loaded part appears in place; one after it only in the count (and a notice).
    // A member focused from the keyboard keeps the focus through the update.
    await buttons.filter({ hasText: 'm-102' }).focus();
    await hall.add(['m-101', 'm-297']);
    await count.getByText('153 people here', { exact: true }).waitFor();
    await chat.log.getByText('m-297 joined').waitFor();
    await chat.log.getByText('m-101 joined').waitFor();
    const withNew = [...names, 'm-101', 'm-297'].sort(byKey);
    await expect.poll(() => buttons.allTextContents()).toEqual(withNew.slice(0, PAGE + 1));
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('m-102');

    // Leaving: gone from the list, with a notice.
    await hall.leave('m-050');
    await count.getByText('152 people here', { exact: true }).waitFor();
    await chat.log.getByText('m-050 left').waitFor();
    const without = withNew.filter((n) => n !== 'm-050');
    await expect.poll(() => buttons.allTextContents()).toEqual(without.slice(0, PAGE));

    // The rest, in order, including the one who came after the loaded part; then nothing more to load,
    // and the focus goes from the vanished button to the first new name.
    const more = page.locator('#members-more');
    await more.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => buttons.allTextContents()).toEqual(without);
    await more.waitFor({ state: 'hidden' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('m-200');
    expect(await page.getByRole('button', { name: 'Refresh the list' }).isHidden()).toBe(true);

    // With the whole list loaded, "To" finds people without asking the host.
    const before = membersRequests(chat).length;
    await toPicker(chat).pressSequentially('M-29');
    const options = page.getByRole('listbox', { name: 'Matching people' }).getByRole('option');
    await expect.poll(() => options.allTextContents()).toEqual(['m-290', 'm-292', 'm-294', 'm-296', 'm-297', 'm-298']);
    await page.waitForTimeout(400);
    expect(membersRequests(chat).length).toBe(before);
    await options.filter({ hasText: 'm-297' }).click();
    await say(chat, 'hi m-297');
    const received = await hall.message('m-297', (m) => m.text === 'hi m-297');
    expect(received.to?.id).toBe(hall.member('m-297').id);
    expect(chat.errors).toEqual([]);
  }, 60_000);
});
