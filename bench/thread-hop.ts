/**
 * What one hop between two threads costs, by the two ways Node 20 has of waking another
 * thread: a MessagePort (what the relay uses) and a SharedArrayBuffer counter woken by
 * Atomics.notify / Atomics.waitAsync (the "shared-memory ring" issue 12 proposed; the
 * payload would sit in the shared memory, so only the wake-up is measured here).
 *
 *   npx tsc -p bench/tsconfig.json && node dist-bench/bench/thread-hop.js [--count 20000] [--rounds 2]
 *
 * Two patterns, each for both ways, in one run:
 * - ping-pong: one message at a time, answered by the other thread on its next turn,
 *   so every message finds the other thread idle and must wake it (the relay's case
 *   whenever the host is not saturated: each room message crosses to the main thread
 *   and back). Reports the round trip and the CPU of both threads per round trip.
 * - stream: the sender posts 4 messages per turn of its event loop without waiting;
 *   the receiver counts them. A busy receiver needs no wake-up for most of them.
 *   Reports the CPU of both threads per message.
 * CPU is the process's (both threads; nothing else runs), from process.cpuUsage().
 */
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

type Way = 'port' | 'atomics';
type Pattern = 'ping-pong' | 'stream';

interface Job {
  readonly way: Way;
  readonly pattern: Pattern;
  readonly count: number;
  /** Int32 [0]: messages main -> worker; [1]: messages worker -> main. */
  readonly shared: SharedArrayBuffer;
}

const TO_WORKER = 0;
const TO_MAIN = 1;
const STREAM_PER_TURN = 4;

/** Calls `onCount(total)` whenever the counter at `slot` moved, until `until` returns true. */
async function watch(counters: Int32Array, slot: number, onCount: (total: number) => void, until: () => boolean): Promise<void> {
  let seen = 0;
  while (!until()) {
    const now = Atomics.load(counters, slot);
    if (now !== seen) {
      seen = now;
      onCount(now);
      continue;
    }
    const wait = Atomics.waitAsync(counters, slot, now);
    if (wait.async) await wait.value;
  }
}

function bump(counters: Int32Array, slot: number): void {
  Atomics.add(counters, slot, 1);
  Atomics.notify(counters, slot);
}

// ------------------------------------------------------------ the worker: echoes (ping-pong) or counts (stream)

if (!isMainThread) {
  const job = workerData as Job;
  const port = parentPort!;
  const counters = new Int32Array(job.shared);
  const payload = new Uint8Array(100);
  if (job.way === 'port') {
    let got = 0;
    port.on('message', () => {
      got++;
      if (job.pattern === 'ping-pong') setImmediate(() => port.postMessage(payload));
      else if (got === job.count) port.postMessage('done');
    });
  } else {
    let seen = 0;
    void watch(
      counters,
      TO_WORKER,
      (total) => {
        seen = total;
        if (job.pattern === 'ping-pong') setImmediate(() => bump(counters, TO_MAIN));
        else if (total >= job.count) port.postMessage('done');
      },
      () => seen >= job.count,
    );
    port.on('message', () => port.close()); // keeps the thread alive until told to end
  }
  port.postMessage('ready');
}

// ------------------------------------------------------------ the main thread: drives and measures

interface Result {
  readonly way: Way;
  readonly pattern: Pattern;
  readonly count: number;
  readonly wallMs: number;
  /** ping-pong: per round trip; stream: per message. */
  readonly microsEach: number;
  readonly cpuMicrosEach: number;
}

async function run(way: Way, pattern: Pattern, count: number): Promise<Result> {
  const shared = new SharedArrayBuffer(8);
  const counters = new Int32Array(shared);
  const job: Job = { way, pattern, count, shared };
  const worker = new Worker(new URL(import.meta.url), { workerData: job });
  await new Promise((resolve) => worker.once('message', resolve));
  const payload = new Uint8Array(100);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    if (pattern === 'ping-pong') {
      let answered = 0;
      const send = (): void => (way === 'port' ? worker.postMessage(payload) : bump(counters, TO_WORKER));
      const answer = (): void => {
        if (++answered === count) resolve();
        else setImmediate(send);
      };
      if (way === 'port') worker.on('message', answer);
      else void watch(counters, TO_MAIN, answer, () => answered >= count);
      send();
    } else {
      worker.on('message', (m) => m === 'done' && resolve());
      let sent = 0;
      const turn = (): void => {
        for (let i = 0; i < STREAM_PER_TURN && sent < count; i++, sent++) {
          if (way === 'port') worker.postMessage(payload);
          else bump(counters, TO_WORKER);
        }
        if (sent < count) setImmediate(turn);
      };
      turn();
    }
  });
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  worker.postMessage('end');
  await worker.terminate();
  return {
    way,
    pattern,
    count,
    wallMs: Math.round(wallMs),
    microsEach: Math.round((wallMs * 1000 * 10) / count) / 10,
    cpuMicrosEach: Math.round(((cpu.user + cpu.system) * 10) / count) / 10,
  };
}

if (isMainThread) {
  const { values } = parseArgs({ options: { count: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '2' } } });
  const count = Number(values.count);
  const rounds = Number(values.rounds);
  if (!(count > 0 && count <= 1_000_000 && rounds > 0 && rounds <= 10)) throw new Error('--count 1..1000000, --rounds 1..10');
  const results: Result[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const pattern of ['ping-pong', 'stream'] as const) {
      for (const way of ['port', 'atomics'] as const) {
        const result = await run(way, pattern, count);
        results.push(result);
        process.stdout.write(`${JSON.stringify(result)}\n`);
      }
    }
  }
  process.stdout.write('\n| pattern | way | per | wall µs | CPU µs (both threads) |\n| --- | --- | --- | ---: | ---: |\n');
  for (const r of results) {
    const per = r.pattern === 'ping-pong' ? 'round trip' : 'message';
    process.stdout.write(`| ${r.pattern} | ${r.way === 'port' ? 'MessagePort' : 'Atomics.waitAsync'} | ${per} | ${r.microsEach} | ${r.cpuMicrosEach} |\n`);
  }
}
