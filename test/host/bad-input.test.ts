/**
 * Every row of the README's bad-input table: malformed frames close with a
 * documented code and reason; well-formed but invalid requests get an error frame
 * and the connection stays; nothing reaches the other members. On a single node and
 * on a 2-node cluster (the witness and the speaker on different nodes).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { encodeClientRequest, type ClientRequest, type ErrorCodeName, PROTOCOL_VERSION } from '../../src/protocol/index.js';
import type { TestClient } from '../helpers/client.js';
import { SharedHost, TOPOLOGIES } from '../helpers/shared-host.js';

describe.each(TOPOLOGIES)('$name', (topology) => {
  const shared = new SharedHost(['--workers', '2', '--max-rooms', '3'], topology);
  const connect = (): Promise<TestClient> => shared.connect();
  let witness: TestClient;
  let speaker: TestClient;
  let victims = 0;

  beforeAll(async () => {
    witness = await connect();
    speaker = await connect();
    await witness.join('bad', 'witness');
    await speaker.join('bad', 'speaker');
  });

  /** The witness still gets a fresh message from a good client, and nothing else arrived first. */
  async function othersUnharmed(): Promise<void> {
    const marker = `still fine ${Math.random()}`;
    await speaker.say('bad', marker);
    const m = await witness.next('message', (e) => e.text === marker);
    expect(m.text).toBe(marker);
    const stray = witness.drain().filter((e) => e.type === 'message');
    expect(stray).toEqual([]);
    speaker.drain();
  }

  function validSay(): Uint8Array {
    return encodeClientRequest({ type: 'say', requestId: 1, room: 'bad', text: 'MARKER', to: null });
  }

  describe('malformed frames close the connection', () => {
    const cases: [string, () => Uint8Array | string, number, RegExp][] = [
      ['a text frame', () => 'hello', 1003, /text frames are not supported/],
      ['random bytes', () => Uint8Array.from([0x9a, 0x12, 0x77, 0x01, 0xff, 0x00, 0x3c, 0x99]), 1007, /^[A-Z_]+: /],
      ['an empty frame', () => new Uint8Array(0), 1007, /^FRAME_EMPTY/],
      ['a truncated frame', () => validSay().subarray(0, 20), 1007, /^FRAME_TRUNCATED|^BAD_/],
      [
        'an unknown union type',
        () => {
          const bytes = validSay();
          // ClientFrame's body type byte is the table field at vtable slot 1.
          const root = new DataView(bytes.buffer).getUint32(0, true);
          const vtable = root - new DataView(bytes.buffer).getInt32(root, true);
          const typeAt = root + new DataView(bytes.buffer).getUint16(vtable + 6, true);
          bytes[typeAt] = 9;
          return bytes;
        },
        1007,
        /^UNKNOWN_BODY/,
      ],
      [
        'bad UTF-8',
        () => {
          const bytes = validSay();
          const at = Buffer.from(bytes).indexOf('MARKER');
          bytes[at] = 0xc0;
          bytes[at + 1] = 0xaf;
          return bytes;
        },
        1007,
        /^BAD_UTF8/,
      ],
      ['a frame over the size limit', () => new Uint8Array(16 * 1024 + 4), 1009, /over the 16384-byte limit/],
    ];
    for (const [name, frame, code, reason] of cases) {
      test(name, async () => {
        const client = await connect();
        await client.join('bad', `victim${++victims}`);
        await witness.heardJoins('bad', [client.id]);
        client.sendRaw(frame());
        const closed = await client.closed;
        expect(closed.code).toBe(code);
        expect(closed.reason).toMatch(reason);
        expect(Buffer.byteLength(closed.reason)).toBeLessThanOrEqual(123);
        await witness.next('memberLeft', (e) => e.member.id === client.id);
        await othersUnharmed();
      });
    }
  });

  describe('invalid requests get an error frame and the connection stays', () => {
    const errorCase = async (client: TestClient, request: ClientRequest, code: ErrorCodeName): Promise<void> => {
      const error = await client.expectError(request);
      expect(error.code).toBe(code);
      expect(error.message.length).toBeGreaterThan(0);
      expect(error.temporary).toBe(false);
    };

    test('requests before joining', async () => {
      const c = await connect();
      await errorCase(c, { type: 'say', requestId: 11, room: 'bad', text: 'hi', to: null }, 'NotJoined');
      await errorCase(c, { type: 'leave', requestId: 12, room: 'bad' }, 'NotJoined');
      await errorCase(c, { type: 'say', requestId: 13, room: 'no-such-room', text: 'hi', to: null }, 'NotJoined');
      await othersUnharmed();
    });

    test('room names that break the rules', async () => {
      const c = await connect();
      const bad = ['', 'has space', 'a/b', 'a+b', '#', 'x'.repeat(65), 'émoji', 'dot/../dot'];
      for (const [i, room] of bad.entries())
        await errorCase(c, { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 100 + i, room, nickname: 'n', since: null }, 'InvalidRoomName');
      expect((await c.join('x'.repeat(64), 'n')).room).toBe('x'.repeat(64));
      expect((await c.join('Ok_room-1.2', 'n')).room).toBe('Ok_room-1.2');
    });

    test('nicknames that break the rules', async () => {
      const c = await connect();
      const bad = ['', '   ', 'x'.repeat(33), 'tab\there', 'nul\u0000', 'bell\u0007', 'line\u2028sep'];
      for (const [i, nickname] of bad.entries())
        await errorCase(c, { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 200 + i, room: 'names', nickname, since: null }, 'InvalidNickname');
      // 32 characters, even when each is an astral-plane emoji (two UTF-16 units).
      expect((await c.join('names', '😀'.repeat(32))).you.name).toBe('😀'.repeat(32));
    });

    test('a duplicate nickname, ignoring case', async () => {
      const a = await connect();
      const b = await connect();
      await a.join('dupes', 'Zoe');
      await errorCase(b, { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 301, room: 'dupes', nickname: 'zoe', since: null }, 'NicknameTaken');
      await errorCase(b, { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 302, room: 'dupes', nickname: ' ZOE ', since: null }, 'NicknameTaken');
      // The refused join left no trace: the same connection can join under another name.
      expect((await b.join('dupes', 'zed')).members).toHaveLength(2);
    });

    test('a second join of the same room', async () => {
      const c = await connect();
      await c.join('twice', 'once');
      await errorCase(c, { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 401, room: 'twice', nickname: 'again', since: null }, 'AlreadyJoined');
      const joined = await (await connect()).join('twice', 'other');
      expect(joined.members).toHaveLength(2);
    });

    test('too many rooms', async () => {
      const c = await connect();
      for (const room of ['r1', 'r2', 'r3']) await c.join(room, 'busy');
      await errorCase(c, { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 501, room: 'r4', nickname: 'busy', since: null }, 'TooManyRooms');
      await c.leave('r1');
      expect((await c.join('r4', 'busy')).room).toBe('r4');
    });

    test('empty or over-long text', async () => {
      await errorCase(speaker, { type: 'say', requestId: 601, room: 'bad', text: '', to: null }, 'InvalidText');
      await errorCase(speaker, { type: 'say', requestId: 602, room: 'bad', text: ' \n\t ', to: null }, 'InvalidText');
      await errorCase(speaker, { type: 'say', requestId: 603, room: 'bad', text: 'x'.repeat(2001), to: null }, 'InvalidText');
      await errorCase(speaker, { type: 'say', requestId: 604, room: 'bad', text: 'esc\u001b[31m', to: null }, 'InvalidText');
      const long = '🙂'.repeat(2000);
      expect((await speaker.say('bad', long)).seq).toBeGreaterThan(0);
      expect((await witness.next('message', (m) => m.text === long)).text).toBe(long);
      speaker.drain();
      await othersUnharmed();
    });

    test('a private message to a non-member', async () => {
      const stranger = await connect();
      await stranger.join('elsewhere', 'stranger');
      await errorCase(speaker, { type: 'say', requestId: 701, room: 'bad', text: 'hi', to: stranger.id }, 'RecipientNotFound');
      await errorCase(speaker, { type: 'say', requestId: 702, room: 'bad', text: 'hi', to: 'nobody' }, 'RecipientNotFound');
      await errorCase(speaker, { type: 'say', requestId: 703, room: 'bad', text: 'hi', to: '' }, 'RecipientNotFound');
      expect(stranger.events.filter((e) => e.type === 'message')).toEqual([]);
      await othersUnharmed();
    });

    test('request ids are echoed in errors and replies', async () => {
      const c = await connect();
      const error = await c.expectError({ type: 'say', requestId: 4_294_967_295, room: 'bad', text: 'x', to: null });
      expect(error.requestId).toBe(4_294_967_295);
      c.send({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 77, room: 'ids', nickname: 'ids', since: null });
      expect((await c.next('joined')).requestId).toBe(77);
    });
  });
});
