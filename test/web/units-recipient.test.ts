/** Pure rules behind issue 16: a private recipient kept by name, and what counts as a mention. */
import { describe, expect, it } from 'vitest';
import type { JoinedInfo, MemberInfo } from '../../src/protocol/index.js';
import { mentions } from '../../src/web/alerts.js';
import { applyRejoin, RoomState } from '../../src/web/rooms.js';

const ann = { id: '1.1', name: 'ann' };
const bob = { id: '1.2', name: 'bob' };

function joined(members: MemberInfo[], over: Partial<JoinedInfo> = {}): JoinedInfo {
  return { room: 'r', you: ann, members, history: [], headSeq: 0, recovered: true, epoch: 1, memberCount: members.length, nextAfter: '', ...over };
}

describe('the private recipient', () => {
  it('is found again by name after a rejoin, under a new id', () => {
    const room = new RoomState('r', 'ann', joined([ann, bob]));
    room.setRecipient(bob);
    const bobAgain = { id: '2.7', name: 'Bob' };
    applyRejoin(room, joined([{ id: '2.1', name: 'ann' }, bobAgain], { you: { id: '2.1', name: 'ann' } }));
    expect(room.toName).toBe('bob');
    expect(room.to).toEqual(bobAgain);
  });

  it('stays chosen but unbound while no one by that name is in a complete list', () => {
    const room = new RoomState('r', 'ann', joined([ann, bob]));
    room.setRecipient(bob);
    applyRejoin(room, joined([ann]));
    expect(room.toName).toBe('bob');
    expect(room.to).toBeNull();
  });

  it('keeps the bound id when the loaded list is only part of the room (the host then decides)', () => {
    const room = new RoomState('r', 'ann', joined([ann, bob]));
    room.setRecipient(bob);
    applyRejoin(room, joined([ann], { memberCount: 500, nextAfter: 'cursor' }));
    expect(room.to).toEqual(bob);
  });
});

describe('mentions', () => {
  it('matches the nickname as a word, in any case, and nothing longer', () => {
    expect(mentions('hey ANN, look', 'ann')).toBe(true);
    expect(mentions('@ann!', 'ann')).toBe(true);
    expect(mentions('annex', 'ann')).toBe(false);
    expect(mentions('joanne', 'ann')).toBe(false);
    expect(mentions('a.b is here', 'a.b')).toBe(true);
    expect(mentions('axb is here', 'a.b')).toBe(false);
    expect(mentions('مرحبا سارة', 'سارة')).toBe(true);
  });
});
