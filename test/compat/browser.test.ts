/**
 * A page that drives the workerman-chat port the way the seed's page does (seed-page.html,
 * served from another origin, as the seed's web server on its own port is), in headless
 * Chromium, in one room with a FlatBuffers client: prompt-style login, the room from the
 * query string (unquoted in the login), the member list from client_list, a private message
 * through the recipient select, join and leave notices, escaping, the error a duplicate
 * name gets, and the reconnect after a worker restart.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { launchBrowser } from '../web/browser.js';

const PAGE = readFileSync(new URL('./seed-page.html', import.meta.url));
const ROOM = '3';

let server: Server;
let origin: string;
let host: Host;
let browser: Browser;
const contexts: BrowserContext[] = [];
const clients: TestClient[] = [];

interface SeedPage {
  readonly page: Page;
  /** Text frames the page sent, as written. */
  readonly sent: string[];
  readonly errors: string[];
  /** How many times the page prompted for a name. */
  prompts: number;
}

async function openSeedPage(answer: string): Promise<SeedPage> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const seed: SeedPage = { page, sent: [], errors: [], prompts: 0 };
  page.on('dialog', (dialog) => {
    seed.prompts++;
    void dialog.accept(answer);
  });
  page.on('websocket', (ws) => ws.on('framesent', (f) => seed.sent.push(String(f.payload))));
  page.on('pageerror', (e) => seed.errors.push(String(e)));
  page.on('console', (m) => {
    // While the host restarts a worker the page's reconnects are refused, as the seed page's are.
    if (m.type() === 'error' && !/^WebSocket connection to '.*' failed/.test(m.text())) seed.errors.push(m.text());
  });
  await page.goto(`${origin}/?room_id=${ROOM}&port=${host.compatPort}`);
  return seed;
}

/** The page's member list, sorted (its order is the client_list's, then joins as they come). */
const members = async (seed: SeedPage): Promise<string[]> => (await seed.page.locator('#userlist li').allTextContents()).sort();
const notice = (seed: SeedPage, text: string) => seed.page.locator('#dialog .content').filter({ hasText: text }).first();

async function flat(room: string, name: string): Promise<TestClient> {
  const client = await TestClient.connect(host.ws);
  clients.push(client);
  await client.join(room, name);
  return client;
}

beforeAll(async () => {
  // The seed's page comes from its own web server: another origin, let in with --allowed-origins.
  server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  [host, browser] = await Promise.all([startHost(['--workers', '1', '--compat-port', '0', '--fault-injection', '--allowed-origins', origin]), launchBrowser()]);
});

afterAll(async () => {
  // Pages first: they reconnect at once, as the seed's does.
  await Promise.all(contexts.map((c) => c.close()));
  await browser?.close();
  await Promise.all(clients.map((c) => c.close()));
  await host?.stop();
  await new Promise((resolve) => server?.close(resolve));
});

describe('a seed-style page on the compat port', () => {
  test('logs in, lists members, talks in the room and privately with a FlatBuffers client there, sees leaves, reconnects', async () => {
    const flatAnn = await flat(ROOM, 'Flat Ann');

    const bob = await openSeedPage('<b>Bob</b>');
    await expect.poll(() => members(bob)).toEqual(['<b>Bob</b>', 'Flat Ann']);
    // The login as the seed's page writes it: the room id unquoted.
    expect(bob.sent[0]).toBe('{"type":"login","client_name":"<b>Bob</b>","room_id":3}');
    // The name arrived escaped: shown as typed, no element made of it.
    expect(await bob.page.locator('#userlist b').count()).toBe(0);
    await flatAnn.next('memberJoined', (e) => e.member.name === '<b>Bob</b>');

    // An empty answer to the prompt is 游客 ("guest"), as on the seed's page.
    const guest = await openSeedPage('');
    await expect.poll(() => members(guest)).toEqual(['<b>Bob</b>', 'Flat Ann', '游客']);
    await notice(bob, '游客 joined').waitFor();
    await expect.poll(() => members(bob)).toEqual(['<b>Bob</b>', 'Flat Ann', '游客']);

    // A private message through the recipient select: to 游客 only, echoed to Bob.
    await bob.page.getByLabel('To').selectOption({ label: '游客' });
    await bob.page.getByLabel('Message').fill('secret <i>x</i> "quoted"');
    await bob.page.getByRole('button', { name: 'Send' }).click();
    const toGuest = notice(guest, 'secret <i>x</i> "quoted"');
    await toGuest.waitFor();
    expect(await toGuest.textContent()).toBe('对你说: secret <i>x</i> "quoted"');
    expect(await toGuest.locator('b').textContent()).toBe('对你说: ');
    expect(await notice(bob, 'secret').textContent()).toBe('你对游客说: secret <i>x</i> "quoted"');
    const guestId = await guest.page.locator('#userlist li', { hasText: '游客' }).getAttribute('id');
    expect(bob.sent.at(-1)).toBe(`{"type":"say","to_client_id":"${guestId}","to_client_name":"游客","content":"secret <i>x</i> \\"quoted\\""}`);

    // Room messages both ways; a newline is a line break, markup is text.
    await flatAnn.say(ROOM, 'x < y\nnext line');
    for (const seed of [bob, guest]) {
      expect(await notice(seed, 'x < y').textContent()).toBe('x < y\nnext line');
      expect(await notice(seed, 'x < y').locator('br').count()).toBe(1);
    }
    await bob.page.getByLabel('To').selectOption({ label: '所有人' });
    await bob.page.getByLabel('Message').fill('hello <everyone> & all');
    await bob.page.getByRole('button', { name: 'Send' }).click();
    expect((await flatAnn.next('message', (m) => m.text.startsWith('hello'))).text).toBe('hello <everyone> & all');
    await notice(guest, 'hello <everyone> & all').waitFor();
    // The FlatBuffers member never saw the private message.
    expect(flatAnn.drain().filter((e) => e.type === 'message' && e.text.includes('secret'))).toEqual([]);

    // A taken name gets the seed-shaped error (code 101), which this page shows.
    const copy = await openSeedPage('<B>BOB</B>');
    const taken = copy.page.locator('#errors .error');
    await taken.waitFor();
    expect(await taken.getAttribute('data-code')).toBe('101');
    expect(await taken.textContent()).toContain('<B>BOB</B>');
    await copy.page.close();

    // A leave of the FlatBuffers member is a logout notice, and it leaves the lists.
    await flatAnn.leave(ROOM);
    await notice(bob, 'Flat Ann left').waitFor();
    await expect.poll(() => members(guest)).toEqual(['<b>Bob</b>', '游客']);

    // The worker restarts: both pages reconnect at once and log in again, without a second prompt.
    const crash = await fetch(`${host.http}/debug/crash-worker`, { method: 'POST' });
    expect(crash.status).toBe(200);
    await host.waitForLog((line) => line.msg === 'worker restarted');
    for (const seed of [bob, guest]) await seed.page.locator('body[data-opens="2"]').waitFor();
    await expect.poll(() => members(bob)).toEqual(['<b>Bob</b>', '游客']);
    await expect.poll(() => members(guest)).toEqual(['<b>Bob</b>', '游客']);
    const back = await flat(ROOM, 'Flat Cy');
    await bob.page.getByLabel('Message').fill('after the restart');
    await bob.page.getByRole('button', { name: 'Send' }).click();
    expect((await back.next('message')).text).toBe('after the restart');
    await notice(guest, 'after the restart').waitFor();

    for (const seed of [bob, guest]) {
      expect(seed.prompts).toBe(1);
      expect(seed.errors).toEqual([]);
    }
    // Every login the pages sent is the seed's shape.
    expect(guest.sent.filter((t) => t.includes('"login"'))).toEqual(Array(2).fill('{"type":"login","client_name":"游客","room_id":3}'));
  });
});
