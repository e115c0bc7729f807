/**
 * Resume keys in the in-process sequencer, behind the relay's main end: a rejoin that
 * presents the resume key of the membership holding its nickname takes it over at once
 * (the old connection is taken out of the room and told), and nothing else does.
 */
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { ServerEvent } from '../../src/protocol/index.js';
import { flush, RelayHarness, type Out } from './harness.js';

let h: RelayHarness;
beforeEach(() => {
  h = new RelayHarness(3);
});
afterEach(() => {
  h.stop();
});

type Joined = Extract<ServerEvent, { type: 'joined' }>;

/** The one join answer to `conn` among `outs`: Joined, or the refusal's ErrorReply. */
function answer(outs: readonly Out[], conn: string): Joined | Extract<ServerEvent, { type: 'error' }> {
  const found = outs.filter((o) => (o.op === 'joined' || o.op === 'joinFailed') && o.conn === conn);
  expect(found).toHaveLength(1);
  const event = found[0]!.op === 'joined' || found[0]!.op === 'joinFailed' ? found[0]!.event : null;
  if (event?.type !== 'joined' && event?.type !== 'error') throw new Error(`not a join answer: ${JSON.stringify(event)}`);
  return event;
}

async function joined(worker: number, conn: string, nickname: string, resumeKey?: string): Promise<Joined | Extract<ServerEvent, { type: 'error' }>> {
  h.join(worker, conn, 'lobby', nickname, resumeKey === undefined ? {} : { resumeKey });
  await flush();
  return answer(h.take(worker), conn);
}

test('a rejoin with the resume key takes the nickname over from a connection not seen to close; the old one is taken out and told', async () => {
  h.open(0, 'old');
  h.open(1, 'new', 'thief');
  h.open(2, 'bob');
  const first = await joined(0, 'old', 'ann');
  expect(first.type).toBe('joined');
  const key = first.type === 'joined' ? first.resumeKey : undefined;
  expect(key).toMatch(/^[A-Za-z0-9_-]{24}$/);
  await joined(2, 'bob', 'bob');
  h.tick();
  await h.settle();

  // Without the key, or with another one, the name stays taken.
  expect(await joined(1, 'thief', 'ann')).toMatchObject({ type: 'error', code: 'NicknameTaken' });
  expect(await joined(1, 'thief', 'ANN', 'A'.repeat(24))).toMatchObject({ type: 'error', code: 'NicknameTaken' });

  const resumed = await joined(1, 'new', 'ann', key);
  expect(resumed).toMatchObject({ type: 'joined', you: { id: 'new', name: 'ann' }, memberCount: 2 });
  expect(resumed.type === 'joined' && resumed.resumeKey).not.toBe(key);
  // The old connection's worker takes it out of the room and sends it an unasked Left.
  expect(h.take(0)).toMatchObject([{ op: 'removed', conn: 'old', room: 'lobby', event: { type: 'left', requestId: 0, room: 'lobby' } }]);
  h.tick();
  await flush();
  expect(h.take(2).flatMap((o) => ('event' in o && o.event.type === 'presence' ? [o.event] : []))).toEqual([
    { type: 'presence', room: 'lobby', joined: [{ id: 'new', name: 'ann' }], left: [{ id: 'old', name: 'ann' }], memberCount: 2 },
  ]);
  const room = await h.ask('room', 2, 'lobby');
  expect(room?.memberList.map((m) => m.id).sort()).toEqual(['bob', 'new']);

  // The old membership is gone: its key is spent, and its close changes nothing.
  expect(await joined(1, 'thief', 'ann', key)).toMatchObject({ type: 'error', code: 'NicknameTaken' });
  h.close(0, 'old');
  h.tick();
  await flush();
  expect(h.take(2)).toEqual([]);
  expect((await h.ask('room', 2, 'lobby'))?.memberList.map((m) => m.id).sort()).toEqual(['bob', 'new']);
});

test('a key opens only the membership it was given for: not another room, not another member', async () => {
  h.open(0, 'a', 'b');
  h.open(1, 'c');
  const ann = await joined(0, 'a', 'ann');
  const key = ann.type === 'joined' ? ann.resumeKey : undefined;
  h.join(0, 'b', 'other', 'ann');
  await flush();
  h.take(0);
  // bob's name with ann's key: bob holds it, ann's key is not his.
  await joined(0, 'b', 'bob');
  expect(await joined(1, 'c', 'bob', key)).toMatchObject({ type: 'error', code: 'NicknameTaken' });
  h.join(1, 'c', 'other', 'ann', { resumeKey: key! });
  await flush();
  expect(answer(h.take(1), 'c')).toMatchObject({ type: 'error', code: 'NicknameTaken' });
});
