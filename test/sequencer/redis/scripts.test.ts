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
import { decodeEntries, type Envelope, EnvelopeKind, keys, parseEnvelope } from '../../../src/sequencer/redis/format.js';
import { ClusterScripts } from '../../../src/sequencer/redis/scripts.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { silentLog } from '../harness.js';

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
  scripts = new ClusterScripts(redis, 'n1');
  scripts2 = new ClusterScripts(redis, 'n2');
});

afterAll(async () => {
  redis.disconnect();
  listener.disconnect();
  await server.stop();
});

beforeEach(async () => {
  await redis.flushall();
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
  opts: { token?: string; since?: number | null; sinceEpoch?: number; room?: string; wantMembers?: boolean; maxRoomsTotal?: number } = {},
) {
  const room = opts.room ?? 'lobby';
  return (member.id.startsWith('n2:') ? scripts2 : scripts).join({
    room,
    member,
    nicknameKey: nicknameKey(member.name),
    memberJoined: encodeMemberJoined(room, member),
    token: opts.token ?? 'n1:t',
    since: opts.since ?? null,
    sinceEpoch: opts.sinceEpoch ?? 0,
    joinHistory: 2,
    wantMembers: opts.wantMembers ?? true,
    maxRoomsTotal: opts.maxRoomsTotal ?? 1000,
  });
}

function say(text: string, room = 'lobby'): Promise<number> {
  const { frame, seqOffset } = encodeMessageTemplate({ room, sender: ann, to: null, text, timestampMs: 5 });
  const pipeline = redis.pipeline();
  const seq = new Promise<number>((resolve, reject) =>
    scripts.say(pipeline, { room, frame, seqOffset, historySize: 3 }, (error, value) => (error ? reject(error) : resolve(value!))),
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
    expect(await redis.hget(keys.members('lobby'), ann.id)).toBe(`n1\t${nicknameKey('Ann')}\tAnn`);
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
  test('puts a lost room back with the epoch and numbering the node knows, its members with member-joined, then the marker', async () => {
    const members = [ann, { id: 'n1:2', name: 'cat' }].map((m) => ({
      id: m.id,
      nicknameKey: nicknameKey(m.name),
      nickname: m.name,
      memberJoined: encodeMemberJoined('lobby', m),
    }));
    const reply = await scripts.sync({ room: 'lobby', epoch: 777, delivered: 41, token: 'n1:s', members });
    expect(reply).toMatchObject({ head: 41, epoch: 777, stale: [], refused: [] });
    expect([...reply.members.keys()].sort()).toEqual(['n1:1', 'n1:2']);
    const envelopes = (await published(3)).map((p) => envelopeOf(p.message));
    expect(envelopes.map((e) => [e.kind, e.head, e.epoch, e.token, e.event?.type ?? null])).toEqual([
      [EnvelopeKind.Member, 41, 777, '', 'memberJoined'],
      [EnvelopeKind.Member, 41, 777, '', 'memberJoined'],
      [EnvelopeKind.Sync, 41, 777, 'n1:s', null],
    ]);
    expect(await say('next')).toBe(42);
  });

  test('reports this node’s entries that are not local any more, and members whose nickname someone else took', async () => {
    await join(ann);
    await join({ id: 'n2:9', name: 'cat' }, { token: 'n2:t' });
    const joined = await join({ id: 'n1:5', name: 'dan' });
    const epoch = joined.ok ? joined.epoch : 0;
    const cat = { id: 'n1:2', nicknameKey: nicknameKey('cat'), nickname: 'cat', memberJoined: encodeMemberJoined('lobby', { id: 'n1:2', name: 'cat' }) };
    const annAgain = { id: ann.id, nicknameKey: nicknameKey(ann.name), nickname: ann.name, memberJoined: encodeMemberJoined('lobby', ann) };
    const reply = await scripts.sync({ room: 'lobby', epoch, delivered: 0, token: 'n1:s', members: [annAgain, cat] });
    expect(reply.stale).toEqual(['n1:5']); // dan is no longer on this node
    expect(reply.refused).toEqual(['n1:2']); // "cat" belongs to n2:9 now
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
