/** The terminal client (dist/cli/client.js) against a real 2-worker host: talk, private messages, history, errors, usage. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startHost, type Host } from '../helpers/host.js';
import { Terminal, type Line } from './terminal.js';

interface Member {
  id: string;
  name: string;
}
type Joined = Line & { room: string; you: Member; members: Member[]; history: { seq: number; text: string; sender: Member }[]; headSeq: number };

let host: Host;
const terminals: Terminal[] = [];
function join(room: string, name: string): Terminal {
  const t = Terminal.join(host.ws, room, name);
  terminals.push(t);
  return t;
}

beforeAll(async () => {
  host = await startHost(['--workers', '2', '--history', '20', '--join-history', '5']);
});
afterAll(async () => {
  // Only clients a failed test left running.
  await Promise.all(terminals.map((t) => t.kill()));
  await host.stop();
});

describe('talking through the host', () => {
  test('room messages, presence and private messages between three terminal clients', async () => {
    const room = 'cli-talk';
    const a = join(room, 'A');
    const aJoined = await a.waitFor<Joined>((l) => l.type === 'joined', 'joined');
    expect(a.lines[0]).toMatchObject({ type: 'welcome', connectionId: aJoined.you.id });
    expect(aJoined).toMatchObject({ room, you: { name: 'A' }, members: [{ id: aJoined.you.id, name: 'A' }], history: [], headSeq: 0 });
    const aId = aJoined.you.id;

    const c = join(room, 'C');
    const cId = (await c.waitFor<Joined>((l) => l.type === 'joined', 'joined')).you.id;
    await a.waitFor((l) => l.type === 'presence' && (l.joined as Member[]).some((m) => m.id === cId), 'presence: C joined');

    const b = join(room, 'B');
    const bJoined = await b.waitFor<Joined>((l) => l.type === 'joined', 'joined');
    const bId = bJoined.you.id;
    // The first page of members, in nickname order, and the count.
    expect(bJoined.members.map((m) => m.name)).toEqual(['A', 'B', 'C']);
    expect(bJoined).toMatchObject({ memberCount: 3, nextAfter: '' });
    const bHeard = await a.waitFor((l) => l.type === 'presence' && (l.joined as Member[]).some((m) => m.name === 'B'), 'presence: B joined');
    expect(bHeard).toEqual({ type: 'presence', room, joined: [{ id: bId, name: 'B' }], left: [], memberCount: 3 });

    b.write('hello from b');
    b.end();
    expect(await b.exited).toEqual({ code: 0, signal: null });
    const echo = b.lines.findIndex((l) => l.type === 'message' && l.text === 'hello from b');
    expect(echo).toBeGreaterThan(0);
    expect(b.lines.find((l) => l.type === 'sent')).toMatchObject({ room, seq: 1 });
    // The last line is the close, after the echo.
    expect(b.lines.at(-1)).toMatchObject({ type: 'closed', code: 1000 });
    expect(b.lines.findIndex((l) => l.type === 'closed')).toBe(b.lines.length - 1);
    expect(b.stderr).toBe('');

    const expected = { type: 'message', room, seq: 1, sender: { id: bId, name: 'B' }, to: null, text: 'hello from b' };
    expect(await a.waitFor((l) => l.type === 'message' && l.seq === 1, 'the message of B')).toMatchObject(expected);
    expect(await c.waitFor((l) => l.type === 'message' && l.seq === 1, 'the message of B')).toMatchObject(expected);
    expect(await a.waitFor((l) => l.type === 'presence' && (l.left as Member[]).length > 0, 'presence: B left')).toEqual({
      type: 'presence',
      room,
      joined: [],
      left: [{ id: bId, name: 'B' }],
      memberCount: 2,
    });

    // Who is here, a page at a time: /members [PREFIX], then /more.
    a.write('/members');
    expect(await a.waitFor((l) => l.type === 'memberPage', 'a member page')).toMatchObject({
      room,
      members: [
        { id: aId, name: 'A' },
        { id: cId, name: 'C' },
      ],
      nextAfter: '',
      memberCount: 2,
    });
    a.write('/members c');
    expect(await a.waitFor((l) => l.type === 'memberPage' && (l.members as Member[]).length === 1, 'a page of C')).toMatchObject({
      members: [{ id: cId, name: 'C' }],
    });
    a.write('/more');
    expect(await a.waitFor((l) => l.type === 'info', 'no more members')).toMatchObject({ message: expect.stringMatching(/no more members/) });

    a.write(`/to ${cId} secret for c`);
    const privateMessage = { type: 'message', room, seq: 0, sender: { id: aId, name: 'A' }, to: { id: cId, name: 'C' }, text: 'secret for c' };
    expect(await c.waitFor((l) => l.type === 'message' && l.seq === 0, 'the private message')).toMatchObject(privateMessage);
    expect(await a.waitFor((l) => l.type === 'message' && l.seq === 0, 'the echo of the private message')).toMatchObject(privateMessage);
    expect(await a.waitFor((l) => l.type === 'sent' && l.seq === 0, 'sent')).toMatchObject({ room, seq: 0 });

    // A room message after the private one: a barrier for C, which then has everything before it.
    c.write('done here');
    for (const t of [a, c]) await t.waitFor((l) => l.type === 'message' && l.text === 'done here', 'the last message');
    expect(c.lines.filter((l) => l.type === 'message' && l.seq === 0)).toHaveLength(1);
    // The private message is not a room message: the sequence goes on from 1.
    expect(c.lines.find((l) => l.type === 'message' && l.text === 'done here')).toMatchObject({ seq: 2, sender: { id: cId, name: 'C' } });

    a.end();
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect(a.lines.at(-1)).toMatchObject({ type: 'closed', code: 1000 });
    expect(a.lines.flatMap((l) => (l.type === 'presence' ? (l.left as Member[]) : []))).toEqual([{ id: bId, name: 'B' }]);
    expect(a.lines.every((l) => l.type !== 'not-json' && l.type !== 'protocol-error' && l.type !== 'error')).toBe(true);

    await c.waitFor((l) => l.type === 'presence' && (l.left as Member[]).some((m) => m.id === aId), 'presence: A left');
    c.end();
    expect(await c.exited).toEqual({ code: 0, signal: null });
  });

  test('lines written before the connection is up are sent once joined', async () => {
    // stdin holds the lines and is closed right away: they wait for the welcome and the join.
    const { exit, lines } = await Terminal.run(host.ws, 'cli-early', 'early', ['first', 'second']);
    expect(exit.code).toBe(0);
    const types = lines.map((l) => l.type);
    expect(types[0]).toBe('welcome');
    expect(types.at(-1)).toBe('closed');
    expect(lines.filter((l) => l.type === 'message').map((l) => [l.seq, l.text])).toEqual([
      [1, 'first'],
      [2, 'second'],
    ]);
  });
});

describe('history', () => {
  test('a client joining after messages were said gets them in joined.history', async () => {
    const room = 'cli-history';
    const said = ['one', 'two', 'three', 'four', 'five', 'six'];
    const writer = await Terminal.run(host.ws, room, 'writer', said);
    expect(writer.exit.code).toBe(0);
    expect(writer.lines.filter((l) => l.type === 'message').map((l) => l.text)).toEqual(said);

    const reader = await Terminal.run(host.ws, room, 'reader', []);
    expect(reader.exit.code).toBe(0);
    const joined = reader.lines.find((l) => l.type === 'joined') as Joined;
    // --join-history 5: the five most recent, oldest first.
    expect(joined.history.map((m) => [m.seq, m.text])).toEqual([
      [2, 'two'],
      [3, 'three'],
      [4, 'four'],
      [5, 'five'],
      [6, 'six'],
    ]);
    expect(joined.history.every((m) => m.sender.name === 'writer')).toBe(true);
    expect(joined.headSeq).toBe(6);
    expect(joined.members).toEqual([{ id: joined.you.id, name: 'reader' }]);
  });
});

describe('errors', () => {
  test('are printed as JSON with their code; the client goes on, then exits 3 (a request was refused)', async () => {
    const room = 'cli-errors';
    const { exit, lines, stderr } = await Terminal.run(host.ws, room, 'err', [
      '/join bad!',
      '/leave never-joined',
      '/to nobody hi',
      '/join cli-errors',
      'still fine',
    ]);
    expect(exit.code).toBe(3);
    expect(stderr).toBe('');
    // Errors found by the worker come at once, those found by the hub later: compare by request.
    const errors = lines.filter((l) => l.type === 'error').sort((x, y) => (x.requestId as number) - (y.requestId as number));
    expect(errors).toEqual([
      expect.objectContaining({ code: 'InvalidRoomName', room: null, message: expect.any(String), temporary: false }),
      expect.objectContaining({ code: 'NotJoined', room: 'never-joined' }),
      expect.objectContaining({ code: 'RecipientNotFound', room }),
      expect.objectContaining({ code: 'AlreadyJoined', room }),
    ]);
    expect(lines.find((l) => l.type === 'message')).toMatchObject({ seq: 1, text: 'still fine' });
    expect(lines.at(-1)).toMatchObject({ type: 'closed', code: 1000 });
  });

  // The whole rest of a /join line is the room name, so a bad one gets the host's error, not a broadcast.
  test('/join with an invalid room name containing a space prints InvalidRoomName', async () => {
    const { exit, lines } = await Terminal.run(host.ws, 'cli-bad-join', 'err', ['/join bad room!']);
    expect(exit.code).toBe(3);
    expect(lines.filter((l) => l.type === 'message')).toEqual([]);
    expect(lines.find((l) => l.type === 'error')).toMatchObject({ type: 'error', code: 'InvalidRoomName' });
  });
});

describe('usage', () => {
  test.each([
    [['--url', 'ws://127.0.0.1:1', '--name', 'x'], '--room'],
    [['--url', 'ws://127.0.0.1:1', '--room', 'r'], '--name'],
    [['--room', 'r', '--name', 'x'], '--url'],
    [['--url', 'ws://127.0.0.1:1', '--room', 'r', '--name', 'x', '--bogus'], '--bogus'],
  ])('%j exits 2 with a usage message naming %s', async (args, missing) => {
    const t = Terminal.start(args);
    t.end();
    expect(await t.exited).toEqual({ code: 2, signal: null });
    expect(t.lines).toEqual([]);
    expect(t.stderr).toContain(missing);
    expect(t.stderr).toMatch(/^usage: .*--url ws:\/\/HOST:PORT --room ROOM --name NAME \[--token JWT\]$/m);
  });
});
