/**
 * How long a crashed worker is away: starts the host (2 workers, --fault-injection),
 * crashes a worker N times (POST /debug/crash-worker, one at a time), and measures
 * from the crash (the worker's own log line) to the restarted worker listening
 * again, and to the first new WebSocket accepted by the new incarnation.
 *
 *   npm run build && tsc -p bench/tsconfig.json && node dist-bench/bench/restart.js [--crashes 10] [--spacing-ms 3500]
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { decodeServerFrame } from '../src/protocol/index.js';
import { ROOT } from './targets.js';

const { values } = parseArgs({ options: { crashes: { type: 'string', default: '10' }, 'spacing-ms': { type: 'string', default: '3500' } } });
const crashes = Math.max(1, Math.min(100, Number(values.crashes)));
/**
 * The supervisor restarts at once up to 3 times in 10 s, then backs off (a crash loop):
 * crashes spaced 3.5 s apart stay out of the backoff, which is measured separately.
 */
const spacingMs = Math.max(0, Math.min(60_000, Number(values['spacing-ms'])));

type Line = Record<string, unknown>;
const child = spawn(process.execPath, ['dist/main.js', '--host', '127.0.0.1', '--port', '0', '--workers', '2', '--fault-injection'], {
  cwd: ROOT,
  stdio: ['ignore', 'pipe', 'inherit'],
});
const lines: Line[] = [];
const waiters: { match: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
createInterface({ input: child.stdout }).on('line', (text) => {
  const line = JSON.parse(text) as Line;
  lines.push(line);
  for (const w of [...waiters]) if (w.match(line)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(line);
});
/** The first line after index `from` matching `match`; fails after 10 s. */
function waitFor(match: (l: Line) => boolean, from: number): Promise<Line> {
  const seen = lines.slice(from).find(match);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no such log line within 10 s')), 10_000);
    waiters.push({
      match,
      resolve: (l) => {
        clearTimeout(timer);
        resolve(l);
      },
    });
  });
}

/** Connects until the connection lands on `incarnation` (base 36 prefix of its id); resolves with the time it was welcomed. */
async function connectTo(port: number, incarnation: string): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const id = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`);
      ws.once('error', reject);
      ws.once('message', (data: Buffer) => {
        const event = decodeServerFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        ws.close();
        resolve(event.type === 'welcome' ? event.connectionId : '');
      });
    });
    if (id.split('.')[0] === incarnation) return Date.now();
  }
  throw new Error(`no connection reached incarnation ${incarnation} in 200 tries`);
}

// The host must not outlive this script, whatever happens below.
process.on('exit', () => child.kill('SIGTERM'));
process.on('uncaughtException', (error) => {
  process.stderr.write(`${error.stack ?? String(error)}\n`);
  process.exit(1);
});

const listening = await waitFor((l) => String(l.msg).startsWith('chat host listening'), 0);
const port = listening.port as number;
const toListening: number[] = [];
const toFirstClient: number[] = [];
for (let i = 0; i < crashes; i++) {
  const from = lines.length;
  const res = await fetch(`http://127.0.0.1:${port}/debug/crash-worker`, { method: 'POST' });
  const { worker } = (await res.json()) as { worker: number };
  const crashed = await waitFor((l) => l.msg === 'worker crashed' && l.worker === worker, from);
  const restarted = await waitFor((l) => l.msg === 'worker restarted' && l.worker === worker, from);
  const welcomedAt = await connectTo(port, (restarted.incarnation as number).toString(36));
  await new Promise((resolve) => setTimeout(resolve, spacingMs));
  toListening.push((restarted.time as number) - (crashed.time as number));
  toFirstClient.push(welcomedAt - (crashed.time as number));
}
child.kill('SIGTERM');

const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]} ms, median ${s[Math.floor(s.length / 2)]} ms, max ${s[s.length - 1]} ms`;
};
process.stdout.write(`${crashes} crashes of one worker of 2, ${spacingMs} ms apart\n`);
process.stdout.write(`crash -> restarted worker listening: ${stats(toListening)}\n`);
process.stdout.write(`crash -> first WebSocket welcomed by the new worker: ${stats(toFirstClient)}\n`);
