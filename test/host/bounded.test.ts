/**
 * What one client (or one address) can take from the host, and what it can read:
 * the room API under join tokens, the bounds on rooms, the per-address request
 * budget and HTTP connections that are not kept. Real host processes, real sockets.
 * Hosts have one worker where a test reads over HTTP what it did over WebSocket:
 * then both go through the same worker, in order, to the sequencer.
 */
import { connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TokenVerifier } from '../../src/admission/token.js';
import { PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { TestClient, type ErrorEvent } from '../helpers/client.js';
import { startHost, waitForJson, type Host } from '../helpers/host.js';

const SECRET = 'a-join-token-secret-of-32-characters-or-more';
const tokens = new TokenVerifier(SECRET);
const tokenFor = (name: string, rooms: '*' | string[]): string => tokens.sign({ name, rooms, exp: Math.floor(Date.now() / 1000) + 3600 });

const hosts: Host[] = [];
const clients: TestClient[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(hosts.map((h) => h.stop()));
});

async function host(args: string[], limits: { openFiles?: number } = {}): Promise<Host> {
  const started = await startHost(args, {}, limits);
  hosts.push(started);
  return started;
}

async function connect(on: Host): Promise<TestClient> {
  const client = await TestClient.connect(on.ws);
  clients.push(client);
  return client;
}

/** Joins and resolves with the ErrorReply the join must get. */
async function joinRefused(client: TestClient, room: string, nickname: string, token?: string): Promise<ErrorEvent> {
  return client.expectError({
    type: 'join',
    protocolVersion: PROTOCOL_VERSION,
    requestId: client.newRequestId(),
    room,
    nickname,
    since: null,
    ...(token ? { token } : {}),
  });
}

async function getJson(url: string, token?: string): Promise<{ status: number; body: Record<string, unknown>; authenticate: string | null }> {
  const res = await fetch(url, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, authenticate: res.headers.get('www-authenticate') };
}

describe('with join tokens, the room API asks for the same authority as a join', () => {
  let chat: Host;
  beforeAll(async () => {
    chat = await host(['--workers', '1', '--token-secret', SECRET]);
    const vip = await connect(chat);
    await vip.join('vip', 'ann', null, tokenFor('ann', ['vip']));
    await vip.say('vip', 'the secret plan');
    const other = await connect(chat);
    await other.join('open', 'bob', null, tokenFor('bob', '*'));
  });

  test('without a token (or with a bad one), /api/rooms and /api/rooms/:room are 401 and show nothing', async () => {
    for (const path of ['/api/rooms', '/api/rooms/vip', '/api/rooms/nowhere']) {
      const anonymous = await getJson(`${chat.http}${path}`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.authenticate).toBe('Bearer');
      expect(JSON.stringify(anonymous.body)).not.toMatch(/vip|secret|ann/);
      const forged = await getJson(
        `${chat.http}${path}`,
        new TokenVerifier('another-secret-of-32-characters-or-more').sign({ name: 'x', rooms: '*', exp: 2e9 }),
      );
      expect(forged.status).toBe(401);
    }
  });

  test('a token for some rooms reads those rooms only, and the list shows only them', async () => {
    const token = tokenFor('reader', ['vip']);
    const vip = await getJson(`${chat.http}/api/rooms/vip`, token);
    expect(vip.status).toBe(200);
    expect(vip.body).toMatchObject({ name: 'vip', members: 1 });
    expect(JSON.stringify(vip.body.recent)).toContain('the secret plan');
    expect((await getJson(`${chat.http}/api/rooms/open`, token)).status).toBe(403);
    // The list comes from the directory the hub pushes at most every 100 ms: wait until it has both rooms.
    await waitForList(tokenFor('operator', '*'), 2);
    const list = await getJson(`${chat.http}/api/rooms`, token);
    expect(list.status).toBe(200);
    expect((list.body.rooms as { name: string }[]).map((r) => r.name)).toEqual(['vip']);
    expect(list.body.total).toBe(1);
  });

  test('a token for every room ("*") lists every room', async () => {
    const list = await waitForList(tokenFor('operator', '*'), 2);
    expect(list.map((r) => r.name).sort()).toEqual(['open', 'vip']);
  });

  /** GETs /api/rooms with `token` until it lists `count` rooms. */
  async function waitForList(token: string, count: number): Promise<{ name: string }[]> {
    for (;;) {
      const { body } = await getJson(`${chat.http}/api/rooms`, token);
      const rooms = body.rooms as { name: string }[];
      if (rooms.length === count) return rooms;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
});

describe('rooms are bounded', () => {
  test('a room that never had a message is gone once its last member leaves; one with messages stays', async () => {
    const chat = await host(['--workers', '1']);
    const ann = await connect(chat);
    await ann.join('bare', 'ann');
    await ann.join('talked', 'ann');
    await ann.say('talked', 'hello');
    await ann.leave('bare');
    await ann.leave('talked');
    expect((await fetch(`${chat.http}/api/rooms/bare`)).status).toBe(404);
    expect((await getJson(`${chat.http}/api/rooms/talked`)).body).toMatchObject({ name: 'talked', members: 0, headSeq: 1 });
  });

  test('--max-rooms-total: the room empty longest gives way to a new one; with every room in use, RoomLimit (temporary)', async () => {
    const chat = await host(['--workers', '1', '--max-rooms-total', '2']);
    const ann = await connect(chat);
    await ann.join('first', 'ann');
    await ann.say('first', 'kept while there is space');
    await ann.leave('first');
    await ann.join('second', 'ann');
    await ann.join('third', 'ann'); // "first" (empty) makes way
    expect((await fetch(`${chat.http}/api/rooms/first`)).status).toBe(404);
    const refused = await joinRefused(ann, 'fourth', 'ann');
    expect(refused).toMatchObject({ code: 'RoomLimit', temporary: true, room: 'fourth' });
    // Joining a room that exists is not making one.
    const bob = await connect(chat);
    await bob.join('second', 'bob');
  });

  test('--new-rooms-per-minute: one address makes that many new rooms, then RateLimited; existing rooms still open to it', async () => {
    const chat = await host(['--workers', '2', '--new-rooms-per-minute', '3']);
    const first = await connect(chat);
    const second = await connect(chat);
    await first.join('made-1', 'ann');
    await second.join('made-2', 'bob');
    await first.join('made-3', 'ann');
    const refused = await joinRefused(second, 'made-4', 'bob');
    expect(refused).toMatchObject({ code: 'RateLimited', temporary: true });
    expect(refused.message).toMatch(/new rooms a minute/);
    await second.join('made-1', 'bob');
  });

  test('GET /api/rooms is a page of the busiest rooms with a cursor to the next page', async () => {
    const chat = await host(['--workers', '1']);
    const people = await Promise.all(Array.from({ length: 5 }, () => connect(chat)));
    // Room r<i> gets i+1 members: r4 is the busiest.
    for (let i = 0; i < 5; i++) for (let j = 0; j <= i; j++) await people[j]!.join(`r${i}`, `p${j}`);
    // The list comes from the directory the hub pushes at most every 100 ms.
    await waitForJson<{ total: number; rooms: { members: number }[] }>(`${chat.http}/api/rooms`, (b) => b.total === 5 && b.rooms[0]?.members === 5);
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 3; page++) {
      const res = await fetch(`${chat.http}/api/rooms?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      const body = (await res.json()) as { rooms: { name: string; members: number }[]; nextCursor: string | null; total: number };
      expect(body.total).toBe(5);
      seen.push(...body.rooms.map((r) => r.name));
      if (body.nextCursor === null) break;
      cursor = body.nextCursor;
    }
    expect(seen).toEqual(['r4', 'r3', 'r2', 'r1', 'r0']);
    expect((await fetch(`${chat.http}/api/rooms?limit=0`)).status).toBe(400);
    expect((await fetch(`${chat.http}/api/rooms?cursor=nonsense`)).status).toBe(400);
  });
});

describe('one address shares one request budget', () => {
  test('--rate-limit-per-ip: connections of one address together get RateLimited past it, each within its own limit', async () => {
    const chat = await host(['--workers', '2', '--rate-limit-per-ip', '30']);
    const group = await Promise.all(Array.from({ length: 5 }, () => connect(chat)));
    for (const [i, c] of group.entries()) await c.join('budget', `m${i}`);
    // 100 messages at once, 20 per connection (each connection's own burst is 40):
    // whatever second they fall in, at most 2 x 30 can pass.
    for (const c of group) for (let k = 0; k < 20; k++) c.send({ type: 'say', requestId: 1000 + k, room: 'budget', text: `m${k}`, to: null });
    const answers = await Promise.all(
      group.map(async (c) => {
        const got = [];
        for (let k = 0; k < 20; k++) got.push(await c.nextWhere((e) => 'requestId' in e && e.requestId === 1000 + k));
        return got;
      }),
    );
    const all = answers.flat();
    const refused = all.filter((e) => e.type === 'error');
    expect(all.filter((e) => e.type === 'sent').length).toBeLessThanOrEqual(60);
    expect(refused.length).toBeGreaterThanOrEqual(40);
    for (const e of refused) expect(e).toMatchObject({ code: 'RateLimited', temporary: true, message: expect.stringMatching(/from your address/) });
  });
});

describe('HTTP connections are not kept', () => {
  /** A keep-alive GET on its own connection; resolves once the host has answered and closed it. */
  function getThenClosed(port: number, path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      let answer = '';
      const socket = tcpConnect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`));
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      socket.on('error', reject);
      socket.on('close', () => resolve(answer));
    });
  }

  test('with an open-file limit of 256, 600 keep-alive HTTP clients are each answered and closed; a WebSocket still gets in', async () => {
    const chat = await host(['--workers', '1'], { openFiles: 256 });
    for (let wave = 0; wave < 6; wave++) {
      // 100 at a time: together with those before, far past what 256 open files allow if they were kept.
      const answers = await Promise.all(Array.from({ length: 100 }, () => getThenClosed(chat.port, '/healthz')));
      for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*Connection: close\r\n/);
    }
    const late = await connect(chat);
    expect((await late.join('after-the-crowd', 'late')).memberCount).toBe(1);
  });

  test('--http-keep-alive keeps them (for a host behind a proxy that bounds connections)', async () => {
    const chat = await host(['--workers', '1', '--http-keep-alive']);
    const socket = tcpConnect(chat.port, '127.0.0.1');
    let answers = '';
    socket.on('data', (chunk: Buffer) => (answers += chunk.toString()));
    const twoAnswered = new Promise<void>((resolve) => socket.on('data', () => (answers.split('HTTP/1.1 200 OK').length - 1 === 2 ? resolve() : undefined)));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await twoAnswered;
    expect(answers).not.toMatch(/Connection: close/);
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });
});
