/**
 * The --redis URL: a malformed one stops the host at start with one line (exit 2, no
 * stack) that never holds the password; a unix socket (unix:///PATH?db=N) works, and
 * nodes on the socket and on TCP form one cluster; no log line holds the password.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, test } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { runHost, startHost } from '../helpers/host.js';
import { ClusterParts } from '../helpers/cluster-parts.js';
import { startRedis } from '../helpers/redis.js';
import { waitInStep } from '../helpers/shared-host.js';

const SECRET = 's3cret-Pw';

describe('a malformed --redis: exit 2, one line, no stack, no password', () => {
  test.concurrent.for([
    ['redis://127.0.0.1:notaport', 'port "notaport" is not a number 1-65535'],
    [`redis://chat:${SECRET}@127.0.0.1:notaport`, 'port "notaport" is not a number 1-65535'],
    ['redis://127.0.0.1:70000', 'port "70000" is not a number 1-65535'],
    ['redis://127.0.0.1:0', 'port "0" is not a number 1-65535'],
    [`redis://:${SECRET}@:6379`, 'no host'],
    ['redis:///var/run/redis.sock', 'no host (for a unix socket use unix:///path/to/redis.sock)'],
    [`http://chat:${SECRET}@127.0.0.1:6379`, 'unknown scheme "http"'],
    ['localhost:6379', 'no scheme'],
    [`redis://127.0.0.1:6379/x?password=${SECRET}`, 'query parameters are not supported'],
    ['unix://redis.sock', 'no absolute socket path'],
  ] as const)('%s', async ([url, reason], { expect }) => {
    for (const run of [await runHost(['--redis', url]), await runHost([], { REDIS_URL: url })]) {
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^chat-host: invalid --redis: [^\n]*\n$/);
      expect(run.stderr).toContain(reason);
      expect(run.stderr + run.stdout).not.toContain(SECRET);
      expect(run.stderr).not.toMatch(/\bat |Error/);
    }
  });
});

const parts = new ClusterParts();
let socketDir: string | null = null;

afterEach(async () => {
  // Redis first, then the folder of its socket.
  await parts.stop();
  if (socketDir) await rm(socketDir, { recursive: true, force: true });
  socketDir = null;
});

test('a node on a unix socket and a node on TCP, with a password: one cluster; no log line holds the password', { timeout: 60_000 }, async () => {
  socketDir = await mkdtemp(join(tmpdir(), 'chat-sock-'));
  const socket = join(socketDir, 'redis.sock');
  parts.redis = await startRedis(undefined, { args: ['--unixsocket', socket, '--unixsocketperm', '700', '--requirepass', SECRET] });
  const onSocket = await startHost(['--workers', '1', '--redis', `unix://:${SECRET}@${socket}?db=5`]);
  parts.hosts.push(onSocket);
  const onTcp = await startHost(['--workers', '1', '--redis', `redis://default:${SECRET}@127.0.0.1:${parts.redis.port}/5`]);
  parts.hosts.push(onTcp);
  await Promise.all(parts.hosts.map((h) => waitInStep(h)));
  expect(onSocket.logs.find((l) => l.msg === 'cluster node starting')).toMatchObject({ redis: `unix://***@${socket}?db=5`, prefix: 'chat:db5:' });
  expect(onTcp.logs.find((l) => l.msg === 'cluster node starting')).toMatchObject({
    redis: `redis://***@127.0.0.1:${parts.redis.port}/5`,
    prefix: 'chat:db5:',
  });

  const ann = await TestClient.connect(onSocket.ws);
  const bob = await TestClient.connect(onTcp.ws);
  parts.clients.push(ann, bob);
  await ann.join('sock', 'ann');
  const joined = await bob.join('sock', 'bob');
  expect(joined.members.map((m) => m.name).sort()).toEqual(['ann', 'bob']);
  expect((await ann.say('sock', 'over the socket')).seq).toBe(1);
  expect((await bob.next('message')).text).toBe('over the socket');

  // The socket node's keys are in db 5, under the cluster's prefix.
  const admin = new Redis({ path: socket, password: SECRET, db: 5 });
  try {
    expect(await admin.hget('chat:db5:room:sock:meta', 'seq')).toBe('1');
  } finally {
    admin.disconnect();
  }
  for (const host of parts.hosts) {
    await host.stop();
    for (const line of host.logs) expect(JSON.stringify(line)).not.toContain(SECRET);
    expect(host.stderr()).not.toContain(SECRET);
  }
});
