/**
 * Socket-level fuzzing: 50 well-behaved clients chat in 4 rooms across 2 workers
 * while 50 abusive clients, on raw TCP sockets with hand-written WebSocket framing,
 * send garbage and abusive request sequences. The good clients must see every room
 * message exactly once, in sequence order, identical on every member; nothing an
 * abuser sent may reach them; no good client is closed; the host and its workers
 * survive. Abusers may be closed, but only with a documented close code.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { FuzzGenerator } from '../helpers/fuzz/generator.js';
import { Rng, streamSeed } from '../helpers/random.js';
import { CloseCode, type ClientRequest, type ErrorCodeName, type ServerEvent, encodeClientRequest, PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { connectAcrossWorkers, type TestClient } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { Opcode, RawWs, openTcp, upgradeRequest } from '../helpers/raw-ws.js';

const SEED = 0xab05e;
const GOOD_PER_WORKER = 25;
const ABUSERS = 50;
const ROOMS = ['good-0', 'good-1', 'good-2', 'good-3'];
const MESSAGES_PER_CLIENT = 12;
/** Good clients send at 10 requests/s, half the host's per-connection limit of 20/s. */
const SEND_INTERVAL_MS = 100;
/** Each abuser repeats its behaviour, on a fresh connection, while the good clients chat; at most this often. */
const MAX_ROUNDS = 6;
const MAX_ROOMS = 16;
const PROBE_ID = 0xfeed;

let host: Host;
let good: TestClient[] = [];
/** Connections left hanging on purpose (half-open upgrades); destroyed after the host was checked. */
const hanging: Socket[] = [];

beforeAll(async () => {
  host = await startHost(['--workers', '2']);
});
afterAll(async () => {
  for (const socket of hanging) socket.destroy();
  await Promise.all(good.map((c) => c.close()));
  await host?.stop();
});

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const nickname = (i: number): string => `good${i}`;
const roomsOf = (i: number): string[] => [ROOMS[i % ROOMS.length]!, ROOMS[(i + 1) % ROOMS.length]!];

// ------------------------------------------------------------------ abusers

interface AbuseLog {
  /** How each abusive connection ended: behaviour, close code, reason. */
  readonly ends: { behaviour: string; code: number; reason: string }[];
  /** Frames from the host that a protocol client could not take. */
  readonly faults: string[];
  readonly socketErrors: string[];
  /** Error codes the abusers were answered with, counted. */
  readonly errorCodes: Map<string, number>;
}

interface Abuser {
  readonly index: number;
  readonly round: number;
  readonly rng: Rng;
  readonly port: number;
  readonly log: AbuseLog;
  readonly fuzz: FuzzGenerator;
  readonly goodIds: readonly string[];
}

type Behaviour = (a: Abuser) => Promise<void>;

const send = (ws: RawWs, request: ClientRequest): boolean => ws.sendBinary(encodeClientRequest(request));
const replyTo =
  (requestId: number) =>
  (e: ServerEvent): boolean =>
    'requestId' in e && e.requestId === requestId;

/**
 * Waits until the host has processed everything sent so far on this connection: a
 * request that must fail is answered in order after the frames before it (or the
 * connection ends). Returns false when the connection ended.
 */
async function settle(ws: RawWs): Promise<boolean> {
  if (!send(ws, { type: 'leave', requestId: PROBE_ID, room: 'never-joined' })) return false;
  return (await ws.waitFor(replyTo(PROBE_ID))) !== null;
}

/** Runs `body` on a fresh upgraded connection and records how it ended. */
async function session(a: Abuser, behaviour: string, body: (ws: RawWs) => Promise<void>): Promise<void> {
  const ws = await RawWs.connect(a.port);
  expect((await ws.waitFor((e) => e.type === 'welcome'))?.type, `${behaviour}: welcome`).toBe('welcome');
  await body(ws);
  const ended = ws.closed ? await ws.ended : await ws.close(1000);
  a.log.ends.push({ behaviour, ...ended });
  a.log.faults.push(...ws.faults.map((f) => `${behaviour}: ${f}`));
  a.log.socketErrors.push(...ws.socketErrors);
  for (const e of ws.events) if (e.type === 'error') a.log.errorCodes.set(e.code, (a.log.errorCodes.get(e.code) ?? 0) + 1);
}

/** Joins one of the good rooms under an abuser's own name, so that anything it gets broadcast would reach good clients. */
async function joinGoodRoom(ws: RawWs, a: Abuser): Promise<void> {
  const requestId = 1;
  send(ws, {
    type: 'join',
    protocolVersion: PROTOCOL_VERSION,
    requestId,
    room: ROOMS[a.index % ROOMS.length]!,
    nickname: `abuser${a.index}-${a.round}`,
    since: null,
  });
  await ws.waitFor(replyTo(requestId));
}

function expectErrors(ws: RawWs, ids: ReadonlySet<number>, allowed: readonly ErrorCodeName[], what: string): void {
  const replies = ws.events.filter((e) => 'requestId' in e && ids.has(e.requestId));
  for (const reply of replies) {
    expect(reply.type === 'error' && allowed.includes(reply.code), `${what}: ${JSON.stringify(reply)}`).toBe(true);
  }
}

const BEHAVIOURS: Record<string, Behaviour> = {
  randomBinary: (a) =>
    session(a, 'randomBinary', async (ws) => {
      await joinGoodRoom(ws, a);
      for (let k = 0; k < 5; k++) ws.sendBinary(a.rng.bytes(a.rng.range(1, 200)));
      await settle(ws);
    }),

  textFrames: (a) =>
    session(a, 'textFrames', async (ws) => {
      await joinGoodRoom(ws, a);
      const payload = a.round % 2 === 0 ? Buffer.from('{"type":"say","room":"good-0","text":"hi"}') : Uint8Array.from([0xc0, 0xaf, 0xff, 0xed, 0xa0, 0x80]);
      ws.sendFrame({ opcode: Opcode.text, payload });
      await settle(ws);
    }),

  fragmented: (a) =>
    session(a, 'fragmented', async (ws) => {
      const join = encodeClientRequest({
        type: 'join',
        protocolVersion: PROTOCOL_VERSION,
        requestId: 7,
        room: `frag-${a.index}`,
        nickname: 'frag',
        since: null,
      });
      const cut1 = Math.floor(join.length / 3);
      const cut2 = Math.floor((2 * join.length) / 3);
      switch (a.round % 4) {
        case 0:
          // A valid request in three fragments is reassembled and served; garbage in fragments is refused.
          ws.sendFrame({ opcode: Opcode.binary, fin: false, payload: join.subarray(0, cut1) });
          ws.sendFrame({ opcode: Opcode.continuation, fin: false, payload: join.subarray(cut1, cut2) });
          ws.sendFrame({ opcode: Opcode.continuation, fin: true, payload: join.subarray(cut2) });
          expect((await ws.waitFor(replyTo(7)))?.type, 'a fragmented join').toBe('joined');
          ws.sendFrame({ opcode: Opcode.binary, fin: false, payload: a.rng.bytes(30) });
          ws.sendFrame({ opcode: Opcode.continuation, fin: true, payload: a.rng.bytes(30) });
          break;
        case 1:
          ws.sendFrame({ opcode: Opcode.continuation, fin: true, payload: join });
          break;
        case 2:
          ws.sendFrame({ opcode: Opcode.ping, fin: false, payload: Uint8Array.of(1, 2) });
          break;
        default:
          // A new data frame while a fragmented one is still open.
          ws.sendFrame({ opcode: Opcode.binary, fin: false, payload: join.subarray(0, cut1) });
          ws.sendFrame({ opcode: Opcode.binary, fin: true, payload: join });
      }
      await settle(ws);
    }),

  oversized: (a) =>
    session(a, 'oversized', async (ws) => {
      await joinGoodRoom(ws, a);
      switch (a.round % 3) {
        case 0:
          ws.sendBinary(a.rng.bytes(20 * 1024)); // over the 16 KiB frame limit: 1009
          break;
        case 1:
          ws.sendBinary(new Uint8Array(200 * 1024)); // past uWS's own limit: the connection is cut
          break;
        default:
          // A header announcing 2^40 bytes, followed by a few.
          ws.sendFrame({ opcode: Opcode.binary, payload: a.rng.bytes(16), announcedLength: 2 ** 40 });
      }
      await settle(ws);
    }),

  invalidUtf8: (a) =>
    session(a, 'invalidUtf8', async (ws) => {
      await joinGoodRoom(ws, a);
      const frame = encodeClientRequest({ type: 'say', requestId: 9, room: ROOMS[a.index % ROOMS.length]!, text: 'MARKER', to: null });
      const at = Buffer.from(frame).indexOf('MARKER');
      const bad = a.rng.pick([[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xff], [0xe2, 0x82]]);
      frame.set(bad, at);
      ws.sendBinary(frame);
      await settle(ws);
    }),

  mutatedFrames: (a) =>
    session(a, 'mutatedFrames', async (ws) => {
      await joinGoodRoom(ws, a);
      const first = a.rng.int(1_000_000);
      for (let k = 0; k < 20; k++) ws.sendBinary(a.fuzz.case(first + k).bytes);
      await settle(ws);
    }),

  joinFlood: (a) =>
    session(a, 'joinFlood', async (ws) => {
      const ids = new Set<number>();
      for (let k = 0; k < MAX_ROOMS + 10; k++) {
        ids.add(100 + k);
        send(ws, { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 100 + k, room: `flood-${a.index}-${k}`, nickname: 'flood', since: null });
      }
      await ws.waitForCount(ids.size, (e) => 'requestId' in e && ids.has(e.requestId));
      const errors = ws.events.filter((e) => e.type === 'error' && ids.has(e.requestId));
      expect(errors.length, 'joins over the room limit').toBeGreaterThanOrEqual(10);
      expectErrors(ws, new Set(errors.map((e) => (e as { requestId: number }).requestId)), ['TooManyRooms', 'RateLimited'], 'join flood');
    }),

  joinLeaveLoop: (a) =>
    session(a, 'joinLeaveLoop', async (ws) => {
      const room = ROOMS[a.index % ROOMS.length]!;
      for (let k = 0; k < 25; k++) {
        send(ws, { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 200 + 2 * k, room, nickname: `churn${a.index}`, since: null });
        send(ws, { type: 'leave', requestId: 201 + 2 * k, room });
      }
      await settle(ws);
    }),

  sayWithoutJoin: (a) =>
    session(a, 'sayWithoutJoin', async (ws) => {
      const ids = new Set<number>();
      for (let k = 0; k < 20; k++) {
        ids.add(300 + k);
        send(ws, { type: 'say', requestId: 300 + k, room: ROOMS[k % ROOMS.length]!, text: `intruder ${a.index}`, to: null });
      }
      await ws.waitForCount(ids.size, (e) => 'requestId' in e && ids.has(e.requestId));
      expectErrors(ws, ids, ['NotJoined', 'RateLimited'], 'say without joining');
    }),

  privateToUnknown: (a) =>
    session(a, 'privateToUnknown', async (ws) => {
      const room = `pm-${a.index}`;
      send(ws, { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 1, room, nickname: 'whisperer', since: null });
      expect((await ws.waitFor(replyTo(1)))?.type).toBe('joined');
      // Unknown ids, and good clients' ids: they exist, but not in this room.
      const targets = ['nobody', 'zz.999', '', 'x'.repeat(300), a.rng.pick(a.goodIds), a.rng.pick(a.goodIds)];
      const ids = new Set<number>();
      targets.forEach((to, k) => {
        ids.add(400 + k);
        send(ws, { type: 'say', requestId: 400 + k, room, text: 'psst', to });
      });
      await ws.waitForCount(ids.size, (e) => 'requestId' in e && ids.has(e.requestId));
      expectErrors(ws, ids, ['RecipientNotFound', 'RateLimited'], 'private message to a non-member');
    }),

  nicknameClash: (a) =>
    session(a, 'nicknameClash', async (ws) => {
      const victim = a.index % (2 * GOOD_PER_WORKER);
      const room = roomsOf(victim)[0]!;
      // The same name in another case, padded, and in fullwidth letters (equal after NFKC).
      const clashes = [nickname(victim).toUpperCase(), ` ${nickname(victim)} `, 'ｇｏｏｄ' + String(victim)];
      // One at a time: a second join of the room while the first is pending would be AlreadyJoined.
      const ids = new Set<number>();
      for (const [k, name] of clashes.entries()) {
        ids.add(500 + k);
        send(ws, { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 500 + k, room, nickname: name, since: null });
        await ws.waitFor(replyTo(500 + k));
      }
      expectErrors(ws, ids, ['NicknameTaken', 'RateLimited'], `nickname clash with ${nickname(victim)} in ${room}`);
    }),

  rateFlood: (a) =>
    session(a, 'rateFlood', async (ws) => {
      const room = `spam-${a.index}`;
      send(ws, { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 1, room, nickname: 'spammer', since: null });
      await ws.waitFor(replyTo(1));
      const ids = new Set<number>();
      for (let k = 0; k < 120; k++) {
        ids.add(1000 + k);
        send(ws, { type: 'say', requestId: 1000 + k, room, text: `spam ${k}`, to: null });
      }
      await ws.waitForCount(ids.size, (e) => 'requestId' in e && ids.has(e.requestId) && (e.type === 'sent' || e.type === 'error'));
      expectErrors(ws, new Set([...ids].filter((id) => ws.events.some((e) => e.type === 'error' && e.requestId === id))), ['RateLimited'], 'say flood');
    }),

  halfOpen: async (a) => {
    const socket = await openTcp(a.port);
    hanging.push(socket);
    switch (a.round % 3) {
      case 0:
        socket.write(upgradeRequest(a.port).slice(0, 60)); // the upgrade request, cut off
        break;
      case 1:
        break; // a TCP connection that never says anything
      default:
        socket.write(upgradeRequest(a.port));
        socket.write(Uint8Array.of(0x82)); // upgraded, then one byte of a frame header
    }
    // Keep errors observable: the host may reset these connections.
    socket.on('error', (error: NodeJS.ErrnoException) => a.log.socketErrors.push(error.code ?? error.message));
  },

  closeMidFrame: (a) =>
    session(a, 'closeMidFrame', async (ws) => {
      await joinGoodRoom(ws, a);
      const frame = encodeClientRequest({ type: 'say', requestId: 2, room: ROOMS[a.index % ROOMS.length]!, text: 'never finished', to: null });
      // Header and part of the payload only, then the connection goes away: FIN or RST.
      const bytes = ws.sendFrame({ opcode: Opcode.binary, payload: frame, announcedLength: frame.length + 40 });
      expect(bytes).toBe(true);
      if (a.round % 2 === 0) ws.socket.end();
      else ws.destroy();
      await ws.ended;
    }),

  protocolViolations: (a) =>
    session(a, 'protocolViolations', async (ws) => {
      const say = encodeClientRequest({ type: 'say', requestId: 3, room: ROOMS[0]!, text: 'unmasked', to: null });
      switch (a.round % 4) {
        case 0:
          ws.sendFrame({ opcode: Opcode.binary, payload: say, mask: false });
          break;
        case 1:
          ws.sendFrame({ opcode: Opcode.binary, payload: say, rsv: 0b111 });
          break;
        case 2:
          ws.sendFrame({ opcode: 3, payload: say });
          break;
        default:
          ws.sendFrame({ opcode: Opcode.ping, payload: new Uint8Array(126) }); // control frames carry at most 125 bytes
      }
      await settle(ws);
    }),
};

const BEHAVIOUR_NAMES = Object.keys(BEHAVIOURS);

async function runAbuser(index: number, chatting: () => boolean, shared: Omit<Abuser, 'index' | 'round' | 'rng'>): Promise<void> {
  const behaviour = BEHAVIOURS[BEHAVIOUR_NAMES[index % BEHAVIOUR_NAMES.length]!]!;
  for (let round = 0; round < MAX_ROUNDS && (round === 0 || chatting()); round++) {
    await behaviour({ ...shared, index, round, rng: new Rng(streamSeed(SEED, index * MAX_ROUNDS + round)) });
  }
}

// ------------------------------------------------------------------ the test

interface Sent {
  readonly seq: number;
  readonly sender: string;
  readonly text: string;
}

test('50 good clients chat undisturbed while 50 abusers send garbage', { timeout: 120_000 }, async () => {
  const groups = await connectAcrossWorkers(host.ws, 2, GOOD_PER_WORKER, 400);
  good = groups.flat();
  expect(groups.map((g) => g.length)).toEqual([GOOD_PER_WORKER, GOOD_PER_WORKER]);
  expect(new Set(good.map((c) => c.incarnation)).size).toBe(2);

  // Everyone joins before anyone talks, so that every member must see every message of its rooms.
  await Promise.all(
    good.map(async (c, i) => {
      for (const room of roomsOf(i)) {
        const joined = await c.join(room, nickname(i));
        expect(joined.history).toEqual([]);
      }
    }),
  );

  const sent = new Map<string, Sent[]>(ROOMS.map((r) => [r, []]));
  let chatting = true;
  const log: AbuseLog = { ends: [], faults: [], socketErrors: [], errorCodes: new Map() };
  const shared = { port: host.port, log, fuzz: new FuzzGenerator(SEED), goodIds: good.map((c) => c.id) };
  const abuse = Array.from({ length: ABUSERS }, (_, k) => runAbuser(k, () => chatting, shared));
  const chats = good.map(async (c, i) => {
    for (let n = 0; n < MESSAGES_PER_CLIENT; n++) {
      const room = roomsOf(i)[n % 2]!;
      const text = `${nickname(i)} says ${n}`;
      const reply = await c.say(room, text);
      sent.get(room)!.push({ seq: reply.seq, sender: c.id, text });
      await delay(SEND_INTERVAL_MS); // pacing below the rate limit, not waiting for luck
    }
  });
  const chatsDone = Promise.all(chats).then(() => {
    chatting = false;
  });
  await Promise.all([chatsDone, ...abuse]);

  // A last message per room: every member receives everything up to it.
  for (const [r, room] of ROOMS.entries()) {
    const speaker = good[r]!;
    const reply = await speaker.say(room, `end of ${room}`);
    sent.get(room)!.push({ seq: reply.seq, sender: speaker.id, text: `end of ${room}` });
  }

  // Each room's sequence is 1..n, and every sequence number belongs to exactly one good message.
  const expected = new Map<string, Sent[]>();
  for (const [room, list] of sent) {
    const ordered = [...list].sort((x, y) => x.seq - y.seq);
    expect(
      ordered.map((m) => m.seq),
      room,
    ).toEqual(ordered.map((_, k) => k + 1));
    expected.set(room, ordered);
  }

  await Promise.all(
    good.map(async (c, i) => {
      for (const room of roomsOf(i)) {
        const want = expected.get(room)!;
        const got: Sent[] = [];
        while (got.length < want.length) {
          const m = await c.next('message', (e) => e.room === room);
          got.push({ seq: m.seq, sender: m.sender.id, text: m.text });
          expect(m.to, `${c.id} got a private message`).toBeNull();
        }
        expect(got, `${nickname(i)} in ${room}`).toEqual(want);
      }
      // Nothing else: no extra or foreign message, no error, only presence events of its own rooms.
      for (const e of c.drain()) {
        const ok = (e.type === 'memberJoined' || e.type === 'memberLeft' || e.type === 'presence') && roomsOf(i).includes(e.room);
        expect(ok, `${nickname(i)} got ${JSON.stringify(e)}`).toBe(true);
      }
      expect(c.socket.readyState, `${nickname(i)} is still connected`).toBe(WebSocket.OPEN);
    }),
  );

  // The abusers were only ever sent valid frames, and closed only with documented codes.
  expect(log.faults).toEqual([]);
  expect(log.socketErrors.filter((code) => code !== 'ECONNRESET' && code !== 'EPIPE')).toEqual([]);
  const documented = new Set<number>([...Object.values(CloseCode), 1006]);
  const codes = new Map<string, number>();
  for (const end of log.ends) codes.set(`${end.behaviour} ${end.code}`, (codes.get(`${end.behaviour} ${end.code}`) ?? 0) + 1);
  const undocumented = log.ends.filter((e) => !documented.has(e.code)).map((e) => `${e.behaviour}: ${e.code} ${e.reason}`);
  const summary = `close codes by behaviour: ${JSON.stringify(Object.fromEntries(codes))}; not in CloseCode: ${JSON.stringify(undocumented)}`;
  const outOfRange = log.ends.filter((e) => !((e.code >= 1000 && e.code <= 1015) || (e.code >= 4000 && e.code <= 4499)));
  expect(outOfRange, summary).toEqual([]);
  const sessionAbusers = Array.from({ length: ABUSERS }, (_, k) => BEHAVIOUR_NAMES[k % BEHAVIOUR_NAMES.length]).filter((n) => n !== 'halfOpen');
  expect(log.ends.length).toBeGreaterThanOrEqual(sessionAbusers.length);
  console.info(`abuse: ${log.ends.length} abusive sessions; ${summary}; error replies: ${JSON.stringify(Object.fromEntries(log.errorCodes))}`);

  // The host is alive, with both workers never restarted, and still serves HTTP while connections hang half-open.
  expect(host.process.exitCode).toBeNull();
  const health = (await (await fetch(`${host.http}/healthz`)).json()) as { status: string; workerRestarts: number; workers: number };
  expect(health).toMatchObject({ status: 'ok', workerRestarts: 0, workers: 2 });
  expect(host.logs.filter((line) => /worker crashed|worker thread error|hub failed/.test(String(line.msg)))).toEqual([]);
});
