/**
 * Nodes come and go: a node killed outright (SIGKILL) has its members removed from
 * presence by the other nodes once its heartbeat expires (--node-ttl, 2 s here), with
 * member-left to everyone; its clients reconnect to another node and recover what they
 * missed from the room's history. A node stopped cleanly (SIGTERM) takes its members
 * out at once, and so does a node whose worker crashed.
 */
import { PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { expect, test } from 'vitest';
import { connectAcrossWorkers, TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { startRedis } from '../helpers/redis.js';
import { clusterPartsPerTest } from '../helpers/cluster-parts.js';
import { waitInStep } from '../helpers/shared-host.js';

const parts = clusterPartsPerTest();

async function cluster(nodes: number, extra: string[] = []): Promise<Host[]> {
  parts.redis = await startRedis();
  parts.hosts.push(
    ...(await Promise.all(Array.from({ length: nodes }, () => startHost(['--workers', '2', '--node-ttl', '2', '--redis', parts.redis!.url, ...extra])))),
  );
  await Promise.all(parts.hosts.map((h) => waitInStep(h)));
  return parts.hosts;
}

async function connect(host: Host): Promise<TestClient> {
  const client = await TestClient.connect(host.ws);
  parts.clients.push(client);
  return client;
}

type RoomDetail = { memberList: { id: string; name: string }[]; headSeq: number };

test('a killed node: its members leave on the others within the node TTL; its clients recover on another node', { timeout: 60_000 }, async () => {
  const [doomed, survivor] = (await cluster(2)) as [Host, Host];
  const lost = [await connect(doomed), await connect(doomed)];
  const stays = [await connect(survivor), await connect(survivor)];
  const joined = [];
  for (const [i, c] of [...lost, ...stays].entries()) joined.push(await c.join('fail', `m${i}`));
  for (const c of [...lost, ...stays]) await c.heardJoins('fail', [c.id]);
  await stays[0]!.say('fail', 'before');
  const lastSeen = await lost[0]!.next('message', (m) => m.text === 'before');

  await doomed.stop('SIGKILL');
  // Both members of the dead node leave, for every member on the survivor, once each.
  for (const s of stays) {
    const left = [(await s.next('memberLeft')).member.id, (await s.next('memberLeft')).member.id].sort();
    expect(left).toEqual(lost.map((c) => c.id).sort());
  }
  await survivor.waitForLog((l) => l.msg === 'node expired: its members were removed' && l.members === 2);
  const detail = (await (await fetch(`${survivor.http}/api/rooms/fail`)).json()) as RoomDetail;
  expect(detail.memberList.map((m) => m.id).sort()).toEqual(stays.map((c) => c.id).sort());

  // The room goes on; a client of the dead node comes back on the survivor and recovers the gap.
  await stays[1]!.say('fail', 'while away 1');
  await stays[0]!.say('fail', 'while away 2');
  const back = await connect(survivor);
  back.send({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 1, room: 'fail', nickname: 'm0', since: lastSeen.seq, epoch: joined[0]!.epoch });
  const rejoined = await back.next('joined');
  // The nickname of the removed member is free again, and nothing was missed.
  expect(rejoined.you.name).toBe('m0');
  expect(rejoined.recovered).toBe(true);
  expect(rejoined.history.map((m) => m.text)).toEqual(['while away 1', 'while away 2']);
  expect(rejoined.members.map((m) => m.id).sort()).toEqual([...stays.map((c) => c.id), back.id].sort());
});

test('a node stopped cleanly takes its members out at once', async () => {
  const [leaving, staying] = (await cluster(2)) as [Host, Host];
  const gone = await connect(leaving);
  const witness = await connect(staying);
  await gone.join('clean', 'gone');
  await witness.join('clean', 'witness');
  await gone.heardJoins('clean', [gone.id]);
  const exit = await leaving.stop('SIGTERM');
  expect(exit.code).toBe(0);
  expect((await witness.next('memberLeft')).member).toEqual({ id: gone.id, name: 'gone' });
  // Not by the reaper: the node said goodbye itself.
  expect(staying.logs.some((l) => l.msg === 'node expired: its members were removed')).toBe(false);
});

test('a node started later sees the room as it is', async () => {
  const [first] = (await cluster(1)) as [Host];
  const ann = await connect(first);
  await ann.join('late', 'ann');
  for (let i = 1; i <= 3; i++) await ann.say('late', `m${i}`);
  const second = await startHost(['--workers', '2', '--node-ttl', '2', '--redis', parts.redis!.url]);
  parts.hosts.push(second);
  await waitInStep(second);
  const bob = await connect(second);
  const joined = await bob.join('late', 'bob');
  expect(joined.headSeq).toBe(3);
  expect([...joined.members].sort((a, b) => a.name.localeCompare(b.name))).toEqual([
    { id: ann.id, name: 'ann' },
    { id: bob.id, name: 'bob' },
  ]);
  expect(joined.history.map((m) => m.text)).toEqual(['m1', 'm2', 'm3']);
  expect((await bob.say('late', 'hi')).seq).toBe(4);
  expect((await ann.next('message', (m) => m.text === 'hi')).seq).toBe(4);
});

test('a crashed worker of a node: its members leave on the other node at once; they come back there', async () => {
  const [first, second] = (await cluster(2, ['--fault-injection'])) as [Host, Host];
  const onFirst = (await connectAcrossWorkers(first.ws, 2)).flat();
  parts.clients.push(...onFirst);
  const witness = await connect(second);
  await witness.join('crash', 'witness');
  const joined = [];
  for (const [i, c] of onFirst.entries()) joined.push(await c.join('crash', `c${i}`));
  for (const c of onFirst) await c.heardJoins('crash', [c.id]);
  await witness.say('crash', 'before');

  const crash = (await (await fetch(`${first.http}/debug/crash-worker`, { method: 'POST' })).json()) as { incarnation: number };
  const victim = onFirst.find((c) => c.incarnation === crash.incarnation.toString(36))!;
  expect((await victim.closed).code).toBe(1012);
  expect((await witness.next('memberLeft', (e) => e.member.id === victim.id)).member.id).toBe(victim.id);
  await witness.say('crash', 'after');

  const back = await connect(second);
  const rejoined = await back.join('crash', 'back', joined[onFirst.indexOf(victim)]!.headSeq);
  expect(rejoined.recovered).toBe(true);
  expect(rejoined.history.map((m) => m.text)).toEqual(['before', 'after']);
  expect(rejoined.members.map((m) => m.id)).not.toContain(victim.id);
});

test('a node frozen past the node TTL is taken for dead, and rejoins by itself when it wakes', { timeout: 60_000 }, async () => {
  const [frozen, awake] = (await cluster(2)) as [Host, Host];
  const sleeper = await connect(frozen);
  const neighbour = await connect(frozen);
  const witness = await connect(awake);
  await sleeper.join('frozen', 'sleeper');
  await neighbour.join('frozen', 'neighbour');
  await witness.join('frozen', 'witness');
  for (const c of [sleeper, neighbour, witness]) await c.heardJoins('frozen', [c.id]);
  for (const c of [sleeper, neighbour]) {
    await c.next('memberJoined', (e) => e.member.id === witness.id);
    c.drain();
  }
  witness.drain();
  await sleeper.say('frozen', 'before');

  frozen.process.kill('SIGSTOP');
  const left = [(await witness.next('memberLeft')).member.id, (await witness.next('memberLeft')).member.id].sort();
  expect(left).toEqual([sleeper.id, neighbour.id].sort());
  frozen.process.kill('SIGCONT');

  // It notices, puts its members back, and the others see them come back.
  const back = [(await witness.next('memberJoined')).member.id, (await witness.next('memberJoined')).member.id].sort();
  expect(back).toEqual(left);
  await frozen.waitForLog((l) => String(l.msg).includes('taken for dead') || String(l.reason).includes('removed by another node'));
  await waitInStep(frozen, 1);
  expect((await sleeper.say('frozen', 'awake')).seq).toBe(2);
  expect((await witness.next('message', (m) => m.text === 'awake')).seq).toBe(2);
  // Its own clients never saw themselves or each other leave.
  for (const c of [sleeper, neighbour]) {
    expect(c.events.filter((e) => e.type === 'memberLeft' || e.type === 'memberJoined' || e.type === 'presence')).toEqual([]);
  }
});
