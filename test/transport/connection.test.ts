/**
 * handleRequest: the per-connection checks a worker makes before anything reaches
 * the broker. A fake Socket and a fake Broker record everything, in one shared log.
 */
import { beforeEach, describe, expect, test } from 'vitest';
import type { Broker, ClusterStats, JoinRequest, MembersRequest, RoomDetail, RoomSummary, SayRequest } from '../../src/relay/broker.js';
import { decodeServerFrame, type ClientRequest, type ErrorCodeName, type ServerEvent, PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { TokenVerifier } from '../../src/admission/token.js';
import {
  earliestTokenExpiry,
  handleRequest,
  membershipIn,
  newConnectionState,
  roomCount,
  roomNames,
  type ConnectionLimits,
  type ConnectionState,
  type Socket,
} from '../../src/transport/connection.js';

type Entry =
  | { readonly on: 'socket'; readonly call: 'send'; readonly event: ServerEvent }
  | { readonly on: 'socket'; readonly call: 'subscribe' | 'unsubscribe'; readonly topic: string }
  | { readonly on: 'broker'; readonly call: string; readonly args: unknown[] };

class Recorder {
  readonly log: Entry[] = [];

  readonly socket: Socket = {
    send: (frame) => void this.log.push({ on: 'socket', call: 'send', event: decodeServerFrame(frame) }),
    subscribe: (topic) => void this.log.push({ on: 'socket', call: 'subscribe', topic }),
    unsubscribe: (topic) => void this.log.push({ on: 'socket', call: 'unsubscribe', topic }),
  };

  readonly broker: Broker = {
    open: (id: string) => void this.log.push({ on: 'broker', call: 'open', args: [id] }),
    close: (id: string) => void this.log.push({ on: 'broker', call: 'close', args: [id] }),
    join: (id: string, attempt: number, request: JoinRequest) => void this.log.push({ on: 'broker', call: 'join', args: [id, attempt, request] }),
    leave: (id: string, room: string) => void this.log.push({ on: 'broker', call: 'leave', args: [id, room] }),
    say: (id: string, request: SayRequest) => void this.log.push({ on: 'broker', call: 'say', args: [id, request] }),
    members: (id: string, request: MembersRequest) => void this.log.push({ on: 'broker', call: 'members', args: [id, request] }),
    rooms: (): Promise<RoomSummary[]> => Promise.reject(new Error('not used')),
    room: (): Promise<RoomDetail | null> => Promise.reject(new Error('not used')),
    stats: (): Promise<ClusterStats> => Promise.reject(new Error('not used')),
    directory: () => null,
  };

  brokerCalls(): Entry[] {
    return this.log.filter((e) => e.on === 'broker');
  }

  /** Forgets what was recorded so far. */
  reset(): void {
    this.log.length = 0;
  }
}

const LIMITS: ConnectionLimits = { maxRooms: 3, maxTextChars: 50 };

let rec: Recorder;
let state: ConnectionState;
beforeEach(() => {
  rec = new Recorder();
  state = newConnectionState('conn-1');
});

const handle = (request: ClientRequest): void => handleRequest(state, rec.socket, request, rec.broker, LIMITS);
const join = (room: string, nickname = 'ann', requestId = 1, since: number | null = null): void =>
  handle({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId, room, nickname, since });
const leave = (room: string, requestId = 2): void => handle({ type: 'leave', requestId, room });
const say = (room: string, text: string, requestId = 3, to: string | null = null): void => handle({ type: 'say', requestId, room, text, to });

/** The request was refused locally: exactly one Error frame and nothing else (no broker call, no (un)subscribe). */
function expectRefused(requestId: number, code: ErrorCodeName, room: string | null): void {
  expect(rec.log).toHaveLength(1);
  const [entry] = rec.log;
  expect(entry).toMatchObject({ on: 'socket', call: 'send' });
  expect(entry!.on === 'socket' && entry!.call === 'send' && entry!.event).toEqual({
    type: 'error',
    requestId,
    code,
    message: expect.any(String),
    room,
    temporary: false,
  });
}

describe('a fresh connection state', () => {
  test('has no rooms and no attempts', () => {
    const fresh = newConnectionState('x');
    expect(fresh).toEqual({ id: 'x', rooms: null, attempts: 0, limited: false, tokens: 0, refilledAt: 0, excess: null, admissionSlot: -1, tokenExpiry: null });
    expect(roomCount(fresh)).toBe(0);
    expect(roomNames(fresh)).toEqual([]);
  });
});

describe('the rooms of a connection state', () => {
  test('one room is its Membership alone, several a Map in join order; leaving every room leaves none', () => {
    join('a', 'ann', 1);
    expect(state.rooms).toEqual({ room: 'a', attempt: 1, requestId: 1, joined: false });
    join('b', 'ann', 2);
    expect(state.rooms).toBeInstanceOf(Map);
    expect(roomNames(state)).toEqual(['a', 'b']);
    expect(membershipIn(state, 'b')).toEqual({ room: 'b', attempt: 2, requestId: 2, joined: false });
    leave('a', 3);
    expect(roomNames(state)).toEqual(['b']);
    expect(membershipIn(state, 'a')).toBeUndefined();
    leave('b', 4);
    expect(state.rooms).toBeNull();
    expect(roomCount(state)).toBe(0);
    join('a', 'ann', 5);
    expect(roomNames(state)).toEqual(['a']);
    expect(membershipIn(state, 'a')?.attempt).toBe(3);
  });
});

describe('token expiry bookkeeping (with --token-secret)', () => {
  const tokens = new TokenVerifier('connection-test-secret-of-32-characters');
  const expS = Math.floor(Date.now() / 1000) + 600;
  let watched: number;
  const withTokens: ConnectionLimits = { ...LIMITS, tokens, watchTokenExpiry: () => void watched++ };
  const joinWith = (room: string, exp: number, requestId = 1): void =>
    handleRequest(
      state,
      rec.socket,
      { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId, room, nickname: 'ann', since: null, token: tokens.sign({ name: 'ann', rooms: '*', exp }) },
      rec.broker,
      withTokens,
    );
  beforeEach(() => {
    watched = 0;
  });

  test('without tokens a join keeps no expiry and asks for no timer', () => {
    join('lobby');
    expect(state.tokenExpiry).toBeNull();
    expect(earliestTokenExpiry(state)).toBeNull();
  });

  test("each join records its token's exp per room and asks the transport to watch; the earliest room still held counts", () => {
    joinWith('late', expS + 60, 1);
    joinWith('early', expS, 2);
    expect(watched).toBe(2);
    expect(state.tokenExpiry?.byRoom).toEqual(
      new Map([
        ['late', (expS + 60) * 1000],
        ['early', expS * 1000],
      ]),
    );
    expect(earliestTokenExpiry(state)).toBe(expS * 1000);
    leave('early', 3);
    // A room left no longer counts, and is forgotten.
    expect(earliestTokenExpiry(state)).toBe((expS + 60) * 1000);
    expect([...(state.tokenExpiry?.byRoom.keys() ?? [])]).toEqual(['late']);
    leave('late', 4);
    expect(earliestTokenExpiry(state)).toBeNull();
  });

  test('a refused token records nothing and asks for no timer', () => {
    joinWith('lobby', expS + 10 * 86_400);
    expect(watched).toBe(0);
    expect(state.tokenExpiry).toBeNull();
    expect(rec.brokerCalls()).toEqual([]);
  });
});

describe('local refusals send exactly one Error with the request id and call nothing on the broker', () => {
  test.each([
    ['join', { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 11, room: 'bad room', nickname: 'ann', since: null }],
    ['leave', { type: 'leave', requestId: 12, room: '' }],
    ['say', { type: 'say', requestId: 13, room: 'a/b', text: 'hi', to: null }],
    ['join (65 chars)', { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 14, room: 'x'.repeat(65), nickname: 'ann', since: null }],
    ['join (wildcard)', { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 15, room: '#', nickname: 'ann', since: null }],
  ] as [string, ClientRequest][])('InvalidRoomName for %s, with no room in the error', (_label, request) => {
    handle(request);
    expectRefused(request.requestId, 'InvalidRoomName', null);
    expect(roomCount(state)).toBe(0);
    expect(state.attempts).toBe(0);
  });

  test.each([[''], ['   '], ['n'.repeat(33)], ['an\u0000n'], ['bell\u0007'], ['line\u2028sep'], ['nel\u0085']])('InvalidNickname for %j', (nickname) => {
    join('lobby', nickname, 21);
    expectRefused(21, 'InvalidNickname', 'lobby');
    expect(membershipIn(state, 'lobby') !== undefined).toBe(false);
    expect(state.attempts).toBe(0);
  });

  test('AlreadyJoined while the join is still pending', () => {
    join('lobby', 'ann', 1);
    expect(membershipIn(state, 'lobby')).toEqual({ room: 'lobby', attempt: 1, requestId: expect.any(Number), joined: false });
    rec.reset();
    join('lobby', 'bob', 31);
    expectRefused(31, 'AlreadyJoined', 'lobby');
    expect(membershipIn(state, 'lobby')).toEqual({ room: 'lobby', attempt: 1, requestId: expect.any(Number), joined: false }); // untouched
    expect(state.attempts).toBe(1);
  });

  test('AlreadyJoined once joined', () => {
    join('lobby', 'ann', 1);
    membershipIn(state, 'lobby')!.joined = true; // as onJoined does
    rec.reset();
    join('lobby', 'ann', 32);
    expectRefused(32, 'AlreadyJoined', 'lobby');
  });

  test('TooManyRooms counts pending joins', () => {
    join('a', 'ann', 1);
    join('b', 'ann', 2);
    membershipIn(state, 'a')!.joined = true; // one joined, one still pending
    join('c', 'ann', 3);
    expect(rec.brokerCalls()).toHaveLength(3);
    rec.reset();
    join('d', 'ann', 41);
    expectRefused(41, 'TooManyRooms', 'd');
    expect(roomNames(state)).toEqual(['a', 'b', 'c']);
    expect(state.attempts).toBe(3);
  });

  test('leaving frees a slot for another room', () => {
    join('a');
    join('b');
    join('c');
    leave('b');
    rec.reset();
    join('d', 'ann', 42);
    expect(rec.brokerCalls()).toEqual([
      { on: 'broker', call: 'join', args: ['conn-1', 4, { requestId: 42, room: 'd', nickname: 'ann', since: null, epoch: 0 }] },
    ]);
  });

  test('NotJoined for say in a room the connection is not in', () => {
    join('other');
    rec.reset();
    say('lobby', 'hello', 51);
    expectRefused(51, 'NotJoined', 'lobby');
  });

  test('NotJoined for leave of a room the connection is not in', () => {
    leave('lobby', 52);
    expectRefused(52, 'NotJoined', 'lobby');
  });

  test('NotJoined for a second leave of the same room', () => {
    join('lobby');
    leave('lobby');
    rec.reset();
    leave('lobby', 53);
    expectRefused(53, 'NotJoined', 'lobby');
  });

  test('NotJoined is checked before the text: an empty say in a foreign room is NotJoined', () => {
    say('lobby', '', 54);
    expectRefused(54, 'NotJoined', 'lobby');
  });

  test.each([
    ['empty', ''],
    ['whitespace only', ' \t\n '],
    ['one character over the limit', 'x'.repeat(51)],
    ['a control character', 'bad\u0001text'],
    ['an escape', '\u001b[31mred'],
    ['DEL', 'del\u007f'],
  ])('InvalidText for %s', (_label, text) => {
    join('lobby');
    rec.reset();
    say('lobby', text, 61);
    expectRefused(61, 'InvalidText', 'lobby');
  });

  test("RecipientNotFound for to = ''", () => {
    join('lobby');
    rec.reset();
    say('lobby', 'psst', 71, '');
    expectRefused(71, 'RecipientNotFound', 'lobby');
  });

  test('a refused request changes nothing: a valid request after it works as if it never happened', () => {
    join('bad room', 'ann', 1);
    join('lobby', '', 2);
    rec.reset();
    join('lobby', 'ann', 3);
    expect(rec.log).toEqual([{ on: 'broker', call: 'join', args: ['conn-1', 1, { requestId: 3, room: 'lobby', nickname: 'ann', since: null, epoch: 0 }] }]);
  });
});

describe('requests that go to the broker', () => {
  test('a valid join calls broker.join with the normalized nickname and a fresh attempt; nothing is sent yet', () => {
    join('lobby', '  Re\u0301my  ', 81, 17);
    expect(rec.log).toEqual([
      { on: 'broker', call: 'join', args: ['conn-1', 1, { requestId: 81, room: 'lobby', nickname: 'R\u00e9my', since: 17, epoch: 0 }] },
    ]);
    expect(membershipIn(state, 'lobby')).toEqual({ room: 'lobby', attempt: 1, requestId: expect.any(Number), joined: false });
    expect(state.attempts).toBe(1);
  });

  test('every join gets a new attempt number, also a rejoin after a leave', () => {
    join('a', 'ann', 1);
    join('b', 'ann', 2, 0);
    leave('a');
    join('a', 'ann', 3);
    const attempts = rec
      .brokerCalls()
      .filter((e) => e.on === 'broker' && e.call === 'join')
      .map((e) => (e.on === 'broker' ? [(e.args[2] as JoinRequest).room, e.args[1], (e.args[2] as JoinRequest).since] : null));
    expect(attempts).toEqual([
      ['a', 1, null],
      ['b', 2, 0],
      ['a', 3, null],
    ]);
    expect(membershipIn(state, 'a')).toEqual({ room: 'a', attempt: 3, requestId: expect.any(Number), joined: false });
  });

  test('leave unsubscribes, sends Left, then calls broker.leave', () => {
    join('lobby');
    membershipIn(state, 'lobby')!.joined = true;
    rec.reset();
    leave('lobby', 91);
    expect(rec.log).toEqual([
      { on: 'socket', call: 'unsubscribe', topic: 'lobby' },
      { on: 'socket', call: 'send', event: { type: 'left', requestId: 91, room: 'lobby' } },
      { on: 'broker', call: 'leave', args: ['conn-1', 'lobby'] },
    ]);
    expect(membershipIn(state, 'lobby') !== undefined).toBe(false);
  });

  test('leave of a pending join answers the join with JoinCancelled, then Left, and forgets it (a late reply is then stale)', () => {
    join('lobby', 'ann', 91);
    rec.reset();
    leave('lobby', 92);
    expect(rec.log.map((e) => e.call)).toEqual(['send', 'unsubscribe', 'send', 'leave']);
    expect(rec.log[0]).toMatchObject({ event: { type: 'error', requestId: 91, code: 'JoinCancelled', room: 'lobby', temporary: false } });
    expect(rec.log[2]).toMatchObject({ event: { type: 'left', requestId: 92, room: 'lobby' } });
    expect(membershipIn(state, 'lobby') !== undefined).toBe(false);
  });

  test('leave of a joined room answers only the leave', () => {
    join('lobby', 'ann', 91);
    membershipIn(state, 'lobby')!.joined = true; // what the transport does when Joined comes
    rec.reset();
    leave('lobby', 92);
    expect(rec.log.map((e) => e.call)).toEqual(['unsubscribe', 'send', 'leave']);
  });

  test('a valid say goes to the broker unchanged, to the room or to one member', () => {
    join('lobby');
    rec.reset();
    say('lobby', '  keep my spacing\n\tand tabs ', 101);
    say('lobby', 'x'.repeat(50), 102);
    say('lobby', '😀'.repeat(50), 103);
    say('lobby', 'psst', 104, 'conn-7');
    expect(rec.log).toEqual([
      { on: 'broker', call: 'say', args: ['conn-1', { requestId: 101, room: 'lobby', text: '  keep my spacing\n\tand tabs ', to: null }] },
      { on: 'broker', call: 'say', args: ['conn-1', { requestId: 102, room: 'lobby', text: 'x'.repeat(50), to: null }] },
      { on: 'broker', call: 'say', args: ['conn-1', { requestId: 103, room: 'lobby', text: '😀'.repeat(50), to: null }] },
      { on: 'broker', call: 'say', args: ['conn-1', { requestId: 104, room: 'lobby', text: 'psst', to: 'conn-7' }] },
    ]);
  });

  test('rooms are independent: leaving one keeps the others', () => {
    join('a');
    join('b');
    leave('a');
    rec.reset();
    say('b', 'still here', 111);
    say('a', 'gone', 112);
    expect(rec.log).toHaveLength(2);
    expect(rec.log[0]).toMatchObject({ on: 'broker', call: 'say' });
    expect(rec.log[1]).toMatchObject({ on: 'socket', call: 'send', event: { type: 'error', requestId: 112, code: 'NotJoined' } });
  });
});
