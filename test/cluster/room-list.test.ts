/**
 * The cluster's room list (/api/rooms and /healthz read it from Redis every second,
 * in one script call): member counts and head seqs of every node's rooms, and a room
 * whose history expired in Redis leaves the list and Redis's set of rooms.
 */
import { Redis } from 'ioredis';
import { afterEach, expect, test } from 'vitest';
import { ClusterKeys, clusterPrefix } from '../../src/sequencer/redis/format.js';
import { TestClient } from '../helpers/client.js';
import { startHost, waitForJson, type Host } from '../helpers/host.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitInStep } from '../helpers/shared-host.js';

const hosts: Host[] = [];
let redis: RedisServer | null = null;
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(hosts.map((h) => h.stop()));
  await redis?.stop();
});

type Rooms = { rooms: { name: string; members: number; headSeq: number }[] };

test('lists every room of the cluster and drops a room whose history expired', async () => {
  redis = await startRedis();
  // An empty room keeps nothing: its keys expire at once.
  for (let i = 0; i < 2; i++) hosts.push(await startHost(['--workers', '1', '--redis', redis.url, '--empty-room-ttl', '0']));
  await Promise.all(hosts.map((h) => waitInStep(h)));
  const [a, b] = hosts as [Host, Host];
  const ann = await TestClient.connect(a.ws);
  const bob = await TestClient.connect(b.ws);
  clients.push(ann, bob);
  await ann.join('shared', 'ann');
  await bob.join('shared', 'bob');
  await bob.say('shared', 'one');
  await bob.say('shared', 'two');
  await ann.join('brief', 'ann');

  const both = await waitForJson<Rooms>(`${a.http}/api/rooms`, (r) => r.rooms.length === 2);
  expect(both.rooms).toEqual([
    { name: 'shared', members: 2, headSeq: 2 },
    { name: 'brief', members: 1, headSeq: 0 },
  ]);

  await ann.leave('brief');
  const after = await waitForJson<Rooms>(`${b.http}/api/rooms`, (r) => r.rooms.length === 1);
  expect(after.rooms).toEqual([{ name: 'shared', members: 2, headSeq: 2 }]);
  const direct = new Redis(redis.url, { lazyConnect: true });
  await direct.connect();
  try {
    // The default cluster name on db 0.
    expect(await direct.smembers(new ClusterKeys(clusterPrefix('chat', 0)).rooms)).toEqual(['shared']);
  } finally {
    direct.disconnect();
  }
});
