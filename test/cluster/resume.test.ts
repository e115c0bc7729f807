/**
 * No lock-out after a node dies: a client whose node was SIGKILLed reconnects to
 * another node and rejoins with the resume key of its last Joined; it gets its
 * nickname back at once, long before the reaper would free the name (--node-ttl 20 s,
 * the default), and nobody without the key gets it. The dead node's member leaves for
 * everyone with the take-over. The same works while the old connection is still open
 * on a live node: that node takes it out of the room and tells it.
 */
import { expect, test } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { type ErrorEvent, type Joined, refused, TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { startRedis } from '../helpers/redis.js';
import { clusterPartsPerTest } from '../helpers/cluster-parts.js';
import { waitInStep } from '../helpers/shared-host.js';

const REAPED = 'node expired: its members were removed';

const parts = clusterPartsPerTest();

async function cluster(nodeTtlSeconds = 20): Promise<[Host, Host]> {
  parts.redis = await startRedis();
  parts.hosts.push(...(await Promise.all([0, 1].map(() => startHost(['--workers', '2', '--node-ttl', String(nodeTtlSeconds), '--redis', parts.redis!.url])))));
  await Promise.all(parts.hosts.map((h) => waitInStep(h)));
  return parts.hosts as [Host, Host];
}

async function connect(host: Host): Promise<TestClient> {
  const client = await TestClient.connect(host.ws);
  parts.clients.push(client);
  return client;
}

/** A join with `since` and a resume key, as a client's rejoin; resolves with Joined or the ErrorReply. */
async function rejoin(
  client: TestClient,
  room: string,
  nickname: string,
  resumeKey: string | undefined,
  since: Joined | null = null,
): Promise<Joined | ErrorEvent> {
  const requestId = client.newRequestId();
  client.send({
    type: 'join',
    protocolVersion: PROTOCOL_VERSION,
    requestId,
    room,
    nickname,
    since: since?.headSeq ?? null,
    ...(since ? { epoch: since.epoch } : {}),
    ...(resumeKey === undefined ? {} : { resumeKey }),
  });
  return (await client.nextWhere((e) => (e.type === 'joined' || e.type === 'error') && e.requestId === requestId)) as Joined | ErrorEvent;
}

test('a member of a SIGKILLed node rejoins on another node with its resume key at once, before the reaper; nobody else gets the name', async () => {
  const [doomed, survivor] = await cluster();
  const ann = await connect(doomed);
  const bob = await connect(survivor);
  const thief = await connect(survivor);
  await bob.join('crash', 'bob');
  const annJoined = await ann.join('crash', 'ann');
  await bob.heardJoins('crash', [ann.id]);
  await bob.say('crash', 'before');
  const seen = await ann.next('message', (m) => m.text === 'before');

  await doomed.stop('SIGKILL');
  await bob.say('crash', 'while ann was away');

  // The name is still held in Redis by the dead node's member: without its key it stays taken.
  expect(await rejoin(thief, 'crash', 'ann', undefined)).toMatchObject({ type: 'error', code: 'NicknameTaken' });
  expect(await rejoin(thief, 'crash', 'ANN', 'A'.repeat(24))).toMatchObject({ type: 'error', code: 'NicknameTaken' });

  // Ann's page reconnects to the survivor and rejoins with the key of her last Joined.
  const back = await connect(survivor);
  const rejoined = await rejoin(back, 'crash', 'ann', annJoined.resumeKey, { ...annJoined, headSeq: seen.seq });
  expect(rejoined).toMatchObject({ type: 'joined', you: { id: back.id, name: 'ann' }, recovered: true });
  if (rejoined.type !== 'joined') return;
  expect(rejoined.history.map((m) => m.text)).toEqual(['while ann was away']);
  expect(rejoined.members.map((m) => m.id).sort()).toEqual([bob.id, back.id].sort());
  // At once: the reaper has not run (it would after --node-ttl, 20 s here).
  expect(survivor.logs.some((l) => l.msg === REAPED)).toBe(false);

  // The others see the dead connection leave and the new one join, once each.
  await bob.next('memberLeft', (e) => e.member.id === ann.id);
  await bob.next('memberJoined', (e) => e.member.id === back.id);
  await bob.say('crash', 'welcome back');
  await back.next('message', (m) => m.text === 'welcome back');
  await back.say('crash', 'thanks');
  await bob.next('message', (m) => m.text === 'thanks');
  // The old key was spent by the take-over.
  expect(await rejoin(thief, 'crash', 'ann', annJoined.resumeKey)).toMatchObject({ type: 'error', code: 'NicknameTaken' });
  expect(survivor.logs.some((l) => l.msg === REAPED)).toBe(false);
  const detail = (await (await fetch(`${survivor.http}/api/rooms/crash`)).json()) as { memberList: { id: string; name: string }[] };
  expect(detail.memberList.map((m) => m.id).sort()).toEqual([bob.id, back.id].sort());
});

test('the old connection still open on a live node: that node takes it out of the room and tells it', async () => {
  const [first, second] = await cluster();
  const old = await connect(first);
  const bob = await connect(first);
  const carol = await connect(second);
  const fresh = await connect(second);
  const joined = await old.join('blip', 'ann');
  await bob.join('blip', 'bob');
  await carol.join('blip', 'carol');
  for (const c of [bob, carol]) {
    await c.heardJoins('blip', [c.id]);
    c.drain();
  }

  const resumed = await rejoin(fresh, 'blip', 'ann', joined.resumeKey);
  expect(resumed).toMatchObject({ type: 'joined', you: { id: fresh.id, name: 'ann' }, memberCount: 3 });
  expect(await old.next('left')).toMatchObject({ requestId: 0, room: 'blip' });
  expect((await refused(old.say('blip', 'still here?'))).code).toBe('NotJoined');
  // Both nodes' clients see the same change: the old connection left, the new one joined.
  for (const c of [bob, carol]) {
    await c.next('memberLeft', (e) => e.member.id === old.id);
    await c.next('memberJoined', (e) => e.member.id === fresh.id);
  }
  // The old node did not take the member-left for a reaper's mistake (it would put the old member back).
  await bob.say('blip', 'on');
  await fresh.next('message', (m) => m.text === 'on');
  expect(first.logs.some((l) => String(l.reason).includes('removed by another node'))).toBe(false);
  expect(bob.events.filter((e) => e.type === 'memberJoined' && e.member.id === old.id)).toEqual([]);
  const detail = (await (await fetch(`${second.http}/api/rooms/blip`)).json()) as { memberList: { id: string }[] };
  expect(detail.memberList.map((m) => m.id).sort()).toEqual([bob.id, carol.id, fresh.id].sort());
});

test('the reaper, when it comes, leaves the member who took over alone', async () => {
  const [doomed, survivor] = await cluster(2);
  const ann = await connect(doomed);
  const bob = await connect(survivor);
  const joined = await ann.join('later', 'ann');
  await bob.join('later', 'bob');
  await bob.heardJoins('later', [bob.id]);
  await doomed.stop('SIGKILL');
  const back = await connect(survivor);
  expect(await rejoin(back, 'later', 'ann', joined.resumeKey)).toMatchObject({ type: 'joined', you: { id: back.id, name: 'ann' } });
  await bob.next('memberLeft', (e) => e.member.id === ann.id);
  // The dead node's heartbeat expires; its reaping finds nothing of it left in the room.
  await survivor.waitForLog((l) => l.msg === REAPED);
  await bob.say('later', 'still here');
  await back.next('message', (m) => m.text === 'still here');
  expect(bob.events.filter((e) => e.type === 'memberLeft' && e.member.id === back.id)).toEqual([]);
  const detail = (await (await fetch(`${survivor.http}/api/rooms/later`)).json()) as { memberList: { id: string }[] };
  expect(detail.memberList.map((m) => m.id).sort()).toEqual([bob.id, back.id].sort());
});
