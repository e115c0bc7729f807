/**
 * What one joined idle connection costs, part by part (issue 12, "lean connections").
 *
 *   node dist-bench/bench/memory-parts.js                       # the JS parts, built here with the host's own code
 *   node dist-bench/bench/memory-parts.js --live 19000          # also the running host (2 workers) and uws-bare
 *
 * JS parts: N of each piece of per-connection state are built with the host's own
 * classes and kept; the V8 heap used after two full collections, before and after,
 * divided by N. Live: the host runs with a preload (bench only, never in production)
 * that makes each of its threads collect its garbage and report its heap when asked,
 * so the heap of the main thread and of each worker is read with 0 and with N joined
 * connections (F4's rooms of 100), beside the process's RSS; what the RSS grew by
 * beyond the heaps is native (uWS's sockets and subscriptions, malloc) plus heap pages
 * committed but not used.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { RateLimiter, takeToken } from '../src/admission/rate-limit.js';
import { MemberSet } from '../src/rooms/member-set.js';
import { RoomRegistry } from '../src/rooms/registry.js';
import type { Member } from '../src/rooms/room.js';
import { InProcessSequencer } from '../src/sequencer/in-process.js';
import { newResumeSecret } from '../src/sequencer/resume.js';
import type { SequencerOutput } from '../src/sequencer/sequencer.js';
import { handleRequest, newConnectionState, type Socket } from '../src/transport/connection.js';
import type { Broker } from '../src/relay/broker.js';
import { PROTOCOL_VERSION } from '../src/protocol/index.js';
import { Generator } from './generator.js';
import { F4 } from './scenarios.js';
import { adapterFor, NAMED_TARGETS, startTarget } from './targets.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const N = 20_000;
const ROOM_SIZE = F4.roomSize;

interface Part {
  readonly thread: string;
  readonly part: string;
  readonly bytes: number;
  readonly how: string;
}
const parts: Part[] = [];

/** Heap bytes per item that `make` builds (kept alive until measured); `setup` runs first and is not counted. */
function measure<S>(thread: string, part: string, how: string, setup: () => S, make: (i: number, s: S) => unknown): void {
  const s = setup();
  const keep: unknown[] = new Array(N).fill(null);
  const before = heapUsed();
  for (let i = 0; i < N; i++) keep[i] = make(i, s);
  const after = heapUsed();
  parts.push({ thread, part, bytes: Math.round((after - before) / N), how });
  // keep `keep` and `s` alive up to the measurement
  if (keep.length !== N || s === undefined) throw new Error('unreachable');
}

/** An id as a worker makes it (server.ts: node id, incarnation, counter). */
const idPrefix = `${randomBytes(4).toString('hex')}.1.`;
const workerId = (i: number): string => idPrefix + i.toString(36);
/** The same id as the main thread has it: decoded from a relay batch (a flat string of its own). */
const decodedId = (i: number): string => Buffer.from(workerId(i), 'latin1').toString('latin1');
const nickname = (i: number): string => Buffer.from(`u${i}`, 'latin1').toString('utf8');

const settings = { perSecond: 20, burst: 40, abuseMs: 10_000 };
/** What the fakes below do with what they are given: the frames and calls are not what is measured. */
const drop = (): undefined => undefined;
const noBroker = { join: drop, leave: drop, say: drop, members: drop, open: drop, close: drop } as unknown as Broker;
const noSocket: Socket = { send: drop, subscribe: drop, unsubscribe: drop };

function jsParts(): void {
  // ---------------------------------------------------------------- worker thread
  measure(
    'worker',
    'connection id string, concatenated',
    'idPrefix + n.toString(36): a cons string and its suffix',
    () => null,
    (i) => workerId(i),
  );
  measure(
    'worker',
    'connection id string, flat',
    "the same through Buffer latin1, as server.ts makes it (the sockets Map's key too)",
    () => null,
    (i) => decodedId(i),
  );
  measure(
    'worker',
    'ChatServer.sockets entry',
    'Map<id, ws>.set of an existing id',
    () => ({ ids: Array.from({ length: N }, (_, i) => workerId(i)), map: new Map<string, object>() }),
    (i, s) => {
      s.map.set(s.ids[i]!, s);
      return null;
    },
  );
  measure(
    'worker',
    'ConnectionState at open',
    'newConnectionState(id, bucket, slot), id not counted',
    () => Array.from({ length: N }, (_, i) => workerId(i)),
    (i, ids) => newConnectionState(ids[i]!, { burst: settings.burst, now: performance.now() }, i),
  );
  measure(
    'worker',
    'ConnectionState after one join (rooms, attempt, rate-limit bucket)',
    'newConnectionState + takeToken + handleRequest(join), id not counted',
    () => Array.from({ length: N }, (_, i) => workerId(i)),
    (i, ids) => {
      const state = newConnectionState(ids[i]!, { burst: settings.burst, now: performance.now() }, i);
      takeToken(state, settings, performance.now() + 1.5);
      const join = {
        type: 'join',
        requestId: 1,
        room: `r${Math.floor(i / ROOM_SIZE)}`,
        nickname: 'u',
        since: null,
        epoch: 0,
        protocolVersion: PROTOCOL_VERSION,
        token: '',
      };
      handleRequest(state, noSocket, join as never, noBroker, { maxRooms: 16, maxTextChars: 2000 });
      return state;
    },
  );
  measure(
    'worker',
    'RateLimiter object after one request (compat listener; was per connection)',
    'new RateLimiter(settings, performance.now()).take(performance.now())',
    () => null,
    () => {
      const limiter = new RateLimiter(settings, performance.now());
      limiter.take(performance.now() + 1.5);
      return limiter;
    },
  );

  // ---------------------------------------------------------------- main thread
  measure(
    'main',
    'MainEnd.connectionWorker entry',
    'Map<id, worker>.set with an id decoded from the relay batch',
    () => new Map<string, number>(),
    (i, map) => {
      map.set(decodedId(i), i & 1);
      return null;
    },
  );
  measure(
    'main',
    'nickname string',
    'decoded from the relay batch',
    () => null,
    (i) => nickname(i),
  );
  measure(
    'main',
    'resume hash string',
    'newResumeSecret().hash (hex SHA-256)',
    () => null,
    () => newResumeSecret().hash,
  );
  measure(
    'main',
    'resume hash as kept',
    'its 32 bytes as a latin1 string, as in-process.ts keeps it',
    () => null,
    () => Buffer.from(newResumeSecret().hash, 'hex').toString('latin1'),
  );
  measure(
    'main',
    'Member object',
    '{ id, name, worker, resumeHash } as in-process.ts builds it; the strings not counted',
    () => ({ ids: Array.from({ length: N }, (_, i) => decodedId(i)), names: Array.from({ length: N }, (_, i) => nickname(i)), hash: newResumeSecret().hash }),
    (i, s) => ({ id: s.ids[i]!, name: s.names[i]!, worker: i & 1, resumeHash: s.hash }),
  );
  measure(
    'main',
    'MemberSet entry (byId, nickname keys, sorted entry)',
    'MemberSet.add in rooms of 100; members not counted',
    () => {
      const hash = newResumeSecret().hash;
      const members: Member[] = Array.from({ length: N }, (_, i) => ({ id: decodedId(i), name: nickname(i), worker: i & 1, resumeHash: hash }));
      return { members, sets: Array.from({ length: N / ROOM_SIZE }, () => new MemberSet<Member>()) };
    },
    (i, s) => {
      s.sets[Math.floor(i / ROOM_SIZE)]!.add(s.members[i]!);
      return null;
    },
  );
  measure(
    'main',
    'RoomRegistry.roomsByConnection entry',
    'noteJoined(id, room) with the room name shared',
    () => ({ ids: Array.from({ length: N }, (_, i) => decodedId(i)), registry: new RoomRegistry({ historyCapacity: 100, emptyRoomTtlMs: 600_000 }) }),
    (i, s) => {
      s.registry.noteJoined(s.ids[i]!, 'r0');
      return null;
    },
  );
  // The whole sequencer, joins as they come (presence flushed: at rest it holds nothing per connection).
  measure(
    'main',
    'InProcessSequencer, whole (member, its strings, MemberSet, registry, presence)',
    'InProcessSequencer.join of N connections into rooms of 100, presence flushed; the connection ids not counted',
    () => {
      const ids = Array.from({ length: N }, (_, i) => decodedId(i));
      const output = {
        workerOf: () => 0,
        joined: drop,
        joinFailed: drop,
        removed: drop,
        publish: drop,
        send: drop,
        sendInRoom: drop,
        changed: drop,
      } as unknown as SequencerOutput;
      const sequencer = new InProcessSequencer({
        historyCapacity: 100,
        joinHistory: 50,
        emptyRoomTtlMs: 600_000,
        maxRoomsTotal: 10_000,
        newRoomsPerMinute: 1_000_000,
        presenceEventsMaxMembers: 1000,
      } as never);
      void sequencer.start(output);
      return { ids, sequencer };
    },
    (i, s) => {
      s.sequencer.join(s.ids[i]!, 1, { requestId: 1, room: `r${Math.floor(i / ROOM_SIZE)}`, nickname: nickname(i), since: null, epoch: 0 });
      if (i % 1000 === 999) s.sequencer.flushPresence();
      return null;
    },
  );
}

// -------------------------------------------------------------------- live

const PRELOAD = `
const v8 = require('node:v8'), vm = require('node:vm'), fs = require('node:fs');
const { threadId } = require('node:worker_threads');
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const dir = process.env.MEMORY_PARTS_DIR;
let seen = '';
setInterval(() => {
  let seq;
  try { seq = fs.readFileSync(dir + '/request', 'utf8'); } catch (error) { if (error.code === 'ENOENT') return; throw error; }
  if (seq === seen) return;
  seen = seq;
  const raw = v8.getHeapStatistics().used_heap_size;
  gc(); gc();
  const h = v8.getHeapStatistics();
  fs.writeFileSync(dir + '/' + seq + '-' + threadId + '.json', JSON.stringify({ thread: threadId, rawUsed: raw, used: h.used_heap_size, total: h.total_heap_size, physical: h.total_physical_size, external: h.external_memory }));
}, 100).unref();
`;

interface ThreadHeap {
  readonly thread: number;
  readonly rawUsed: number;
  readonly used: number;
  readonly total: number;
  readonly physical: number;
  readonly external: number;
}

let seq = 0;
/** Asks every thread of the target to collect and report its heap; waits for `threads` answers. */
async function heaps(dir: string, threads: number): Promise<ThreadHeap[]> {
  const s = String(++seq);
  writeFileSync(`${dir}/request`, s);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const out: ThreadHeap[] = [];
    for (let t = 0; t < 16; t++) if (existsSync(`${dir}/${s}-${t}.json`)) out.push(JSON.parse(readFileSync(`${dir}/${s}-${t}.json`, 'utf8')) as ThreadHeap);
    if (out.length >= threads) return out.sort((a, b) => a.thread - b.thread);
    if (Date.now() > deadline) throw new Error(`only ${out.length} of ${threads} threads reported their heap`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function live(target: string, connections: number, threads: number): Promise<void> {
  const dir = `/tmp/memory-parts-${process.pid}-${target}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/preload.cjs`, PRELOAD);
  process.env.MEMORY_PARTS_DIR = dir;
  const spec = NAMED_TARGETS[target]!;
  const running = await startTarget(spec, ['-r', `${dir}/preload.cjs`]);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const rss0 = running.probe.rssBytes();
    const h0 = await heaps(dir, threads);
    const rss0gc = running.probe.rssBytes();
    const gen = new Generator(adapterFor(spec.name), { ...F4, connections }, running.port);
    try {
      const join = await gen.connectAll(F4.concurrency, 180_000);
      await new Promise((r) => setTimeout(r, 1000));
      const rss1 = running.probe.rssBytes();
      const h1 = await heaps(dir, threads);
      await new Promise((r) => setTimeout(r, 500));
      const rss1gc = running.probe.rssBytes();
      const n = join.joined;
      const per = (bytes: number): string => `${(bytes / n).toFixed(0)} B`;
      console.log(
        `${target}: ${n}/${connections} joined; RSS ${(rss0 / 2 ** 20).toFixed(1)} -> ${(rss1 / 2 ** 20).toFixed(1)} MB (${per(rss1 - rss0)}/connection, 1 s after the joins)`,
      );
      console.log(
        `${target}: after full GCs in every thread: RSS ${(rss0gc / 2 ** 20).toFixed(1)} -> ${(rss1gc / 2 ** 20).toFixed(1)} MB (${per(rss1gc - rss0gc)}/connection)`,
      );
      let heapGrowth = 0;
      let committedGrowth = 0;
      for (let t = 0; t < h1.length; t++) {
        const a = h0[t]!;
        const b = h1[t]!;
        heapGrowth += b.used - a.used;
        committedGrowth += b.physical - a.physical;
        console.log(
          `${target}: thread ${b.thread}: heap used after GC ${per(b.used - a.used)}/connection (garbage before it: ${((b.rawUsed - b.used) / 2 ** 20).toFixed(1)} MB), heap physical ${per(b.physical - a.physical)}/connection, external ${per(b.external - a.external)}/connection`,
        );
      }
      console.log(
        `${target}: RSS after GC less the heaps' live growth: ${per(rss1gc - rss0gc - heapGrowth)}/connection; less the heaps' physical growth (native: sockets, subscriptions, malloc): ${per(rss1gc - rss0gc - committedGrowth)}/connection`,
      );
    } finally {
      gen.close();
    }
  } finally {
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--live');
  jsParts();
  for (const p of parts) console.log(`${p.thread.padEnd(6)} ${String(p.bytes).padStart(5)} B  ${p.part}  (${p.how})`);
  if (at >= 0) {
    const connections = Number(process.argv[at + 1] ?? 19_000);
    const targets = (process.argv[process.argv.indexOf('--targets') + 1] ?? 'chat-host-2w,uws-bare').split(',');
    for (const target of process.argv.includes('--targets') ? targets : ['chat-host-2w', 'uws-bare']) {
      await live(target, connections, target === 'chat-host-2w' ? 3 : target === 'chat-host-1w' ? 2 : 1);
    }
  }
}

await main();
