/**
 * With --redis, a compat client on one node and clients of either protocol on another are
 * in one room: logins and logouts, room messages in one order, and private messages both
 * ways, with the same client ids on both nodes (keyed by the cluster's name).
 */
import { expect, test } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { CompatClient } from '../helpers/compat-client.js';
import { startHost } from '../helpers/host.js';
import { startRedis } from '../helpers/redis.js';
import { waitInStep } from '../helpers/shared-host.js';

test('a compat client on node A talks with a compat client and a FlatBuffers client on node B', { timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const args = ['--workers', '2', '--redis', redis.url, '--compat-port', '0'];
  const [a, b] = await Promise.all([startHost(args), startHost(args)]);
  const clients: { close(): Promise<unknown> }[] = [];
  try {
    await Promise.all([waitInStep(a), waitInStep(b)]);
    const flatOnB = await TestClient.connect(b.ws);
    clients.push(flatOnB);
    await flatOnB.join('42', 'Flat');

    const annOnA = await CompatClient.connect(a.compatWs!);
    clients.push(annOnA);
    const annLogin = await annOnA.login('Ann', 42);
    const flatClientId = Object.entries(annLogin.client_list!).find(([, name]) => name === 'Flat')![0];
    await flatOnB.next('memberJoined', (e) => e.member.name === 'Ann');

    const bobOnB = await CompatClient.connect(b.compatWs!);
    clients.push(bobOnB);
    const bobLogin = await bobOnB.login('Bob', 42);
    // The same members under the same client ids, whichever node shows them.
    expect(bobLogin.client_list).toEqual({ ...annLogin.client_list, [bobLogin.client_id]: 'Bob' });
    expect((await annOnA.next('login', (f) => f.client_name === 'Bob')).client_id).toBe(bobLogin.client_id);

    // Room messages from all three, seen in one order by all three.
    annOnA.say('from A');
    bobOnB.say('from B');
    await flatOnB.say('42', 'from flat');
    const order = async (c: CompatClient): Promise<string[]> => {
      const out: string[] = [];
      while (out.length < 3) out.push((await c.nextSay()).content);
      return out;
    };
    const flatOrder: string[] = [];
    while (flatOrder.length < 3) flatOrder.push((await flatOnB.next('message', (m) => m.room === '42')).text);
    expect(await order(annOnA)).toEqual(flatOrder);
    expect(await order(bobOnB)).toEqual(flatOrder);

    // Private messages across nodes, both protocols.
    annOnA.say('A to flat on B', { id: flatClientId, name: 'Flat' });
    const toFlat = await flatOnB.next('message', (m) => m.text === 'A to flat on B');
    expect(toFlat.to?.name).toBe('Flat');
    expect((await annOnA.nextSay()).content).toBe('<b>你对Flat说: </b>A to flat on B');
    annOnA.say('A to Bob on B', { id: bobLogin.client_id, name: 'Bob' });
    expect(await bobOnB.nextSay()).toMatchObject({ from_client_id: annLogin.client_id, content: '<b>对你说: </b>A to Bob on B' });
    expect((await annOnA.nextSay()).content).toBe('<b>你对Bob说: </b>A to Bob on B');
    await flatOnB.say('42', 'flat to A', toFlat.sender.id);
    expect(await annOnA.nextSay()).toMatchObject({ from_client_id: flatClientId, to_client_id: annLogin.client_id, content: '<b>对你说: </b>flat to A' });

    // A logout on B reaches A.
    await bobOnB.close();
    expect((await annOnA.next('logout')).from_client_id).toBe(bobLogin.client_id);
    expect(annOnA.faults).toEqual([]);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([a.stop(), b.stop()]);
    await redis.stop();
  }
});
