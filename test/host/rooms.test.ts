/**
 * Presence, broadcast, private messages and history against real 2-worker hosts: a
 * single node, and a 2-node cluster on Redis whose clients take turns between nodes.
 */
import { PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { describe, expect, test } from 'vitest';
import type { TestClient } from '../helpers/client.js';
import { waitForJson } from '../helpers/host.js';
import { SharedHost, TOPOLOGIES } from '../helpers/shared-host.js';

describe.each(TOPOLOGIES)('$name', (topology) => {
  const shared = new SharedHost(['--workers', '2', '--history', '10', '--join-history', '4'], topology);
  const connect = (): Promise<TestClient> => shared.connect();

  describe('presence', () => {
    test("the joiner gets the first page and the count; every member hears of joins and leaves in the tick's Presence", async () => {
      const ann = await connect();
      const bob = await connect();
      const cat = await connect();
      const annJoined = await ann.join('presence', 'ann');
      expect(annJoined.members).toEqual([{ id: ann.id, name: 'ann' }]);
      expect(annJoined).toMatchObject({ you: { id: ann.id, name: 'ann' }, memberCount: 1, nextAfter: '' });

      const bobJoined = await bob.join('presence', 'bob');
      // In nickname order.
      expect(bobJoined.members).toEqual([
        { id: ann.id, name: 'ann' },
        { id: bob.id, name: 'bob' },
      ]);
      expect(bobJoined.memberCount).toBe(2);
      const isBob = (e: { member: { id: string } }): boolean => e.member.id === bob.id;
      const isCat = (e: { member: { id: string } }): boolean => e.member.id === cat.id;
      expect((await ann.next('memberJoined', isBob)).member).toEqual({ id: bob.id, name: 'bob' });

      await cat.join('presence', '  cat  ');
      expect((await ann.next('memberJoined', isCat)).member).toEqual({ id: cat.id, name: 'cat' });
      expect((await bob.next('memberJoined', isCat)).member).toEqual({ id: cat.id, name: 'cat' });

      await bob.leave('presence');
      expect((await ann.next('memberLeft', isBob)).member).toEqual({ id: bob.id, name: 'bob' });
      expect((await cat.next('memberLeft', isBob)).member).toEqual({ id: bob.id, name: 'bob' });

      await cat.close();
      expect((await ann.next('memberLeft', isCat)).member).toEqual({ id: cat.id, name: 'cat' });
      // Each Presence frame carries the count as it was at the end of its tick.
      const frames = ann.events.filter((e) => e.type === 'presence');
      expect(frames.at(-1)).toMatchObject({ type: 'presence', room: 'presence', memberCount: 1 });
      // Nobody hears of a leave twice, nor of someone they never knew.
      expect(ann.events.filter((e) => e.type === 'memberLeft').map((e) => (e.type === 'memberLeft' ? e.member.id : ''))).toEqual([]);
    });

    test('the member list is the same from every worker', async () => {
      const everyone = (await shared.connectAcross(2)).flat();
      for (const [i, c] of everyone.entries()) await c.join('same-list', `m${i}`);
      const late = await connect();
      const joined = await late.join('same-list', 'late');
      const expected = [...everyone.map((c, i) => ({ id: c.id, name: `m${i}` })), { id: late.id, name: 'late' }];
      expect(new Set(joined.members.map((m) => JSON.stringify(m)))).toEqual(new Set(expected.map((m) => JSON.stringify(m))));
      const rooms = (await (await fetch(`${shared.host.http}/api/rooms/same-list`)).json()) as { memberList: unknown[] };
      expect(rooms.memberList).toHaveLength(expected.length);
    });
  });

  describe('room messages', () => {
    test('a message reaches every member, the sender included, with the next sequence number', async () => {
      const ann = await connect();
      const bob = await connect();
      await ann.join('talk', 'ann');
      await bob.join('talk', 'bob');
      const sent = await ann.say('talk', 'hello <b>world</b> 👋');
      expect(sent.seq).toBe(1);
      for (const c of [ann, bob]) {
        const m = await c.next('message');
        expect(m).toMatchObject({ room: 'talk', seq: 1, sender: { id: ann.id, name: 'ann' }, to: null, text: 'hello <b>world</b> 👋' });
        expect(Math.abs(m.timestampMs - Date.now())).toBeLessThan(60_000);
      }
      expect((await bob.say('talk', 'hi ann')).seq).toBe(2);
      expect((await ann.next('message')).seq).toBe(2);
    });

    test('a message goes only to its room', async () => {
      const ann = await connect();
      const bob = await connect();
      await ann.join('room-a', 'ann');
      await bob.join('room-b', 'bob');
      await ann.join('room-b', 'ann');
      await ann.say('room-a', 'only a');
      await ann.say('room-b', 'only b');
      // bob's next message is the room-b one: the room-a message never reached him.
      const m = await bob.next('message');
      expect(m).toMatchObject({ room: 'room-b', text: 'only b', seq: 1 });
      expect(bob.events.filter((e) => e.type === 'message')).toHaveLength(0);
    });
  });

  describe('private messages', () => {
    test('reach the recipient and the sender only', async () => {
      const ann = await connect();
      const bob = await connect();
      const cat = await connect();
      await ann.join('secrets', 'ann');
      await bob.join('secrets', 'bob');
      await cat.join('secrets', 'cat');
      const sent = await ann.say('secrets', 'psst bob', bob.id);
      expect(sent.seq).toBe(0);
      const toBob = await bob.next('message', (m) => m.seq === 0);
      expect(toBob).toMatchObject({ room: 'secrets', seq: 0, sender: { id: ann.id, name: 'ann' }, to: { id: bob.id, name: 'bob' }, text: 'psst bob' });
      expect(await ann.next('message', (m) => m.seq === 0)).toEqual(toBob);
      // A room message after it is a barrier: cat has everything sent before it, and no private message.
      await ann.say('secrets', 'everyone');
      await cat.next('message', (m) => m.text === 'everyone');
      expect(cat.events.concat().some((e) => e.type === 'message' && e.seq === 0)).toBe(false);
      // Private messages are not history.
      const dan = await connect();
      const joined = await dan.join('secrets', 'dan');
      expect(joined.history.map((m) => m.text)).toEqual(['everyone']);
      expect(joined.headSeq).toBe(1);
    });

    test('to a member on another worker (and node)', async () => {
      const groups = (await shared.connectAcross(1)).map((g) => g[0]!);
      for (const [i, c] of groups.entries()) await c.join('cross-private', `p${i}`);
      // Everyone writes to everyone else: every pair of workers (and of nodes), both ways.
      for (const from of groups) for (const to of groups) if (from !== to) await from.say('cross-private', `${from.id}>${to.id}`, to.id);
      for (const to of groups) {
        for (const from of groups) {
          if (from === to) continue;
          expect(await to.next('message', (m) => m.sender.id === from.id && m.to?.id === to.id)).toMatchObject({ text: `${from.id}>${to.id}`, seq: 0 });
        }
      }
    });
  });

  describe('requests that do not wait for the join', () => {
    test('a message sent right after a join, before Joined arrives, is carried out after the join', async () => {
      const ann = await connect();
      const bob = await connect();
      await bob.join('eager', 'bob');
      ann.send({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 1, room: 'eager', nickname: 'ann', since: null });
      ann.send({ type: 'say', requestId: 2, room: 'eager', text: 'at once', to: null });
      expect((await ann.next('joined')).requestId).toBe(1);
      expect(await ann.next('sent')).toMatchObject({ requestId: 2, seq: 1 });
      expect(await bob.next('message')).toMatchObject({ seq: 1, text: 'at once', sender: { id: ann.id } });
      expect((await ann.next('message')).seq).toBe(1);
    });

    test('a join undone by a leave or a close before its reply leaves no member behind', async () => {
      const witness = await connect();
      await witness.join('undone', 'witness');
      const quick = await connect();
      quick.send({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 101, room: 'undone', nickname: 'quick', since: null });
      quick.send({ type: 'leave', requestId: 102, room: 'undone' });
      expect(await quick.next('left')).toMatchObject({ requestId: 102, room: 'undone' });
      // A request the sequencer answers, behind quick's join and leave on the same connection.
      await quick.join('undone-after', 'quick');
      // The join got exactly one answer: Joined if it came back before the Leave was read, else JoinCancelled
      // (test/host/one-answer.test.ts writes both in one TCP write to pin the second case).
      const answers = quick.events.filter((e) => 'requestId' in e && e.requestId === 101);
      expect(answers).toHaveLength(1);
      expect(answers[0]!.type === 'joined' || (answers[0]!.type === 'error' && answers[0]!.code === 'JoinCancelled')).toBe(true);
      const gone = await connect();
      gone.send({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 1, room: 'undone', nickname: 'gone', since: null });
      await gone.close();
      // Both joins were carried out and undone (a witness may or may not hear of them: someone who
      // came and went within one presence tick is not mentioned); the room is back to its one member.
      type Room = { members: number; memberList: { id: string }[] };
      const room = await waitForJson<Room>(`${shared.host.http}/api/rooms/undone`, (b) => b.members === 1);
      expect(room.memberList.map((m) => m.id)).toEqual([witness.id]);
      const late = await connect();
      await late.join('undone', 'quick');
      const joined = await (await connect()).join('undone', 'gone');
      expect(joined.members.map((m) => m.name).sort()).toEqual(['gone', 'quick', 'witness']);
    });
  });

  describe('history', () => {
    test('a joiner gets the most recent messages; a rejoin with since gets exactly what it missed', async () => {
      const ann = await connect();
      await ann.join('hist', 'ann');
      for (let i = 1; i <= 6; i++) await ann.say('hist', `m${i}`);
      const bob = await connect();
      const first = await bob.join('hist', 'bob');
      expect(first.history.map((m) => m.seq)).toEqual([3, 4, 5, 6]); // --join-history 4
      expect(first.recovered).toBe(false);
      expect(first.headSeq).toBe(6);
      await bob.close();
      // On a cluster bob's node takes him out of Redis on its own time: his name is free once the room shows one member.
      await waitForJson<{ members: number }>(`${shared.host.http}/api/rooms/hist`, (b) => b.members === 1);

      for (let i = 7; i <= 9; i++) await ann.say('hist', `m${i}`);
      const back = await connect();
      const rejoined = await back.join('hist', 'bob', 6);
      expect(rejoined.recovered).toBe(true);
      expect(rejoined.history.map((m) => [m.seq, m.text])).toEqual([
        [7, 'm7'],
        [8, 'm8'],
        [9, 'm9'],
      ]);
      // Nothing missed: recovered with an empty history.
      await back.leave('hist');
      const again = await back.join('hist', 'bob', 9);
      expect(again).toMatchObject({ recovered: true, history: [], headSeq: 9 });
    });

    test('a gap beyond the kept history is reported as not recovered', async () => {
      const ann = await connect();
      await ann.join('gap', 'ann');
      for (let i = 1; i <= 15; i++) await ann.say('gap', `m${i}`); // --history 10 keeps 6..15
      const bob = await connect();
      const joined = await bob.join('gap', 'bob', 2);
      expect(joined.recovered).toBe(false);
      expect(joined.history.map((m) => m.seq)).toEqual([12, 13, 14, 15]);
      const edge = await (await connect()).join('gap', 'cat', 5);
      expect(edge.recovered).toBe(true);
      expect(edge.history.map((m) => m.seq)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    });

    test('an empty room keeps its history', async () => {
      const ann = await connect();
      await ann.join('kept', 'ann');
      await ann.say('kept', 'still here');
      await ann.leave('kept');
      type Rooms = { rooms: { name: string; members: number; headSeq: number }[] };
      const rooms = await waitForJson<Rooms>(`${shared.host.http}/api/rooms`, (b) => b.rooms.some((r) => r.name === 'kept' && r.members === 0));
      expect(rooms.rooms.find((r) => r.name === 'kept')).toEqual({ name: 'kept', members: 0, headSeq: 1 });
      const joined = await (await connect()).join('kept', 'bob');
      expect(joined.history.map((m) => m.text)).toEqual(['still here']);
    });
  });
});
