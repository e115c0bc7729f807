/**
 * Redis restarts under traffic. Connections stay up; requests that need the cluster
 * get Unavailable marked temporary; when Redis is back (empty: nothing is saved) the
 * nodes resubscribe and put the rooms and their members back by themselves. Every
 * member sees every accepted message exactly once, in sequence order, gap-free, and
 * a client that went away during the outage recovers on the other node from history.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { ErrorEvent, TestClient } from '../helpers/client.js';
import { SharedHost, timesInStep, TOPOLOGIES, waitInStep } from '../helpers/shared-host.js';
import { TestClient as Client } from '../helpers/client.js';

const shared = new SharedHost(['--workers', '2', '--history', '10000', '--node-ttl', '2'], TOPOLOGIES[1]);

/** The most messages one sender may try: the load loop's bound. */
const MAX_SENDS = 20_000;
/** Pause between one sender's requests, so that the refused ones during the outage stay few. */
const PACE_MS = 2;

interface Outcome {
  readonly text: string;
  readonly seq: number | null;
  readonly error: ErrorEvent | null;
}

/** Says numbered messages one at a time, waiting for each reply, until `stop` or MAX_SENDS. */
function sender(client: TestClient, room: string, stop: { now: boolean }, onOutcome: (o: Outcome) => void): Promise<Outcome[]> {
  return (async () => {
    const outcomes: Outcome[] = [];
    for (let n = 0; n < MAX_SENDS && !stop.now; n++) {
      const requestId = client.newRequestId();
      const text = `${client.id}#${n}`;
      client.send({ type: 'say', requestId, room, text, to: null });
      const reply = await client.nextWhere((e) => 'requestId' in e && e.requestId === requestId && (e.type === 'sent' || e.type === 'error'));
      const outcome = { text, seq: reply.type === 'sent' ? reply.seq : null, error: reply.type === 'error' ? reply : null };
      outcomes.push(outcome);
      onOutcome(outcome);
      await new Promise((resolve) => setTimeout(resolve, PACE_MS));
    }
    return outcomes;
  })();
}

let members: TestClient[];
let leaver: TestClient;

beforeAll(async () => {
  members = [await shared.connect(), await shared.connect(), await shared.connect(), await shared.connect()];
  leaver = await shared.connect();
});
afterAll(async () => {
  await Promise.all([...members, leaver].map((c) => c.close()));
});

test('a Redis restart under traffic: no loss, no duplicates, order kept, presence repaired', { timeout: 90_000 }, async () => {
  const [n0, n1] = shared.hosts as [(typeof shared.hosts)[0], (typeof shared.hosts)[0]];
  const redis = shared.redis!;
  for (const [i, c] of members.entries()) await c.join('storm', `s${i}`);
  const leaverJoined = await leaver.join('storm', 'leaver');
  // Everyone has seen everyone join (the leaver last): from here on, presence must not change but for the leaver.
  for (const c of members) {
    await c.next('memberJoined', (e) => e.member.id === leaver.id);
    c.drain();
  }
  const leaverNode = leaver.id.split('.')[0];

  // One sender on each node; each waits for its reply before the next message.
  const stop = { now: false };
  let accepted = 0;
  let refused = 0;
  const wake: (() => void)[] = [];
  const onOutcome = (o: Outcome): void => {
    if (o.seq !== null) accepted++;
    else refused++;
    for (const w of wake.splice(0)) w();
  };
  const until = async (condition: () => boolean): Promise<void> => {
    while (!condition()) await new Promise<void>((resolve) => wake.push(resolve));
  };
  const sending = [sender(members[0]!, 'storm', stop, onOutcome), sender(members[1]!, 'storm', stop, onOutcome)];

  await until(() => accepted >= 50);
  const inStepBefore = shared.hosts.map(timesInStep);
  await redis.stop('SIGTERM');
  await until(() => refused >= 2);

  // During the outage: joins are refused as temporary too; a leave and a close still work locally.
  const outsider = await Client.connect(n1.ws);
  const refusedJoin = await outsider.expectError({ type: 'join', requestId: 77, room: 'storm', nickname: 'outsider', since: null });
  expect(refusedJoin).toMatchObject({ code: 'Unavailable', temporary: true, room: 'storm' });
  const leaverSaw = leaver.takeMessages('storm');
  const lastSeenByLeaver = leaverSaw.length > 0 ? leaverSaw.at(-1)!.seq : leaverJoined.headSeq;
  await leaver.close();

  await redis.start();
  await Promise.all(shared.hosts.map((h, i) => waitInStep(h, inStepBefore[i])));
  const acceptedAtReturn = accepted;
  await until(() => accepted >= acceptedAtReturn + 50);
  stop.now = true;
  const outcomes = (await Promise.all(sending)).flat();

  // The last accepted message of each sender is a barrier: after it, everyone has everything.
  const lastSeq = Math.max(...outcomes.map((o) => o.seq ?? 0));
  const received = await Promise.all(
    members.map(async (c) => {
      const messages = [];
      for (;;) {
        const m = await c.next('message', (e) => e.room === 'storm');
        messages.push(m);
        if (m.seq >= lastSeq) return messages;
      }
    }),
  );

  // Connections stayed up.
  for (const c of [...members, outsider]) expect(c.socket.readyState).toBe(c.socket.OPEN);
  // Every refusal was the documented temporary one.
  const errors = outcomes.flatMap((o) => (o.error ? [o.error] : []));
  expect(errors.length).toBeGreaterThan(0);
  for (const e of errors) expect(e).toMatchObject({ code: 'Unavailable', temporary: true });

  const acceptedTexts = outcomes.filter((o) => o.seq !== null).map((o) => o.text);
  for (const list of received) {
    const seqs = list.map((m) => m.seq);
    // In order and gap-free from the first one this member saw, no duplicates.
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
    // Everything accepted arrived (exactly once, by the line above), and nothing refused did.
    expect(new Set(list.map((m) => m.text))).toEqual(new Set(acceptedTexts));
  }
  // Everyone saw the same sequence, with the seq each sender was told.
  for (const list of received) expect(list.map((m) => [m.seq, m.text])).toEqual(received[0]!.map((m) => [m.seq, m.text]));
  const seqOf = new Map(received[0]!.map((m) => [m.text, m.seq]));
  for (const o of outcomes) if (o.seq !== null) expect(seqOf.get(o.text)).toBe(o.seq);

  // Presence repaired: the members are back in Redis, the leaver is gone, everyone was told it left and nothing else.
  const memberIds = members.map((c) => c.id).sort();
  for (const host of shared.hosts) {
    const detail = (await (await fetch(`${host.http}/api/rooms/storm`)).json()) as { memberList: { id: string }[] };
    expect(detail.memberList.map((m) => m.id).sort()).toEqual(memberIds);
  }
  for (const c of members) {
    expect((await c.next('memberLeft')).member.id).toBe(leaver.id);
    expect(c.events.filter((e) => e.type === 'memberLeft' || e.type === 'memberJoined')).toEqual([]);
  }

  // The leaver comes back on the other node and recovers everything it missed from history.
  const otherNode = shared.hosts.find((h) => !h.logs.some((l) => l.node === leaverNode)) ?? n0;
  const back = await Client.connect(otherNode.ws);
  shared.track(back);
  const rejoined = await back.join('storm', 'leaver', lastSeenByLeaver);
  expect(back.id.split('.')[0]).not.toBe(leaverNode);
  expect(rejoined.epoch).toBe(leaverJoined.epoch);
  expect(rejoined.recovered).toBe(true);
  expect(rejoined.history.map((m) => m.seq)).toEqual(received[0]!.filter((m) => m.seq > lastSeenByLeaver).map((m) => m.seq));
  await outsider.close();
});
