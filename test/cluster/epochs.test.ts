/**
 * A Redis that lost its data (restarted without persistence) while one node lagged
 * behind on its subscription: whichever node puts a room back first, no sequence
 * number names two messages within an epoch. The room starts a new epoch; every
 * member is told (a Joined with request id 0, not recovered) before its first message,
 * so clients mark a gap instead of mixing old numbers with new ones.
 */
import { expect, test } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { startHost } from '../helpers/host.js';
import { startRedis } from '../helpers/redis.js';
import { timesInStep, waitInStep } from '../helpers/shared-host.js';
import { oneTextPerNumber, receiveWithEpochs } from '../helpers/traffic.js';

/** Messages of 8,000 bytes said while the laggard is stopped: 16 MB. */
const UNSEEN = 2000;

test('a node that lagged when Redis lost the room puts it back first: a new epoch, never a reused number', { timeout: 60_000 }, async () => {
  const redis = await startRedis();
  // Large messages sent as fast as they are accepted: past the default rate limit, which is not under test here.
  const args = [
    '--workers',
    '1',
    '--redis',
    redis.url,
    '--history',
    '10000',
    '--rate-limit',
    '100000',
    '--rate-burst',
    '100000',
    '--max-backpressure',
    String(64 << 20),
  ];
  const [ahead, laggard] = await Promise.all([startHost(args), startHost(args)]);
  const clients: TestClient[] = [];
  try {
    await Promise.all([waitInStep(ahead), waitInStep(laggard)]);
    const sender = await TestClient.connect(ahead.ws);
    const behind = await TestClient.connect(laggard.ws);
    clients.push(sender, behind);
    const joined = await sender.join('lag', 'sender');
    await behind.join('lag', 'behind');
    for (let i = 1; i <= 2; i++) await sender.say('lag', `early ${i}`);
    await behind.next('message', (m) => m.text === 'early 2');
    behind.drain();

    // The laggard stops reading; the room goes on without it (16 MB: more than the socket buffers
    // between Redis and the laggard hold, so Redis keeps the rest for it); then Redis dies and comes back empty.
    laggard.process.kill('SIGSTOP');
    const big = '😀'.repeat(1980); // with the prefix, within --max-text 2000
    let lastUnseen = 0;
    for (let i = 1; i <= UNSEEN; i++) {
      lastUnseen = sender.newRequestId();
      sender.send({ type: 'say', requestId: lastUnseen, room: 'lag', text: `unseen ${i} ${big}`, to: null });
    }
    expect(await sender.nextWhere((e) => 'requestId' in e && e.requestId === lastUnseen)).toMatchObject({ type: 'sent', seq: 2 + UNSEEN });
    // The sender's own node has handed it everything (taken out here: the last one) before that node stops too.
    await sender.nextWhere((e) => e.type === 'message' && e.seq === 2 + UNSEEN);
    const aheadInStep = timesInStep(ahead);
    const laggardInStep = timesInStep(laggard);
    ahead.process.kill('SIGSTOP');
    await redis.stop('SIGKILL');
    await redis.start();
    // The laggard, which delivered only up to seq 2, syncs the room first.
    laggard.process.kill('SIGCONT');
    await waitInStep(laggard, laggardInStep);
    const afterRestart = await behind.say('lag', 'said by the laggard');
    ahead.process.kill('SIGCONT');
    await waitInStep(ahead, aheadInStep);
    await sender.say('lag', 'last');

    const streams = await receiveWithEpochs([sender, behind], 'lag', [joined.epoch, joined.epoch], (m) => m.text === 'last');
    // No number names two messages within an epoch, whatever each client saw.
    oneTextPerNumber(streams.map((s) => s.seen));
    for (const { seen, restarts } of streams) {
      // Both were told that the room started again, as a gap, before its messages.
      expect(restarts).toHaveLength(1);
      expect(restarts[0]).toMatchObject({ recovered: false });
      expect(restarts[0]!.epoch).toBeGreaterThan(joined.epoch);
      const fresh = seen.filter((m) => m.epoch === restarts[0]!.epoch);
      expect(fresh.map((m) => [m.seq, m.text])).toEqual([
        [1, 'said by the laggard'],
        [2, 'last'],
      ]);
    }
    expect(afterRestart.seq).toBe(1);
    // The laggard's client got the unseen messages that were on their way in socket buffers, in order; the rest
    // were lost with Redis (their senders had Sent): it was told of the gap.
    const laggardSaw = streams[1]!.seen.filter((m) => m.epoch === joined.epoch).map((m) => m.seq);
    expect(laggardSaw).toEqual(Array.from({ length: laggardSaw.length }, (_, i) => i + 3));
    expect(laggardSaw.length).toBeLessThan(UNSEEN);
    expect(streams[0]!.seen.filter((m) => m.epoch === joined.epoch).map((m) => m.seq)).toEqual(Array.from({ length: 1 + UNSEEN }, (_, i) => i + 1));
    const late = await TestClient.connect(ahead.ws);
    clients.push(late);
    expect(await late.join('lag', 'late')).toMatchObject({ epoch: streams[0]!.restarts[0]!.epoch, headSeq: 2 });
  } finally {
    for (const host of [ahead, laggard]) host.process.kill('SIGCONT');
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([ahead.stop(), laggard.stop()]);
    await redis.stop();
  }
});
