/**
 * Every member sees the same room messages in the same order, gap-free, whichever
 * worker (and node, in a 2-node cluster) holds its socket, with senders on every
 * worker and node sending at once.
 */
import { describe, expect, test } from 'vitest';
import { SharedHost, TOPOLOGIES } from '../helpers/shared-host.js';

describe.each(TOPOLOGIES)('$name', (topology) => {
  // Each sender fires 50 requests at once: past the default burst of 40 (flood control has its own tests).
  const shared = new SharedHost(['--workers', '2', '--history', '1000', '--rate-burst', '100'], topology);

  test('members and senders spread over every worker see one gap-free order', async () => {
    const groups = await shared.connectAcross(2);
    const everyone = groups.flat();
    expect(new Set(everyone.map((c) => c.id.split('.').slice(0, 2).join('.'))).size).toBe(2 * topology.nodes);
    for (const [i, c] of everyone.entries()) await c.join('order', `member${i}`);

    const perSender = 50;
    const senders = groups.map((g) => g[0]!); // one sender on each worker of each node
    // Fire everything without waiting, interleaved across senders.
    for (let n = 0; n < perSender; n++) {
      for (const sender of senders) sender.send({ type: 'say', requestId: 0, room: 'order', text: `${sender.id}#${n}`, to: null });
    }
    const total = perSender * senders.length;

    const received = await Promise.all(
      everyone.map(async (c) => {
        const messages = [];
        while (messages.length < total) messages.push(await c.next('message'));
        return messages.map((m) => ({ seq: m.seq, sender: m.sender.id, text: m.text }));
      }),
    );

    const reference = received[0]!;
    expect(reference.map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    for (const list of received) expect(list).toEqual(reference);
    // Each sender's messages keep the order it sent them in.
    for (const sender of senders) {
      const mine = reference.filter((m) => m.sender === sender.id).map((m) => m.text);
      expect(mine).toEqual(Array.from({ length: perSender }, (_, n) => `${sender.id}#${n}`));
    }
    // And the room's head is the same from every node.
    for (const host of shared.hosts) {
      const room = (await (await fetch(`${host.http}/api/rooms/order`)).json()) as { headSeq: number };
      expect(room.headSeq).toBe(total);
    }
  });
});
