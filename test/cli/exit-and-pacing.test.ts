/**
 * The terminal client (dist/cli/client.js) against real hosts: documented exit codes
 * for refused requests and invalid input, pacing to the rate limit the host announces
 * in Welcome, slash commands that are never said to the room, and bad arguments.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { oldWelcomeProxy, type RelayProxy } from './old-welcome-proxy.js';
import { Terminal, type Line } from './terminal.js';

/** The exit codes the README and --help document. */
const EXIT = { ok: 0, connection: 1, usage: 2, refused: 3, invalidInput: 4 };

/** Default limits (20 requests/s, bursts of 40). */
let host: Host;
/** A tight limit: 2 requests/s, bursts of 5. */
let tight: Host;
let proxy: RelayProxy;
const clients: TestClient[] = [];

async function watcher(url: string, room: string): Promise<TestClient> {
  const client = await TestClient.connect(url);
  clients.push(client);
  await client.join(room, 'watcher');
  return client;
}

/** Room messages `client` receives in `room` up to and including the one whose text is `last`. */
async function messagesUntil(client: TestClient, room: string, last: string): Promise<string[]> {
  const texts: string[] = [];
  for (;;) {
    const message = await client.next('message', (m) => m.room === room);
    texts.push(message.text);
    if (message.text === last) return texts;
  }
}

const ofType = (lines: Line[], type: string): Line[] => lines.filter((l) => l.type === type);

beforeAll(async () => {
  [host, tight] = await Promise.all([startHost(['--workers', '2']), startHost(['--workers', '1', '--rate-limit', '2', '--rate-burst', '5'])]);
  proxy = await oldWelcomeProxy(tight.ws);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await proxy.close();
  await Promise.all([host.stop(), tight.stop()]);
});

describe('exit codes', () => {
  test.each([
    ['NotJoined', ['/leave never-joined']],
    ['InvalidText', ['a bell \u0007 in the text']],
    ['RecipientNotFound', ['/to nobody hi']],
    ['InvalidRoomName', ['/join bad room!']],
    ['AlreadyJoined', ['/join cli-exit-AlreadyJoined']],
  ])('a request refused with %s: the error line, then exit 3', async (code, input) => {
    const { exit, lines, stderr } = await Terminal.run(host.ws, `cli-exit-${code}`, 'exiter', [...input, 'still said']);
    expect(exit).toEqual({ code: EXIT.refused, signal: null });
    expect(ofType(lines, 'error')).toEqual([expect.objectContaining({ code })]);
    // The other lines were carried out, and the client closed normally.
    expect(ofType(lines, 'message').map((l) => l.text)).toEqual(['still said']);
    expect(lines.at(-1)).toMatchObject({ type: 'closed', code: 1000 });
    expect(stderr).toBe('');
  });

  test('the join of --room refused with NicknameTaken: exit 3', async () => {
    const room = 'cli-exit-taken';
    await watcher(host.ws, room);
    const { exit, lines } = await Terminal.run(host.ws, room, 'watcher', []);
    expect(exit.code).toBe(EXIT.refused);
    expect(ofType(lines, 'error')).toEqual([expect.objectContaining({ code: 'NicknameTaken', room })]);
  });

  test('RateLimited from a host that does not announce its limit: the client cannot pace, and exits 3', async () => {
    // The proxy hides the rate fields of the tight host's Welcome, as a host before them would.
    const room = 'cli-exit-rate';
    const said = Array.from({ length: 12 }, (_, i) => `unpaced ${i + 1}`);
    const { exit, lines } = await Terminal.run(proxy.url, room, 'hasty', said);
    expect(lines[0]).toMatchObject({ type: 'welcome', rateLimitPerSecond: 0, rateBurst: 0 });
    expect(exit.code).toBe(EXIT.refused);
    const refusals = ofType(lines, 'error');
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.every((l) => l.code === 'RateLimited' && l.temporary === true)).toBe(true);
    // Every line is accounted for: said, or refused.
    expect(ofType(lines, 'message').length + refusals.length).toBe(said.length);
  });

  test('a refusal wins over an invalid line: exit 3', async () => {
    const { exit, lines } = await Terminal.run(host.ws, 'cli-exit-both', 'both', ['/bogus', '/leave never-joined']);
    expect(exit.code).toBe(EXIT.refused);
    expect(ofType(lines, 'input-error')).toHaveLength(1);
    expect(ofType(lines, 'error')).toHaveLength(1);
  });

  test('a host that is not listening: exit 1', async () => {
    // A port that was free a moment ago: nothing listens there.
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const { exit, stderr } = await Terminal.run(`ws://127.0.0.1:${port}`, 'r', 'n', []);
    expect(exit.code).toBe(EXIT.connection);
    expect(stderr).toMatch(/ECONNREFUSED/);
  });
});

describe('pacing to the announced rate limit', () => {
  test('Welcome carries the host rate limit and burst', async () => {
    const direct = await TestClient.connect(tight.ws);
    clients.push(direct);
    expect(direct.welcome).toMatchObject({ rateLimitPerSecond: 2, rateBurst: 5 });
    const defaults = await TestClient.connect(host.ws);
    clients.push(defaults);
    expect(defaults.welcome).toMatchObject({ rateLimitPerSecond: 20, rateBurst: 40 });
  });

  test('200 piped lines all reach another member, with the default limits and no RateLimited', async () => {
    const room = 'cli-pace-200';
    const other = await watcher(host.ws, room);
    const said = Array.from({ length: 200 }, (_, i) => `line ${i + 1}`);
    const { exit, lines } = await Terminal.run(host.ws, room, 'piper', said);
    expect(ofType(lines, 'error')).toEqual([]);
    expect(exit).toEqual({ code: EXIT.ok, signal: null });
    expect(lines[0]).toMatchObject({ type: 'welcome', rateLimitPerSecond: 20, rateBurst: 40 });
    expect(await messagesUntil(other, room, 'line 200')).toEqual(said);
  }, 60_000);

  test('the pace follows the numbers the host announces (2/s, bursts of 5), not the defaults', async () => {
    const room = 'cli-pace-tight';
    const other = await watcher(tight.ws, room);
    const said = Array.from({ length: 8 }, (_, i) => `slow ${i + 1}`);
    const { exit, lines } = await Terminal.run(tight.ws, room, 'patient', said);
    expect(ofType(lines, 'error')).toEqual([]);
    expect(exit.code).toBe(EXIT.ok);
    expect(await messagesUntil(other, room, 'slow 8')).toEqual(said);
  });
});

describe('slash commands', () => {
  test('an unknown or incomplete command is an input-error, never room text, and the client exits 4', async () => {
    const room = 'cli-slash';
    const other = await watcher(host.ws, room);
    const invalid = [
      `/To ${other.id} secret`,
      `/msg ${other.id} secret`,
      `/to ${other.id}`,
      `/to ${other.id}    `,
      '/to',
      '/join',
      '/leave   ',
      '/more please',
      '/bogus x',
      '/',
      `   /To ${other.id} indented secret`,
    ];
    const { exit, lines, stderr } = await Terminal.run(host.ws, room, 'typo', [...invalid, '//slash at the start', 'visible']);
    expect(exit).toEqual({ code: EXIT.invalidInput, signal: null });
    expect(stderr).toBe('');
    const errors = ofType(lines, 'input-error');
    expect(errors).toHaveLength(invalid.length);
    expect(errors[0]).toMatchObject({ message: expect.stringMatching(/^unknown command \/To; the commands are \/to ID TEXT/) });
    expect(errors[2]).toMatchObject({ message: '/to needs a member id and a text: /to ID TEXT' });
    // Nothing of them reached the host: no error from it, and the other member heard only the two texts.
    expect(ofType(lines, 'error')).toEqual([]);
    expect(await messagesUntil(other, room, 'visible')).toEqual(['/slash at the start', 'visible']);
    expect(other.events.filter((e) => e.type === 'message')).toEqual([]);
  });
});

describe('bad arguments', () => {
  test.each([['notaurl'], ['http://127.0.0.1:1'], ['ws://127.0.0.1:1/#fragment'], ['']])('--url %j: the usage line and exit 2, no stack', async (url) => {
    const t = Terminal.start(['--url', url, '--room', 'r', '--name', 'n']);
    t.end();
    expect(await t.exited).toEqual({ code: EXIT.usage, signal: null });
    expect(t.lines).toEqual([]);
    expect(t.stderr).toMatch(/^usage: npm run client -- --url ws:\/\/HOST:PORT --room ROOM --name NAME \[--token JWT\]$/m);
    expect(t.stderr).not.toMatch(/^\s+at /m);
  });

  test.each([[['--url']], [['stray', '--url', 'ws://127.0.0.1:1', '--room', 'r', '--name', 'n']], [['-x']]])('%j: usage and exit 2', async (args) => {
    const t = Terminal.start(args);
    t.end();
    expect(await t.exited).toEqual({ code: EXIT.usage, signal: null });
    expect(t.stderr).toMatch(/^usage: /m);
    expect(t.stderr).not.toMatch(/^\s+at /m);
  });

  test('--help prints the commands and the exit codes, and exits 0', async () => {
    const t = Terminal.start(['--help']);
    t.end();
    expect(await t.exited).toEqual({ code: EXIT.ok, signal: null });
    const text = t.lines.map((l) => (l.type === 'not-json' ? l.text : '')).join('\n');
    expect(text).toMatch(/^usage: /);
    for (const command of ['/to ID TEXT', '/join ROOM', '/leave ROOM', '/members [PREFIX]', '/more', '//TEXT']) expect(text).toContain(command);
    for (const code of Object.values(EXIT)) expect(text).toMatch(new RegExp(`^ {2}${code} {2}\\S`, 'm'));
  });
});
