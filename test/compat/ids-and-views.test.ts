/** Client ids (keyed hash of connection ids) and the per-worker room views that take them back to members. */
import { describe, expect, test } from 'vitest';
import { ClientIds } from '../../src/compat/client-ids.js';
import { RoomView, RoomViews } from '../../src/compat/room-view.js';

describe('ClientIds', () => {
  test('20 lower-case hex characters, the same for a connection id on every worker of a cluster', () => {
    const a = new ClientIds('chat');
    const b = new ClientIds('chat');
    const id = a.of('1a2b3c4d.1.0');
    expect(id).toMatch(/^[0-9a-f]{20}$/);
    expect(b.of('1a2b3c4d.1.0')).toBe(id);
    expect(a.of('1a2b3c4d.1.0')).toBe(id);
  });

  test('distinct connections get distinct ids; another cluster name gives other ids', () => {
    const ids = new ClientIds('chat');
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) seen.add(ids.of(`node.1.${i.toString(36)}`));
    expect(seen.size).toBe(10_000);
    expect(new ClientIds('other').of('node.1.0')).not.toBe(ids.of('node.1.0'));
  });
});

describe('RoomView', () => {
  test('finds a member seen in the room by client id, until it is forgotten', () => {
    const view = new RoomView(10);
    view.see('aaaa', { id: 'n.1.0', name: 'Ann' });
    expect(view.member('aaaa')).toEqual({ id: 'n.1.0', name: 'Ann' });
    expect(view.member('bbbb')).toBeUndefined();
    view.forget('aaaa');
    expect(view.member('aaaa')).toBeUndefined();
  });

  test('is bounded: the member seen longest ago goes first, and seeing one again keeps it', () => {
    const view = new RoomView(3);
    for (const id of ['a', 'b', 'c']) view.see(id, { id, name: id });
    view.see('a', { id: 'a', name: 'a' });
    view.see('d', { id: 'd', name: 'd' });
    expect(view.size).toBe(3);
    expect(view.member('b')).toBeUndefined();
    expect(view.member('a')).toBeDefined();
    expect(view.member('d')).toBeDefined();
  });
});

describe('RoomViews', () => {
  test('a view lives while a compat client of the worker is joined in its room', () => {
    const views = new RoomViews(10);
    const first = views.enter('lobby');
    first.see('aaaa', { id: 'x', name: 'X' });
    expect(views.enter('lobby')).toBe(first);
    views.leave('lobby');
    expect(views.get('lobby')).toBe(first);
    views.leave('lobby');
    expect(views.get('lobby')).toBeUndefined();
    expect(views.size).toBe(0);
    views.leave('never-entered');
    expect(views.enter('lobby').member('aaaa')).toBeUndefined();
  });
});
