/**
 * Every member sees the same room messages in the same order, gap-free, whichever
 * worker holds its socket, with senders on both workers sending at once.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { connectAcrossWorkers, type TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';

let host: Host;
let everyone: TestClient[] = [];

beforeAll(async () => {
  // Each sender fires 50 requests at once: past the default burst of 40 (flood control has its own tests).
  host = await startHost(['--workers', '2', '--history', '1000', '--rate-burst', '100']);
});
afterAll(async () => {
  await Promise.all(everyone.map((c) => c.close()));
  await host.stop();
});

test('members and senders spread over 2 workers see one gap-free order', async () => {
  const groups = await connectAcrossWorkers(host.ws, 2, 4);
  everyone = groups.flat();
  expect(new Set(everyone.map((c) => c.incarnation)).size).toBe(2);
  for (const [i, c] of everyone.entries()) await c.join('order', `member${i}`);

  const perSender = 50;
  const senders = everyone.filter((_, i) => i % 2 === 0); // two senders on each worker
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
  // And a late joiner's history is the same sequence.
  const history = (await (await fetch(`${host.http}/api/rooms/order`)).json()) as { headSeq: number };
  expect(history.headSeq).toBe(total);
});
