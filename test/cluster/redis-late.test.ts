/**
 * A node started while Redis is not there yet: it listens and serves, refuses what
 * needs the cluster with Unavailable (temporary), and joins the cluster by itself once
 * Redis comes up.
 */
import { PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { afterEach, expect, test } from 'vitest';
import { findFreePort } from '../../src/free-port.js';
import { TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitInStep } from '../helpers/shared-host.js';

let host: Host | null = null;
let redis: RedisServer | null = null;
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await host?.stop();
  await redis?.stop();
});

test('a node started before Redis serves, refuses as temporary, then joins the cluster', async () => {
  const port = await findFreePort();
  host = await startHost(['--workers', '1', '--redis', `redis://127.0.0.1:${port}`]);
  const early = await TestClient.connect(host.ws);
  clients.push(early);
  const refused = await early.expectError({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 5, room: 'late', nickname: 'early', since: null });
  expect(refused).toMatchObject({ code: 'Unavailable', temporary: true, room: 'late' });
  // HTTP works meanwhile.
  expect((await fetch(`${host.http}/healthz`)).status).toBe(200);

  redis = await startRedis(port);
  await waitInStep(host);
  const joined = await early.join('late', 'early');
  expect(joined.members).toEqual([{ id: early.id, name: 'early' }]);
  expect((await early.say('late', 'now')).seq).toBe(1);
});
