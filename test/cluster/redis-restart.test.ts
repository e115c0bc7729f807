/**
 * Redis restarts under traffic. Connections stay up; requests that need the cluster
 * get Unavailable marked temporary; when Redis is back (empty: nothing is saved) the
 * nodes resubscribe and put the rooms and their members back by themselves. Redis lost
 * the rooms, so each starts again under a new epoch: every member is told (a Joined with
 * request id 0, not recovered: the clients mark a gap) before the first message of the
 * new epoch, and no sequence number ever names two messages within an epoch, whichever
 * node puts the room back first, even one that lagged behind when Redis died.
 */
import { PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { startRedis } from '../helpers/redis.js';
import { SharedHost, timesInStep, TOPOLOGIES, waitInStep } from '../helpers/shared-host.js';
import { oneTextPerNumber, receiveWithEpochs, Traffic } from '../helpers/traffic.js';

// The traffic sends as fast as replies come back: past the default rate limit, which is not under test here.
const shared = new SharedHost(['--workers', '2', '--history', '10000', '--node-ttl', '2', '--rate-limit', '100000', '--rate-burst', '100000'], TOPOLOGIES[1]);

let members: TestClient[];
let leaver: TestClient;

beforeAll(async () => {
  members = [await shared.connect(), await shared.connect(), await shared.connect(), await shared.connect()];
  leaver = await shared.connect();
});
afterAll(async () => {
  await Promise.all([...members, leaver].map((c) => c.close()));
});

test('a Redis restart under traffic: no loss, no duplicates, order kept, presence repaired', { timeout: 90_000 }, async () => {
  const [n0, n1] = shared.hosts as [Host, Host];
  const redis = shared.redis!;
  for (const [i, c] of members.entries()) await c.join('storm', `s${i}`);
  const leaverJoined = await leaver.join('storm', 'leaver');
  // Everyone has seen everyone join (the leaver last): from here on, presence must not change but for the leaver.
  await leaver.heardJoins('storm', [leaver.id]);
  for (const c of members) {
    await c.next('memberJoined', (e) => e.member.id === leaver.id);
    c.drain();
  }
  const leaverNode = leaver.id.split('.')[0];

  // One sender on each node; each waits for its reply before the next message.
  const traffic = new Traffic([members[0]!, members[1]!], 'storm');
  await traffic.until((t) => t.accepted >= 50);
  const inStepBefore = shared.hosts.map(timesInStep);
  await redis.stop('SIGTERM');
  await traffic.until((t) => t.refused >= 2);

  // During the outage: joins are refused as temporary too; a leave and a close still work locally.
  const outsider = await TestClient.connect(n1.ws);
  const refusedJoin = await outsider.expectError({
    type: 'join',
    protocolVersion: PROTOCOL_VERSION,
    requestId: 77,
    room: 'storm',
    nickname: 'outsider',
    since: null,
  });
  expect(refusedJoin).toMatchObject({ code: 'Unavailable', temporary: true, room: 'storm' });
  // The room API cannot read the room either: 503, not a made-up 404.
  const roomApi = await fetch(`${n1.http}/api/rooms/storm`);
  expect(roomApi.status).toBe(503);
  expect(((await roomApi.json()) as { error: string }).error).toMatch(/unavailable/);
  const leaverSaw = leaver.takeMessages('storm');
  const lastSeenByLeaver = leaverSaw.length > 0 ? leaverSaw.at(-1)!.seq : leaverJoined.headSeq;
  await leaver.close();

  await redis.start();
  await Promise.all(shared.hosts.map((h, i) => waitInStep(h, inStepBefore[i])));
  const acceptedAtReturn = traffic.accepted;
  await traffic.until((t) => t.accepted >= acceptedAtReturn + 50);
  const outcomes = await traffic.stop();

  // The last accepted message is a barrier: once it is in, everyone has everything.
  // Each sender's last accepted message is of the new epoch: the higher of the two is the last one numbered.
  const lastOf = (sender: TestClient): number => outcomes.filter((o) => o.seq !== null && o.text.startsWith(`${sender.id}#`)).at(-1)!.seq!;
  const lastSeq = Math.max(lastOf(members[0]!), lastOf(members[1]!));
  const streams = await receiveWithEpochs(
    members,
    'storm',
    members.map(() => leaverJoined.epoch),
    (m) => m.epoch !== leaverJoined.epoch && m.seq >= lastSeq,
  );
  const received = streams.map((s) => s.seen);

  // Connections stayed up.
  for (const c of [...members, outsider]) expect(c.socket.readyState).toBe(c.socket.OPEN);
  // Every refusal was the documented temporary one.
  const errors = outcomes.flatMap((o) => (o.error ? [o.error] : []));
  expect(errors.length).toBeGreaterThan(0);
  for (const e of errors) expect(e).toMatchObject({ code: 'Unavailable', temporary: true });

  // No number names two messages within an epoch, across every member.
  oneTextPerNumber(received);
  const refusedTexts = new Set(outcomes.filter((o) => o.seq === null).map((o) => o.text));
  for (const { seen, restarts } of streams) {
    // Each member was told once that the room started again, with a new epoch, as a gap.
    expect(restarts).toEqual([{ epoch: expect.any(Number), recovered: false, headSeq: expect.any(Number) }]);
    const newEpoch = restarts[0]!.epoch;
    expect(newEpoch).not.toBe(leaverJoined.epoch);
    const before = seen.filter((m) => m.epoch === leaverJoined.epoch).map((m) => m.seq);
    const after = seen.filter((m) => m.epoch === newEpoch).map((m) => m.seq);
    // Within each epoch in order and gap-free, and the new one from 1; nothing refused arrived.
    expect(before).toEqual(Array.from({ length: before.length }, (_, k) => before[0]! + k));
    expect(after).toEqual(Array.from({ length: after.length }, (_, k) => k + 1));
    expect(seen.length).toBe(before.length + after.length);
    for (const m of seen) expect(refusedTexts.has(m.text)).toBe(false);
    // Everyone saw the same messages after the restart (the new epoch is the same room for all).
    expect(seen.filter((m) => m.epoch === newEpoch)).toEqual(streams[0]!.seen.filter((m) => m.epoch === newEpoch));
    expect(restarts[0]!.epoch).toBe(streams[0]!.restarts[0]!.epoch);
  }
  // Every message a sender had accepted once its first one of the new epoch was in arrived, with the number it was told.
  const newEpoch = streams[0]!.restarts[0]!.epoch;
  const seqOf = new Map(received[0]!.filter((m) => m.epoch === newEpoch).map((m) => [m.text, m.seq]));
  for (const sender of [members[0]!, members[1]!]) {
    const accepted = outcomes.filter((o) => o.seq !== null && o.text.startsWith(`${sender.id}#`));
    const first = accepted.findIndex((o) => seqOf.has(o.text));
    expect(first).toBeGreaterThanOrEqual(0);
    for (const o of accepted.slice(first)) expect(seqOf.get(o.text)).toBe(o.seq);
  }

  // Presence repaired: the members are back in Redis, the leaver is gone, everyone was told it left and nothing else.
  const memberIds = members.map((c) => c.id).sort();
  for (const host of shared.hosts) {
    const detail = (await (await fetch(`${host.http}/api/rooms/storm`)).json()) as { memberList: { id: string }[] };
    expect(detail.memberList.map((m) => m.id).sort()).toEqual(memberIds);
  }
  for (const c of members) {
    expect((await c.next('memberLeft')).member.id).toBe(leaver.id);
    expect(c.events.filter((e) => e.type === 'memberLeft' || e.type === 'memberJoined')).toEqual([]);
    // The count agrees: the last Presence heard says the members that stayed.
    expect(c.events.filter((e) => e.type === 'presence').at(-1)).toMatchObject({ memberCount: members.length });
  }

  // The leaver comes back on the other node: its numbers belong to the lost epoch, so the host says it is not recovered.
  const otherNode = shared.hosts.find((h) => !h.logs.some((l) => l.node === leaverNode)) ?? n0;
  const back = await TestClient.connect(otherNode.ws);
  shared.track(back);
  const rejoinRequest = back.newRequestId();
  back.send({
    type: 'join',
    protocolVersion: PROTOCOL_VERSION,
    requestId: rejoinRequest,
    room: 'storm',
    nickname: 'leaver',
    since: lastSeenByLeaver,
    epoch: leaverJoined.epoch,
  });
  const rejoined = await back.next('joined', (e) => e.requestId === rejoinRequest);
  expect(back.id.split('.')[0]).not.toBe(leaverNode);
  expect(rejoined).toMatchObject({ epoch: newEpoch, recovered: false });
  await outsider.close();
});

test('a room another node re-created first after a Redis restart: its members elsewhere move to the new epoch, told first', { timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const url = ['--workers', '1', '--redis', redis.url];
  const [keeper, other] = await Promise.all([startHost(url), startHost(url)]);
  const clients: TestClient[] = [];
  try {
    await Promise.all([waitInStep(keeper), waitInStep(other)]);
    const ann = await TestClient.connect(keeper.ws);
    clients.push(ann);
    const before = await ann.join('again', 'ann');
    for (let i = 1; i <= 3; i++) await ann.say('again', `old ${i}`);

    // The keeper sleeps through the restart; the other node comes back first and a newcomer creates the room anew there.
    const otherInStep = timesInStep(other);
    const keeperInStep = timesInStep(keeper);
    keeper.process.kill('SIGSTOP');
    await redis.stop('SIGTERM');
    await redis.start();
    await waitInStep(other, otherInStep);
    const bob = await TestClient.connect(other.ws);
    clients.push(bob);
    const fresh = await bob.join('again', 'bob');
    expect(fresh.epoch).not.toBe(before.epoch);
    expect(fresh.headSeq).toBe(0);
    keeper.process.kill('SIGCONT');
    await waitInStep(keeper, keeperInStep);

    // ann is told that the room started again (the numbers she knew belong to the lost epoch), then it goes on from 1 for everyone.
    expect(await ann.next('joined', (e) => e.requestId === 0)).toMatchObject({ room: 'again', epoch: fresh.epoch, recovered: false, headSeq: 0 });
    expect((await ann.say('again', 'new')).seq).toBe(1);
    expect((await ann.next('message', (m) => m.text === 'new')).seq).toBe(1);
    expect((await bob.next('message', (m) => m.text === 'new')).seq).toBe(1);
    expect(bob.events.filter((e) => e.type === 'joined' && e.requestId === 0)).toEqual([]); // bob knew no other epoch
    const late = await TestClient.connect(other.ws);
    clients.push(late);
    const joined = await late.join('again', 'late');
    expect(joined).toMatchObject({ epoch: fresh.epoch, headSeq: 1 });
    expect(joined.members.map((m) => m.name).sort()).toEqual(['ann', 'bob', 'late']);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([keeper.stop(), other.stop()]);
    await redis.stop();
  }
});
