/**
 * Traffic goes only to nodes with members of a room: a node subscribes to the room's
 * channel when its first local member joins and unsubscribes when the last one
 * leaves, with no pattern subscription. Read from Redis itself (PUBSUB).
 */
import { PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { Redis } from 'ioredis';
import { ClusterKeys, clusterPrefix } from '../../src/sequencer/redis/format.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Host } from '../helpers/host.js';
import { scrape } from '../helpers/metrics.js';
import { SharedHost, TOPOLOGIES } from '../helpers/shared-host.js';

const shared = new SharedHost(['--workers', '2'], TOPOLOGIES[1]);
let admin: Redis;
/** The default cluster name on db 0. */
const keys = new ClusterKeys(clusterPrefix('chat', 0));

beforeAll(() => {
  admin = new Redis(shared.redis!.url);
});
afterAll(async () => {
  await admin.quit();
});

/** How many subscribers (nodes) the room's channel has. */
async function nodesOn(room: string): Promise<number> {
  const [, count] = (await admin.pubsub('NUMSUB', keys.roomChannel(room))) as [string, number];
  return count;
}

/** Polls Redis until the room's channel has `expected` subscribers (unsubscribing follows a leave asynchronously). */
async function untilNodesOn(room: string, expected: number): Promise<void> {
  while ((await nodesOn(room)) !== expected) await new Promise((resolve) => setTimeout(resolve, 10));
}

test('a node subscribes with its first member of a room and unsubscribes with its last', async () => {
  const [n0a, n1a, n0b, n1b] = [await shared.connect(), await shared.connect(), await shared.connect(), await shared.connect()];
  expect([n0a, n0b].every((c) => c.id.startsWith(n0a.id.split('.')[0]!))).toBe(true);
  expect(n1a.id.split('.')[0]).not.toBe(n0a.id.split('.')[0]);
  expect(await nodesOn('subs')).toBe(0);

  // A join completes only after the node has subscribed (its Joined is ordered by the subscription).
  await n0a.join('subs', 'n0a');
  expect(await nodesOn('subs')).toBe(1);
  await n0b.join('subs', 'n0b');
  expect(await nodesOn('subs')).toBe(1);
  await n1a.join('subs', 'n1a');
  expect(await nodesOn('subs')).toBe(2);
  await n1b.join('subs', 'n1b');
  expect(await nodesOn('subs')).toBe(2);

  // A room on one node only is not sent to the other.
  await n0a.join('only-here', 'n0a');
  expect(await nodesOn('only-here')).toBe(1);

  await n0a.leave('subs');
  expect(await nodesOn('subs')).toBe(2); // n0b is still there
  await n0b.leave('subs');
  await untilNodesOn('subs', 1);
  await n1a.close();
  await n1b.leave('subs');
  await untilNodesOn('subs', 0);
  await n0a.leave('only-here');
  await untilNodesOn('only-here', 0);

  // Never a pattern subscription; what is left is each node's own channel for private messages.
  expect(await admin.pubsub('NUMPAT')).toBe(0);
  expect(((await admin.pubsub('CHANNELS')) as string[]).sort()).toEqual([...new Set([n0a, n1b].map((c) => keys.nodeChannel(c.id.split('.')[0]!)))].sort());
});

test('connection ids are unique across nodes', async () => {
  const clients = await Promise.all(Array.from({ length: 8 }, () => shared.connect()));
  const ids = clients.map((c) => c.id);
  expect(new Set(ids).size).toBe(ids.length);
  expect(new Set(ids.map((id) => id.split('.')[0])).size).toBe(2);
});

test("each node's /metrics counts what its own clients did", async () => {
  const [a, b] = [await shared.connect(), await shared.connect()];
  const [nodeA, nodeB] = shared.hosts as [Host, Host];
  const before = await Promise.all([scrape(nodeA.http), scrape(nodeB.http)]);
  await a.join('counted', 'a');
  await b.join('counted', 'b');
  await a.say('counted', 'one');
  await b.say('counted', 'two');
  expect((await b.expectError({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 99, room: 'counted', nickname: 'a', since: null })).code).toBe(
    'AlreadyJoined',
  );
  const after = await Promise.all([scrape(nodeA.http), scrape(nodeB.http)]);
  const delta = (node: number, name: string): number => (after[node]!.get(name) ?? 0) - (before[node]!.get(name) ?? 0);
  for (const node of [0, 1]) {
    expect(delta(node, 'chat_joins_total')).toBe(1);
    expect(delta(node, 'chat_room_messages_total')).toBe(1);
  }
  expect(delta(0, 'chat_errors_total{code="AlreadyJoined"}') + delta(1, 'chat_errors_total{code="AlreadyJoined"}')).toBe(1);
});
