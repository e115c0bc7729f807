/**
 * Redis with an append-only file, down for longer than --node-ttl. It comes back with
 * every node's heartbeat key expired (the file keeps their expiry times), though no
 * node died. The first node back must not take the others for dead: after a reconnect
 * a node reaps nobody for one TTL, in which the live ones beat again. A node that does
 * not come back is still reaped, once that grace is over.
 *
 * The second node is frozen (SIGSTOP) across the restart, so that it is the last one
 * back: the first node is then certain to look at its expired key before it beats.
 */
import { Redis } from 'ioredis';
import { afterEach, expect, test } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { timesInStep, waitInStep } from '../helpers/shared-host.js';

const TTL_SECONDS = 3;
const REAPED = 'node expired: its members were removed';

let redis: RedisServer | null = null;
let hosts: Host[] = [];
let clients: TestClient[] = [];
let probe: Redis | null = null;

afterEach(async () => {
  // A host left frozen by a failed test could not act on SIGTERM.
  for (const h of hosts) h.process.kill('SIGCONT');
  probe?.disconnect();
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(hosts.map((h) => h.stop()));
  await redis?.dispose();
  clients = [];
  hosts = [];
  redis = null;
  probe = null;
});

async function connect(host: Host): Promise<TestClient> {
  const client = await TestClient.connect(host.ws);
  clients.push(client);
  return client;
}

type RoomDetail = { memberList: { id: string; name: string }[] };

async function memberIds(host: Host, room: string): Promise<string[]> {
  const detail = (await (await fetch(`${host.http}/api/rooms/${room}`)).json()) as RoomDetail;
  return detail.memberList.map((m) => m.id).sort();
}

/**
 * Two nodes on an append-only Redis, members in room `flap` on both; then Redis goes
 * down, the second node freezes, and Redis comes back once every heartbeat key has
 * expired. Resolves when the first node is back in step, the second still frozen.
 */
async function outageLongerThanTheTtl(): Promise<{ first: Host; late: Host; onFirst: TestClient; onLate: TestClient[] }> {
  redis = await startRedis(undefined, { appendOnly: true });
  const args = ['--workers', '1', '--node-ttl', String(TTL_SECONDS), '--redis', redis.url];
  const [first, late] = (await Promise.all([startHost(args), startHost(args)])) as [Host, Host];
  hosts = [first, late];
  await Promise.all(hosts.map((h) => waitInStep(h)));
  const onFirst = await connect(first);
  const onLate = [await connect(late), await connect(late)];
  await onFirst.join('flap', 'a');
  for (const [i, c] of onLate.entries()) await c.join('flap', `b${i + 1}`);
  for (const c of [onFirst, ...onLate]) await c.heardJoins('flap', [c.id]);
  for (const c of onLate) await onFirst.next('memberJoined', (e) => e.member.id === c.id);
  for (const c of [onFirst, ...onLate]) c.drain();

  const inStep = timesInStep(first);
  await redis.stop('SIGTERM');
  // Every heartbeat was renewed before this: by `expiredBy` every key has expired.
  const expiredBy = Date.now() + TTL_SECONDS * 1000;
  await Promise.all(hosts.map((h) => h.waitForLog((l) => String(l.msg).startsWith('redis connection lost'))));
  late.process.kill('SIGSTOP');
  // The first node retries all along; a failed retry logged after `expiredBy` says the time has come.
  await first.waitForLog((l) => l.msg === 'redis connection error' && Number(l.time) > expiredBy);
  await redis.start();
  await waitInStep(first, inStep);

  // The premise: the late node's heartbeat key is gone (only the first node's is back), its members are not.
  probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  await probe.connect();
  const lateNode = onLate[0]!.id.split('.')[0]!;
  const alive = await probe.keys('*alive*');
  expect(alive.some((k) => k.includes(lateNode))).toBe(false);
  expect(alive).toHaveLength(1);
  return { first, late, onFirst, onLate };
}

test('after an append-only Redis was down longer than --node-ttl, the first node back does not reap the live ones', { timeout: 60_000 }, async () => {
  const { first, late, onFirst, onLate } = await outageLongerThanTheTtl();
  // The first node has beaten and looked at the others while the late one's key was expired: nobody reaped.
  expect(first.logs.filter((l) => l.msg === REAPED)).toEqual([]);
  const everyone = [onFirst, ...onLate].map((c) => c.id).sort();
  expect(await memberIds(first, 'flap')).toEqual(everyone);

  const lateInStep = timesInStep(late);
  late.process.kill('SIGCONT');
  await waitInStep(late, lateInStep);
  // A barrier: a message from the late node reaches everyone; nobody was told anyone left or came.
  await onLate[0]!.say('flap', 'back');
  for (const c of [onFirst, ...onLate]) {
    await c.next('message', (m) => m.text === 'back');
    expect(c.events.filter((e) => e.type === 'memberLeft' || e.type === 'memberJoined')).toEqual([]);
  }
  for (const h of hosts) expect(await memberIds(h, 'flap')).toEqual(everyone);
  expect([...first.logs, ...late.logs].filter((l) => l.msg === REAPED || String(l.msg).includes('taken for dead'))).toEqual([]);
});

test('a node that does not come back after the outage is still reaped, once the grace is over', { timeout: 60_000 }, async () => {
  const { first, late, onFirst, onLate } = await outageLongerThanTheTtl();
  await late.stop('SIGKILL');
  const left = [(await onFirst.next('memberLeft')).member.id, (await onFirst.next('memberLeft')).member.id].sort();
  expect(left).toEqual(onLate.map((c) => c.id).sort());
  expect(await memberIds(first, 'flap')).toEqual([onFirst.id]);
  expect(first.logs.filter((l) => l.msg === REAPED)).toHaveLength(1);
});
