/**
 * RoomStream, the cluster's per-room ordering, driven by scripted envelopes: a fake
 * io records what reaches the workers and holds each history fetch until the test
 * answers it, so every interleaving of channel traffic, markers, replies and gap
 * fills is played out exactly.
 */
import { describe, expect, test } from 'vitest';
import { decodeServerFrame, encodeMemberJoined, encodeMemberLeft, encodeMessage, type MemberInfo, type ServerEvent } from '../../../src/protocol/index.js';
import { type Envelope, EnvelopeKind, RESUMED_TOKEN } from '../../../src/sequencer/redis/format.js';
import { RoomStream, type RoomStreamIo } from '../../../src/sequencer/redis/room-stream.js';
import { silentLog } from '../harness.js';

const ROOM = 'lobby';
const EPOCH = 1_700_000_000_000_001;
const ann = { id: 'n1:1', name: 'ann' };
const bob = { id: 'n2:1', name: 'bob' };
const cat = { id: 'n1:2', name: 'cat' };

const messageFrame = (seq: number): Uint8Array => encodeMessage({ room: ROOM, seq, sender: bob, to: null, text: `m${seq}`, timestampMs: 1 });
const message = (seq: number, epoch = EPOCH): Envelope => ({ kind: EnvelopeKind.Message, head: seq, epoch, token: '', frame: messageFrame(seq) });
const joinedEnvelope = (member: { id: string; name: string }, head: number, token = '', epoch = EPOCH): Envelope => ({
  kind: EnvelopeKind.Member,
  head,
  epoch,
  token,
  frame: encodeMemberJoined(ROOM, member),
});
const leftEnvelope = (member: { id: string; name: string }, head: number): Envelope => ({
  kind: EnvelopeKind.Member,
  head,
  epoch: EPOCH,
  token: '',
  frame: encodeMemberLeft(ROOM, member),
});
const syncMarker = (head: number, token: string, epoch = EPOCH): Envelope => ({ kind: EnvelopeKind.Sync, head, epoch, token, frame: new Uint8Array(0) });

interface Fetch {
  readonly from: number;
  readonly to: number;
  resolve(seqs: number[]): void;
  reject(error: Error): void;
}

/** What the stream did, in order: deliveries (decoded), applied replies, owner alarms. */
type Step = string;

class FakeIo implements RoomStreamIo {
  readonly steps: Step[] = [];
  readonly fetches: Fetch[] = [];
  readonly local = new Set<string>();
  ownMemberRemovedCalls = 0;

  fetchRange(from: number, to: number): Promise<[number, Uint8Array][]> {
    return new Promise((resolve, reject) => {
      this.fetches.push({ from, to, resolve: (seqs) => resolve(seqs.map((seq) => [seq, messageFrame(seq)])), reject });
    });
  }

  memberJoined(member: MemberInfo, count: number): void {
    this.steps.push(`joined ${member.name} (${count})`);
  }

  memberLeft(member: MemberInfo, count: number): void {
    this.steps.push(`left ${member.name} (${count})`);
  }

  deliver(frame: Uint8Array): void {
    this.steps.push(describe_(decodeServerFrame(frame)));
  }

  isLocal(id: string): boolean {
    return this.local.has(id);
  }

  ownMemberRemoved(): void {
    this.ownMemberRemovedCalls++;
  }

  ownMemberResumed(member: MemberInfo): void {
    this.steps.push(`resumed away ${member.name}`);
  }

  epochChanged(epoch: number): void {
    this.steps.push(`epoch ${epoch}`);
  }

  /** The steps since the last call. */
  take(): Step[] {
    return this.steps.splice(0);
  }
}

function describe_(event: ServerEvent): Step {
  switch (event.type) {
    case 'message':
      return `message ${event.seq}`;
    case 'memberJoined':
      return `joined ${event.member.name}`;
    case 'memberLeft':
      return `left ${event.member.name}`;
    default:
      return event.type;
  }
}

/** The ids in the stream's view of the room's members. */
const ids = (stream: RoomStream): string[] => [...stream.view.values()].map((m) => m.id);

/** Lets promise callbacks (a fetch's answer) run. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A stream already in step at `head` (its first join's marker passed, reply applied). */
function inStep(head: number): { stream: RoomStream; io: FakeIo } {
  const io = new FakeIo();
  const stream = new RoomStream(ROOM, io, silentLog);
  const marker = stream.addMarker('join-1', () => io.steps.push('aborted join-1'));
  // As the sequencer does, a join forgets its marker once applied.
  stream.replied(marker, () => {
    stream.markers.delete('join-1');
    io.steps.push('apply join-1');
  });
  stream.receive(joinedEnvelope(ann, head, 'join-1'));
  expect(io.take()).toEqual(['joined ann (1)', 'apply join-1']);
  expect(stream.delivered).toBe(head);
  return { stream, io };
}

describe('getting in step', () => {
  test('nothing is delivered before the node meets its first marker; the marker sets the head and the epoch', () => {
    const io = new FakeIo();
    const stream = new RoomStream(ROOM, io, silentLog);
    const marker = stream.addMarker('join-1', () => undefined);
    stream.receive(message(4));
    stream.receive(joinedEnvelope(bob, 4));
    expect(io.take()).toEqual([]); // covered by the snapshot the join's reply brings
    expect(stream.delivered).toBeNull();
    stream.replied(marker, () => io.steps.push('apply'));
    stream.receive(joinedEnvelope(ann, 4, 'join-1'));
    expect(io.take()).toEqual(['joined ann (1)', 'apply']);
    expect([stream.delivered, stream.epoch]).toEqual([4, EPOCH]);
    stream.receive(message(5));
    expect(io.take()).toEqual(['message 5']);
  });

  test('a marker of another node is not this node’s first marker', () => {
    const io = new FakeIo();
    const stream = new RoomStream(ROOM, io, silentLog);
    stream.addMarker('mine', () => undefined);
    stream.receive(joinedEnvelope(bob, 0, 'theirs'));
    expect(stream.delivered).toBeNull();
    expect(io.take()).toEqual([]);
  });
});

describe('room messages', () => {
  test('in order, each once: a message at or below the head is dropped', () => {
    const { stream, io } = inStep(3);
    for (const seq of [4, 5, 5, 3, 6]) stream.receive(message(seq));
    expect(io.take()).toEqual(['message 4', 'message 5', 'message 6']);
    expect(stream.delivered).toBe(6);
  });

  test('a skipped number is fetched from history first; what arrives meanwhile waits and follows in order', async () => {
    const { stream, io } = inStep(5);
    stream.receive(message(8));
    expect(io.fetches.map((f) => [f.from, f.to])).toEqual([[6, 7]]);
    expect(stream.blocked).toBe(true);
    stream.receive(message(9));
    stream.receive(joinedEnvelope(cat, 9));
    expect(io.take()).toEqual([]);
    io.fetches[0]!.resolve([6, 7]);
    await tick();
    expect(io.take()).toEqual(['message 6', 'message 7', 'message 8', 'message 9', 'joined cat (2)']);
    expect(stream.blocked).toBe(false);
    expect(stream.delivered).toBe(9);
  });

  test('history that no longer holds a skipped message: the rest is delivered and the stream moves past the hole', async () => {
    const { stream, io } = inStep(5);
    stream.receive(message(9));
    expect(io.fetches.map((f) => [f.from, f.to])).toEqual([[6, 8]]);
    io.fetches[0]!.resolve([7, 8]); // 6 is gone from the capped history
    await tick();
    expect(io.take()).toEqual(['message 7', 'message 8', 'message 9']);
    stream.receive(message(10));
    expect(io.take()).toEqual(['message 10']);
  });

  test('a fetch that brings nothing still moves the head past the gap', async () => {
    const { stream, io } = inStep(2);
    stream.receive(message(5));
    io.fetches[0]!.resolve([]);
    await tick();
    expect(io.take()).toEqual(['message 5']);
    expect(stream.delivered).toBe(5);
  });

  test('a fetched message the stream has already passed, or beyond the gap, is not delivered twice', async () => {
    const { stream, io } = inStep(5);
    stream.receive(message(8));
    io.fetches[0]!.resolve([5, 6, 7, 8]); // 5 is old, 8 comes with the envelope
    await tick();
    expect(io.take()).toEqual(['message 6', 'message 7', 'message 8']);
  });

  test('a member event ahead of the head first fetches the messages before it', async () => {
    const { stream, io } = inStep(5);
    stream.receive(joinedEnvelope(cat, 7));
    expect(io.fetches.map((f) => [f.from, f.to])).toEqual([[6, 7]]);
    io.fetches[0]!.resolve([6, 7]);
    await tick();
    expect(io.take()).toEqual(['message 6', 'message 7', 'joined cat (2)']);
  });

  test('a failed fetch drops what waits and aborts every marker (the sync after Redis returns repairs the room)', async () => {
    const { stream, io } = inStep(5);
    stream.addMarker('join-2', () => io.steps.push('aborted join-2'));
    stream.receive(message(8));
    stream.receive(message(9));
    io.fetches[0]!.reject(new Error('connection lost'));
    await tick();
    expect(io.take()).toEqual(['aborted join-2']);
    expect(stream.blocked).toBe(false);
    expect(stream.delivered).toBe(5);
  });
});

describe('markers', () => {
  test('met before its reply: everything after it waits; the reply is applied at the marker’s place', () => {
    const { stream, io } = inStep(5);
    const marker = stream.addMarker('join-2', () => undefined);
    stream.receive(joinedEnvelope(cat, 5, 'join-2'));
    expect(stream.blocked).toBe(true);
    stream.receive(message(6));
    stream.receive(leftEnvelope(bob, 6));
    expect(io.take()).toEqual(['joined cat (2)']);
    stream.view.add(bob);
    stream.replied(marker, () => io.steps.push('apply join-2'));
    expect(io.take()).toEqual(['apply join-2', 'message 6', 'left bob (2)']);
    expect(stream.blocked).toBe(false);
  });

  test('its reply first: applied when the marker passes, and nothing waits', () => {
    const { stream, io } = inStep(5);
    const marker = stream.addMarker('join-2', () => undefined);
    stream.replied(marker, () => io.steps.push('apply join-2'));
    expect(io.take()).toEqual([]);
    stream.receive(message(6));
    stream.receive(joinedEnvelope(cat, 6, 'join-2'));
    stream.receive(message(7));
    expect(io.take()).toEqual(['message 6', 'joined cat (2)', 'apply join-2', 'message 7']);
  });

  test('a reply that failed while the stream waits at the marker: the stream goes on without applying anything', () => {
    const { stream, io } = inStep(5);
    const marker = stream.addMarker('join-2', () => undefined);
    stream.receive(joinedEnvelope(cat, 5, 'join-2'));
    stream.receive(message(6));
    stream.replyFailed(marker);
    expect(io.take()).toEqual(['joined cat (2)', 'message 6']);
  });

  test('a reply that failed before its marker came changes nothing', () => {
    const { stream, io } = inStep(5);
    const marker = stream.addMarker('join-2', () => undefined);
    stream.replyFailed(marker);
    stream.receive(message(6));
    expect(io.take()).toEqual(['message 6']);
    expect(stream.blocked).toBe(false);
  });

  test('a sync marker carries no frame: only the reply is applied there', () => {
    const { stream, io } = inStep(5);
    const marker = stream.addMarker('sync-1', () => undefined);
    stream.replied(marker, () => io.steps.push('apply sync-1'));
    stream.receive(syncMarker(5, 'sync-1'));
    expect(io.take()).toEqual(['apply sync-1']);
  });

  test('lost(): what waits is dropped, every marker aborts, the stream no longer waits', () => {
    const { stream, io } = inStep(5);
    stream.addMarker('join-2', () => io.steps.push('aborted join-2'));
    stream.addMarker('sync-1', () => io.steps.push('aborted sync-1'));
    stream.receive(joinedEnvelope(cat, 5, 'join-2'));
    stream.receive(message(6));
    expect(stream.blocked).toBe(true);
    io.take();
    stream.lost();
    expect(io.take()).toEqual(['aborted join-2', 'aborted sync-1']);
    expect(stream.blocked).toBe(false);
  });
});

describe('member events', () => {
  test('only changes reach the clients: a join already known is not repeated, a leave of someone unknown is dropped', () => {
    const { stream, io } = inStep(5);
    stream.view.add(ann);
    stream.receive(joinedEnvelope(ann, 5)); // a sync putting back someone the clients never saw leave
    stream.receive(leftEnvelope(cat, 5)); // a second reaper
    stream.receive(joinedEnvelope(cat, 5));
    stream.receive(leftEnvelope(cat, 5));
    expect(io.take()).toEqual(['joined cat (2)', 'left cat (1)']);
    expect(ids(stream)).toEqual([ann.id]);
  });

  test('a leave of a member still connected here is not delivered: the node was taken for dead', () => {
    const { stream, io } = inStep(5);
    io.local.add(ann.id);
    stream.view.add(ann);
    stream.receive(leftEnvelope(ann, 5));
    expect(io.take()).toEqual([]);
    expect(io.ownMemberRemovedCalls).toBe(1);
    expect(stream.view.get(ann.id)?.name).toBe(ann.name);
  });

  test('the leave of a member connected here whose membership a rejoin took over: it goes here too, and is told; no resync', () => {
    const { stream, io } = inStep(5);
    io.local.add(ann.id);
    stream.view.add(ann);
    stream.receive({ ...leftEnvelope(ann, 5), token: RESUMED_TOKEN });
    stream.receive(joinedEnvelope({ id: 'n2.1.9', name: ann.name }, 5));
    expect(io.take()).toEqual([`resumed away ${ann.name}`, `left ${ann.name} (0)`, `joined ${ann.name} (1)`]);
    expect(io.ownMemberRemovedCalls).toBe(0);
    expect(ids(stream)).toEqual(['n2.1.9']);
  });
});

describe('epochs', () => {
  test('a room started again under its members: the members are told first, then the new numbering follows from 1', () => {
    const { stream, io } = inStep(10);
    stream.receive(message(1, EPOCH + 5));
    stream.receive(message(2, EPOCH + 5));
    expect(io.take()).toEqual([`epoch ${EPOCH + 5}`, 'message 1', 'message 2']);
    expect([stream.epoch, stream.delivered]).toEqual([EPOCH + 5, 2]);
  });

  test('what the new epoch numbered before this node heard of it comes from its history, in order', async () => {
    const { stream, io } = inStep(10);
    stream.receive(joinedEnvelope(cat, 3, '', EPOCH + 5));
    stream.receive(message(4, EPOCH + 5));
    expect(io.take()).toEqual([`epoch ${EPOCH + 5}`]);
    expect(io.fetches.map((f) => [f.from, f.to])).toEqual([[1, 3]]);
    io.fetches[0]!.resolve([1, 2, 3]);
    await tick();
    expect(io.take()).toEqual(['message 1', 'message 2', 'message 3', 'joined cat (2)', 'message 4']);
  });

  test('epoch 0 (unknown) is not a change', () => {
    const { stream, io } = inStep(10);
    stream.receive(message(11, 0));
    expect(io.take()).toEqual(['message 11']);
    expect(stream.epoch).toBe(EPOCH);
  });
});

describe('repair at a sync marker', () => {
  const members = (...list: { id: string; name: string }[]): Map<string, string> => new Map(list.map((m) => [m.id, m.name]));

  test('members the clients have not seen are announced; a first sync keeps the ones Redis lacks', () => {
    const { stream, io } = inStep(5);
    stream.replaceView(members(ann, bob));
    stream.repair(members(ann, cat), 5, EPOCH, false);
    expect(io.take()).toEqual(['joined cat (3)']);
    expect(ids(stream).sort()).toEqual([ann.id, bob.id, cat.id].sort());
  });

  test('a full sync (the audit) also announces who left', () => {
    const { stream, io } = inStep(5);
    stream.replaceView(members(ann, bob));
    stream.repair(members(ann, cat), 5, EPOCH, true);
    expect(io.take()).toEqual(['left bob (1)', 'joined cat (2)']);
    expect(ids(stream)).toEqual([ann.id, cat.id]);
  });

  test('messages sequenced while the node was away are fetched before what follows the marker', async () => {
    const { stream, io } = inStep(5);
    stream.repair(members(), 8, EPOCH, false);
    expect(io.fetches.map((f) => [f.from, f.to])).toEqual([[6, 8]]);
    stream.receive(message(9));
    io.fetches[0]!.resolve([6, 7, 8]);
    await tick();
    expect(io.take()).toEqual(['message 6', 'message 7', 'message 8', 'message 9']);
  });

  test('a new epoch at the sync: the members are told, then its messages so far come from its history', async () => {
    const { stream, io } = inStep(5);
    stream.repair(members(), 3, EPOCH + 1, false);
    expect(io.take()).toEqual([`epoch ${EPOCH + 1}`]);
    expect(io.fetches.map((f) => [f.from, f.to])).toEqual([[1, 3]]);
    stream.receive(message(4, EPOCH + 1));
    io.fetches[0]!.resolve([1, 2, 3]);
    await tick();
    expect(io.take()).toEqual(['message 1', 'message 2', 'message 3', 'message 4']);
    expect([stream.epoch, stream.delivered]).toEqual([EPOCH + 1, 4]);
  });
});
