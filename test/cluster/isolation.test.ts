/**
 * Two clusters on one Redis share nothing. Pub/sub channels ignore the db index, so every
 * key and channel starts with the cluster's prefix: its name (--cluster-name, `chat` by
 * default) and the db index of --redis. Two clusters on db 1 and db 2, and two on the same
 * db with different names, each with a room of the same name and members of the same
 * nicknames: no message, presence change or private message crosses, and each numbers its
 * room on its own. A db index Redis does not have stops the host at start.
 */
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import type { ChatMessage } from '../../src/protocol/index.js';
import { TestClient } from '../helpers/client.js';
import { runHost, startHost, type Host } from '../helpers/host.js';
import { startRedis } from '../helpers/redis.js';
import { clusterPartsPerTest } from '../helpers/cluster-parts.js';
import { waitInStep } from '../helpers/shared-host.js';

const parts = clusterPartsPerTest();

interface ClusterSpec {
  /** The db index in --redis. */
  readonly db: number;
  /** --cluster-name, or none for the default. */
  readonly name?: string;
  /** The prefix its keys and channels must have. */
  readonly prefix: string;
}

/** Two nodes of one cluster, in step. */
async function cluster(spec: ClusterSpec): Promise<[Host, Host]> {
  const args = ['--workers', '1', '--redis', `${parts.redis!.url}/${spec.db}`, ...(spec.name ? ['--cluster-name', spec.name] : [])];
  const nodes = await Promise.all([startHost(args), startHost(args)]);
  parts.hosts.push(...nodes);
  await Promise.all(nodes.map((h) => waitInStep(h)));
  for (const node of nodes) expect(node.logs.find((l) => l.msg === 'cluster node starting')?.prefix).toBe(spec.prefix);
  return nodes;
}

async function connect(host: Host): Promise<TestClient> {
  const client = await TestClient.connect(host.ws);
  parts.clients.push(client);
  return client;
}

/** Every key of db `db`. */
async function keysOf(admin: Redis, db: number): Promise<string[]> {
  await admin.select(db);
  return (await admin.keys('*')).sort();
}

describe.each([
  { pair: 'db 1 and db 2, default name', x: { db: 1, prefix: 'chat:db1:' }, y: { db: 2, prefix: 'chat:db2:' } },
  { pair: 'db 3 both, names blue and green', x: { db: 3, name: 'blue', prefix: 'blue:db3:' }, y: { db: 3, name: 'green', prefix: 'green:db3:' } },
])('two clusters on one Redis ($pair)', ({ x, y }) => {
  test('nothing crosses: messages, presence, private messages; numbering and nicknames are their own', { timeout: 60_000 }, async () => {
    parts.redis = await startRedis();
    const [x0, x1] = await cluster(x);
    const [y0, y1] = await cluster(y);
    const [xAnn, xBob, yAnn, yBob] = [await connect(x0), await connect(x1), await connect(y0), await connect(y1)];
    const ownIds = new Map<TestClient, Set<string>>();
    for (const c of [xAnn, xBob]) ownIds.set(c, new Set([xAnn.id, xBob.id]));
    for (const c of [yAnn, yBob]) ownIds.set(c, new Set([yAnn.id, yBob.id]));

    // The same room and the same nicknames in both: each cluster starts the room afresh.
    const joinedAnn = [await xAnn.join('lobby', 'ann'), await yAnn.join('lobby', 'ann')];
    for (const [i, joined] of joinedAnn.entries()) {
      expect(joined.headSeq).toBe(0);
      expect(joined.members).toEqual([{ id: [xAnn, yAnn][i]!.id, name: 'ann' }]);
    }
    const joinedBob = [await xBob.join('lobby', 'bob'), await yBob.join('lobby', 'bob')];
    for (const [i, joined] of joinedBob.entries()) {
      const [ann, bob] = i === 0 ? [xAnn, xBob] : [yAnn, yBob];
      expect([...joined.members].sort((a, b) => a.name.localeCompare(b.name))).toEqual([
        { id: ann.id, name: 'ann' },
        { id: bob.id, name: 'bob' },
      ]);
    }
    await xAnn.heardJoins('lobby', [xBob.id]);
    await yAnn.heardJoins('lobby', [yBob.id]);

    // Each numbers its own room from 1.
    expect((await xAnn.say('lobby', 'x one')).seq).toBe(1);
    expect((await yAnn.say('lobby', 'y one')).seq).toBe(1);
    expect((await xBob.say('lobby', 'x two')).seq).toBe(2);
    expect((await yBob.say('lobby', 'y two')).seq).toBe(2);
    // Private messages across the nodes of each cluster (through Redis: the two are on different nodes).
    await xAnn.say('lobby', 'x secret', xBob.id);
    await yAnn.say('lobby', 'y secret', yBob.id);
    expect((await xBob.say('lobby', 'x end')).seq).toBe(3);
    expect((await yBob.say('lobby', 'y end')).seq).toBe(3);

    // Everything above was published before the end markers: a frame of the other cluster
    // on a shared channel would have come before them.
    const own = { x: ['x one', 'x two', 'x end'], y: ['y one', 'y two', 'y end'] };
    for (const [client, side] of [
      [xAnn, 'x'],
      [xBob, 'x'],
      [yAnn, 'y'],
      [yBob, 'y'],
    ] as const) {
      const end = await client.next('message', (m) => m.text === `${side} end`);
      const messages = [...client.takeMessages('lobby'), end];
      const room = messages.filter((m) => m.to === null);
      expect(room.map((m) => [m.seq, m.text])).toEqual(own[side].map((text, i) => [i + 1, text]));
      // The sender gets its own private message back, and so does the recipient: nobody else.
      expect(messages.filter((m: ChatMessage) => m.to !== null).map((m) => m.text)).toEqual([`${side} secret`]);
      for (const event of client.drain()) {
        if (event.type === 'memberJoined' || event.type === 'memberLeft') expect(ownIds.get(client)!.has(event.member.id)).toBe(true);
        if (event.type === 'presence') for (const m of [...event.joined, ...event.left]) expect(ownIds.get(client)!.has(m.id)).toBe(true);
        expect(event.type).not.toBe('error');
      }
    }

    // In Redis: each cluster's keys and channels under its own prefix, nothing in db 0.
    const admin = new Redis(parts.redis.url);
    try {
      const channels = ((await admin.pubsub('CHANNELS', '*')) as string[]).sort();
      expect(channels).toContain(`${x.prefix}room:lobby`);
      expect(channels).toContain(`${y.prefix}room:lobby`);
      for (const channel of channels) expect(channel.startsWith(x.prefix) || channel.startsWith(y.prefix), channel).toBe(true);
      for (const spec of [x, y]) {
        const keys = (await keysOf(admin, spec.db)).filter((k) => k.startsWith(spec.prefix));
        expect(keys).toContain(`${spec.prefix}room:lobby:meta`);
        expect(keys).toContain(`${spec.prefix}rooms`);
      }
      for (const db of new Set([x.db, y.db])) {
        for (const key of await keysOf(admin, db)) expect(key.startsWith(x.prefix) || key.startsWith(y.prefix), key).toBe(true);
      }
      expect(await keysOf(admin, 0)).toEqual([]);
    } finally {
      admin.disconnect();
    }
  });
});

test('a db index Redis does not have stops the host at start: exit 2, one line, nothing written to db 0', async () => {
  parts.redis = await startRedis();
  // redis-server has 16 databases unless told otherwise: 0-15.
  const run = await runHost(['--host', '127.0.0.1', '--port', '0', '--workers', '1', '--redis', `${parts.redis.url}/16`]);
  expect(run.code).toBe(2);
  expect(run.stderr).toBe(`chat-host: redis refused the database index 16 (ERR DB index is out of range): check --redis (${parts.redis.url}/16)\n`);
  expect(run.stdout).not.toContain('chat host listening');
  const admin = new Redis(parts.redis.url);
  try {
    expect(await admin.dbsize()).toBe(0);
  } finally {
    admin.disconnect();
  }
});

test('--cluster-name takes 1-64 of A-Z a-z 0-9 _ . - (exit 2 otherwise)', async () => {
  for (const name of ['', 'a:b', 'room name', 'x'.repeat(65), 'ü']) {
    const run = await runHost(['--redis', 'redis://127.0.0.1:1', '--cluster-name', name]);
    expect(run.code, name).toBe(2);
    expect(run.stderr, name).toMatch(/^chat-host: invalid --cluster-name: .*\n$/);
  }
  const fromEnv = await runHost(['--redis', 'redis://127.0.0.1:1'], { CHAT_CLUSTER_NAME: 'a:b' });
  expect(fromEnv.code).toBe(2);
  expect(fromEnv.stderr).toBe('chat-host: invalid --cluster-name: expected 1-64 of A-Z a-z 0-9 _ . -, got "a:b"\n');
});
