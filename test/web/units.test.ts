/** The client's pure rules, without a browser: links, rejoin merging, backoff. */
import { describe, expect, it } from 'vitest';
import type { ChatMessage, JoinedInfo } from '../../src/protocol/index.js';
import { BACKOFF_MAX_MS, backoffDelay } from '../../src/web/connection.js';
import { linkify } from '../../src/web/linkify.js';
import { applyRejoin, RoomState } from '../../src/web/rooms.js';

const ann = { id: '1.1', name: 'ann' };
const bob = { id: '1.2', name: 'bob' };

function msg(seq: number, text = `m${seq}`, sender = bob): ChatMessage {
  return { room: 'r', seq, sender, to: null, text, timestampMs: 1_700_000_000_000 + seq };
}

function joined(over: Partial<JoinedInfo>): JoinedInfo {
  return { room: 'r', you: ann, members: [ann, bob], history: [], headSeq: 0, recovered: false, epoch: 1, ...over };
}

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
