/**
 * The worker's end of the relay (WorkerEnd) wired to the main thread's end (MainEnd)
 * with the in-process sequencer behind it: first by direct calls, then through a real
 * MessageChannel, with a BrokerHandler that records what comes back.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, test } from 'vitest';
import { decodeServerFrame, type ServerEvent } from '../../src/protocol/index.js';
import { BatchWriter, HubOp, type RelayBatch, WorkerOp } from '../../src/relay/batch.js';
import type { BrokerHandler } from '../../src/relay/broker.js';
import { MainEnd } from '../../src/relay/main-end.js';
import { WorkerEnd } from '../../src/relay/worker-end.js';
import { InProcessSequencer } from '../../src/sequencer/in-process.js';
import { DEFAULT_SETTINGS, flush, silentLog } from '../sequencer/harness.js';

type Call =
  | { readonly call: 'publish'; readonly room: string; readonly event: ServerEvent }
  | { readonly call: 'send'; readonly conn: string; readonly event: ServerEvent }
  | { readonly call: 'sendInRoom'; readonly conn: string; readonly room: string; readonly event: ServerEvent }
  | { readonly call: 'joined'; readonly conn: string; readonly attempt: number; readonly room: string; readonly event: ServerEvent }
  | { readonly call: 'joinFailed'; readonly conn: string; readonly attempt: number; readonly room: string; readonly event: ServerEvent }
  | { readonly call: 'removed'; readonly conn: string; readonly room: string; readonly event: ServerEvent };

/** Records every handler call with its frame decoded. */
class RecordingHandler implements BrokerHandler {
  calls: Call[] = [];
  frames: Uint8Array[] = [];
  onPublish(room: string, frame: Uint8Array): void {
    this.frames.push(frame);
    this.calls.push({ call: 'publish', room, event: decodeServerFrame(frame) });
  }
  onSend(conn: string, frame: Uint8Array): void {
    this.frames.push(frame);
    this.calls.push({ call: 'send', conn, event: decodeServerFrame(frame) });
  }
  onSendInRoom(conn: string, room: string, frame: Uint8Array): void {
    this.frames.push(frame);
    this.calls.push({ call: 'sendInRoom', conn, room, event: decodeServerFrame(frame) });
  }
  onJoined(conn: string, attempt: number, room: string, frame: Uint8Array): void {
    this.frames.push(frame);
    this.calls.push({ call: 'joined', conn, attempt, room, event: decodeServerFrame(frame) });
  }
  onJoinFailed(conn: string, attempt: number, room: string, frame: Uint8Array): void {
    this.frames.push(frame);
    this.calls.push({ call: 'joinFailed', conn, attempt, room, event: decodeServerFrame(frame) });
  }
  onRemoved(conn: string, room: string, frame: Uint8Array): void {
    this.frames.push(frame);
    this.calls.push({ call: 'removed', conn, room, event: decodeServerFrame(frame) });
  }
  /** The calls since the last drain. */
  drain(): Call[] {
    const calls = this.calls;
    this.calls = [];
    return calls;
  }
}

const hubs: MainEnd[] = [];
const sequencers: InProcessSequencer[] = [];
/** Ends the presence tick of every sequencer now. */
const tick = (): void => {
  for (const sequencer of sequencers) sequencer.flushPresence();
};
const ports: MessagePort[] = [];
afterEach(() => {
  for (const hub of hubs.splice(0)) void hub.stop();
  sequencers.length = 0;
  for (const port of ports.splice(0)) port.close();
});

let clock = 1_700_000_000_000;
/** The main thread's end of the relay, an in-process sequencer behind it. */
function newHub(): MainEnd {
  const sequencer = new InProcessSequencer(DEFAULT_SETTINGS, () => clock);
  sequencers.push(sequencer);
  const hub = new MainEnd(sequencer, silentLog);
  void hub.start();
  hubs.push(hub);
  return hub;
}

/** A worker's end of the relay talking to `hub` as worker `index` by direct calls (no thread, no clone). */
function directWorker(hub: MainEnd, index: number): { broker: WorkerEnd; handler: RecordingHandler; hubPosts: RelayBatch[] } {
  const hubPosts: RelayBatch[] = [];
  const broker = new WorkerEnd({
    postMessage: (value) => {
      hubPosts.push(value as RelayBatch);
      hub.receive(index, value as RelayBatch);
    },
  });
  const handler = new RecordingHandler();
  broker.setHandler(handler);
  hub.attach(index, index + 1, { postMessage: (value: unknown) => broker.receive(value as RelayBatch) }, false);
  return { broker, handler, hubPosts };
}

const LOBBY_JOIN = (requestId: number, nickname: string, since: number | null = null) => ({ requestId, room: 'lobby', nickname, since, epoch: 0 });

describe('WorkerEnd requests', () => {
  test('requests of one turn go to the hub as one batch with the documented op layouts', async () => {
    const posts: unknown[] = [];
    const broker = new WorkerEnd({ postMessage: (value) => posts.push(value) });
    broker.open('c1');
    broker.join('c1', 3, LOBBY_JOIN(9, 'ann'));
    broker.join('c1', 4, { requestId: 10, room: 'other', nickname: 'ann', since: 0, epoch: 0 });
    broker.say('c1', { requestId: 11, room: 'lobby', text: 'hi', to: null });
    broker.say('c1', { requestId: 12, room: 'lobby', text: 'psst', to: 'c2' });
    broker.leave('c1', 'lobby');
    broker.close('c1');
    void broker.stats();
    void broker.room('lobby');
    expect(posts).toHaveLength(0); // not before the turn ends
    await flush();
    expect(posts).toEqual([
      {
        kind: 'relay',
        buffer: null,
        ops: [
          WorkerOp.Open,
          'c1',
          WorkerOp.Join,
          'c1',
          3,
          9,
          'lobby',
          'ann',
          -1,
          0,
          -1, // no address slot
          '', // no resume key
          WorkerOp.Join,
          'c1',
          4,
          10,
          'other',
          'ann',
          0,
          0,
          -1,
          '',
          WorkerOp.Say,
          'c1',
          11,
          'lobby',
          'hi',
          '',
          WorkerOp.Say,
          'c1',
          12,
          'lobby',
          'psst',
          'c2',
          WorkerOp.Leave,
          'c1',
          'lobby',
          WorkerOp.Close,
          'c1',
          WorkerOp.Query,
          1,
          'stats',
          '',
          WorkerOp.Query,
          2,
          'room',
          'lobby',
        ],
      },
    ]);
    broker.open('c2');
    await flush();
    expect(posts).toHaveLength(2);
    expect((posts[1] as RelayBatch).ops).toEqual([WorkerOp.Open, 'c2']);
  });

  test('receive() before setHandler throws', () => {
    const broker = new WorkerEnd({ postMessage: () => undefined });
    expect(() => broker.receive({ kind: 'relay', ops: [], buffer: null })).toThrow(/setHandler/);
  });

  test('receive() turns hub ops into handler calls in order, with each frame as its own view', () => {
    const broker = new WorkerEnd({ postMessage: () => undefined });
    const seen: unknown[] = [];
    broker.setHandler({
      onPublish: (room, f) => seen.push(['publish', room, [...f]]),
      onSend: (conn, f) => seen.push(['send', conn, [...f]]),
      onSendInRoom: (conn, room, f) => seen.push(['sendInRoom', conn, room, [...f]]),
      onJoined: (conn, attempt, room, f) => seen.push(['joined', conn, attempt, room, [...f]]),
      onJoinFailed: (conn, attempt, room, f) => seen.push(['joinFailed', conn, attempt, room, [...f]]),
      onRemoved: (conn, room, f) => seen.push(['removed', conn, room, [...f]]),
    });
    const w = new BatchWriter();
    const shared = Uint8Array.of(1, 2, 3, 4);
    w.push(HubOp.Publish, 'r');
    w.pushFrame(shared);
    w.push(HubOp.Send, 'c1');
    w.pushFrame(Uint8Array.of(5, 6));
    w.push(HubOp.Joined, 'c2', 7, 'r');
    w.pushFrame(Uint8Array.of(8));
    w.push(HubOp.JoinFailed, 'c3', 8, 'r');
    w.pushFrame(Uint8Array.of(9, 9, 9));
    w.push(HubOp.Send, 'c4');
    w.pushFrame(shared);
    broker.receive(w.take());
    expect(seen).toEqual([
      ['publish', 'r', [1, 2, 3, 4]],
      ['send', 'c1', [5, 6]],
      ['joined', 'c2', 7, 'r', [8]],
      ['joinFailed', 'c3', 8, 'r', [9, 9, 9]],
      ['send', 'c4', [1, 2, 3, 4]],
    ]);
  });

  test('receive() throws on an unknown hub op', () => {
    const broker = new WorkerEnd({ postMessage: () => undefined });
    broker.setHandler(new RecordingHandler());
    expect(() => broker.receive({ kind: 'relay', ops: [42], buffer: null })).toThrow(/unknown hub op/);
  });
});

describe('WorkerEnd + MainEnd by direct calls', () => {
  test('join, say, private say, refused join, leave and close produce the expected handler calls in order', async () => {
    const hub = newHub();
    const w0 = directWorker(hub, 0);
    const w1 = directWorker(hub, 1);

    w0.broker.open('c1');
    w0.broker.join('c1', 1, LOBBY_JOIN(1, 'ann'));
    await flush();
    expect(w0.handler.drain()).toEqual([
      {
        call: 'joined',
        conn: 'c1',
        attempt: 1,
        room: 'lobby',
        event: {
          type: 'joined',
          requestId: 1,
          room: 'lobby',
          you: { id: 'c1', name: 'ann' },
          members: [{ id: 'c1', name: 'ann' }],
          history: [],
          headSeq: 0,
          recovered: false,
          epoch: 1_700_000_000_000_000,
          memberCount: 1,
          nextAfter: '',
          resumeKey: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/),
        },
      },
    ]);
    expect(w1.handler.drain()).toEqual([]);
    tick();
    await flush();
    const annJoined = { type: 'presence', room: 'lobby', joined: [{ id: 'c1', name: 'ann' }], left: [], memberCount: 1 };
    expect(w0.handler.drain()).toEqual([{ call: 'publish', room: 'lobby', event: annJoined }]);

    w1.broker.open('c2');
    w1.broker.join('c2', 1, LOBBY_JOIN(2, 'bob'));
    await flush();
    expect(w0.handler.drain()).toEqual([]);
    expect(w1.handler.drain()).toEqual([expect.objectContaining({ call: 'joined', conn: 'c2', attempt: 1, room: 'lobby' })]);
    tick();
    await flush();
    const bobJoined = { type: 'presence', room: 'lobby', joined: [{ id: 'c2', name: 'bob' }], left: [], memberCount: 2 };
    expect(w0.handler.drain()).toEqual([{ call: 'publish', room: 'lobby', event: bobJoined }]);
    expect(w1.handler.drain()).toEqual([{ call: 'publish', room: 'lobby', event: bobJoined }]);

    clock = 1_700_000_000_500;
    w0.broker.say('c1', { requestId: 3, room: 'lobby', text: 'hi all', to: null });
    await flush();
    const hi = { type: 'message', room: 'lobby', seq: 1, sender: { id: 'c1', name: 'ann' }, to: null, text: 'hi all', timestampMs: clock };
    expect(w0.handler.drain()).toEqual([
      { call: 'publish', room: 'lobby', event: hi },
      { call: 'send', conn: 'c1', event: { type: 'sent', requestId: 3, room: 'lobby', seq: 1 } },
    ]);
    expect(w1.handler.drain()).toEqual([{ call: 'publish', room: 'lobby', event: hi }]);

    w1.broker.say('c2', { requestId: 4, room: 'lobby', text: 'psst', to: 'c1' });
    await flush();
    const psst = { type: 'message', room: 'lobby', seq: 0, sender: { id: 'c2', name: 'bob' }, to: { id: 'c1', name: 'ann' }, text: 'psst', timestampMs: clock };
    expect(w0.handler.drain()).toEqual([{ call: 'sendInRoom', conn: 'c1', room: 'lobby', event: psst }]);
    expect(w1.handler.drain()).toEqual([
      { call: 'sendInRoom', conn: 'c2', room: 'lobby', event: psst },
      { call: 'send', conn: 'c2', event: { type: 'sent', requestId: 4, room: 'lobby', seq: 0 } },
    ]);

    w1.broker.open('c3');
    w1.broker.join('c3', 5, LOBBY_JOIN(5, 'ANN'));
    await flush();
    expect(w0.handler.drain()).toEqual([]);
    expect(w1.handler.drain()).toEqual([
      {
        call: 'joinFailed',
        conn: 'c3',
        attempt: 5,
        room: 'lobby',
        event: expect.objectContaining({ type: 'error', requestId: 5, code: 'NicknameTaken', room: 'lobby' }),
      },
    ]);

    w0.broker.leave('c1', 'lobby');
    await flush();
    tick();
    await flush();
    expect(w0.handler.drain()).toEqual([]);
    expect(w1.handler.drain()).toEqual([
      { call: 'publish', room: 'lobby', event: { type: 'presence', room: 'lobby', joined: [], left: [{ id: 'c1', name: 'ann' }], memberCount: 1 } },
    ]);

    w1.broker.close('c2');
    await flush();
    tick();
    await flush();
    expect(w0.handler.drain()).toEqual([]);
    expect(w1.handler.drain()).toEqual([]); // nobody left in the room to tell
    expect(await w0.broker.rooms()).toEqual([{ name: 'lobby', members: 0, headSeq: 1 }]);
  });

  test('requests of one turn are carried out in order: join then say in the same turn is not NotJoined', async () => {
    const hub = newHub();
    const w0 = directWorker(hub, 0);
    w0.broker.open('c1');
    w0.broker.join('c1', 1, LOBBY_JOIN(1, 'ann'));
    w0.broker.say('c1', { requestId: 2, room: 'lobby', text: 'first', to: null });
    w0.broker.leave('c1', 'lobby');
    w0.broker.say('c1', { requestId: 3, room: 'lobby', text: 'too late', to: null });
    await flush();
    expect(w0.hubPosts).toHaveLength(1);
    const calls = w0.handler.drain();
    expect(calls.map((c) => `${c.call}:${c.event.type}`)).toEqual(['joined:joined', 'publish:message', 'send:sent', 'send:error']);
    expect(calls[3]!.event).toMatchObject({ type: 'error', requestId: 3, code: 'NotJoined' });
  });

  test('a rejoin with `since` gets exactly the missed messages', async () => {
    const hub = newHub();
    const w0 = directWorker(hub, 0);
    const w1 = directWorker(hub, 1);
    w0.broker.open('c1');
    w1.broker.open('c2');
    w0.broker.join('c1', 1, LOBBY_JOIN(1, 'ann'));
    w1.broker.join('c2', 1, LOBBY_JOIN(1, 'bob'));
    await flush();
    w0.broker.say('c1', { requestId: 2, room: 'lobby', text: 'one', to: null });
    w1.broker.leave('c2', 'lobby');
    await flush();
    w0.broker.say('c1', { requestId: 3, room: 'lobby', text: 'two', to: null });
    w0.broker.say('c1', { requestId: 4, room: 'lobby', text: 'three', to: null });
    await flush();
    w1.handler.drain();
    w1.broker.join('c2', 2, LOBBY_JOIN(5, 'bob', 1));
    await flush();
    const joined = w1.handler.drain().find((c) => c.call === 'joined');
    expect(joined?.event).toMatchObject({ type: 'joined', headSeq: 3, recovered: true });
    expect(joined?.event.type === 'joined' && joined.event.history.map((m) => [m.seq, m.text])).toEqual([
      [2, 'two'],
      [3, 'three'],
    ]);
  });

  test('queries resolve: rooms(), room(), stats(), several in flight at once', async () => {
    const hub = newHub();
    const w0 = directWorker(hub, 0);
    const w1 = directWorker(hub, 1);
    w0.broker.open('c1');
    w1.broker.open('c2');
    w1.broker.open('c3');
    w0.broker.join('c1', 1, LOBBY_JOIN(1, 'ann'));
    w1.broker.join('c2', 1, LOBBY_JOIN(1, 'bob'));
    w1.broker.join('c3', 1, { requestId: 1, room: 'quiet', nickname: 'cat', since: null, epoch: 0 });
    w0.broker.say('c1', { requestId: 2, room: 'lobby', text: 'hello', to: null });
    // Order holds per worker, not across workers: let both workers' requests reach the hub first.
    await flush();
    const [rooms, lobby, none, stats, rooms1] = await Promise.all([
      w0.broker.rooms(),
      w0.broker.room('lobby'),
      w0.broker.room('none'),
      w0.broker.stats(),
      w1.broker.rooms(),
    ]);
    expect(rooms).toEqual([
      { name: 'lobby', members: 2, headSeq: 1 },
      { name: 'quiet', members: 1, headSeq: 0 },
    ]);
    expect(rooms1).toEqual(rooms);
    expect(lobby).toEqual({
      name: 'lobby',
      members: 2,
      headSeq: 1,
      memberList: [
        { id: 'c1', name: 'ann' },
        { id: 'c2', name: 'bob' },
      ],
      recent: [{ seq: 1, sender: { id: 'c1', name: 'ann' }, text: 'hello', timestampMs: clock }],
    });
    expect(none).toBeNull();
    expect(stats).toEqual({
      workers: 2,
      connections: 3,
      rooms: 2,
      workerRestarts: 0,
      perWorker: [
        { index: 0, incarnation: 1, connections: 1 },
        { index: 1, incarnation: 2, connections: 2 },
      ],
    });
  });
});

describe('WorkerEnd + MainEnd through a MessageChannel', () => {
  /** A worker whose end of the relay reaches the main end through a real MessagePort pair (structured clone, transfer). */
  function channelWorker(hub: MainEnd, index: number) {
    const { port1: workerSide, port2: hubSide } = new MessageChannel();
    ports.push(workerSide, hubSide);
    const broker = new WorkerEnd(workerSide);
    const handler = new RecordingHandler();
    broker.setHandler(handler);
    workerSide.on('message', (batch: RelayBatch) => broker.receive(batch));
    hubSide.on('message', (batch: RelayBatch) => hub.receive(index, batch));
    const sentByHub: RelayBatch[] = [];
    hub.attach(
      index,
      index + 1,
      {
        postMessage(value: unknown, transfer?: ArrayBuffer[]) {
          sentByHub.push(value as RelayBatch);
          hubSide.postMessage(value, transfer ?? []);
        },
      },
      false,
    );
    return { broker, handler, sentByHub };
  }

  test('round trips across the channel; the frame buffer is transferred, and handler calls arrive before a later query answer', async () => {
    const hub = newHub();
    const w0 = channelWorker(hub, 0);
    const w1 = channelWorker(hub, 1);
    w0.broker.open('c1');
    w0.broker.join('c1', 1, LOBBY_JOIN(1, 'ann'));
    // One channel is ordered: once a query's answer is back, so is everything the hub sent before it.
    expect((await w0.broker.stats()).connections).toBe(1);
    w1.broker.open('c2');
    w1.broker.join('c2', 1, LOBBY_JOIN(2, 'bob'));
    expect((await w1.broker.stats()).connections).toBe(2);
    tick();
    await w0.broker.stats();
    await w1.broker.stats();
    expect(w0.handler.drain().map((c) => `${c.call}:${c.event.type}`)).toEqual(['joined:joined', 'publish:presence']);
    expect(w1.handler.drain().map((c) => `${c.call}:${c.event.type}`)).toEqual(['joined:joined', 'publish:presence']);

    // Transfer: the hub's copy of a posted frame buffer is detached once it is sent.
    const withFrames = w0.sentByHub.find((b) => b.buffer !== null);
    expect(withFrames).toBeDefined();
    expect(withFrames!.buffer!.byteLength).toBe(0);

    w1.broker.say('c2', { requestId: 3, room: 'lobby', text: 'over the wire', to: null });
    await w1.broker.rooms();
    await w0.broker.rooms();
    expect(w1.handler.drain().map((c) => c.event)).toEqual([
      expect.objectContaining({ type: 'message', seq: 1, text: 'over the wire' }),
      { type: 'sent', requestId: 3, room: 'lobby', seq: 1 },
    ]);
    expect(w0.handler.drain().map((c) => c.event)).toEqual([expect.objectContaining({ type: 'message', seq: 1, text: 'over the wire' })]);

    const detail = await w1.broker.room('lobby');
    expect(detail?.memberList).toEqual([
      { id: 'c1', name: 'ann' },
      { id: 'c2', name: 'bob' },
    ]);
    expect(await w0.broker.room('nope')).toBeNull();
  });
});
