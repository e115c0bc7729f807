/** The client's pure rules, without a browser: links, the paged member list, rejoin merging, backoff. */
import { describe, expect, it } from 'vitest';
import type { ChatMessage, JoinedInfo, MemberInfo } from '../../src/protocol/index.js';
import { nicknameKey } from '../../src/rooms/rules.js';
import { BACKOFF_MAX_MS, backoffDelay } from '../../src/web/connection.js';
import { linkify } from '../../src/web/linkify.js';
import { applyRejoin, foldName, MemberList, RoomState } from '../../src/web/rooms.js';

const ann = { id: '1.1', name: 'ann' };
const bob = { id: '1.2', name: 'bob' };

function msg(seq: number, text = `m${seq}`, sender = bob): ChatMessage {
  return { room: 'r', seq, sender, to: null, text, timestampMs: 1_700_000_000_000 + seq };
}

function joined(over: Partial<JoinedInfo>): JoinedInfo {
  const members = over.members ?? [ann, bob];
  return { room: 'r', you: ann, members, history: [], headSeq: 0, recovered: false, epoch: 1, memberCount: members.length, nextAfter: '', ...over };
}

const names = (list: MemberList) => list.loaded.map((m) => m.name);
const member = (name: string, id = `9.${name}`): MemberInfo => ({ id, name });
const presence = (joined: MemberInfo[], left: MemberInfo[], memberCount: number) => ({ room: 'r', joined, left, memberCount });

describe('linkify', () => {
  it('links http and https URLs and trims sentence punctuation', () => {
    expect(linkify('see https://a.example/x?y=1. ok')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'https://a.example/x?y=1', href: 'https://a.example/x?y=1' },
      { kind: 'text', text: '. ok' },
    ]);
    expect(linkify('(http://b.example/wiki/Foo_(bar))')).toEqual([
      { kind: 'text', text: '(' },
      { kind: 'link', text: 'http://b.example/wiki/Foo_(bar)', href: 'http://b.example/wiki/Foo_(bar)' },
      { kind: 'text', text: ')' },
    ]);
  });

  it('leaves other schemes and broken URLs as text', () => {
    for (const text of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'ftp://x.example', 'www.example.org', 'http://', 'JavaScript://%0aalert(1)']) {
      expect(linkify(text)).toEqual([{ kind: 'text', text }]);
    }
  });

  it('keeps all the text, in order', () => {
    const text = 'a http://x.example b https://y.example/c, c';
    expect(
      linkify(text)
        .map((s) => s.text)
        .join(''),
    ).toBe(text);
  });
});

describe('MemberList', () => {
  it('folds names as the host does', () => {
    for (const name of ['Ann', 'ＡＮＮ', 'Straße', 'ΣΟΦΟΣ', 'émile', 'İstanbul']) expect(foldName(name)).toBe(nicknameKey(name));
  });

  it('keeps a complete list in the host order through presence (left first, then joined), idempotently', () => {
    const list = new MemberList([member('ann'), member('Cleo')], 2, '');
    let change = list.applyPresence(presence([member('bob'), member('ann')], [], 3));
    expect(names(list)).toEqual(['ann', 'bob', 'Cleo']);
    expect(change.joined.map((m) => m.name)).toEqual(['bob']);
    // A repeat of what is known changes nothing and tells nothing; a leave of an unknown id is ignored.
    change = list.applyPresence(presence([member('bob')], [member('zed')], 3));
    expect(change).toEqual({ joined: [], left: [] });
    // Left, then joined: the same nickname back under a new id.
    change = list.applyPresence(presence([member('Bob', '9.new')], [member('bob')], 3));
    expect(list.loaded).toEqual([member('ann'), member('Bob', '9.new'), member('Cleo')]);
    expect(list.count).toBe(3);
    expect(list.stale).toBe(false);
  });

  it('inserts only within the loaded range of a partial list; later members come with the next page', () => {
    const list = new MemberList([member('b1'), member('b3')], 10, 'cursor');
    const change = list.applyPresence(presence([member('b2'), member('c9'), member('a0')], [member('z9')], 11));
    expect(names(list)).toEqual(['a0', 'b1', 'b2', 'b3']);
    // Both the joined one beyond the range and the unknown one beyond it are real changes.
    expect(change.joined.map((m) => m.name)).toEqual(['b2', 'c9', 'a0']);
    expect(change.left.map((m) => m.name)).toEqual(['z9']);
    list.addPage([member('c1'), member('c9')], '', 11);
    expect(names(list)).toEqual(['a0', 'b1', 'b2', 'b3', 'c1', 'c9']);
    expect(list.complete).toBe(true);
  });

  it('marks the list stale on a count-only presence and fresh again after a reload', () => {
    const list = new MemberList([member('a')], 2000, 'x');
    list.applyPresence(presence([], [], 2001));
    expect(list.stale).toBe(true);
    expect(list.count).toBe(2001);
    expect(names(list)).toEqual(['a']);
    list.reset([member('a'), member('b')], 2001, 'y');
    expect(list.stale).toBe(false);
  });

  it('searches the loaded members by case-insensitive prefix', () => {
    const list = new MemberList([member('Anna'), member('annie'), member('Bob')], 3, '');
    expect(list.search('ANN', 10).map((m) => m.name)).toEqual(['Anna', 'annie']);
    expect(list.search('ann', 1).map((m) => m.name)).toEqual(['Anna']);
  });
});

describe('applyRejoin', () => {
  it('appends exactly the recovered messages', () => {
    const room = new RoomState('r', 'ann', joined({ history: [msg(1), msg(2)], headSeq: 2 }));
    for (const m of [msg(1), msg(2)]) room.accept(m);
    const r = applyRejoin(
      room,
      joined({ you: { id: '2.1', name: 'ann' }, members: [{ id: '2.1', name: 'ann' }, bob], history: [msg(3), msg(4)], headSeq: 4, recovered: true }),
    );
    expect(r.missed.map((m) => m.seq)).toEqual([3, 4]);
    expect(r.gap).toBe(false);
    expect(room.lastSeq).toBe(4);
    expect(room.isMine(msg(5, 'x', ann))).toBe(true);
    expect(room.isMine(msg(5, 'x', { id: '2.1', name: 'ann' }))).toBe(true);
  });

  it('marks a gap and drops what was already shown when the host could not recover', () => {
    const room = new RoomState('r', 'ann', joined({ headSeq: 5 }));
    for (let i = 1; i <= 5; i++) room.accept(msg(i));
    const r = applyRejoin(room, joined({ history: [msg(4), msg(5), msg(90), msg(91)], headSeq: 91, recovered: false }));
    expect(r.gap).toBe(true);
    expect(r.missed.map((m) => m.seq)).toEqual([90, 91]);
  });

  it('treats a room numbered from the start again (host restart) as new, after a gap', () => {
    const room = new RoomState('r', 'ann', joined({ headSeq: 7 }));
    room.accept(msg(7));
    const r = applyRejoin(room, joined({ members: [ann], history: [msg(1), msg(2)], headSeq: 2, recovered: false }));
    expect(r.gap).toBe(true);
    expect(r.missed.map((m) => m.seq)).toEqual([1, 2]);
    expect(r.departed).toEqual(['bob']);
    expect(r.arrived).toEqual([]);
    expect(room.lastSeq).toBe(2);
    expect(room.accept(msg(3))).toBe(true);
    expect(room.accept(msg(3))).toBe(false);
  });

  it('marks no gap for a client that had seen nothing', () => {
    const room = new RoomState('r', 'ann', joined({ members: [ann] }));
    const r = applyRejoin(room, joined({ history: [msg(1)], headSeq: 1, recovered: false }));
    expect(r.gap).toBe(false);
    expect(r.missed.map((m) => m.seq)).toEqual([1]);
    expect(r.arrived).toEqual(['bob']);
  });

  it('tells arrivals and departures only within the part both lists cover, and none after a count-only presence', () => {
    const partial = (ms: MemberInfo[], nextAfter: string) => joined({ members: [ann, ...ms], memberCount: 5000, nextAfter });
    const room = new RoomState('r', 'ann', partial([member('b'), member('d'), member('k'), member('x')], 'c1'));
    // The new first page ends at "m": "x" beyond it is not known to have left; "k" is; "m" came.
    const r = applyRejoin(room, partial([member('c'), member('d'), member('m')], 'c2'));
    expect(r.arrived).toEqual(['c', 'm']);
    expect(r.departed).toEqual(['b', 'k']);
    room.members.applyPresence(presence([], [], 5001));
    const quiet = applyRejoin(room, partial([member('e')], 'c3'));
    expect(quiet).toMatchObject({ arrived: [], departed: [] });
    expect(room.members.stale).toBe(false);
  });
});

describe('backoffDelay', () => {
  it('doubles with each attempt, jittered between half and all of it, capped', () => {
    expect(backoffDelay(1, () => 0)).toBe(250);
    expect(backoffDelay(1, () => 1)).toBe(500);
    expect(backoffDelay(3, () => 0)).toBe(1000);
    expect(backoffDelay(3, () => 1)).toBe(2000);
    expect(backoffDelay(30, () => 1)).toBe(BACKOFF_MAX_MS);
    expect(backoffDelay(30, () => 0)).toBe(BACKOFF_MAX_MS / 2);
  });
});
