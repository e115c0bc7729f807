// Saves public/screenshot.png, and screenshot-360/768/1440.png at those widths: the web client in a lively conversation (npm run screenshot).
// Starts the built host on a free loopback port, drives three protocol clients over `ws`
// and one headless Chromium page, then stops everything.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { decodeServerFrame, encodeClientRequest, PROTOCOL_VERSION } from '../../dist/protocol/index.js';

const root = new URL('../../', import.meta.url);
const out = fileURLToPath(new URL('public/screenshot.png', root));

function startHost() {
  const child = spawn(process.execPath, [fileURLToPath(new URL('dist/main.js', root)), '--host', '127.0.0.1', '--port', '0', '--workers', '2'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`host exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const entry = JSON.parse(line);
        if (typeof entry.port === 'number' && String(entry.msg).startsWith('chat host listening')) resolve({ child, port: entry.port });
      } catch {
        // not a log line
      }
    });
  });
}

/** A small protocol client: join, say, and wait for events. */
async function person(url) {
  const socket = new WebSocket(url);
  const events = [];
  let wake = () => {
    // nobody is waiting yet
  };
  socket.on('message', (data) => {
    events.push(decodeServerFrame(new Uint8Array(data)));
    wake();
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  let id = 1;
  const next = async (predicate) => {
    for (;;) {
      const i = events.findIndex(predicate);
      if (i >= 0) return events.splice(i, 1)[0];
      await new Promise((resolve) => (wake = resolve));
    }
  };
  const request = async (body) => {
    const requestId = id++;
    socket.send(encodeClientRequest({ ...body, requestId }));
    const reply = await next((e) => e.requestId === requestId && e.type !== 'message');
    if (reply.type === 'error') throw new Error(`${reply.code}: ${reply.message}`);
    return reply;
  };
  return {
    join: (room, nickname) => request({ type: 'join', room, nickname, since: null, protocolVersion: PROTOCOL_VERSION }),
    say: (room, text, to = null) => request({ type: 'say', room, text, to }),
    leave: (room) => request({ type: 'leave', room }),
    close: () => socket.close(1000),
  };
}

const host = await startHost();
const url = `http://127.0.0.1:${host.port}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  // bypassCSP: the page's CSP (style-src 'self') would refuse the style tag that hides the caret.
  const page = await browser.newPage({ viewport: { width: 1200, height: 940 }, colorScheme: 'light', deviceScaleFactor: 1, bypassCSP: true });
  page.setDefaultTimeout(15_000);
  await page.goto(url);
  await page.addStyleTag({ content: '*, *::before, *::after { caret-color: transparent !important; }' });
  const log = page.getByRole('log');
  const shown = (text) => log.locator('.room-log:not([hidden])').getByText(text, { exact: false }).last().waitFor();
  const sayInPage = async (text) => {
    await page.getByLabel('Message').fill(text);
    await page.getByLabel('Message').press('Enter');
    await shown(text.split('\n')[0]);
  };

  const bob = await person(`ws://127.0.0.1:${host.port}/ws`);
  const carol = await person(`ws://127.0.0.1:${host.port}/ws`);
  const eve = await person(`ws://127.0.0.1:${host.port}/ws`);
  await bob.join('lobby', 'bob');
  await carol.join('lobby', 'carol');
  await carol.join('random', 'carol');
  await bob.say('lobby', 'Morning all! ☕ Who is around?');
  await carol.say('lobby', 'Hi bob 👋 The 2.0 release notes are up: https://example.org/releases/2.0');

  await page.getByLabel('Nickname').fill('ann');
  await page.getByLabel('Room', { exact: true }).fill('random');
  await page.getByRole('button', { name: 'Join' }).click();
  await shown('You joined random as ann.');
  await page.getByLabel('Room', { exact: true }).fill('lobby');
  await page.getByRole('button', { name: 'Join' }).click();
  await shown('You joined lobby as ann.');

  await sayInPage('Morning! Reading them now 📖 the reconnect work looks great 🔥');
  const eveJoined = await eve.join('lobby', 'eve');
  const annId = eveJoined.members.find((m) => m.name === 'ann').id;
  await eve.say('lobby', 'Hello everyone, first time here 🙂');
  await shown('first time here');
  await bob.say('lobby', 'psst, lunch at 12? 🍕', annId);
  await shown('lunch at 12');
  await page.locator('#members button.member', { hasText: 'bob' }).click();
  await sayInPage('Sure, see you there 👍');
  await page.getByRole('button', { name: 'Write to everyone' }).click();
  await carol.say('lobby', 'Checklist for today:\n✅ deploy the host\n✅ web client\n⏳ screenshots');
  await shown('Checklist for today');
  await eve.leave('lobby');
  await shown('eve left');
  await carol.say('random', 'Anyone watching the match tonight? ⚽');
  await carol.say('random', 'I have snacks 🍿');
  await page.locator('.tab-open', { hasText: 'random' }).locator('.badge', { hasText: '2' }).waitFor();
  await bob.say('lobby', 'Welcome aboard, eve! 🎉');
  await shown('Welcome aboard');
  await page.getByLabel('Message').fill('Typing with emoji 😄');
  await page.locator('.room-link', { hasText: 'random' }).locator('.count', { hasText: '2 people' }).waitFor();
  await page.mouse.move(0, 0);
  await page.screenshot({ path: out });
  console.log(`saved ${out}`);
  // The same conversation on a phone, a tablet and a wide screen: public/screenshot-<width>.png.
  for (const [width, height] of [
    [360, 740],
    [768, 1024],
    [1440, 900],
  ]) {
    await page.setViewportSize({ width, height });
    await page.evaluate(() => {
      const log = document.getElementById('log');
      log.scrollTop = log.scrollHeight;
    });
    const file = fileURLToPath(new URL(`public/screenshot-${width}.png`, root));
    await page.screenshot({ path: file });
    console.log(`saved ${file}`);
  }
  for (const p of [bob, carol, eve]) p.close();
} finally {
  await browser.close();
  host.child.kill('SIGTERM');
}
