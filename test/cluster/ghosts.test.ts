/**
 * Ghost members after a node stall. A node frozen (SIGSTOP) past --node-ttl is taken
 * for dead: the others remove its members. When someone else takes one of their
 * nicknames meanwhile, the frozen node cannot put that member back when it wakes: the
 * member is told (an unasked ErrorReply NicknameLost), taken out of the room on its own
 * node too, and nothing it says there is accepted, before or after it is told. Its
 * neighbours on that node, whose names were free, are put back as they were. The room
 * then lives only as long as its real members do (plus --empty-room-ttl).
 */
import { afterEach, expect, test } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitInStep } from '../helpers/shared-host.js';

let redis: RedisServer | null = null;
let hosts: Host[] = [];
let clients: TestClient[] = [];

afterEach(async () => {
  // A host left frozen by a failed test could not act on SIGTERM.
  for (const h of hosts) h.process.kill('SIGCONT');
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(hosts.map((h) => h.stop()));
  await redis?.dispose();
  clients = [];
  hosts = [];
  redis = null;
});

async function connect(host: Host): Promise<TestClient> {
  const client = await TestClient.connect(host.ws);
  clients.push(client);
  return client;
}

type RoomDetail = { memberList: { id: string; name: string }[] };

/** Polls the room API until the room is gone from Redis (404); the test's timeout bounds the wait. */
async function roomGone(http: string, room: string): Promise<void> {
  for (;;) {
    const res = await fetch(`${http}/api/rooms/${room}`);
    await res.arrayBuffer();
    if (res.status === 404) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('a member whose nickname was taken while its node was taken for dead is told, removed there too, and never heard', { timeout: 60_000 }, async () => {
  redis = await startRedis();
  const args = ['--workers', '1', '--node-ttl', '2', '--empty-room-ttl', '1', '--redis', redis.url];
  const [frozen, awake] = (await Promise.all([startHost(args), startHost(args)])) as [Host, Host];
  hosts = [frozen, awake];
  await Promise.all(hosts.map((h) => waitInStep(h)));

  const ghost = await connect(frozen);
  const neighbour = await connect(frozen);
  const witness = await connect(awake);
  await ghost.join('haunt', 'ann');
  await neighbour.join('haunt', 'nina');
  await witness.join('haunt', 'wes');
  for (const c of [ghost, neighbour, witness]) await c.heardJoins('haunt', [c.id]);
  for (const c of [ghost, neighbour]) await c.next('memberJoined', (e) => e.member.id === witness.id);
  for (const c of [ghost, neighbour, witness]) c.drain();

  frozen.process.kill('SIGSTOP');
  const left = [(await witness.next('memberLeft')).member.id, (await witness.next('memberLeft')).member.id].sort();
  expect(left).toEqual([ghost.id, neighbour.id].sort());
  // The name is free now: someone else takes it.
  const impostor = await connect(awake);
  await impostor.join('haunt', 'ann');
  // Said while frozen: read by its node when it wakes, before that node knows what happened.
  const frozenSay = ghost.newRequestId();
  ghost.send({ type: 'say', requestId: frozenSay, room: 'haunt', text: 'boo', to: null });
  frozen.process.kill('SIGCONT');

  // Told, unasked, and out of the room.
  const lost = await ghost.next('error', (e) => e.requestId === 0);
  expect(lost).toMatchObject({ code: 'NicknameLost', room: 'haunt', temporary: false });
  // What it said while frozen was refused, not numbered (its membership was gone from Redis).
  const refused = await ghost.nextWhere((e) => 'requestId' in e && e.requestId === frozenSay);
  expect(refused).toMatchObject({ type: 'error', room: 'haunt' });
  if (refused.type === 'error') expect(['Unavailable', 'NotJoined']).toContain(refused.code);
  await frozen.waitForLog((l) => l.msg === 'member removed: someone else took its nickname while this node was out of the cluster');

  // Its neighbour, whose name was free, is back; on the woken node it sees the ghost go and the new ann come.
  expect((await neighbour.next('memberLeft', (e) => e.member.id === ghost.id)).member.name).toBe('ann');
  expect((await neighbour.next('memberJoined', (e) => e.member.id === impostor.id)).member.name).toBe('ann');
  await waitInStep(frozen, 1);
  expect((await neighbour.say('haunt', 'awake')).seq).toBeGreaterThan(0);
  // A barrier: once `awake` is in, every message numbered before it has arrived too.
  for (const c of [witness, impostor, neighbour]) {
    await c.next('message', (m) => m.text === 'awake');
    expect(c.takeMessages('haunt').filter((m) => m.sender.id === ghost.id)).toEqual([]);
  }
  // What it says now is NotJoined; its answer is also a barrier on its own socket.
  const afterwards = await ghost.expectError({ type: 'say', requestId: ghost.newRequestId(), room: 'haunt', text: 'still here?', to: null });
  expect(afterwards).toMatchObject({ code: 'NotJoined', room: 'haunt' });
  // Unsubscribed before its leave went out to the room: no message since, and no word of its own leave.
  expect(ghost.events.filter((e) => e.type === 'message' || (e.type === 'memberLeft' && e.member.id === ghost.id))).toEqual([]);

  for (const host of hosts) {
    const detail = (await (await fetch(`${host.http}/api/rooms/haunt`)).json()) as RoomDetail;
    expect(detail.memberList.sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      [
        { id: neighbour.id, name: 'nina' },
        { id: witness.id, name: 'wes' },
        { id: impostor.id, name: 'ann' },
      ].sort((a, b) => a.id.localeCompare(b.id)),
    );
  }

  // Its history lives no longer than the room's real members (plus --empty-room-ttl).
  for (const c of [neighbour, witness, impostor]) await c.leave('haunt');
  await roomGone(awake.http, 'haunt');
  // The ghost, still connected, does not bring it back by talking.
  const late = await ghost.expectError({ type: 'say', requestId: ghost.newRequestId(), room: 'haunt', text: 'anyone?', to: null });
  expect(late).toMatchObject({ code: 'NotJoined', room: 'haunt' });
  expect((await fetch(`${frozen.http}/api/rooms/haunt`)).status).toBe(404);
});
