/**
 * Presence that scales (protocol 2) against real 2-worker hosts, on a single node and
 * on a 2-node cluster whose clients take turns between the nodes: Joined carries the
 * first page of members and the count, Members pages through the rest and searches by
 * prefix, Presence is one frame per room per tick that a client can apply to its list,
 * a room over --presence-events-max-members (5 here) hears only the count, and a join
 * in another protocol version is refused.
 */
import { describe, expect, test } from 'vitest';
import { type MemberInfo, PROTOCOL_VERSION } from '../../src/protocol/index.js';
import type { TestClient } from '../helpers/client.js';
import { waitForJson } from '../helpers/host.js';
import { SharedHost, TOPOLOGIES } from '../helpers/shared-host.js';

const MAX_NAMED = 5;

describe.each(TOPOLOGIES)('$name', (topology) => {
  const shared = new SharedHost(['--workers', '2', '--presence-events-max-members', String(MAX_NAMED)], topology);
  const connect = (): Promise<TestClient> => shared.connect();

  /** Asks for one page of `room`'s members and returns the reply. */
  async function page(client: TestClient, room: string, after = '', prefix = '', limit = 0) {
    const requestId = client.newRequestId();
    client.send({ type: 'members', requestId, room, after, prefix, limit });
    const reply = await client.nextWhere((e) => 'requestId' in e && e.requestId === requestId);
    if (reply.type !== 'memberPage') throw new Error(`expected a member page, got ${JSON.stringify(reply)}`);
    return reply;
  }

  test('Joined carries the first page in nickname order and the count; Members pages through the rest and finds by prefix', async () => {
    const names = Array.from({ length: 130 }, (_, i) => `p${String(i).padStart(3, '0')}`);
    const crowd: TestClient[] = [];
    // Joined out of order: the pages are in nickname order whatever the order of joins.
    for (const name of [...names].reverse()) {
      const c = await connect();
      await c.join('crowd', name);
      crowd.push(c);
    }
    const late = await connect();
    const joined = await late.join('crowd', 'Aaron');
    expect(joined.memberCount).toBe(131);
    expect(joined.members).toHaveLength(100);
    expect(joined.members.map((m) => m.name)).toEqual(['Aaron', ...names.slice(0, 99)]);
    expect(joined.nextAfter).not.toBe('');

    const rest = await page(late, 'crowd', joined.nextAfter);
    expect(rest).toMatchObject({ room: 'crowd', nextAfter: '', memberCount: 131 });
    expect(rest.members.map((m) => m.name)).toEqual(names.slice(99));
    // Ids come with the names: every member once, the ids of the connections that joined.
    const everyone = [...joined.members, ...rest.members];
    expect(new Set(everyone.map((m) => m.id))).toEqual(new Set([late.id, ...crowd.map((c) => c.id)]));

    // Every node gives the same pages (clients take turns between the nodes of a cluster).
    const pagesOf = async (client: TestClient): Promise<MemberInfo[]> => {
      const members: MemberInfo[] = [];
      let after = '';
      do {
        const p = await page(client, 'crowd', after);
        members.push(...p.members);
        after = p.nextAfter;
      } while (after !== '');
      return members;
    };
    for (const client of [crowd[0]!, crowd[1]!]) expect(await pagesOf(client)).toEqual(everyone);

    const found = await page(late, 'crowd', '', 'P12');
    expect(found.members.map((m) => m.name)).toEqual(['p120', 'p121', 'p122', 'p123', 'p124', 'p125', 'p126', 'p127', 'p128', 'p129']);
    expect(found.nextAfter).toBe('');
    const small = await page(late, 'crowd', '', '', 3);
    expect(small.members.map((m) => m.name)).toEqual(['Aaron', 'p000', 'p001']);
    const next = await page(late, 'crowd', small.nextAfter, '', 3);
    expect(next.members.map((m) => m.name)).toEqual(['p002', 'p003', 'p004']);

    // Over the limit of named presence: the others hear the count only.
    const last = crowd.at(-1)!;
    const frame = await last.next('presence', (e) => e.room === 'crowd' && e.memberCount === 131);
    expect(frame).toEqual({ type: 'presence', room: 'crowd', joined: [], left: [], memberCount: 131 });

    // Members of a room the connection is not in: NotJoined, from the worker.
    const outsider = await connect();
    const requestId = outsider.newRequestId();
    outsider.send({ type: 'members', requestId, room: 'crowd', after: '', prefix: '', limit: 0 });
    expect(await outsider.next('error', (e) => e.requestId === requestId)).toMatchObject({ code: 'NotJoined', room: 'crowd' });
  });

  test('a client that applies each Presence to its Joined list ends with the room as it is, whatever the ticks', async () => {
    const witness = await connect();
    const joined = await witness.join('churn', 'witness');
    const view = new Map(joined.members.map((m) => [m.id, m.name]));
    const apply = (left: readonly MemberInfo[], arrived: readonly MemberInfo[]): void => {
      for (const m of left) view.delete(m.id);
      for (const m of arrived) view.set(m.id, m.name);
    };
    // Comings and goings, some within one tick, never more than MAX_NAMED members at once.
    const others = await Promise.all(Array.from({ length: 4 }, () => connect()));
    for (let round = 0; round < 3; round++) {
      for (const [i, c] of others.entries()) await c.join('churn', `o${i}-${round}`);
      await others[round]!.leave('churn');
      for (const [i, c] of others.entries()) if (i !== round) await c.leave('churn');
    }
    await others[0]!.join('churn', 'stays');
    await others[1]!.join('churn', 'also');
    await others[1]!.leave('churn');
    type Room = { memberList: MemberInfo[] };
    const actual = await waitForJson<Room>(`${shared.host.http}/api/rooms/churn`, (b) => b.memberList.length === 2);
    const expected = new Map(actual.memberList.map((m) => [m.id, m.name]));
    expect(expected).toEqual(
      new Map([
        [witness.id, 'witness'],
        [others[0]!.id, 'stays'],
      ]),
    );
    // Apply frames as they come until the list is the room's; each frame's count is its list's size.
    for (;;) {
      const p = await witness.next('presence', (e) => e.room === 'churn');
      apply(p.left, p.joined);
      expect(p.memberCount).toBe(view.size);
      if (view.size === expected.size && [...expected].every(([id, name]) => view.get(id) === name)) break;
    }
  });

  test('a join in another protocol version is refused with UnsupportedVersion; the connection stays and may join in this one', async () => {
    const old = await connect();
    for (const protocolVersion of [1, PROTOCOL_VERSION + 1]) {
      const error = await old.expectError({ type: 'join', protocolVersion, requestId: old.newRequestId(), room: 'versions', nickname: 'old', since: null });
      expect(error).toMatchObject({ code: 'UnsupportedVersion', room: 'versions', temporary: false });
      expect(error.message).toMatch(new RegExp(`protocol ${PROTOCOL_VERSION}`));
    }
    // A client from before protocol 2 does not send a version at all: read as 1.
    const error = await old.expectError({ type: 'join', protocolVersion: 0, requestId: old.newRequestId(), room: 'versions', nickname: 'old', since: null });
    expect(error.code).toBe('UnsupportedVersion');
    const joined = await old.join('versions', 'old');
    expect(joined.members).toEqual([{ id: old.id, name: 'old' }]);
  });
});
