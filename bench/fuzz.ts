/**
 * Decoder fuzzing from the command line.
 *
 *   npm run fuzz -- --cases 1000000 [--seed S]   run cases 0..N-1 of seed S (default 0x5eedc0de)
 *   npm run fuzz -- --seed S --replay INDEX      run one case, print it and its verdict
 *   --hang-ms MS                                 a case taking longer counts as a hang (default 10000)
 *
 * The cases run in a worker thread so that the main thread can notice a decoder that
 * never returns (a synchronous loop cannot be interrupted from inside). Exits 1 on
 * the first contract violation, 2 on a hang, printing seed, index and frame.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { FuzzFailure, checkCase } from '../test/helpers/fuzz/check.js';
import { CASE_KINDS, FuzzGenerator, hex } from '../test/helpers/fuzz/generator.js';

const DEFAULT_SEED = 0x5eed_c0de;
const PROGRESS_EVERY = 100_000;

interface Job {
  readonly seed: number;
  readonly cases: number;
  /** [cases done, index of the case being run]. */
  readonly progress: SharedArrayBuffer;
}

interface Tally {
  readonly client: Record<string, number>;
  readonly server: Record<string, number>;
  readonly kinds: Record<string, number>;
}

type FromFuzzer =
  | { readonly kind: 'progress'; readonly done: number }
  | { readonly kind: 'failure'; readonly message: string; readonly stack: string }
  | { readonly kind: 'done'; readonly tally: Tally };

function count(table: Record<string, number>, key: string): void {
  table[key] = (table[key] ?? 0) + 1;
}

/** The worker's side: runs the cases and reports. */
function fuzz(job: Job): void {
  const progress = new Int32Array(job.progress);
  const generator = new FuzzGenerator(job.seed);
  const tally: Tally = { client: {}, server: {}, kinds: {} };
  for (let index = 0; index < job.cases; index++) {
    Atomics.store(progress, 1, index);
    const fuzzCase = generator.case(index);
    let verdict: ReturnType<typeof checkCase>;
    try {
      verdict = checkCase(fuzzCase);
    } catch (error) {
      const failure = error instanceof FuzzFailure ? error : new FuzzFailure(fuzzCase, `checking failed: ${String(error)}`, { cause: error });
      const cause = failure.cause instanceof Error ? `\ncaused by ${failure.cause.stack ?? failure.cause.message}` : '';
      parentPort!.postMessage({ kind: 'failure', message: failure.message, stack: `${failure.stack ?? ''}${cause}` } satisfies FromFuzzer);
      return;
    }
    count(tally.client, verdict.client);
    count(tally.server, verdict.server);
    count(tally.kinds, fuzzCase.kind);
    Atomics.store(progress, 0, index + 1);
    if ((index + 1) % PROGRESS_EVERY === 0) parentPort!.postMessage({ kind: 'progress', done: index + 1 } satisfies FromFuzzer);
  }
  parentPort!.postMessage({ kind: 'done', tally } satisfies FromFuzzer);
}

function parseInteger(text: string | undefined, fallback: number, flag: string): number {
  if (text === undefined) return fallback;
  const n = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new Error(`--${flag}: expected a whole number, got "${text}"`);
  return n;
}

function formatCodes(table: Record<string, number>): string {
  const ok = table.ok ?? 0;
  const errors = Object.entries(table)
    .filter(([code]) => code !== 'ok')
    .sort((a, b) => b[1] - a[1]);
  const rejected = errors.reduce((sum, [, n]) => sum + n, 0);
  return `${ok} decoded OK, ${rejected} ProtocolError (${errors.map(([code, n]) => `${code} ${n}`).join(', ')})`;
}

function replay(seed: number, index: number): number {
  const fuzzCase = new FuzzGenerator(seed).case(index);
  console.log(`seed ${seed} case ${index}: ${fuzzCase.kind}: ${fuzzCase.description}`);
  console.log(`frame (${fuzzCase.bytes.length} bytes): ${hex(fuzzCase.bytes)}`);
  try {
    const verdict = checkCase(fuzzCase);
    console.log(`client decoder: ${verdict.client}; server decoder: ${verdict.server}`);
    return 0;
  } catch (error) {
    console.error(error instanceof Error ? error.stack : String(error));
    if (error instanceof Error && error.cause instanceof Error) console.error(`caused by ${error.cause.stack}`);
    return 1;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { cases: { type: 'string' }, seed: { type: 'string' }, replay: { type: 'string' }, 'hang-ms': { type: 'string' } },
    strict: true,
  });
  const seed = parseInteger(values.seed, DEFAULT_SEED, 'seed') >>> 0;
  if (values.replay !== undefined) return replay(seed, parseInteger(values.replay, 0, 'replay'));
  const cases = parseInteger(values.cases, 100_000, 'cases');
  if (cases < 1 || cases > 2 ** 31 - 1) throw new Error('--cases: expected 1..2147483647');
  const hangMs = parseInteger(values['hang-ms'], 10_000, 'hang-ms');

  console.log(`fuzzing the client and server decoders: ${cases} cases, seed ${seed} (0x${seed.toString(16)}), kinds: ${CASE_KINDS.join(' ')}`);
  const progress = new SharedArrayBuffer(8);
  const counters = new Int32Array(progress);
  const started = performance.now();
  const worker = new Worker(new URL(import.meta.url), { workerData: { seed, cases, progress } satisfies Job });

  return new Promise<number>((resolve) => {
    let lastIndex = -1;
    let lastChange = performance.now();
    const finish = (code: number): void => {
      clearInterval(watchdog);
      void worker.terminate().then(() => resolve(code));
    };
    const watchdog = setInterval(() => {
      const index = Atomics.load(counters, 1);
      if (index !== lastIndex) {
        lastIndex = index;
        lastChange = performance.now();
      } else if (performance.now() - lastChange > hangMs) {
        const fuzzCase = new FuzzGenerator(seed).case(index);
        console.error(`HANG: seed ${seed} case ${index} (${fuzzCase.kind}: ${fuzzCase.description}) ran for over ${hangMs} ms`);
        console.error(`  frame (${fuzzCase.bytes.length} bytes): ${hex(fuzzCase.bytes)}`);
        console.error(`  replay: npm run fuzz -- --seed ${seed} --replay ${index}`);
        finish(2);
      }
    }, 500);
    worker.on('message', (message: FromFuzzer) => {
      const seconds = (performance.now() - started) / 1000;
      switch (message.kind) {
        case 'progress':
          console.log(`  ${message.done} cases, ${Math.round(message.done / seconds)} cases/s`);
          break;
        case 'failure':
          console.error(`FAILURE after ${Atomics.load(counters, 0)} good cases: ${message.message}`);
          console.error(message.stack);
          console.error(`replay: npm run fuzz -- --seed ${seed} --replay ${Atomics.load(counters, 1)}`);
          finish(1);
          break;
        case 'done': {
          const { tally } = message;
          console.log(
            `done: ${cases} cases in ${seconds.toFixed(1)} s, ${Math.round(cases / seconds)} cases/s, seed ${seed}; every case decoded or gave a ProtocolError`,
          );
          console.log(`  client decoder: ${formatCodes(tally.client)}`);
          console.log(`  server decoder: ${formatCodes(tally.server)}`);
          console.log(`  cases by kind: ${CASE_KINDS.map((k) => `${k} ${tally.kinds[k] ?? 0}`).join(', ')}`);
          finish(0);
          break;
        }
      }
    });
    worker.on('error', (error) => {
      console.error(`fuzz worker failed near case ${Atomics.load(counters, 1)} of seed ${seed}:`, error);
      finish(1);
    });
  });
}

if (isMainThread) {
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
} else {
  fuzz(workerData as Job);
}
