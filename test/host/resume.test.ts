/**
 * Resume keys on one node, over real sockets: a client whose old connection the host
 * has not seen close yet (a network blip before the idle timeout) rejoins on a new
 * connection with its resume key and gets its nickname back at once; the old
 * connection is taken out of the room and told; nobody else gets the name.
 */
import { afterAll, expect, test } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { connectAcrossWorkers, type ErrorEvent, type Joined, refused, TestClient } from '../helpers/client.js';
import { startHost, waitForJson } from '../helpers/host.js';

const host = await startHost(['--workers', '2']);
const clients: TestClient[] = [];

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await host.stop();
});

/** Joins with a resume key; resolves with Joined or the ErrorReply. */
async function rejoin(client: TestClient, room: string, nickname: string, resumeKey: string): Promise<Joined | ErrorEvent> {
  const requestId = client.newRequestId();
  client.send({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId, room, nickname, since: null, resumeKey });
  return (await client.nextWhere((e) => (e.type === 'joined' || e.type === 'error') && e.requestId === requestId)) as Joined | ErrorEvent;
}

test('a rejoin with the resume key takes the nickname over from a connection still open; others cannot', async () => {
  // The old and the new connection on different workers: the old one's worker is told across threads.
  const [[old], [fresh]] = (await connectAcrossWorkers(host.ws, 2)) as [[TestClient], [TestClient]];
  const [bob, thief] = [await TestClient.connect(host.ws), await TestClient.connect(host.ws)];
  clients.push(old, fresh, bob, thief);
  const first = await old.join('blip', 'ann');
  expect(first.resumeKey).toMatch(/^[A-Za-z0-9_-]{24}$/);
  await bob.join('blip', 'bob');
  // Presence is coalesced per tick: the joins' tick has gone out before anyone leaves.
  await bob.heardJoins('blip', [bob.id]);
  await bob.say('blip', 'hello');

  expect((await refused(thief.join('blip', 'ann'))).code).toBe('NicknameTaken');
  expect(await rejoin(thief, 'blip', 'ann', 'x'.repeat(24))).toMatchObject({ type: 'error', code: 'NicknameTaken' });

  const resumed = await rejoin(fresh, 'blip', 'ann', first.resumeKey!);
  expect(resumed).toMatchObject({ type: 'joined', you: { id: fresh.id, name: 'ann' }, memberCount: 2 });
  expect(resumed.type === 'joined' && resumed.resumeKey).not.toBe(first.resumeKey);
  // The old connection is out of the room: an unasked Left, and what it says now is refused.
  expect(await old.next('left')).toMatchObject({ requestId: 0, room: 'blip' });
  expect((await refused(old.say('blip', 'still here?'))).code).toBe('NotJoined');
  await bob.next('memberLeft', (e) => e.member.id === old.id);
  await bob.next('memberJoined', (e) => e.member.id === fresh.id);
  // The room goes on with the new connection, in both directions.
  await bob.say('blip', 'welcome back');
  expect((await fresh.next('message', (m) => m.text === 'welcome back')).seq).toBe(2);
  await fresh.say('blip', 'thanks');
  await bob.next('message', (m) => m.text === 'thanks');
  expect(old.events.filter((e) => e.type === 'message')).toMatchObject([{ text: 'hello' }]);

  // The old key is spent; the old connection's close is not the new member's leave.
  expect(await rejoin(thief, 'blip', 'ann', first.resumeKey!)).toMatchObject({ type: 'error', code: 'NicknameTaken' });
  await old.close();
  // Once the host counts the close (the main thread took it out of every room it was in):
  await waitForJson<{ connections: number }>(`${host.http}/healthz`, (h) => h.connections === 3);
  const detail = (await (await fetch(`${host.http}/api/rooms/blip`)).json()) as { memberList: { id: string }[] };
  expect(detail.memberList.map((m) => m.id).sort()).toEqual([bob.id, fresh.id].sort());
});

test('a resume key over 64 bytes is not a valid frame: close 1007', async () => {
  const client = await TestClient.connect(host.ws);
  clients.push(client);
  client.send({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 1, room: 'blip', nickname: 'zed', since: null, resumeKey: 'k'.repeat(65) });
  const closed = await client.closed;
  expect(closed.code).toBe(1007);
  expect(closed.reason).toMatch(/^STRING_TOO_LONG/);
});
