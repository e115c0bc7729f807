/**
 * Reading back what the cluster keeps in Redis: envelopes from room channels (any
 * bytes give an envelope or null, never an exception), member values, and the
 * Joined history from stream entries (recovered exactly as the in-process Room says).
 */
import { describe, expect, test } from 'vitest';
import { ClusterKeys, clusterPrefix, ENVELOPE_HEADER_BYTES, EnvelopeKind, historyOf, memberMap, parseEnvelope } from '../../../src/sequencer/redis/format.js';
import { encodeMessage, type ChatMessage } from '../../../src/protocol/index.js';
import { silentLog } from '../harness.js';

/** An envelope as the scripts build it (struct.pack('B') .. u64 .. u64 .. token length .. token .. frame). */
function envelope(kind: number, head: number, epoch: number, token: string, frame: Uint8Array): Buffer {
  const header = Buffer.alloc(ENVELOPE_HEADER_BYTES);
  header[0] = kind;
  header.writeUInt32LE(head % 2 ** 32, 1);
  header.writeUInt32LE(Math.floor(head / 2 ** 32), 5);
  header.writeUInt32LE(epoch % 2 ** 32, 9);
  header.writeUInt32LE(Math.floor(epoch / 2 ** 32), 13);
  header[17] = Buffer.byteLength(token, 'latin1');
  return Buffer.concat([header, Buffer.from(token, 'latin1'), frame]);
}

const message = (seq: number): ChatMessage => ({
  room: 'r',
  seq,
  sender: { id: 'n.1.1', name: 'ann' },
  to: null,
  text: `m${seq}`,
  timestampMs: 1_700_000_000_000,
});
const entry = (seq: number): [Buffer, Buffer[]] => [Buffer.from(`${seq}-0`), [Buffer.from('f'), Buffer.from(encodeMessage(message(seq)))]];

describe('envelopes', () => {
  test('round trip of every field, epochs and heads past 32 bits included', () => {
    const frame = Uint8Array.from([1, 2, 3, 4]);
    const parsed = parseEnvelope(envelope(EnvelopeKind.Member, 2 ** 40 + 7, 1_764_000_000_123_456, 'ab12cd34:z', frame));
    expect(parsed).toMatchObject({ kind: EnvelopeKind.Member, head: 2 ** 40 + 7, epoch: 1_764_000_000_123_456, token: 'ab12cd34:z' });
    expect([...parsed!.frame]).toEqual([1, 2, 3, 4]);
  });

  test('anything else is null, never an exception', () => {
    const good = envelope(EnvelopeKind.Message, 5, 9, '', Uint8Array.from([7]));
    expect(parseEnvelope(Buffer.alloc(0))).toBeNull();
    for (let length = 0; length < ENVELOPE_HEADER_BYTES; length++) expect(parseEnvelope(good.subarray(0, length))).toBeNull();
    for (const kind of [0, 4, 255]) expect(parseEnvelope(envelope(kind, 1, 1, '', new Uint8Array(0)))).toBeNull();
    const longToken = envelope(EnvelopeKind.Sync, 1, 1, 'abc', new Uint8Array(0));
    expect(parseEnvelope(longToken.subarray(0, longToken.length - 1))).toBeNull();
    for (let i = 0; i < 2000; i++) {
      const random = Buffer.from(Array.from({ length: i % 40 }, (_, j) => (i * 31 + j * 17) & 0xff));
      const parsed = parseEnvelope(random);
      if (parsed) expect([EnvelopeKind.Message, EnvelopeKind.Member, EnvelopeKind.Sync]).toContain(parsed.kind);
    }
  });
});

test('member values: id -> nickname (tabs separate node, key and nickname; the nickname is the rest)', () => {
  const flat = [Buffer.from('n1.1.0'), Buffer.from('n1\tann\tAnn'), Buffer.from('n2.1.0'), Buffer.from('n2\tbob smith\tBob Smith 😀')];
  expect([...memberMap(flat)]).toEqual([
    ['n1.1.0', 'Ann'],
    ['n2.1.0', 'Bob Smith 😀'],
  ]);
});

describe('Joined history from the stream', () => {
  test('since with every later message kept: exactly those, recovered', () => {
    const h = historyOf([entry(7), entry(8), entry(9)], 6, 9, true, 2, silentLog);
    expect(h).toMatchObject({ recovered: true });
    expect(h.messages.map((m) => m.seq)).toEqual([7, 8, 9]);
    expect(historyOf([], 9, 9, true, 2, silentLog)).toEqual({ messages: [], recovered: true });
  });

  test('since older than what is kept: the most recent join-history, not recovered', () => {
    const h = historyOf([entry(6), entry(7), entry(8), entry(9)], 2, 9, true, 2, silentLog);
    expect(h.recovered).toBe(false);
    expect(h.messages.map((m) => m.seq)).toEqual([8, 9]);
  });

  test('no since (or another epoch): newest-first entries come back oldest first', () => {
    const h = historyOf([entry(9), entry(8)], -1, 9, false, 2, silentLog);
    expect(h).toMatchObject({ recovered: false });
    expect(h.messages.map((m) => m.seq)).toEqual([8, 9]);
  });

  test('an entry that does not decode is skipped, and then nothing counts as recovered', () => {
    const bad: [Buffer, Buffer[]] = [Buffer.from('8-0'), [Buffer.from('f'), Buffer.from([1, 2, 3])]];
    const h = historyOf([entry(7), bad, entry(9)], 6, 9, true, 5, silentLog);
    expect(h.recovered).toBe(false);
    expect(h.messages.map((m) => m.seq)).toEqual([7, 9]);
  });
});

describe('cluster keys', () => {
  const every = (k: ClusterKeys): string[] => [
    k.meta('r'),
    k.history('r'),
    k.members('r'),
    k.nicknames('r'),
    k.roomChannel('r'),
    k.nodeChannel('n'),
    k.nodeAlive('n'),
    k.nodeRooms('n'),
    k.nodes,
    k.rooms,
    k.lastEpoch,
  ];

  test('every key and channel starts with the prefix of the cluster name and db index', () => {
    expect(clusterPrefix('chat', 0)).toBe('chat:db0:');
    const keys = new ClusterKeys(clusterPrefix('prod-eu.1', 12));
    for (const key of every(keys)) expect(key.startsWith('prod-eu.1:db12:')).toBe(true);
    expect(keys.meta('lobby')).toBe('prod-eu.1:db12:room:lobby:meta');
    expect(keys.nodeAlive('ab12cd34')).toBe('prod-eu.1:db12:node:ab12cd34:alive');
  });

  test('another db index or another name: nothing in common', () => {
    const names = (k: ClusterKeys): Set<string> => new Set(every(k));
    const base = names(new ClusterKeys(clusterPrefix('chat', 1)));
    for (const other of [clusterPrefix('chat', 2), clusterPrefix('chat', 11), clusterPrefix('other', 1)]) {
      for (const key of names(new ClusterKeys(other))) expect(base.has(key)).toBe(false);
    }
  });

  test('channelOf: a node channel, a room channel (with its name), or neither', () => {
    const keys = new ClusterKeys(clusterPrefix('chat', 0));
    expect(keys.channelOf(keys.nodeChannel('ab12cd34'))).toEqual({ node: true });
    expect(keys.channelOf(keys.roomChannel('lobby.2'))).toEqual({ node: false, room: 'lobby.2' });
    expect(keys.channelOf(new ClusterKeys(clusterPrefix('chat', 1)).roomChannel('lobby'))).toBeNull();
  });
});
