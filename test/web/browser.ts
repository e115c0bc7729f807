/** Headless Debian Chromium driven by playwright-core, for the web client tests. */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { decodeClientFrame, type ClientRequest } from '../../src/protocol/index.js';
import type { Host } from '../helpers/host.js';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchBrowser(): Promise<Browser> {
  // Fail with the fix in the message rather than with playwright's generic launch error.
  if (!existsSync(CHROMIUM)) {
    return Promise.reject(new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`));
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

export interface ChatPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Every URL the page requested (document, scripts, fetches, WebSocket). */
  readonly requests: string[];
  /** Uncaught page errors and console errors (except the browser's own notes on connections that failed). */
  readonly errors: string[];
  /** Every request the page sent on its WebSockets, decoded. */
  readonly sent: ClientRequest[];
  readonly log: Locator;
}

export async function openChat(browser: Browser, host: Host, viewport = { width: 1100, height: 760 }, path = '/'): Promise<ChatPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  // A failed wait reports what it waited for before vitest's own 30 s test timeout hits.
  page.setDefaultTimeout(15_000);
  const requests: string[] = [];
  const errors: string[] = [];
  const sent: ClientRequest[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('websocket', (ws) => {
    requests.push(ws.url());
    ws.on('framesent', (f) => {
      if (typeof f.payload === 'string') errors.push(`text frame sent: ${f.payload}`);
      else {
        try {
          sent.push(decodeClientFrame(new Uint8Array(f.payload)));
        } catch (error) {
          errors.push(`undecodable frame sent: ${String(error)}`);
        }
      }
    });
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    // The browser's own notes on connections that could not be made (host down, offline) are expected.
    if (m.type() === 'error' && !/^WebSocket connection to '.*' failed|^Failed to load resource: net::ERR_/.test(m.text())) errors.push(m.text());
  });
  await page.goto(host.http + path);
  await page.locator('#conn[data-state="open"]').waitFor();
  return { context, page, requests, errors, sent, log: page.getByRole('log') };
}

/** Joins `room` as `nickname` through the form and waits for the room's own join notice. */
export async function joinRoom(chat: ChatPage, nickname: string, room: string): Promise<void> {
  const { page } = chat;
  await page.getByLabel('Nickname').fill(nickname);
  await page.getByLabel('Room', { exact: true }).fill(room);
  await page.getByRole('button', { name: 'Join' }).click();
  await chat.log.getByText(`You joined ${room} as ${nickname}.`).waitFor();
}

/** The "To" picker: a combobox finding members by name. */
export function toPicker(chat: ChatPage): Locator {
  return chat.page.getByRole('combobox', { name: 'To' });
}

/** Types `text` in the message box and presses Enter. */
export async function say(chat: ChatPage, text: string): Promise<void> {
  await chat.page.getByLabel('Message').fill(text);
  await chat.page.getByLabel('Message').press('Enter');
}

/** Waits until a message with exactly this text is shown in the visible conversation. */
export function messageLocator(chat: ChatPage, text: string): Locator {
  return chat.log.locator('.room-log:not([hidden]) .msg .text').filter({ hasText: text });
}

export async function waitForMessage(chat: ChatPage, text: string): Promise<Locator> {
  const locator = messageLocator(chat, text).first();
  await locator.waitFor();
  return locator;
}
