/**
 * Redis briefly unreachable for one node: its subscription is cut (CLIENT KILL) while
 * another node keeps talking. Redis keeps its data, so the node resubscribes, finds
 * at its sync marker what was sequenced meanwhile and fetches it from the room's
 * history: its clients see every message once, in order, gap-free.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { TestClient } from '../helpers/client.js';
import type { Host } from '../helpers/host.js';
import { SharedHost, timesInStep, TOPOLOGIES, waitInStep } from '../helpers/shared-host.js';
import { receiveUpTo, Traffic } from '../helpers/traffic.js';

// The traffic sends as fast as replies come back: past the default rate limit, which is not under test here.
const shared = new SharedHost(['--workers', '2', '--history', '10000', '--node-ttl', '2', '--rate-limit', '100000', '--rate-burst', '100000'], TOPOLOGIES[1]);
let admin: Redis;

beforeAll(() => {
  admin = new Redis(shared.redis!.url);
});
afterAll(async () => {
  await admin.quit();
});

test("a node's subscription cut under traffic: it catches up from history", { timeout: 60_000 }, async () => {
  const [, n1] = shared.hosts as [Host, Host];
  const members: TestClient[] = [];
  for (let i = 0; i < 4; i++) members.push(await shared.connect()); // two on each node, in turns
  for (const [i, c] of members.entries()) await c.join('blip', `b${i}`);
  const cutNode = members[1]!.id.split('.')[0]!;
  expect(n1.logs.some((l) => l.node === cutNode)).toBe(true);

  const traffic = new Traffic([members[0]!], 'blip'); // a sender on the other node
  await traffic.until((t) => t.accepted >= 30);
  const inStep = timesInStep(n1);
  const clients = (await admin.client('LIST')) as string;
  const subscriber = clients.split('\n').find((line) => line.includes(` name=chat-${cutNode}-sub `));
  expect(subscriber).toBeDefined();
  const id = /\bid=(\d+)/.exec(subscriber!)![1]!;
  expect(await admin.client('KILL', 'ID', id)).toBe(1);

  await waitInStep(n1, inStep);
  const acceptedThen = traffic.accepted;
  await traffic.until((t) => t.accepted >= acceptedThen + 30);
  const outcomes = await traffic.stop();
  // Nothing was refused: the sender's node never lost Redis.
  expect(outcomes.every((o) => o.seq !== null)).toBe(true);

  const received = await receiveUpTo(members, 'blip', outcomes.at(-1)!.seq!);
  for (const list of received) {
    expect(list.map((m) => m.seq)).toEqual(outcomes.map((o) => o.seq));
    expect(list.map((m) => m.text)).toEqual(outcomes.map((o) => o.text));
  }
  // No member left or joined on anyone's screen.
  for (const c of members) expect(c.events.filter((e) => e.type === 'memberLeft')).toEqual([]);
  expect(n1.logs.some((l) => l.msg === 'messages gone from history before this node got them')).toBe(false);
});
