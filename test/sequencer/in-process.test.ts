/**
 * The in-process sequencer behind the relay's main end, driven directly: fake worker
 * ports record the batches posted, requests go in as worker batches, and what comes
 * back is decoded op by op and frame by frame.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { HubOp, WorkerOp, writeMembers } from '../../src/relay/batch.js';
import { DIRECTORY_INTERVAL_MS, DIRECTORY_SEQ_INTERVAL_MS } from '../../src/relay/main-end.js';
import type { ServerEvent } from '../../src/protocol/index.js';
import type { Directory } from '../../src/sequencer/sequencer.js';
import { DEFAULT_SETTINGS, decodeBatch, flush, RelayHarness, type Out, summarize } from './harness.js';

let h: RelayHarness;
beforeEach(() => {
  h = new RelayHarness(3);
});
afterEach(() => {
  h.stop();
});

const events = (outs: readonly Out[]): ServerEvent[] => outs.flatMap((o) => ('event' in o ? [o.event] : []));
const ofType = <T extends ServerEvent['type']>(outs: readonly Out[], type: T): Extract<ServerEvent, { type: T }>[] =>
  events(outs).filter((e): e is Extract<ServerEvent, { type: T }> => e.type === type);
const messageSeqs = (outs: readonly Out[]): number[] => ofType(outs, 'message').map((m) => m.seq);

describe('join', () => {
  test('the joiner gets Joined (members, history, headSeq) on its own worker only', async () => {
    h.open(0, 'c1');
    h.join(0, 'c1', 'lobby', 'ann', { attempt: 4, requestId: 7 });
    await flush();

    const w0 = h.take(0);
    const joined = w0.filter((o) => o.op === 'joined');
    expect(joined).toHaveLength(1);
    expect(joined[0]).toMatchObject({ op: 'joined', conn: 'c1', attempt: 4, room: 'lobby' });
    expect(joined[0]!.op === 'joined' && joined[0]!.event).toEqual({
      type: 'joined',
      requestId: 7,
      room: 'lobby',
      you: { id: 'c1', name: 'ann' },
      members: [{ id: 'c1', name: 'ann' }],
      history: [],
      headSeq: 0,
      recovered: false,
      epoch: 1_700_000_000_000_000,
      memberCount: 1,
      nextAfter: '',
      resumeKey: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/),
    });
    expect(h.take(1)).toEqual([]);
    expect(h.take(2)).toEqual([]);
    expect(h.ports[1]!.posted).toHaveLength(0);
    expect(h.ports[2]!.posted).toHaveLength(0);
  });

  test("the joiner gets Joined at once; the tick's one Presence frame goes to every worker with members, the same bytes", async () => {
    h.open(0, 'c1');
    h.open(1, 'c2', 'c4');
    h.open(2, 'c3');
    h.join(0, 'c1', 'lobby', 'ann');
    h.join(1, 'c2', 'lobby', 'bob');
    h.join(2, 'c3', 'lobby', 'cat');
    h.tick();
    await h.settle();

    h.join(1, 'c4', 'lobby', 'dan', { attempt: 2, requestId: 9 });
    await flush();
    const w1 = h.take(1);
    expect(w1.map((o) => o.op)).toEqual(['joined']);
    expect(w1[0]).toMatchObject({ op: 'joined', conn: 'c4', attempt: 2, room: 'lobby' });
    const event = w1[0]!.op === 'joined' ? w1[0]!.event : null;
    expect(event).toMatchObject({ type: 'joined', requestId: 9, you: { id: 'c4', name: 'dan' }, headSeq: 0, memberCount: 4, nextAfter: '' });
    // The first page, in nickname order.
    expect(event?.type === 'joined' && event.members).toEqual([
      { id: 'c1', name: 'ann' },
      { id: 'c2', name: 'bob' },
      { id: 'c3', name: 'cat' },
      { id: 'c4', name: 'dan' },
    ]);
    expect(h.take(0)).toEqual([]); // the others hear of it at the tick's end

    h.tick();
    await flush();
    const presence = { type: 'presence', room: 'lobby', joined: [{ id: 'c4', name: 'dan' }], left: [], memberCount: 4 };
    const w0 = h.take(0);
    const w2 = h.take(2);
    const w1Tick = h.take(1);
    for (const w of [w0, w1Tick, w2]) expect(summarize(w)).toEqual([{ op: 'publish', room: 'lobby', event: presence }]);
    // One encoding, the same bytes everywhere.
    const bytes = [w0[0]!, w1Tick[0]!, w2[0]!].map((o) => (o.op === 'publish' ? [...o.frame] : []));
    expect(bytes[1]).toEqual(bytes[0]);
    expect(bytes[2]).toEqual(bytes[0]);
  });

  test('without `since`, Joined carries the last joinHistory messages and is not recovered', async () => {
    h.open(0, 'c1', 'c2');
    h.join(0, 'c1', 'lobby', 'ann');
    for (let i = 1; i <= 5; i++) h.say(0, 'c1', 'lobby', `m${i}`);
    await h.settle();
    h.join(0, 'c2', 'lobby', 'bob');
    await flush();
    const joined = ofType(h.take(0), 'joined');
    expect(joined).toHaveLength(1);
    expect(joined[0]!.history.map((m) => [m.seq, m.text, m.sender.name])).toEqual([
      [3, 'm3', 'ann'],
      [4, 'm4', 'ann'],
      [5, 'm5', 'ann'],
    ]);
    expect(joined[0]!.headSeq).toBe(5);
    expect(joined[0]!.recovered).toBe(false);
  });

  test('with `since`, Joined carries every message after it and is recovered', async () => {
    h.open(0, 'c1', 'c2');
    h.join(0, 'c1', 'lobby', 'ann');
    for (let i = 1; i <= 6; i++) h.say(0, 'c1', 'lobby', `m${i}`);
    await h.settle();
    h.join(0, 'c2', 'lobby', 'bob', { since: 1 });
    await flush();
    const joined = ofType(h.take(0), 'joined')[0]!;
    expect(joined.history.map((m) => m.seq)).toEqual([2, 3, 4, 5, 6]);
    expect(joined.recovered).toBe(true);
    expect(joined.headSeq).toBe(6);
  });

  test('a `since` from another epoch of the room is not recovered; the same epoch (or 0: unknown) is', async () => {
    h.open(0, 'c1', 'c2', 'c3', 'c4');
    h.join(0, 'c1', 'lobby', 'ann');
    for (let i = 1; i <= 4; i++) h.say(0, 'c1', 'lobby', `m${i}`);
    await h.settle();
    h.join(0, 'c2', 'lobby', 'bob', { since: 2, epoch: 12345 });
    await flush();
    const stranger = ofType(h.take(0), 'joined')[0]!;
    expect(stranger.recovered).toBe(false);
    expect(stranger.history.map((m) => m.seq)).toEqual([2, 3, 4]); // the most recent joinHistory (3)
    h.join(0, 'c3', 'lobby', 'cat', { since: 2, epoch: stranger.epoch });
    h.join(0, 'c4', 'lobby', 'dan', { since: 2, epoch: 0 });
    await flush();
    for (const joined of ofType(h.take(0), 'joined')) {
      expect(joined.recovered).toBe(true);
      expect(joined.history.map((m) => m.seq)).toEqual([3, 4]);
    }
  });

  test('messages before a join are in its history and published before Joined; later ones come after Joined', async () => {
    h.open(0, 'c1', 'c2');
    h.join(0, 'c1', 'lobby', 'ann');
    await h.settle();
    h.say(0, 'c1', 'lobby', 'before', { requestId: 1 });
    h.join(0, 'c2', 'lobby', 'bob');
    h.say(0, 'c1', 'lobby', 'after', { requestId: 2 });
    await flush();
    const w0 = h.take(0);
    const kinds = w0.map((o) => ('event' in o ? `${o.op}:${o.event.type}` : o.op));
    expect(kinds).toEqual(['publish:message', 'send:sent', 'joined:joined', 'publish:message', 'send:sent']);
    const joined = ofType(w0, 'joined')[0]!;
    expect(joined.history.map((m) => m.text)).toEqual(['before']);
    expect(joined.headSeq).toBe(1);
    expect(messageSeqs(w0)).toEqual([1, 2]);
  });

  test('a nickname taken in the room, in any case, is refused with JoinFailed echoing the attempt', async () => {
    h.open(0, 'c1');
    h.open(1, 'c2');
    h.join(0, 'c1', 'lobby', 'Ann');
    await h.settle();
    h.join(1, 'c2', 'lobby', 'aNN', { attempt: 3, requestId: 11 });
    await flush();
    expect(h.take(0)).toEqual([]); // nobody hears about a refused join
    const w1 = h.take(1);
    expect(w1).toHaveLength(1);
    expect(w1[0]).toMatchObject({ op: 'joinFailed', conn: 'c2', attempt: 3, room: 'lobby' });
    expect(w1[0]!.op === 'joinFailed' && w1[0]!.event).toMatchObject({ type: 'error', requestId: 11, code: 'NicknameTaken', room: 'lobby' });
    const detail = await h.ask('room', 2, 'lobby');
    expect(detail?.memberList).toEqual([{ id: 'c1', name: 'Ann' }]);
  });

  test('the same nickname in another room is fine', async () => {
    h.open(0, 'c1', 'c2');
    h.join(0, 'c1', 'a', 'ann');
    h.join(0, 'c2', 'b', 'ann');
    await flush();
    expect(
      h
        .take(0)
        .filter((o) => o.op === 'joined')
        .map((o) => o.op === 'joined' && o.conn),
    ).toEqual(['c1', 'c2']);
  });

  test('a second join of the same room by the same connection is AlreadyJoined', async () => {
    h.open(2, 'c1');
    h.join(2, 'c1', 'lobby', 'ann', { attempt: 1 });
    await h.settle();
    h.join(2, 'c1', 'lobby', 'other', { attempt: 2, requestId: 12 });
    await flush();
    expect(summarize(h.take(2))).toEqual([
      {
        op: 'joinFailed',
        conn: 'c1',
        attempt: 2,
        room: 'lobby',
        event: expect.objectContaining({ type: 'error', requestId: 12, code: 'AlreadyJoined', room: 'lobby' }),
      },
    ]);
  });

  test('a join from a connection the hub does not know (closed meanwhile) is ignored', async () => {
    h.join(0, 'ghost', 'lobby', 'ann');
    await flush();
    expect(h.ports.every((p) => p.posted.length === 0)).toBe(true);
    expect(await h.ask('rooms')).toEqual([]);
  });
});

describe('room messages', () => {
  test('published once per worker with members, identical bytes, none to workers without members', async () => {
    h.open(0, 'c1', 'c5');
    h.open(1, 'c2', 'c3');
    h.open(2, 'c4');
    h.join(0, 'c1', 'lobby', 'ann');
    h.join(1, 'c2', 'lobby', 'bob');
    h.join(1, 'c3', 'lobby', 'cat'); // two members on worker 1: still one publish there
    h.join(2, 'c4', 'elsewhere', 'dan'); // worker 2 has no member of lobby
    await h.settle();
    h.clock = 1_800_000_000_000;
    h.say(0, 'c1', 'lobby', 'hello', { requestId: 21 });
    await flush();

    const w0 = h.take(0);
    const w1 = h.take(1);
    expect(h.newPosts(2)).toEqual([]); // no postMessage at all to worker 2
    const message = { type: 'message', room: 'lobby', seq: 1, sender: { id: 'c1', name: 'ann' }, to: null, text: 'hello', timestampMs: 1_800_000_000_000 };
    expect(summarize(w0)).toEqual([
      { op: 'publish', room: 'lobby', event: message },
      { op: 'send', conn: 'c1', event: { type: 'sent', requestId: 21, room: 'lobby', seq: 1 } },
    ]);
    expect(summarize(w1)).toEqual([{ op: 'publish', room: 'lobby', event: message }]);
    expect([...(w1[0]!.op === 'publish' ? w1[0]!.frame : [])]).toEqual([...(w0[0]!.op === 'publish' ? w0[0]!.frame : [])]);
  });

  test('sequence numbers are gap-free across senders on different workers', async () => {
    h.open(0, 'c0');
    h.open(1, 'c1');
    h.open(2, 'c2');
    h.join(0, 'c0', 'lobby', 'a');
    h.join(1, 'c1', 'lobby', 'b');
    h.join(2, 'c2', 'lobby', 'c');
    await h.settle();
    let expected = 0;
    const sentSeqs: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 7; i++) {
        const worker = (i * 2 + round) % 3;
        h.say(worker, `c${worker}`, 'lobby', `r${round} i${i}`, { requestId: ++expected });
      }
      await flush();
      for (let w = 0; w < 3; w++) {
        const outs = h.take(w);
        sentSeqs.push(...ofType(outs, 'sent').map((s) => s.seq));
        // Every worker sees every message of the round, in order.
        expect(messageSeqs(outs)).toEqual(Array.from({ length: 7 }, (_, k) => round * 7 + k + 1));
      }
    }
    expect(sentSeqs.sort((a, b) => a - b)).toEqual(Array.from({ length: 21 }, (_, k) => k + 1));
    expect((await h.ask('room', 0, 'lobby'))?.headSeq).toBe(21);
  });

  test('each Sent reply carries the seq its message got', async () => {
    h.open(0, 'c0');
    h.open(1, 'c1');
    h.join(0, 'c0', 'lobby', 'a');
    h.join(1, 'c1', 'lobby', 'b');
    await h.settle();
    h.say(1, 'c1', 'lobby', 'x', { requestId: 501 });
    h.say(0, 'c0', 'lobby', 'y', { requestId: 502 });
    h.say(1, 'c1', 'lobby', 'z', { requestId: 503 });
    await flush();
    const sent = [...ofType(h.take(0), 'sent'), ...ofType(h.take(1), 'sent')].sort((a, b) => a.requestId - b.requestId);
    expect(sent.map((s) => [s.requestId, s.seq])).toEqual([
      [501, 1],
      [502, 2],
      [503, 3],
    ]);
  });

  test('say from a non-member is NotJoined via Send, and nothing is published', async () => {
    h.open(0, 'c1');
    h.open(1, 'c2');
    h.join(1, 'c2', 'lobby', 'bob');
    await h.settle();
    h.say(0, 'c1', 'lobby', 'let me in', { requestId: 31 });
    h.say(0, 'c1', 'nowhere', 'anyone?', { requestId: 32 });
    await flush();
    expect(summarize(h.take(0))).toEqual([
      { op: 'send', conn: 'c1', event: expect.objectContaining({ type: 'error', requestId: 31, code: 'NotJoined', room: 'lobby' }) },
      { op: 'send', conn: 'c1', event: expect.objectContaining({ type: 'error', requestId: 32, code: 'NotJoined', room: 'nowhere' }) },
    ]);
    expect(h.take(1)).toEqual([]);
    expect((await h.ask('room', 2, 'lobby'))?.headSeq).toBe(0);
    expect(await h.ask('room', 2, 'nowhere')).toBeNull(); // a failed say does not create a room
  });
});

describe('private messages', () => {
  beforeEach(async () => {
    h.open(0, 'c1');
    h.open(1, 'c2');
    h.open(2, 'c3');
    h.join(0, 'c1', 'lobby', 'ann');
    h.join(1, 'c2', 'lobby', 'bob');
    h.join(2, 'c3', 'lobby', 'cat');
    await h.settle();
  });

  test("go to the recipient's worker and the sender's worker only, with seq 0, and a Sent reply", async () => {
    h.clock = 1_750_000_000_000;
    h.say(0, 'c1', 'lobby', 'psst', { requestId: 41, to: 'c2' });
    await flush();
    const message = {
      type: 'message',
      room: 'lobby',
      seq: 0,
      sender: { id: 'c1', name: 'ann' },
      to: { id: 'c2', name: 'bob' },
      text: 'psst',
      timestampMs: 1_750_000_000_000,
    };
    expect(summarize(h.take(1))).toEqual([{ op: 'sendInRoom', conn: 'c2', room: 'lobby', event: message }]);
    expect(summarize(h.take(0))).toEqual([
      { op: 'sendInRoom', conn: 'c1', room: 'lobby', event: message },
      { op: 'send', conn: 'c1', event: { type: 'sent', requestId: 41, room: 'lobby', seq: 0 } },
    ]);
    expect(h.newPosts(2)).toEqual([]); // no postMessage at all to worker 2
  });

  test('are not sequenced and not kept in history', async () => {
    h.say(0, 'c1', 'lobby', 'secret', { to: 'c2' });
    h.say(0, 'c1', 'lobby', 'public');
    await flush();
    expect(messageSeqs(h.take(2))).toEqual([1]);
    const detail = await h.ask('room', 0, 'lobby');
    expect(detail?.headSeq).toBe(1);
    expect(detail?.recent.map((m) => m.text)).toEqual(['public']);
  });

  test('to oneself: one copy and the Sent reply', async () => {
    h.say(1, 'c2', 'lobby', 'note to self', { requestId: 42, to: 'c2' });
    await flush();
    const w1 = h.take(1);
    expect(w1.map((o) => (o.op === 'send' || o.op === 'sendInRoom' ? [o.op, o.conn, o.event.type] : o.op))).toEqual([
      ['sendInRoom', 'c2', 'message'],
      ['send', 'c2', 'sent'],
    ]);
    expect(h.take(0)).toEqual([]);
    expect(h.take(2)).toEqual([]);
  });

  test('to someone who is not a member of the room is RecipientNotFound', async () => {
    h.open(1, 'c9');
    h.join(1, 'c9', 'other', 'zed'); // a real connection, but in another room
    await h.settle();
    h.say(0, 'c1', 'lobby', 'hello?', { requestId: 43, to: 'nobody' });
    h.say(0, 'c1', 'lobby', 'hello?', { requestId: 44, to: 'c9' });
    await flush();
    expect(summarize(h.take(0))).toEqual([
      { op: 'send', conn: 'c1', event: expect.objectContaining({ type: 'error', requestId: 43, code: 'RecipientNotFound', room: 'lobby' }) },
      { op: 'send', conn: 'c1', event: expect.objectContaining({ type: 'error', requestId: 44, code: 'RecipientNotFound', room: 'lobby' }) },
    ]);
    expect(h.take(1)).toEqual([]);
    expect(h.take(2)).toEqual([]);
  });
});

describe('leaving', () => {
  test("Leave: the remaining workers get it in the tick's Presence, and the member is forgotten", async () => {
    h.open(0, 'c1');
    h.open(1, 'c2');
    h.join(0, 'c1', 'lobby', 'ann');
    h.join(1, 'c2', 'lobby', 'bob');
    h.tick();
    await h.settle();
    h.leave(0, 'c1', 'lobby');
    h.tick();
    await flush();
    const left = { type: 'presence', room: 'lobby', joined: [], left: [{ id: 'c1', name: 'ann' }], memberCount: 1 };
    expect(summarize(h.take(1))).toEqual([{ op: 'publish', room: 'lobby', event: left }]);
    expect(h.take(0)).toEqual([]); // worker 0 has no members of lobby any more
    expect((await h.ask('room', 2, 'lobby'))?.memberList).toEqual([{ id: 'c2', name: 'bob' }]);
    // The nickname is free again, and ann's say is now refused.
    h.say(0, 'c1', 'lobby', 'still here?', { requestId: 5 });
    h.open(2, 'c3');
    h.join(2, 'c3', 'lobby', 'ANN');
    await flush();
    expect(ofType(h.take(0), 'error').map((e) => e.code)).toEqual(['NotJoined']);
    expect(ofType(h.take(2), 'joined')).toHaveLength(1);
  });

  test('Close: member left in every room of the connection, and it is removed', async () => {
    h.open(0, 'c1');
    h.open(1, 'c2');
    h.open(2, 'c3');
    h.join(0, 'c1', 'a', 'ann');
    h.join(0, 'c1', 'b', 'ann');
    h.join(1, 'c2', 'a', 'bob');
    h.join(2, 'c3', 'b', 'cat');
    h.tick();
    await h.settle();
    h.close(0, 'c1');
    h.tick();
    await flush();
    const left = (room: string) => ({ type: 'presence', room, joined: [], left: [{ id: 'c1', name: 'ann' }], memberCount: 1 });
    expect(summarize(h.take(1))).toEqual([{ op: 'publish', room: 'a', event: left('a') }]);
    expect(summarize(h.take(2))).toEqual([{ op: 'publish', room: 'b', event: left('b') }]);
    expect(h.take(0)).toEqual([]);
    expect((await h.ask('room', 0, 'a'))?.memberList).toEqual([{ id: 'c2', name: 'bob' }]);
    expect((await h.ask('room', 0, 'b'))?.memberList).toEqual([{ id: 'c3', name: 'cat' }]);
    const stats = await h.ask('stats');
    expect(stats.connections).toBe(2);
    expect(stats.perWorker.find((w) => w.index === 0)?.connections).toBe(0);
    // A closed connection is unknown: its requests are dropped without a reply.
    h.say(0, 'c1', 'a', 'ghost');
    await flush();
    expect(h.take(0)).toEqual([]);
    expect(h.take(1)).toEqual([]);
  });

  test('detach(worker) removes all its connections, with member left to the other workers', async () => {
    h.open(0, 'c0');
    h.open(1, 'c1', 'c2');
    h.open(2, 'c3');
    h.join(0, 'c0', 'a', 'zed');
    h.join(1, 'c1', 'a', 'ann');
    h.join(1, 'c2', 'a', 'bob');
    h.join(1, 'c2', 'b', 'bob');
    h.join(2, 'c3', 'b', 'cat');
    h.tick();
    await h.settle();

    h.relay.detach(1);
    h.tick();
    await flush();
    const w0 = h.take(0);
    expect(w0.every((o) => o.op === 'publish' && o.room === 'a')).toBe(true);
    expect(
      ofType(w0, 'presence')
        .flatMap((e) => e.left.map((m) => m.id))
        .sort(),
    ).toEqual(['c1', 'c2']);
    expect(summarize(h.take(2))).toEqual([
      { op: 'publish', room: 'b', event: { type: 'presence', room: 'b', joined: [], left: [{ id: 'c2', name: 'bob' }], memberCount: 1 } },
    ]);
    expect(h.take(1)).toEqual([]); // the stopped worker gets nothing more

    expect((await h.ask('room', 0, 'a'))?.memberList).toEqual([{ id: 'c0', name: 'zed' }]);
    expect((await h.ask('room', 0, 'b'))?.memberList).toEqual([{ id: 'c3', name: 'cat' }]);
    const stats = await h.ask('stats');
    expect(stats.workers).toBe(2);
    expect(stats.connections).toBe(2);
    expect(stats.perWorker.map((w) => w.index)).toEqual([0, 2]);
  });

  test('a restarted worker is counted and starts with no connections', async () => {
    h.open(1, 'c1');
    await h.settle();
    h.relay.detach(1);
    h.attach(1, 7, true);
    const stats = await h.ask('stats');
    expect(stats.workerRestarts).toBe(1);
    expect(stats.perWorker).toEqual([
      { index: 0, incarnation: 1, connections: 0 },
      { index: 1, incarnation: 7, connections: 0 },
      { index: 2, incarnation: 3, connections: 0 },
    ]);
    expect(stats.connections).toBe(0);
  });
});

describe('queries', () => {
  test("'rooms': every room with member count and head seq, most members first, then by name", async () => {
    h.open(0, 'c1', 'c2', 'c3');
    // Created in an order that is neither the answer's order nor alphabetical.
    h.join(0, 'c1', 'gamma', 'a');
    h.join(0, 'c3', 'alpha', 'c');
    h.join(0, 'c1', 'beta', 'a');
    h.join(0, 'c2', 'beta', 'b');
    h.say(0, 'c1', 'gamma', 'one');
    h.say(0, 'c1', 'gamma', 'two');
    await h.settle();
    expect(await h.ask('rooms', 1)).toEqual([
      { name: 'beta', members: 2, headSeq: 0 },
      { name: 'alpha', members: 1, headSeq: 0 },
      { name: 'gamma', members: 1, headSeq: 2 },
    ]);
  });

  test("'room': members and the recent messages; null for an unknown room", async () => {
    h.open(0, 'c1');
    h.open(1, 'c2');
    h.join(0, 'c1', 'lobby', 'ann');
    h.join(1, 'c2', 'lobby', 'bob');
    for (let i = 1; i <= 5; i++) {
      h.clock = 1000 + i;
      h.say(i % 2, i % 2 === 0 ? 'c1' : 'c2', 'lobby', `m${i}`);
    }
    await h.settle();
    const detail = await h.ask('room', 2, 'lobby');
    expect(detail).toEqual({
      name: 'lobby',
      members: 2,
      headSeq: 5,
      memberList: [
        { id: 'c1', name: 'ann' },
        { id: 'c2', name: 'bob' },
      ],
      // joinHistory is 3
      recent: [
        { seq: 3, sender: { id: 'c2', name: 'bob' }, text: 'm3', timestampMs: 1003 },
        { seq: 4, sender: { id: 'c1', name: 'ann' }, text: 'm4', timestampMs: 1004 },
        { seq: 5, sender: { id: 'c2', name: 'bob' }, text: 'm5', timestampMs: 1005 },
      ],
    });
    expect(await h.ask('room', 2, 'nope')).toBeNull();
  });

  test("'stats': workers, connections, rooms, restarts and per-worker connections", async () => {
    h.open(0, 'a', 'b');
    h.open(2, 'c');
    h.join(2, 'c', 'r1', 'c');
    h.join(0, 'a', 'r2', 'a');
    await h.settle();
    expect(await h.ask('stats', 1)).toEqual({
      workers: 3,
      connections: 3,
      rooms: 2,
      workerRestarts: 0,
      perWorker: [
        { index: 0, incarnation: 1, connections: 2 },
        { index: 1, incarnation: 2, connections: 0 },
        { index: 2, incarnation: 3, connections: 1 },
      ],
    });
  });

  test('the answer goes only to the worker that asked, with its query id', async () => {
    const id = h.query(2, 'rooms');
    await flush();
    expect(h.take(0)).toEqual([]);
    expect(h.take(1)).toEqual([]);
    expect(h.take(2)).toEqual([{ op: 'query', queryId: id, result: [] }]);
  });
});

describe('batching', () => {
  test('one postMessage per worker per turn, however many ops', async () => {
    h.open(0, 'c0');
    h.open(1, 'c1');
    h.join(0, 'c0', 'lobby', 'a');
    h.join(1, 'c1', 'lobby', 'b');
    for (let i = 0; i < 50; i++) h.say(i % 2, `c${i % 2}`, 'lobby', `m${i}`);
    h.query(0, 'stats');
    h.query(1, 'rooms');
    expect(h.ports[0]!.posted).toHaveLength(0); // nothing before the turn ends
    await flush();
    expect(h.ports[0]!.posted).toHaveLength(1);
    expect(h.ports[1]!.posted).toHaveLength(1);
    expect(h.ports[2]!.posted).toHaveLength(0);
    const w0 = h.take(0);
    expect(messageSeqs(w0)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(w0.filter((o) => o.op === 'query')).toHaveLength(1);
    const w1 = h.take(1);
    expect(messageSeqs(w1)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(w1.filter((o) => o.op === 'query')).toHaveLength(1);

    // The next turn's ops go in the next batch.
    h.say(0, 'c0', 'lobby', 'later');
    await flush();
    expect(h.ports[0]!.posted).toHaveLength(2);
    expect(h.ports[1]!.posted).toHaveLength(2);
    expect(messageSeqs(h.take(1))).toEqual([51]);
  });

  test('within a batch, each published frame is packed once and referenced by offset', async () => {
    h.open(0, 'c0', 'c1');
    h.join(0, 'c0', 'lobby', 'a');
    h.join(0, 'c1', 'lobby', 'b');
    await h.settle();
    h.say(0, 'c0', 'lobby', 'x'.repeat(100), { requestId: 0 }); // requestId 0: no Sent reply
    await flush();
    const [post] = h.newPosts(0);
    expect(post!.batch.ops).toEqual([HubOp.Publish, 'lobby', 0, post!.batch.buffer!.byteLength]);
  });

  test('the frame buffer is transferred, not copied', async () => {
    h.open(0, 'c0');
    h.join(0, 'c0', 'lobby', 'a');
    await flush();
    const [post] = h.newPosts(0);
    expect(post!.batch.buffer).toBeInstanceOf(ArrayBuffer);
    expect(post!.transfer).toEqual([post!.batch.buffer]);
    expect(post!.transfer![0]).toBe(post!.batch.buffer);
    // A batch with no frames (a query answer only) has nothing to transfer.
    h.query(0, 'rooms');
    await flush();
    const [answer] = h.newPosts(0);
    expect(answer!.batch.buffer).toBeNull();
    expect(answer!.transfer).toEqual([]);
  });

  test('every frame reference of a batch lies inside its buffer and decodes', async () => {
    h.open(0, 'c0', 'c1');
    h.open(1, 'c2');
    h.join(0, 'c0', 'lobby', 'ann');
    h.join(1, 'c2', 'lobby', 'bob');
    h.say(0, 'c0', 'lobby', 'hi');
    h.say(1, 'c2', 'lobby', 'psst', { to: 'c0' });
    h.join(0, 'c1', 'lobby', 'BOB'); // refused
    h.say(0, 'c1', 'lobby', 'not a member');
    h.tick();
    await flush();
    for (const port of h.ports) {
      for (const { batch } of port.posted) {
        // decodeBatch throws on a reference outside the buffer or an undecodable frame
        expect(() => decodeBatch(batch)).not.toThrow();
      }
    }
    expect(decodeBatch(h.ports[0]!.posted[0]!.batch).map((o) => o.op)).toEqual([
      'joined',
      'publish', // hi
      'send', // Sent
      'sendInRoom', // psst for ann
      'joinFailed',
      'send', // NotJoined
      'publish', // the tick's Presence: ann and bob joined
    ]);
  });

  test('an unknown op drops the rest of the batch without throwing', async () => {
    h.batch(0, (w) => w.push(WorkerOp.Open, 'c0', 99, 'junk', WorkerOp.Open, 'c1'));
    const stats = await h.ask('stats');
    expect(stats.connections).toBe(1);
  });
});

describe('empty rooms', () => {
  // Only the sweep interval is faked: setImmediate (batching) stays real, the clock is the hub's `now`.
  beforeEach(() => {
    h.stop();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    h = new RelayHarness(2, { ...DEFAULT_SETTINGS, historyCapacity: 10, emptyRoomTtlMs: 60_000, joinHistory: 3 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('an empty room keeps its history for the TTL, then the periodic sweep forgets it', async () => {
    const t0 = h.clock;
    h.open(0, 'c1', 'c2');
    h.join(0, 'c1', 'lobby', 'ann');
    h.join(0, 'c1', 'busy', 'ann');
    h.join(0, 'c2', 'busy', 'bob');
    h.say(0, 'c1', 'lobby', 'remember me');
    h.leave(0, 'c1', 'lobby');
    await h.settle();

    // Within the TTL: still there, history and all.
    h.clock = t0 + 59_000;
    vi.advanceTimersByTime(60_000);
    expect((await h.ask('room', 1, 'lobby'))?.recent.map((m) => m.text)).toEqual(['remember me']);
    h.join(0, 'c2', 'lobby', 'bob', { since: 0 });
    await flush();
    const joined = h.take(0).find((o) => o.op === 'joined');
    expect(joined?.op === 'joined' && joined.event).toMatchObject({ headSeq: 1, recovered: true });
    h.leave(0, 'c2', 'lobby'); // empty again from t0 + 59 s
    await h.settle();

    h.clock = t0 + 59_000 + 60_001;
    vi.advanceTimersByTime(60_000);
    expect(await h.ask('room', 1, 'lobby')).toBeNull();
    expect((await h.ask('rooms', 1)).map((r) => r.name)).toEqual(['busy']); // members: never swept
    // A new join starts the room afresh.
    h.open(1, 'c3');
    h.join(1, 'c3', 'lobby', 'cat', { since: 1 });
    await flush();
    const fresh = h.take(1).find((o) => o.op === 'joined');
    expect(fresh?.op === 'joined' && fresh.event).toMatchObject({ headSeq: 0, history: [], recovered: false });
  });

  test('an empty room that never had a message is forgotten at once, without waiting for the sweep', async () => {
    h.open(0, 'c1', 'c2');
    h.join(0, 'c1', 'bare', 'ann');
    h.join(0, 'c2', 'bare', 'bob');
    h.leave(0, 'c1', 'bare');
    await h.settle();
    expect((await h.ask('rooms', 1)).map((r) => r.name)).toEqual(['bare']); // bob is still there
    h.leave(0, 'c2', 'bare');
    await h.settle();
    expect(await h.ask('room', 1, 'bare')).toBeNull();
    expect(await h.ask('rooms', 1)).toEqual([]);
  });

  test('at --max-rooms-total, a new room replaces the one empty longest; with none empty, RoomLimit', async () => {
    h.stop();
    h = new RelayHarness(1, { ...DEFAULT_SETTINGS, maxRoomsTotal: 2 });
    h.open(0, 'c1');
    for (const room of ['old', 'newer']) {
      h.join(0, 'c1', room, 'ann');
      h.say(0, 'c1', room, 'kept');
      h.leave(0, 'c1', room);
      h.clock += 1000;
    }
    h.join(0, 'c1', 'third', 'ann');
    await h.settle();
    expect((await h.ask('rooms', 0)).map((r) => r.name).sort()).toEqual(['newer', 'third']);
    h.join(0, 'c1', 'newer', 'ann'); // now both rooms have a member
    h.join(0, 'c1', 'fourth', 'ann');
    await flush();
    const refused = h.take(0).find((o) => o.op === 'joinFailed');
    expect(refused?.op === 'joinFailed' && refused.event).toMatchObject({ code: 'RoomLimit', temporary: true, room: 'fourth' });
  });

  test('--new-rooms-per-minute counts new rooms by address slot, refills with time, and does not count joins of rooms that exist', async () => {
    h.stop();
    h = new RelayHarness(1, { ...DEFAULT_SETTINGS, newRoomsPerMinute: 2 });
    h.open(0, 'c1', 'c2');
    const join = (conn: string, room: string, addressSlot: number): void => h.join(0, conn, room, conn, { addressSlot });
    join('c1', 'a', 7);
    join('c1', 'b', 7);
    join('c2', 'a', 7); // exists: free
    join('c1', 'c', 7); // the third new room of slot 7 in a minute
    join('c2', 'c', 8); // another address
    await flush();
    const failed = h.take(0).filter((o) => o.op === 'joinFailed');
    expect(failed.map((o) => (o.op === 'joinFailed' ? [o.conn, o.room, o.event.type === 'error' && o.event.code] : null))).toEqual([
      ['c1', 'c', 'RateLimited'],
    ]);
    h.clock += 30_000; // one token back
    join('c1', 'd', 7);
    await flush();
    expect(h.take(0).find((o) => o.op === 'joinFailed')).toBeUndefined();
  });

  test('stop() ends the periodic sweep', async () => {
    h.open(0, 'c1');
    h.join(0, 'c1', 'lobby', 'ann');
    h.say(0, 'c1', 'lobby', 'kept');
    h.leave(0, 'c1', 'lobby');
    await h.settle();
    h.stop();
    h.clock += 10 * 60_000;
    vi.advanceTimersByTime(10 * 60_000);
    expect((await h.ask('rooms')).map((r) => r.name)).toEqual(['lobby']);
  });
});

describe('directory', () => {
  test('every worker gets a snapshot of rooms and connections, paced, with the latest state', async () => {
    const d = new RelayHarness(2);
    try {
      await flush();
      // Attaching pushes one at once: both workers known, nothing else yet.
      expect(d.ports[0]!.directories.at(-1)!.stats).toMatchObject({ workers: 2, connections: 0, rooms: 0 });
      d.open(0, 'c1');
      d.open(1, 'c2');
      d.join(0, 'c1', 'lobby', 'ann');
      d.join(1, 'c2', 'lobby', 'bob');
      d.say(0, 'c1', 'lobby', 'hello');
      // Whatever was pushed meanwhile, the last snapshot each worker holds catches up within the interval.
      await vi.waitFor(
        () => {
          for (const port of d.ports) {
            const latest = port.directories.at(-1)!;
            expect(latest.stats).toMatchObject({ workers: 2, connections: 2, rooms: 1 });
            expect(latest.rooms).toEqual([{ name: 'lobby', members: 2, headSeq: 1 }]);
          }
        },
        { timeout: 5_000, interval: 20 },
      );
      // Many changes in one turn make at most one push per worker.
      const before = d.ports[0]!.directories.length;
      for (let i = 0; i < 50; i++) d.say(0, 'c1', 'lobby', `m${i}`);
      await vi.waitFor(() => expect(d.ports[0]!.directories.at(-1)!.rooms[0]!.headSeq).toBe(51), { timeout: 5_000, interval: 20 });
      expect(d.ports[0]!.directories.length - before).toBeLessThanOrEqual(2);
    } finally {
      d.stop();
    }
  });

  test('membership changes are pushed within DIRECTORY_INTERVAL_MS, messages alone (head seqs) within DIRECTORY_SEQ_INTERVAL_MS', () => {
    // A fake clock for the relay's pacing (performance.now, its timer, setImmediate batching): every step is exact.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] });
    const d = new RelayHarness(1);
    try {
      const pushes = d.ports[0]!.directories;
      const latest = (): Directory => pushes.at(-1)!;
      /** Moves the clock 1 ms at a time until the next push (at most `limit` ms): the clock's time then. */
      const nextPush = (limit: number): number => {
        const count = pushes.length;
        for (let ms = 0; ms <= limit && pushes.length === count; ms++) vi.advanceTimersByTime(1);
        expect(pushes).toHaveLength(count + 1);
        return performance.now();
      };
      // The fake clock runs a setImmediate set from a timer 1 ms later: a push lands 1 ms after its deadline.
      const FLUSH_MS = 1;
      vi.advanceTimersByTime(0);
      expect(pushes).toHaveLength(1); // attaching pushes at once
      let last = performance.now();

      d.open(0, 'c1');
      d.join(0, 'c1', 'lobby', 'ann');
      let at = nextPush(DIRECTORY_SEQ_INTERVAL_MS);
      expect(at - last).toBe(DIRECTORY_INTERVAL_MS + FLUSH_MS);
      expect(latest().rooms).toEqual([{ name: 'lobby', members: 1, headSeq: 0 }]);
      last = at;

      // Messages alone: one push DIRECTORY_SEQ_INTERVAL_MS after the last, however many there were.
      for (let i = 0; i < 20; i++) {
        d.say(0, 'c1', 'lobby', `m${i}`);
        vi.advanceTimersByTime(10);
      }
      expect(pushes).toHaveLength(2);
      at = nextPush(DIRECTORY_SEQ_INTERVAL_MS);
      expect(at - last).toBe(DIRECTORY_SEQ_INTERVAL_MS + FLUSH_MS);
      expect(latest().rooms).toEqual([{ name: 'lobby', members: 1, headSeq: 20 }]);
      last = at;

      // A message, then a join: the join's shorter deadline wins, and the push carries both.
      d.say(0, 'c1', 'lobby', 'one more');
      vi.advanceTimersByTime(50);
      d.open(0, 'c2');
      d.join(0, 'c2', 'lobby', 'bob');
      at = nextPush(DIRECTORY_SEQ_INTERVAL_MS);
      expect(at - last).toBe(DIRECTORY_INTERVAL_MS + FLUSH_MS);
      expect(latest().rooms).toEqual([{ name: 'lobby', members: 2, headSeq: 21 }]);
      expect(latest().stats).toMatchObject({ connections: 2, rooms: 1 });

      // Nothing changed: nothing is pushed.
      vi.advanceTimersByTime(10 * DIRECTORY_SEQ_INTERVAL_MS);
      expect(pushes).toHaveLength(4);
      // Long after the last push, a connection that closes is pushed with the next flush.
      d.close(0, 'c2');
      vi.advanceTimersByTime(0);
      expect(pushes).toHaveLength(5);
      expect(latest().stats).toMatchObject({ connections: 1 });
      expect(latest().rooms).toEqual([{ name: 'lobby', members: 1, headSeq: 21 }]);
    } finally {
      d.stop();
      vi.useRealTimers();
    }
  });
});

describe('member pages', () => {
  /** `n` members of lobby on worker 0, named m000, m001, ... (ids c0, c1, ...), joined in reverse order. */
  function fill(n: number): void {
    for (let i = n - 1; i >= 0; i--) {
      h.open(0, `c${i}`);
      h.join(0, `c${i}`, 'lobby', `m${String(i).padStart(3, '0')}`);
    }
  }

  test('Joined carries the first page of MEMBER_PAGE_SIZE in nickname order, the count, and a cursor to go on from', async () => {
    fill(250);
    await h.settle();
    h.open(1, 'z');
    h.join(1, 'z', 'lobby', 'Aaron');
    await flush();
    const joined = ofType(h.take(1), 'joined')[0]!;
    expect(joined.memberCount).toBe(251);
    expect(joined.members).toHaveLength(100);
    expect(joined.members.slice(0, 3).map((m) => m.name)).toEqual(['Aaron', 'm000', 'm001']);
    expect(joined.members.at(-1)!.name).toBe('m098');
    expect(joined.nextAfter).not.toBe('');
  });

  test('Members pages through the whole room by cursor, each member once, in order, the last page with no cursor', async () => {
    fill(250);
    await h.settle();
    const names: string[] = [];
    let after = '';
    for (let page = 0; page < 10; page++) {
      h.batch(0, (w) => writeMembers(w, 'c7', { requestId: 500 + page, room: 'lobby', after, prefix: '', limit: 0 }));
      await flush();
      const [reply] = ofType(h.take(0), 'memberPage');
      expect(reply).toMatchObject({ requestId: 500 + page, room: 'lobby', memberCount: 250 });
      names.push(...reply!.members.map((m) => m.name));
      after = reply!.nextAfter;
      if (after === '') break;
    }
    expect(names).toEqual(Array.from({ length: 250 }, (_, i) => `m${String(i).padStart(3, '0')}`));
  });

  test('a prefix finds names in any case; a limit above the page size is the page size; a small limit pages', async () => {
    fill(250);
    h.open(1, 'x');
    h.join(1, 'x', 'lobby', 'Zoë');
    await h.settle();
    h.batch(0, (w) => {
      writeMembers(w, 'c1', { requestId: 1, room: 'lobby', after: '', prefix: 'M12', limit: 0 });
      writeMembers(w, 'c1', { requestId: 2, room: 'lobby', after: '', prefix: 'zo', limit: 5 });
      writeMembers(w, 'c1', { requestId: 3, room: 'lobby', after: '', prefix: '', limit: 1000 });
      writeMembers(w, 'c1', { requestId: 4, room: 'lobby', after: '', prefix: 'm', limit: 2 });
    });
    await flush();
    const pages = ofType(h.take(0), 'memberPage');
    expect(pages.map((p) => p.requestId)).toEqual([1, 2, 3, 4]);
    expect(pages[0]!.members.map((m) => m.name)).toEqual(['m120', 'm121', 'm122', 'm123', 'm124', 'm125', 'm126', 'm127', 'm128', 'm129']);
    expect(pages[0]!.nextAfter).toBe('');
    expect(pages[1]!.members).toEqual([{ id: 'x', name: 'Zoë' }]);
    expect(pages[2]!.members).toHaveLength(100);
    expect(pages[3]!.members.map((m) => m.name)).toEqual(['m000', 'm001']);
    expect(pages[3]!.nextAfter).not.toBe('');
  });

  test('Members from a connection that is not in the room is NotJoined', async () => {
    fill(3);
    h.open(1, 'outsider');
    await h.settle();
    h.batch(1, (w) => writeMembers(w, 'outsider', { requestId: 9, room: 'lobby', after: '', prefix: '', limit: 0 }));
    h.batch(1, (w) => writeMembers(w, 'outsider', { requestId: 10, room: 'nowhere', after: '', prefix: '', limit: 0 }));
    await flush();
    expect(ofType(h.take(1), 'error').map((e) => [e.requestId, e.code])).toEqual([
      [9, 'NotJoined'],
      [10, 'NotJoined'],
    ]);
  });
});

describe('presence', () => {
  test('the joins and leaves of one tick are one frame; someone who came and went within it is not mentioned', async () => {
    h.open(0, 'c1', 'c2', 'c3', 'c4');
    h.join(0, 'c1', 'lobby', 'ann');
    h.tick();
    await h.settle();
    h.join(0, 'c2', 'lobby', 'bob');
    h.join(0, 'c3', 'lobby', 'cat');
    h.leave(0, 'c3', 'lobby'); // came and went
    h.join(0, 'c4', 'lobby', 'dan');
    h.leave(0, 'c1', 'lobby');
    await flush();
    expect(ofType(h.take(0), 'presence')).toEqual([]); // nothing before the tick ends
    h.tick();
    await flush();
    expect(ofType(h.take(0), 'presence')).toEqual([
      {
        type: 'presence',
        room: 'lobby',
        joined: [
          { id: 'c2', name: 'bob' },
          { id: 'c4', name: 'dan' },
        ],
        left: [{ id: 'c1', name: 'ann' }],
        memberCount: 2,
      },
    ]);
    // A tick with no net change sends nothing.
    h.join(0, 'c3', 'lobby', 'cat');
    h.leave(0, 'c3', 'lobby');
    h.tick();
    await flush();
    expect(ofType(h.take(0), 'presence')).toEqual([]);
  });

  test('leaving and joining again under another name within a tick: left with the old name, joined with the new', async () => {
    h.open(0, 'c1', 'c2');
    h.join(0, 'c1', 'lobby', 'ann');
    h.join(0, 'c2', 'lobby', 'bob');
    h.tick();
    await h.settle();
    h.leave(0, 'c2', 'lobby');
    h.join(0, 'c2', 'lobby', 'robert');
    h.tick();
    await flush();
    expect(ofType(h.take(0), 'presence')).toEqual([
      { type: 'presence', room: 'lobby', joined: [{ id: 'c2', name: 'robert' }], left: [{ id: 'c2', name: 'bob' }], memberCount: 2 },
    ]);
  });

  test('over --presence-events-max-members (5 here) only the count goes out, one frame per tick however many joined', async () => {
    h.open(1, 'watcher');
    h.join(1, 'watcher', 'lobby', 'watcher');
    h.tick();
    await h.settle();
    for (let i = 0; i < 4; i++) {
      h.open(0, `c${i}`);
      h.join(0, `c${i}`, 'lobby', `m${i}`);
    }
    h.tick();
    await flush();
    // 5 members: at the limit, still named.
    expect(ofType(h.take(1), 'presence')).toEqual([
      { type: 'presence', room: 'lobby', joined: [0, 1, 2, 3].map((i) => ({ id: `c${i}`, name: `m${i}` })), left: [], memberCount: 5 },
    ]);
    for (let i = 4; i < 40; i++) {
      h.open(0, `c${i}`);
      h.join(0, `c${i}`, 'lobby', `m${i}`);
    }
    h.leave(0, 'c0', 'lobby');
    h.tick();
    await flush();
    expect(ofType(h.take(1), 'presence')).toEqual([{ type: 'presence', room: 'lobby', joined: [], left: [], memberCount: 40 }]);
    // Back under the limit: named again.
    for (let i = 1; i < 37; i++) h.leave(0, `c${i}`, 'lobby');
    h.tick();
    await h.settle();
    h.leave(0, 'c37', 'lobby');
    h.tick();
    await flush();
    expect(ofType(h.take(1), 'presence')).toEqual([{ type: 'presence', room: 'lobby', joined: [], left: [{ id: 'c37', name: 'm37' }], memberCount: 3 }]);
  });

  test('a count-only room hears its count at most every presenceCountTickMs; named rooms every tick', async () => {
    h.stop();
    h = new RelayHarness(2, { ...DEFAULT_SETTINGS, presenceCountTickMs: 3_600_000 });
    h.open(1, 'watcher', 'small');
    h.join(1, 'watcher', 'big', 'watcher');
    h.join(1, 'small', 'quiet', 'small');
    for (let i = 0; i < 6; i++) {
      h.open(0, `c${i}`);
      h.join(0, `c${i}`, 'big', `m${i}`);
    }
    h.tick();
    await flush();
    expect(ofType(h.take(1), 'presence').map((p) => [p.room, p.memberCount, p.joined.length])).toEqual([
      ['big', 7, 0],
      ['quiet', 1, 1],
    ]);
    // Within the count tick: the big room's next count waits; the small room's change does not.
    h.leave(0, 'c0', 'big');
    h.open(1, 'other');
    h.join(1, 'other', 'quiet', 'other');
    h.tick();
    await flush();
    expect(ofType(h.take(1), 'presence').map((p) => [p.room, p.memberCount])).toEqual([['quiet', 2]]);
  });

  test('a room whose presence is pending when it is swept, or whose members all left, sends nothing to anyone', async () => {
    h.open(0, 'c1');
    h.join(0, 'c1', 'lobby', 'ann');
    h.leave(0, 'c1', 'lobby');
    h.tick();
    await flush();
    expect(h.take(0).filter((o) => o.op === 'publish')).toEqual([]);
  });
});
