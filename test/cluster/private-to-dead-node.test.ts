/**
 * A private message to a member of a node that died is not acknowledged as sent: the
 * member is still listed until the reaper runs, but nobody listens on its node's
 * channel (PUBLISH reaches no one), so the sender gets RecipientNotFound at once.
 */
import { Redis } from 'ioredis';
import { expect, test } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { startHost } from '../helpers/host.js';
import { startRedis } from '../helpers/redis.js';
import { waitInStep } from '../helpers/shared-host.js';

test('a private message to a member of a SIGKILLed node, before the reaper: RecipientNotFound, not Sent', { timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const args = ['--workers', '1', '--redis', redis.url]; // the default --node-ttl (20 s): the reaper does not run during the test
  const [alive, doomed] = await Promise.all([startHost(args), startHost(args)]);
  const watcher = new Redis(redis.url);
  const clients: TestClient[] = [];
  try {
    await Promise.all([waitInStep(alive), waitInStep(doomed)]);
    const ann = await TestClient.connect(alive.ws);
    const bob = await TestClient.connect(doomed.ws);
    clients.push(ann, bob);
    await ann.join('whisper', 'ann');
    await bob.join('whisper', 'bob');
    expect((await ann.say('whisper', 'still there?', bob.id)).seq).toBe(0);

    doomed.process.kill('SIGKILL');
    // Redis has seen the node's connections close once nothing subscribes to a channel named after it.
    const doomedNode = bob.id.split('.')[0]!;
    for (;;) {
      const channels = (await watcher.call('PUBSUB', 'CHANNELS', '*')) as string[];
      if (!channels.some((c) => c.includes(doomedNode))) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // bob is still a member (nobody reaped him yet), but his node is gone.
    const detail = (await (await fetch(`${alive.http}/api/rooms/whisper`)).json()) as { memberList: { id: string }[] };
    expect(detail.memberList.map((m) => m.id)).toContain(bob.id);
    const refused = await ann.expectError({ type: 'say', requestId: ann.newRequestId(), room: 'whisper', text: 'hello?', to: bob.id });
    expect(refused).toMatchObject({ code: 'RecipientNotFound', room: 'whisper' });
    expect(refused.message).toMatch(/not running/);
  } finally {
    watcher.disconnect();
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([alive.stop(), doomed.stop()]);
    await redis.stop();
  }
});
