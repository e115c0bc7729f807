/**
 * The cluster's Lua scripts through their typed wrappers (ClusterScripts), against a
 * real redis-server of this test's own: what each one keeps, what it publishes on the
 * room channel (read back as envelopes), and what it returns.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import {
  decodeServerFrame,
  encodeMemberJoined,
  encodeMemberLeft,
  encodeMessageTemplate,
  type MemberInfo,
  type ServerEvent,
} from '../../../src/protocol/index.js';
import { nicknameKey } from '../../../src/rooms/rules.js';
import { ClusterKeys, decodeEntries, type Envelope, EnvelopeKind, parseEnvelope, RESUMED_TOKEN } from '../../../src/sequencer/redis/format.js';
import { ClusterScripts } from '../../../src/sequencer/redis/scripts.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { silentLog } from '../harness.js';

/** A cluster's keys, as a node with --cluster-name test on db 0 names them. */
const keys = new ClusterKeys('test:db0:');
let server: RedisServer;
let redis: Redis;
let listener: Redis;
let scripts: ClusterScripts;
/** The scripts as another node (n2) calls them. */
let scripts2: ClusterScripts;
/** Everything published on the channels the listener is subscribed to, in order. */
let heard: { channel: string; message: Buffer }[] = [];

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { lazyConnect: true });
  listener = new Redis(server.url, { lazyConnect: true });
  await Promise.all([redis.connect(), listener.connect()]);
  listener.on('messageBuffer', (channel: Buffer, message: Buffer) => heard.push({ channel: channel.toString(), message }));
  await listener.subscribe(keys.roomChannel('lobby'), keys.nodeChannel('n2'));
  scripts = new ClusterScripts(redis, 'n1', keys);
  scripts2 = new ClusterScripts(redis, 'n2', keys);
});

afterAll(async () => {
  redis.disconnect();
  listener.disconnect();
  await server.stop();
});

beforeEach(async () => {
  await redis.flushall();
  // What the previous test published and did not wait for has reached the listener once its PING is answered.
  await listener.call('PING');
  heard = [];
});

const ann: MemberInfo = { id: 'n1:1', name: 'Ann' };
const bob: MemberInfo = { id: 'n2:1', name: 'bob' };

/** Waits for `count` messages on the listener's channels (a PING on the same connection orders them). */
async function published(count: number): Promise<{ channel: string; message: Buffer }[]> {
  await listener.call('PING');
  expect(heard).toHaveLength(count);
  return heard.splice(0);
}

function envelopeOf(message: Buffer): Envelope & { event: ServerEvent | null } {
  const envelope = parseEnvelope(message);
  if (!envelope) throw new Error('not an envelope');
  return { ...envelope, event: envelope.frame.length > 0 ? decodeServerFrame(envelope.frame) : null };
}

/** A join by node n1, or by n2 for a member whose id starts with n2. */
function join(
  member: MemberInfo,
  opts: {
    token?: string;
    since?: number | null;
    sinceEpoch?: number;
    room?: string;
    wantMembers?: boolean;
    maxRoomsTotal?: number;
    resumeHash?: string;
    newResumeHash?: string;
    takeOver?: MemberInfo;
    /** The name's keys as the script takes them; default: its case fold alone. */
    nicknameKey?: string;
  } = {},
) {
  const room = opts.room ?? 'lobby';
  return (member.id.startsWith('n2:') ? scripts2 : scripts).join({
    room,
    member,
    nicknameKey: opts.nicknameKey ?? nicknameKey(member.name),
    memberJoined: encodeMemberJoined(room, member),
    token: opts.token ?? 'n1:t',
    since: opts.since ?? null,
    sinceEpoch: opts.sinceEpoch ?? 0,
    joinHistory: 2,
    wantMembers: opts.wantMembers ?? true,
    maxRoomsTotal: opts.maxRoomsTotal ?? 1000,
    resumeHash: opts.resumeHash ?? '',
    newResumeHash: opts.newResumeHash ?? `hash-of-${member.id}`,
    ...(opts.takeOver ? { takeOver: { member: opts.takeOver, memberLeft: encodeMemberLeft(room, opts.takeOver) } } : {}),
  });
}

function say(text: string, room = 'lobby'): Promise<number> {
  const { frame, seqOffset } = encodeMessageTemplate({ room, sender: ann, to: null, text, timestampMs: 5 });
  const pipeline = redis.pipeline();
  const seq = new Promise<number>((resolve, reject) =>
    scripts.say(pipeline, { room, frame, seqOffset, historySize: 3, sender: ann.id }, (error, value) => (error ? reject(error) : resolve(value!))),
  );
  void pipeline.exec();
  return seq;
}

describe('join', () => {
  test('creates the room, adds the member and publishes member-joined tagged with the join token', async () => {
    const reply = await join(ann, { token: 'n1:a' });
    expect(reply.ok).toBe(true);
    if (!reply.ok) return;
    expect(reply.head).toBe(0);
    expect(reply.epoch).toBeGreaterThan(0);
    expect([...(reply.members ?? [])]).toEqual([[ann.id, ann.name]]);
    expect(reply.recovering).toBe(false);
    const [only] = await published(1);
    expect(only!.channel).toBe(keys.roomChannel('lobby'));
    expect(envelopeOf(only!.message)).toMatchObject({
      kind: EnvelopeKind.Member,
      head: 0,
      epoch: reply.epoch,
      token: 'n1:a',
      event: { type: 'memberJoined', member: ann },
    });
    expect(await redis.hget(keys.members('lobby'), ann.id)).toBe(`n1\t${nicknameKey('Ann')}\tAnn\thash-of-${ann.id}`);
    expect(await redis.sismember(keys.rooms, 'lobby')).toBe(1);
    expect(await redis.sismember(keys.nodeRooms('n1'), 'lobby')).toBe(1);
  });

  test('the member list only when asked for (a node already following the room keeps its own)', async () => {
    await join(ann);
    const reply = await join(bob, { token: 'n2:t', wantMembers: false });
    expect(reply).toMatchObject({ ok: true, members: null });
    const full = await join({ id: 'n1:3', name: 'cat' }, { wantMembers: true });
    expect(full.ok && [...(full.members?.keys() ?? [])].sort()).toEqual(['n1:1', 'n1:3', 'n2:1']);
  });

  test('refuses a nickname taken in any case, and a second join of the same member, publishing nothing', async () => {
    await join(ann);
    await published(1);
    expect(await join({ id: 'n1:2', name: 'ANN' })).toEqual({ ok: false, refused: 'NicknameTaken' });
    expect(await join(ann)).toEqual({ ok: false, refused: 'AlreadyJoined' });
    expect(await join({ id: ann.id, name: 'other' })).toEqual({ ok: false, refused: 'AlreadyJoined' });
    await published(0);
  });

  test('with `since` in the same epoch: exactly the messages after it, oldest first; from another epoch: the latest ones, newest first', async () => {
    const first = await join(ann);
    for (const text of ['one', 'two', 'three']) await say(text);
    const epoch = first.ok ? first.epoch : 0;
    const recovering = await join(bob, { since: 1, sinceEpoch: epoch });
    expect(recovering.ok && recovering.recovering).toBe(true);
    expect(recovering.ok && decodeEntries(recovering.entries, silentLog).map((m) => [m.seq, m.text])).toEqual([
      [2, 'two'],
      [3, 'three'],
    ]);
    await scripts.leave({ room: 'lobby', memberId: bob.id, requiredNode: '', memberLeft: encodeMemberLeft('lobby', bob), emptyRoomTtlMs: 60_000 });
    const stale = await join(bob, { since: 1, sinceEpoch: epoch + 1 });
    expect(stale.ok && stale.recovering).toBe(false);
    expect(stale.ok && decodeEntries(stale.entries, silentLog).map((m) => m.seq)).toEqual([3, 2]); // joinHistory 2
  });
});

describe('join with a resume key', () => {
  const annAgain: MemberInfo = { id: 'n2:7', name: 'Ann' };

  test('the key of the member holding the nickname: Resumable, then (naming it) the old member leaves with RESUMED_TOKEN and the new one joins', async () => {
    await join(ann, { newResumeHash: 'h-ann' });
    await published(1);
    expect(await join(annAgain, { resumeHash: 'h-ann' })).toEqual({ ok: false, refused: 'Resumable', holder: ann });
    await published(0);
    const reply = await join(annAgain, { resumeHash: 'h-ann', takeOver: ann, token: 'n2:j', newResumeHash: 'h-new' });
    expect(reply.ok).toBe(true);
    const [left, joined] = await published(2);
    expect(envelopeOf(left!.message)).toMatchObject({ kind: EnvelopeKind.Member, token: RESUMED_TOKEN, event: { type: 'memberLeft', member: ann } });
    expect(envelopeOf(joined!.message)).toMatchObject({ kind: EnvelopeKind.Member, token: 'n2:j', event: { type: 'memberJoined', member: annAgain } });
    expect(await redis.hgetall(keys.members('lobby'))).toEqual({ [annAgain.id]: `n2\t${nicknameKey('Ann')}\tAnn\th-new` });
    expect(Object.values(await redis.hgetall(keys.nicknames('lobby')))).toEqual([annAgain.id]);
    // The old key is spent: the new membership has its own.
    expect(await join({ id: 'n1:9', name: 'Ann' }, { resumeHash: 'h-ann' })).toEqual({ ok: false, refused: 'NicknameTaken' });
  });

  test('no key, another key, or a take-over naming someone else is NicknameTaken, and changes nothing', async () => {
    await join(ann, { newResumeHash: 'h-ann' });
    await published(1);
    expect(await join(annAgain)).toEqual({ ok: false, refused: 'NicknameTaken' });
    expect(await join(annAgain, { resumeHash: 'h-other' })).toEqual({ ok: false, refused: 'NicknameTaken' });
    expect(await join(annAgain, { resumeHash: 'h-other', takeOver: ann })).toEqual({ ok: false, refused: 'NicknameTaken' });
    // The right key but a stale holder named (someone resumed it meanwhile): asked again, nothing done.
    expect(await join(annAgain, { resumeHash: 'h-ann', takeOver: bob })).toEqual({ ok: false, refused: 'Resumable', holder: ann });
    await published(0);
    expect(Object.keys(await redis.hgetall(keys.members('lobby')))).toEqual([ann.id]);
  });

  test('a name whose two keys are held by two members is not taken over, even with the key of one of them', async () => {
    await join(ann, { newResumeHash: 'h-ann' });
    await join({ id: 'n1:2', name: 'other' }, { nicknameKey: 'other-key', newResumeHash: 'h-other' });
    await published(2);
    // A name whose case fold is ann's and whose look-alike key is the other member's.
    const both = `${nicknameKey('Ann')}\u001fother-key`;
    expect(await join(annAgain, { nicknameKey: both, resumeHash: 'h-ann' })).toEqual({ ok: false, refused: 'NicknameTaken' });
    expect(await join(annAgain, { nicknameKey: both, resumeHash: 'h-ann', takeOver: ann })).toEqual({ ok: false, refused: 'NicknameTaken' });
    await published(0);
  });

  test('a member put back by a sync has no hash: it cannot be resumed', async () => {
    await scripts.sync({
      room: 'lobby',
      epoch: 0,
      delivered: 0,
      token: 'n1:s',
      members: [{ id: ann.id, nicknameKey: nicknameKey('Ann'), nickname: 'Ann', memberJoined: encodeMemberJoined('lobby', ann) }],
      emptyRoomTtlMs: 60_000,
    });
    expect(await join(annAgain, { resumeHash: '' })).toEqual({ ok: false, refused: 'NicknameTaken' });
    expect(await join(annAgain, { resumeHash: 'anything' })).toEqual({ ok: false, refused: 'NicknameTaken' });
  });
});

describe('say', () => {
  test('numbers messages 1, 2, 3 into the frame, keeps the last --history of them, and publishes each once', async () => {
    const joined = await join(ann);
    await published(1);
    const seqs = [];
    for (const text of ['a', 'b', 'c', 'd']) seqs.push(await say(text));
    expect(seqs).toEqual([1, 2, 3, 4]);
    const envelopes = (await published(4)).map((p) => envelopeOf(p.message));
    expect(envelopes.map((e) => [e.kind, e.head, e.epoch, e.token])).toEqual(seqs.map((seq) => [EnvelopeKind.Message, seq, joined.ok ? joined.epoch : -1, '']));
    expect(envelopes.map((e) => e.event?.type === 'message' && [e.event.seq, e.event.text])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
      [4, 'd'],
    ]);
    const kept = await redis.xrangeBuffer(keys.history('lobby'), '-', '+');
    expect(decodeEntries(kept, silentLog).map((m) => m.seq)).toEqual([2, 3, 4]); // capped at 3
  });

  test('a room Redis does not have answers -1 and publishes nothing', async () => {
    expect(await say('lost', 'lobby')).toBe(-1);
    await published(0);
  });

  test('a sender who is not a member in Redis (reaped while its node stalled) answers -2, numbers and publishes nothing', async () => {
    await join(bob, { token: 'n2:t' });
    await published(1);
    expect(await say('from a ghost')).toBe(-2);
    await published(0);
    expect(await redis.hget(keys.meta('lobby'), 'seq')).toBe('0');
    expect(await redis.xlen(keys.history('lobby'))).toBe(0);
  });
});

describe('leave', () => {
  test('removes the member once (a second leave, or one for another node, is 0) and publishes member-left once', async () => {
    await join(ann);
    await say('kept for the TTL');
    await published(2);
    const leave = (requiredNode: string) =>
      scripts.leave({ room: 'lobby', memberId: ann.id, requiredNode, memberLeft: encodeMemberLeft('lobby', ann), emptyRoomTtlMs: 60_000 });
    expect(await leave('n9')).toBe(0);
    expect(await leave('n1')).toBe(1);
    expect(await leave('')).toBe(0);
    const [left] = await published(1);
    expect(envelopeOf(left!.message)).toMatchObject({ kind: EnvelopeKind.Member, token: '', event: { type: 'memberLeft', member: ann } });
    expect(await redis.hlen(keys.members('lobby'))).toBe(0);
    expect(await redis.hget(keys.nicknames('lobby'), nicknameKey('Ann'))).toBeNull();
    // Emptied: the room expires after the empty-room TTL.
    const ttl = await redis.pttl(keys.meta('lobby'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await redis.sismember(keys.rooms, 'lobby')).toBe(1);
  });

  test('a room emptied before it had a message is deleted at once (meta, history and its place in the room set)', async () => {
    await join(ann);
    await published(1);
    expect(await redis.sismember(keys.rooms, 'lobby')).toBe(1);
    await scripts.leave({ room: 'lobby', memberId: ann.id, requiredNode: '', memberLeft: encodeMemberLeft('lobby', ann), emptyRoomTtlMs: 60_000 });
    expect(await redis.exists(keys.meta('lobby'), keys.history('lobby'), keys.members('lobby'))).toBe(0);
    expect(await redis.sismember(keys.rooms, 'lobby')).toBe(0);
  });
});

describe('the room limit', () => {
  test('a join that would make a room past maxRoomsTotal is refused with RoomLimit; joins of existing rooms are not', async () => {
    await join(ann, { room: 'one', maxRoomsTotal: 2 });
    await join(ann, { room: 'two', maxRoomsTotal: 2 });
    expect(await join(ann, { room: 'three', maxRoomsTotal: 2 })).toEqual({ ok: false, refused: 'RoomLimit' });
    expect(await redis.exists(keys.meta('three'))).toBe(0);
    expect(await join(bob, { room: 'two', maxRoomsTotal: 2, token: 'n2:t' })).toMatchObject({ ok: true });
  });
});

describe('sync', () => {
  test('puts a lost room back under a new epoch numbering from 1 (never the numbers the node saw), its members with member-joined, then the marker', async () => {
    const members = [ann, { id: 'n1:2', name: 'cat' }].map((m) => ({
      id: m.id,
      nicknameKey: nicknameKey(m.name),
      nickname: m.name,
      memberJoined: encodeMemberJoined('lobby', m),
    }));
    const reply = await scripts.sync({ room: 'lobby', epoch: 777, delivered: 41, token: 'n1:s', members, emptyRoomTtlMs: 60_000 });
    expect(reply).toMatchObject({ head: 0, stale: [], refused: [] });
    expect(reply.epoch).toBeGreaterThan(777);
    expect([...reply.members.keys()].sort()).toEqual(['n1:1', 'n1:2']);
    const envelopes = (await published(3)).map((p) => envelopeOf(p.message));
    expect(envelopes.map((e) => [e.kind, e.head, e.epoch, e.token, e.event?.type ?? null])).toEqual([
      [EnvelopeKind.Member, 0, reply.epoch, '', 'memberJoined'],
      [EnvelopeKind.Member, 0, reply.epoch, '', 'memberJoined'],
      [EnvelopeKind.Sync, 0, reply.epoch, 'n1:s', null],
    ]);
    expect(await say('next')).toBe(1);
    // A second node syncing the room it knew under the old epoch takes the new one as it is.
    const second = await scripts2.sync({ room: 'lobby', epoch: 777, delivered: 60, token: 'n2:s', members: [], emptyRoomTtlMs: 60_000 });
    expect(second).toMatchObject({ head: 1, epoch: reply.epoch });
  });

  test('a room Redis kept but whose last messages it lost (head behind what the node delivered) starts a new epoch', async () => {
    const joined = await join(ann);
    if (!joined.ok) throw new Error('join refused');
    await say('one');
    await say('two');
    // As if Redis came back from an AOF missing the last second: the node delivered 5, Redis has 2.
    const reply = await scripts.sync({ room: 'lobby', epoch: joined.epoch, delivered: 5, token: 'n1:s', members: [], emptyRoomTtlMs: 60_000 });
    expect(reply.epoch).toBeGreaterThan(joined.epoch);
    expect(reply.head).toBe(0);
    expect(await redis.xlen(keys.history('lobby'))).toBe(0);
    expect(await say('three')).toBe(1);
    // Behind or level with Redis: the same epoch goes on.
    const again = await scripts.sync({ room: 'lobby', epoch: reply.epoch, delivered: 1, token: 'n1:t', members: [], emptyRoomTtlMs: 60_000 });
    expect(again).toMatchObject({ epoch: reply.epoch, head: 1 });
  });

  test('reports this node’s entries that are not local any more, and members whose nickname someone else took', async () => {
    await join(ann);
    await join({ id: 'n2:9', name: 'cat' }, { token: 'n2:t' });
    const joined = await join({ id: 'n1:5', name: 'dan' });
    const epoch = joined.ok ? joined.epoch : 0;
    const cat = { id: 'n1:2', nicknameKey: nicknameKey('cat'), nickname: 'cat', memberJoined: encodeMemberJoined('lobby', { id: 'n1:2', name: 'cat' }) };
    const annAgain = { id: ann.id, nicknameKey: nicknameKey(ann.name), nickname: ann.name, memberJoined: encodeMemberJoined('lobby', ann) };
    const reply = await scripts.sync({ room: 'lobby', epoch, delivered: 0, token: 'n1:s', members: [annAgain, cat], emptyRoomTtlMs: 60_000 });
    expect(reply.stale).toEqual(['n1:5']); // dan is no longer on this node
    expect(reply.refused).toEqual(['n1:2']); // "cat" belongs to n2:9 now
  });

  test('a sync that leaves the room without members does not keep it: it expires after the empty-room TTL', async () => {
    const joined = await join(ann);
    if (!joined.ok) throw new Error('join refused');
    await say('kept for the TTL');
    await scripts.leave({ room: 'lobby', memberId: ann.id, requiredNode: '', memberLeft: encodeMemberLeft('lobby', ann), emptyRoomTtlMs: 60_000 });
    // The node's last member went while its sync was on the way: it syncs nobody.
    const reply = await scripts.sync({ room: 'lobby', epoch: joined.epoch, delivered: 1, token: 'n1:s', members: [], emptyRoomTtlMs: 5_000 });
    expect(reply).toMatchObject({ head: 1, epoch: joined.epoch, stale: [], refused: [] });
    for (const key of [keys.meta('lobby'), keys.history('lobby')]) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(5_000);
    }
  });
});

describe('private messages and the room list', () => {
  test('a private message goes to the channel of the recipient’s node, with the recipient id and the room in front; a non-member gets 0', async () => {
    await join(bob, { token: 'n2:t' });
    await published(1);
    const frame = Uint8Array.of(1, 2, 3);
    expect(await scripts.sendPrivately({ room: 'lobby', recipient: bob.id, frame })).toBe(1);
    expect(await scripts.sendPrivately({ room: 'lobby', recipient: 'n2:404', frame })).toBe(0);
    const [message] = await published(1);
    // A member of a node nobody listens for (here n1: no subscriber on its channel, as for a node that died) is -1.
    await join({ id: 'n1:7', name: 'dan' }, { token: 'n1:d' });
    await published(1);
    expect(await scripts.sendPrivately({ room: 'lobby', recipient: 'n1:7', frame })).toBe(-1);
    expect(message!.channel).toBe(keys.nodeChannel('n2'));
    expect([...message!.message]).toEqual([bob.id.length, ...Buffer.from(bob.id), 'lobby'.length, ...Buffer.from('lobby'), 1, 2, 3]);
  });

  test('lists every room with members and head, and drops a room whose meta has expired', async () => {
    await join(ann);
    await say('x');
    await join(bob, { room: 'quiet' });
    await redis.del(keys.meta('quiet'));
    const list = await scripts.roomList();
    expect(list).toEqual([{ name: 'lobby', members: 1, headSeq: 1 }]);
    expect(await redis.smembers(keys.rooms)).toEqual(['lobby']);
  });
});
