/**
 * The workerman-chat port of a real host (--compat-port 0, two workers), over real sockets:
 * every frame of the seed's protocol as its page sends and reads it, the seed's faults not
 * repeated, bad input, and rooms shared with FlatBuffers clients (presence, messages in one
 * order, private messages both ways, history).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CloseCode } from '../../src/protocol/index.js';
import { TestClient } from '../helpers/client.js';
import { CompatClient, type LoginFrame, type SayFrame } from '../helpers/compat-client.js';
import { startHost, type Host } from '../helpers/host.js';

const TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const CLIENT_ID = /^[0-9a-f]{20}$/;
const MAX_FRAME = 4096;

let host: Host;
const open: { close(): Promise<unknown> }[] = [];
let roomCounter = 0;
/** A fresh numeric room id per test: the seed's rooms are numbers. */
const newRoom = (): number => 100 + roomCounter++;

async function compat(): Promise<CompatClient> {
  const client = await CompatClient.connect(host.compatWs!);
  open.push(client);
  return client;
}

async function flat(): Promise<TestClient> {
  const client = await TestClient.connect(host.ws);
  open.push(client);
  return client;
}

beforeAll(async () => {
  host = await startHost(['--workers', '2', '--compat-port', '0', '--max-frame', String(MAX_FRAME), '--max-text', '500']);
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await host?.stop();
});

describe('the seed protocol', () => {
  test('the listening line names the compat port; a plain HTTP request there is told to upgrade', async () => {
    expect(host.compatPort).toBeGreaterThan(0);
    expect(host.compatPort).not.toBe(host.port);
    const res = await fetch(`http://127.0.0.1:${host.compatPort}/`);
    expect(res.status).toBe(426);
    expect(await res.json()).toEqual({ error: 'this port speaks the workerman-chat WebSocket protocol only' });
  });

  test('login: the joiner gets client_list (itself included), the others a login without it, never the joiner its own copy', async () => {
    const room = newRoom();
    const witness = await flat();
    await witness.join(String(room), 'Witness');
    const ann = await compat();
    const annLogin = await ann.login('Ann', room);
    expect(Object.keys(annLogin)).toEqual(['type', 'client_id', 'client_name', 'time', 'client_list']);
    expect(annLogin.client_id).toMatch(CLIENT_ID);
    expect(annLogin.client_name).toBe('Ann');
    expect(annLogin.time).toMatch(TIME);
    const witnessId = Object.keys(annLogin.client_list!)[0]!;
    expect(annLogin.client_list).toEqual({ [witnessId]: 'Witness', [annLogin.client_id]: 'Ann' });
    // Joins are announced once per 100 ms tick: Bob comes after Ann's has gone out (the FlatBuffers member hears it).
    await witness.next('memberJoined', (e) => e.member.name === 'Ann');

    const bob = await compat();
    // A quoted room id is the same room as the page's unquoted one.
    const bobLogin = await bob.login('Bob', String(room));
    expect(bobLogin.client_list).toEqual({ [witnessId]: 'Witness', [annLogin.client_id]: 'Ann', [bobLogin.client_id]: 'Bob' });
    const seen = (await ann.next('login', (f) => f.client_id === bobLogin.client_id)) as LoginFrame;
    expect(Object.keys(seen)).toEqual(['type', 'client_id', 'client_name', 'time']);
    expect(seen.client_name).toBe('Bob');
    expect(seen.time).toMatch(TIME);

    // Ann's say reaches Bob after the presence of Bob's own join: he never got his own login a second time.
    await witness.next('memberJoined', (e) => e.member.name === 'Bob');
    ann.say('after the logins');
    await bob.nextSay((f) => f.content === 'after the logins');
    expect(bob.drain().filter((f) => f.type === 'login')).toEqual([]);
    expect(bob.faults).toEqual([]);
  });

  test('say: to the room, the sender included, with the seed keys; names and content HTML-escaped, <br /> for newlines', async () => {
    const room = newRoom();
    const ann = await compat();
    const bob = await compat();
    const annId = (await ann.login('Ann <i>&', room)).client_id;
    await bob.login('Bob', room);
    ann.say('x < y & "z"\nnext line');
    for (const c of [ann, bob]) {
      const said = await c.nextSay();
      expect(Object.keys(said)).toEqual(['type', 'from_client_id', 'from_client_name', 'to_client_id', 'content', 'time']);
      expect(said).toMatchObject({
        from_client_id: annId,
        from_client_name: 'Ann &lt;i&gt;&amp;',
        to_client_id: 'all',
        content: 'x &lt; y &amp; &quot;z&quot;<br />\nnext line',
      });
      expect(said.time).toMatch(TIME);
    }
  });

  test('private say: the target gets "对你说", the sender an echo "你对NAME说" with the real name; nobody else; room-scoped', async () => {
    const room = newRoom();
    const ann = await compat();
    const bob = await compat();
    const carol = await compat();
    const annId = (await ann.login('Ann', room)).client_id;
    const bobId = (await bob.login('B<o>b', room)).client_id;
    await carol.login('Carol', room);
    await ann.next('login', (f) => f.client_id === bobId);
    // to_client_name is the page's option text: a lie there changes nothing.
    ann.say('just for you', { id: bobId, name: 'someone else' });
    const toBob = await bob.nextSay();
    expect(toBob).toMatchObject({
      type: 'say',
      from_client_id: annId,
      from_client_name: 'Ann',
      to_client_id: bobId,
      content: '<b>对你说: </b>just for you',
    });
    const echo = await ann.nextSay();
    expect(echo).toMatchObject({ from_client_id: annId, to_client_id: bobId, content: '<b>你对B&lt;o&gt;b说: </b>just for you' });
    ann.say('to everyone');
    await carol.nextSay((f) => f.content === 'to everyone');
    await ann.nextSay((f) => f.content === 'to everyone');
    expect(carol.drain().filter((f) => f.type === 'say')).toEqual([]);

    // A member of another room is nobody here: refused, no echo (the seed echoed it anyway).
    const dave = await compat();
    const daveId = (await dave.login('Dave', newRoom())).client_id;
    ann.say('across rooms', { id: daveId, name: 'Dave' });
    const refused = await ann.nextError();
    expect(refused).toEqual({ type: 'error', code: 100, error: 'RecipientNotFound', msg: 'no such member in this room' });
    ann.say('unknown id', { id: 'ffffffffffffffffffff', name: 'x' });
    expect((await ann.nextError()).error).toBe('RecipientNotFound');
    ann.say('after the refusals');
    await ann.nextSay((f) => f.content === 'after the refusals');
    expect(ann.drain().filter((f) => f.type === 'say')).toEqual([]);
    expect(dave.drain().filter((f) => f.type === 'say')).toEqual([]);
  });

  test('logout: closing the socket tells the room', async () => {
    const room = newRoom();
    const ann = await compat();
    const bob = await compat();
    await ann.login('Ann', room);
    const bobId = (await bob.login('Bob', room)).client_id;
    await ann.next('login', (f) => f.client_id === bobId);
    await bob.close();
    const logout = await ann.next('logout');
    expect(Object.keys(logout)).toEqual(['type', 'from_client_id', 'from_client_name', 'time']);
    expect(logout).toMatchObject({ from_client_id: bobId, from_client_name: 'Bob' });
  });

  test('a second login moves the connection: the old room sees its logout, the new room its login; it is in one room only', async () => {
    const [first, second] = [newRoom(), newRoom()];
    const mover = await compat();
    const stayer = await compat();
    const other = await compat();
    const moverId = (await mover.login('Mover', first)).client_id;
    await stayer.login('Stayer', first);
    const otherId = (await other.login('Other', second)).client_id;
    // The mover's join has been announced (a join and leave within one 100 ms tick are not).
    await mover.next('login', (f) => f.client_name === 'Stayer');

    const moved = await mover.login('Mover', second);
    expect(moved.client_list).toEqual({ [otherId]: 'Other', [moverId]: 'Mover' });
    await stayer.next('logout', (f) => f.from_client_id === moverId);
    await other.next('login', (f) => f.client_id === moverId);

    stayer.say('said in the first room');
    other.say('said in the second room');
    await mover.nextSay((f) => f.content === 'said in the second room');
    mover.say('from the mover');
    await other.nextSay((f) => f.content === 'from the mover');
    await mover.nextSay((f) => f.content === 'from the mover');
    await stayer.nextSay((f) => f.content === 'said in the first room');
    stayer.say('first room again');
    await stayer.nextSay((f) => f.content === 'first room again');
    // The mover heard nothing of the first room after moving, and the first room nothing of it.
    expect(mover.drain().filter((f) => f.type === 'say')).toEqual([]);
    expect(stayer.drain().filter((f) => f.type === 'say')).toEqual([]);
  });

  test('a duplicate nickname (any case) gets the seed-shaped error 101; the connection stays and may log in as someone else', async () => {
    const room = newRoom();
    const ann = await compat();
    await ann.login('Ann', room);
    const copy = await compat();
    copy.sendText(`{"type":"login","client_name":"ANN","room_id":${room}}`);
    const taken = await copy.nextError();
    expect(taken).toMatchObject({ type: 'error', code: 101, error: 'NicknameTaken' });
    expect(taken.msg).toContain('ANN');
    // Not in the room: saying is refused.
    copy.say('hello?');
    expect(await copy.nextError()).toMatchObject({ code: 100, error: 'NotJoined' });
    const login = await copy.login('Annie', room);
    expect(Object.values(login.client_list!)).toEqual(['Ann', 'Annie']);
  });

  test('ping: a pong is taken silently (the idle ping itself is in admission.test.ts)', async () => {
    const ann = await compat();
    await ann.login('Ann', newRoom());
    ann.sendText('{"type":"pong"}');
    ann.say('after the pong');
    await ann.nextSay((f) => f.content === 'after the pong');
    expect(ann.drain().filter((f) => f.type === 'error')).toEqual([]);
  });
});

describe('bad input: an error frame the seed page ignores, or a close; never a crash', () => {
  test.for([
    ['not JSON (a page with ?room_id=abc)', '{"type":"login","client_name":"a","room_id":abc}', 'BadRequest'],
    ['a JSON string', '"login"', 'BadRequest'],
    ['an array', '[1,2]', 'BadRequest'],
    ['an unknown type', '{"type":"logout"}', 'BadRequest'],
    ['a type that is not a string', '{"type":1}', 'BadRequest'],
    ['a numeric client_name', '{"type":"login","client_name":1,"room_id":1}', 'BadRequest'],
    ['room_id true', '{"type":"login","client_name":"a","room_id":true}', 'BadRequest'],
    ['a room id breaking the room-name rules', '{"type":"login","client_name":"a","room_id":"a b"}', 'InvalidRoomName'],
    ['a name with a bidirectional control', '{"type":"login","client_name":"\\u202eAnn","room_id":1}', 'InvalidNickname'],
    ['say before login', '{"type":"say","to_client_id":"all","to_client_name":"所有人","content":"x"}', 'NotJoined'],
    ['say with a numeric to_client_id', '{"type":"say","to_client_id":1,"content":"x"}', 'BadRequest'],
    ['say with array content', '{"type":"say","to_client_id":"all","content":[]}', 'BadRequest'],
    ['say over --max-text', `{"type":"say","to_client_id":"all","content":"${'x'.repeat(501)}"}`, 'InvalidText'],
  ])('%s: %s', async ([, text, error]) => {
    const bad = await compat();
    bad.sendText(text!);
    const answer = await bad.nextError();
    expect(answer.error).toBe(error);
    expect(answer.code).toBe(100);
    // The connection is still good for the real thing.
    await bad.login('Fine', newRoom());
    bad.say('still here');
    await bad.nextSay((f) => f.content === 'still here');
    expect(bad.faults).toEqual([]);
  });

  test('a binary frame closes 1003; a frame over --max-frame closes 1009; the room goes on', async () => {
    const room = newRoom();
    const witness = await compat();
    await witness.login('Witness', room);
    const binary = await compat();
    await binary.login('Binary', room);
    binary.socket.send(Buffer.from([1, 2, 3]));
    const closed = await binary.closed;
    expect(closed.code).toBe(CloseCode.UnsupportedData);
    expect(closed.reason).toBe('binary frames are not supported on the workerman-chat port: send JSON text');

    const big = await compat();
    await big.login('Big', room);
    big.say('y'.repeat(MAX_FRAME));
    const bigClosed = await big.closed;
    expect(bigClosed.code).toBe(CloseCode.MessageTooBig);
    expect(bigClosed.reason).toMatch(new RegExp(`^frame of \\d+ bytes is over the ${MAX_FRAME}-byte limit$`));

    witness.say('the room goes on');
    await witness.nextSay((f) => f.content === 'the room goes on');
    const health = (await (await fetch(`${host.http}/healthz`)).json()) as { workerRestarts: number };
    expect(health.workerRestarts).toBe(0);
  });
});

describe('one room, both protocols', () => {
  test('presence and messages cross, in one order; escaping only on the compat side; history keeps compat messages', async () => {
    const room = String(newRoom());
    const flatAnn = await flat();
    const joined = await flatAnn.join(room, 'Ann <b>');
    const annId = joined.you.id;

    const bob = await compat();
    const bobLogin = await bob.login('Bob & co', Number(room));
    // The FlatBuffers member is in the client list under a client id, its name escaped.
    expect(Object.values(bobLogin.client_list!)).toEqual(['Ann &lt;b&gt;', 'Bob &amp; co']);
    const annClientId = Object.keys(bobLogin.client_list!)[0]!;
    expect(annClientId).toMatch(CLIENT_ID);
    // ... and the compat member is a member for the FlatBuffers one, its name raw.
    const bobMember = (await flatAnn.next('memberJoined', (e) => e.room === room && e.member.name === 'Bob & co')).member;
    expect(bobMember.name).toBe('Bob & co');

    // Interleaved messages from both: both clients see the same order, each message once.
    for (let i = 0; i < 5; i++) {
      await flatAnn.say(room, `flat ${i} <x>`);
      bob.say(`compat ${i} & y`);
    }
    const flatSeen: string[] = [];
    while (flatSeen.length < 10) {
      const m = await flatAnn.next('message', (e) => e.room === room);
      flatSeen.push(m.text);
    }
    const compatSeen: string[] = [];
    while (compatSeen.length < 10) compatSeen.push((await bob.nextSay()).content);
    expect(compatSeen).toEqual(flatSeen.map((t) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')));
    expect(flatSeen.filter((t) => t.startsWith('compat')).length).toBe(5);

    // Private messages both ways.
    await flatAnn.say(room, 'flat to compat', bobMember.id);
    const toBob = await bob.nextSay();
    expect(toBob).toMatchObject({ from_client_id: annClientId, to_client_id: bobLogin.client_id, content: '<b>对你说: </b>flat to compat' });
    const ownEcho = await flatAnn.next('message', (e) => e.text === 'flat to compat');
    expect(ownEcho.to?.id).toBe(bobMember.id);
    expect(ownEcho.seq).toBe(0);
    bob.say('compat to flat', { id: annClientId, name: 'Ann <b>' });
    const toAnn = await flatAnn.next('message', (e) => e.text === 'compat to flat');
    expect(toAnn).toMatchObject({ seq: 0, sender: { id: bobMember.id, name: 'Bob & co' }, to: { id: annId, name: 'Ann <b>' } });
    expect((await bob.nextSay()).content).toBe('<b>你对Ann &lt;b&gt;说: </b>compat to flat');

    // A late FlatBuffers joiner finds the compat messages in the room's history, numbered like the others.
    const late = await flat();
    const lateJoined = await late.join(room, 'Late');
    const compatInHistory = lateJoined.history.filter((m) => m.sender.id === bobMember.id);
    expect(compatInHistory.map((m) => m.text)).toEqual([0, 1, 2, 3, 4].map((i) => `compat ${i} & y`));
    expect(lateJoined.history.map((m) => m.seq)).toEqual(lateJoined.history.map((_, i) => lateJoined.history[0]!.seq + i));

    // Leaving crosses too: the FlatBuffers member's leave is a compat logout, the compat close a member leaving.
    const lateId = lateJoined.you.id;
    await bob.next('login', (f) => f.client_name === 'Late');
    await late.leave(room);
    const logout = await bob.next('logout');
    expect(logout.from_client_name).toBe('Late');
    expect(logout.from_client_id).toMatch(CLIENT_ID);
    expect(lateId).not.toBe('');
    await bob.close();
    const left = await flatAnn.next('memberLeft', (e) => e.room === room && e.member.id === bobMember.id);
    expect(left.member).toEqual(bobMember);
    expect(bob.faults).toEqual([]);
  });

  test('the client id of a member is the same for every compat client, whichever worker holds it', async () => {
    const room = newRoom();
    const flatCarl = await flat();
    await flatCarl.join(String(room), 'Carl');
    const logins: LoginFrame[] = [];
    const watchers: CompatClient[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await compat();
      watchers.push(c);
      logins.push(await c.login(`watcher${i}`, room));
    }
    const carlIds = new Set(logins.map((l) => Object.entries(l.client_list!).find(([, name]) => name === 'Carl')![0]));
    expect(carlIds.size).toBe(1);
    await flatCarl.say(String(room), 'from carl');
    const says: SayFrame[] = await Promise.all(watchers.map((w) => w.nextSay((f) => f.content === 'from carl')));
    expect(new Set(says.map((s) => s.from_client_id))).toEqual(carlIds);
  });
});
