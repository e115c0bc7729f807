/**
 * How long a user is out of the room after their node dies: a redis-server, two nodes
 * (default --node-ttl, 20 s) and a TCP proxy in front of them standing in for the load
 * balancer; the web client in headless Chromium joins a room through the proxy. Each
 * run points the proxy at the other node, SIGKILLs the node holding the page, and
 * measures from the kill to the moment the page shows it is back in the room (its
 * "Reconnected." notice, timed in the page by a MutationObserver); then a fresh node
 * replaces the dead one for the next run. The proxy switches at the kill, as a balancer
 * whose health check already took the node out: its own detection time is not counted.
 *
 *   npm run build && npx tsc -p bench/tsconfig.json && node dist-bench/bench/lockout.js [--runs 5] [--public-dir DIR]
 *
 * `--public-dir` serves another build of the web client (to measure an older one).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { startRedis } from '../test/helpers/redis.js';
import { startTcpProxy } from '../test/helpers/tcp-proxy.js';
import { launchBrowser } from '../test/web/browser.js';
import { ROOT } from './targets.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, 'public-dir': { type: 'string' }, 'timeout-ms': { type: 'string', default: '60000' } },
});
const runs = Math.max(1, Math.min(50, Number(values.runs)));
const timeoutMs = Math.max(1000, Number(values['timeout-ms']));
const REAPED = 'node expired: its members were removed';

type Line = Record<string, unknown>;

interface Node {
  readonly port: number;
  readonly child: ChildProcess;
  readonly lines: Line[];
  waitFor(match: (l: Line) => boolean): Promise<Line>;
}

const children: ChildProcess[] = [];
// No node outlives this script, whatever happens below.
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

async function startNode(redisUrl: string, publicOrigin: string): Promise<Node> {
  const args = ['dist/main.js', '--host', '127.0.0.1', '--port', '0', '--workers', '1', '--redis', redisUrl, '--public-origin', publicOrigin];
  if (values['public-dir']) args.push('--public-dir', values['public-dir']);
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines: Line[] = [];
  const waiters: { match: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as Line;
    lines.push(line);
    for (const w of [...waiters]) if (w.match(line)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(line);
  });
  const waitFor = (match: (l: Line) => boolean): Promise<Line> => {
    const seen = lines.find(match);
    return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ match, resolve }));
  };
  const listening = await waitFor((l) => String(l.msg).startsWith('chat host listening'));
  await waitFor((l) => l.msg === 'in step with the cluster');
  return { port: listening.port as number, child, lines, waitFor };
}

/** Installs the observer that stamps (Date.now(), in the page) every "Reconnected." notice added to the conversation. */
async function watchReconnects(page: Page): Promise<void> {
  await page.evaluate(() => {
    const stamps: number[] = [];
    (window as unknown as { reconnectedAt: number[] }).reconnectedAt = stamps;
    new MutationObserver((records) => {
      for (const r of records) {
        for (let i = 0; i < r.addedNodes.length; i++) if (r.addedNodes[i]!.textContent?.startsWith('Reconnected.')) stamps.push(Date.now());
      }
    }).observe(document.querySelector('[role="log"]')!, { childList: true, subtree: true });
  });
}

const redis = await startRedis();
const proxy = await startTcpProxy(0);
let [holding, other] = await Promise.all([startNode(redis.url, proxy.url), startNode(redis.url, proxy.url)]);
proxy.retarget(holding.port);
const browser = await launchBrowser();
const page = await (await browser.newContext()).newPage();
await page.goto(proxy.url);
await page.locator('#conn[data-state="open"]').waitFor();
await page.getByLabel('Nickname').fill('alice');
await page.getByLabel('Room', { exact: true }).fill('lockout');
await page.getByRole('button', { name: 'Join' }).click();
await page.getByText('You joined lockout as alice.').waitFor();
await watchReconnects(page);

const results: { ms: number | null; reapedBefore: boolean }[] = [];
for (let run = 1; run <= runs; run++) {
  proxy.retarget(other.port);
  const killedAt = Date.now();
  holding.child.kill('SIGKILL');
  const back = page
    .waitForFunction((n) => (window as unknown as { reconnectedAt: number[] }).reconnectedAt.length >= n, run, { timeout: timeoutMs, polling: 50 })
    .then(
      () => true,
      () => false,
    );
  const inTime = await back;
  const stamps = await page.evaluate(() => (window as unknown as { reconnectedAt: number[] }).reconnectedAt);
  const ms = inTime ? stamps[run - 1]! - killedAt : null;
  const reapedBefore = other.lines.some((l) => l.msg === REAPED && typeof l.time === 'number' && l.time <= killedAt + (ms ?? timeoutMs));
  results.push({ ms, reapedBefore });
  process.stdout.write(
    `run ${run}: ${ms === null ? `not back within ${timeoutMs} ms` : `back in the room ${ms} ms after the kill`}${reapedBefore ? ' (after the reaper ran)' : ' (before the reaper ran)'}\n`,
  );
  if (ms === null) break;
  // A fresh node takes the dead one's place for the next run; the page now sits on `other`.
  const replacement = await startNode(redis.url, proxy.url);
  [holding, other] = [other, replacement];
}

const measured = results.flatMap((r) => (r.ms === null ? [] : [r.ms])).sort((a, b) => a - b);
const median = measured.length === results.length && measured.length > 0 ? measured[Math.floor(measured.length / 2)] : null;
process.stdout.write(
  `lock-out after a node's SIGKILL, web client, ${results.length} runs: ${results.map((r) => (r.ms === null ? 'never' : `${r.ms} ms`)).join(', ')}; median ${median === null ? 'n/a' : `${median} ms`}\n`,
);
await browser.close();
await proxy.close();
for (const child of children) child.kill('SIGTERM');
await redis.stop();
process.exit(0);
