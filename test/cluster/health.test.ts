/**
 * A cluster node's health follows Redis: while the node cannot reach Redis (an outage, a
 * password Redis no longer takes) it refuses every join, so /readyz answers 503
 * `redis-unavailable` (after a grace of REDIS_READY_GRACE_MS once it was up, at once
 * before it ever was), /healthz says `"redis":{"status":"down","since":...}`, and
 * chat_redis_up is 0; all three recover by themselves when Redis is back. A password
 * Redis refuses at start stops the host (exit 2). A single node has none of this.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, test } from 'vitest';
import { findFreePort } from '../../src/free-port.js';
import { REDIS_READY_GRACE_MS, redisReady, type RedisHealth } from '../../src/sequencer/sequencer.js';
import { runHost, startHost, type Host } from '../helpers/host.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitInStep } from '../helpers/shared-host.js';

let redis: RedisServer | null = null;
let host: Host | null = null;

afterEach(async () => {
  await host?.stop();
  await redis?.stop();
  host = null;
  redis = null;
});

interface Health {
  readonly status: number;
  readonly ready: string;
  readonly redis: RedisHealth | undefined;
  readonly redisUp: number | null;
}

/** /readyz, /healthz and chat_redis_up, asked one after the other. */
async function health(node: Host): Promise<Health> {
  const readyz = await fetch(`${node.http}/readyz`);
  const ready = ((await readyz.json()) as { status: string }).status;
  const healthz = (await (await fetch(`${node.http}/healthz`)).json()) as { redis?: RedisHealth };
  const metrics = await (await fetch(`${node.http}/metrics`)).text();
  const up = /^chat_redis_up (\d+)$/m.exec(metrics);
  return { status: readyz.status, ready, redis: healthz.redis, redisUp: up ? Number(up[1]) : null };
}

/** Asks until `accept` holds (the Directory reaches the workers within 100 ms of a change; the test's timeout bounds the wait). */
async function until(node: Host, accept: (h: Health) => boolean): Promise<Health> {
  for (;;) {
    const h = await health(node);
    if (accept(h)) return h;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const unavailable = (h: Health): boolean => h.status === 503 && h.ready === 'redis-unavailable';
const ready = (h: Health): boolean => h.status === 200 && h.ready === 'ready';

describe('redisReady', () => {
  test('up: ready; down: ready for the grace, then not; connecting (never up yet): not ready', () => {
    expect(redisReady(undefined, 0)).toBe(true);
    expect(redisReady({ status: 'up', since: 1000 }, 10 ** 9)).toBe(true);
    expect(redisReady({ status: 'down', since: 1000 }, 1000)).toBe(true);
    expect(redisReady({ status: 'down', since: 1000 }, 1000 + REDIS_READY_GRACE_MS - 1)).toBe(true);
    expect(redisReady({ status: 'down', since: 1000 }, 1000 + REDIS_READY_GRACE_MS)).toBe(false);
    expect(redisReady({ status: 'connecting', since: 1000 }, 1000)).toBe(false);
  });
});

test('Redis killed: not ready after the grace, chat_redis_up 0; back: ready and 1 again', { timeout: 60_000 }, async () => {
  redis = await startRedis();
  host = await startHost(['--workers', '2', '--redis', redis.url]);
  await waitInStep(host);
  const before = await until(host, ready);
  expect(before).toMatchObject({ redisUp: 1, redis: { status: 'up' } });

  await redis.stop();
  const down = await until(host, unavailable);
  expect(down.redisUp).toBe(0);
  expect(down.redis!.status).toBe('down');
  // Not before the grace: a blip does not take the node out of the balancer.
  expect(Date.now()).toBeGreaterThanOrEqual(down.redis!.since + REDIS_READY_GRACE_MS);
  // /healthz still answers 200 (the node is alive; restarting it would not help).
  expect((await fetch(`${host.http}/healthz`)).status).toBe(200);

  await redis.start();
  const back = await until(host, ready);
  expect(back.redisUp).toBe(1);
  expect(back.redis!.status).toBe('up');
  expect(back.redis!.since).toBeGreaterThan(down.redis!.since);
});

test('a node whose Redis is not there yet is not ready at once (no grace before it was ever up)', { timeout: 60_000 }, async () => {
  const port = await findFreePort();
  host = await startHost(['--workers', '1', '--redis', `redis://127.0.0.1:${port}`]);
  const waiting = await until(host, (h) => h.redis !== undefined);
  expect(waiting).toMatchObject({ status: 503, ready: 'redis-unavailable', redisUp: 0, redis: { status: 'connecting' } });
  redis = await startRedis(port);
  await waitInStep(host);
  expect(await until(host, ready)).toMatchObject({ redisUp: 1, redis: { status: 'up' } });
});

test('a password Redis stops taking: not ready, said loudly, once; the right one again: ready', { timeout: 60_000 }, async () => {
  redis = await startRedis(undefined, { args: ['--requirepass', 'first-secret'] });
  host = await startHost(['--workers', '1', '--redis', `redis://:first-secret@127.0.0.1:${redis.port}`]);
  await waitInStep(host);
  await until(host, ready);

  const admin = new Redis({ port: redis.port, host: '127.0.0.1', password: 'first-secret' });
  try {
    await admin.config('SET', 'requirepass', 'second-secret');
    // The node's connections were authenticated with the old one: cut them, as a Redis restart would.
    await admin.call('CLIENT', 'KILL', 'TYPE', 'normal');
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    const refused = await until(host, unavailable);
    expect(refused).toMatchObject({ redisUp: 0, redis: { status: 'down' } });
    const said = host.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('redis refused the credentials'));
    // Once (both connections are refused alike), however often the node tries again meanwhile.
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ level: 50, err: expect.stringMatching(/^WRONGPASS/) });

    await admin.config('SET', 'requirepass', 'first-secret');
    expect(await until(host, ready)).toMatchObject({ redisUp: 1, redis: { status: 'up' } });
  } finally {
    admin.disconnect();
  }
  for (const line of host.logs) expect(JSON.stringify(line)).not.toContain('first-secret');
});

test('a password Redis refuses at start: exit 2, one line, without the password', async () => {
  redis = await startRedis(undefined, { args: ['--requirepass', 'right-secret'] });
  const run = await runHost(['--host', '127.0.0.1', '--port', '0', '--workers', '1', '--redis', `redis://:wrong-secret@127.0.0.1:${redis.port}`]);
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/^chat-host: redis refused the credentials \(WRONGPASS[^\n]*\): check --redis \(redis:\/\/\*\*\*@127\.0\.0\.1:\d+\/0\)\n$/);
  expect(run.stdout).not.toContain('chat host listening');
  expect(run.stdout + run.stderr).not.toContain('wrong-secret');
  // No password at all, where Redis wants one: the same.
  const none = await runHost(['--host', '127.0.0.1', '--port', '0', '--workers', '1', '--redis', `redis://127.0.0.1:${redis.port}`]);
  expect(none.code).toBe(2);
  expect(none.stderr).toMatch(/^chat-host: redis refused the credentials \(NOAUTH[^\n]*\n$/);
});

test('a single node: ready, and no Redis in /healthz or /metrics', async () => {
  host = await startHost(['--workers', '1']);
  const single = await until(host, ready);
  expect(single.redis).toBeUndefined();
  expect(single.redisUp).toBeNull();
});
