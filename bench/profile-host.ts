/**
 * Profiles the chat host under one fixed load: starts it with --cpu-prof (one
 * .cpuprofile per thread, in --dir), joins a scenario, sends at a fixed rate for a
 * few seconds, and stops it. Open the profiles in Chrome DevTools or read them with
 * any .cpuprofile viewer.
 *
 *   node dist-bench/bench/profile-host.js --scenario F3 --rate 20000 --seconds 5 --dir /tmp/prof
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Generator } from './generator.js';
import { SCENARIOS } from './scenarios.js';
import { adapterFor, hostCommand, procProbe, ROOT } from './targets.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'F1' },
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '5' },
    workers: { type: 'string', default: '2' },
    dir: { type: 'string', default: '/tmp/chat-host-profiles' },
  },
});
const scenario = SCENARIOS[values.scenario!];
if (!scenario) throw new Error(`unknown scenario ${values.scenario}`);

const host = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', values.dir!, ...hostCommand(Number(values.workers))], {
  cwd: ROOT,
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise<number>((resolve, reject) => {
  createInterface({ input: host.stdout! }).on('line', (line) => {
    const match = /"port":(\d+)/.exec(line);
    if (match && line.includes('listening')) resolve(Number(match[1]));
  });
  host.once('exit', (code) => reject(new Error(`host exited with ${code}`)));
});
const generator = new Generator(adapterFor('chat-host'), scenario, port);
const joined = await generator.connectAll();
process.stdout.write(`joined ${joined.joined}/${joined.connections} in ${joined.joinMs} ms\n`);
const result = await generator.run(Number(values.rate), { warmupMs: 500, windowMs: Number(values.seconds) * 1000, drainMs: 2000 }, procProbe(host.pid!));
process.stdout.write(`${JSON.stringify({ deliveriesPerSec: result.deliveriesPerSec, p50Ms: result.p50Ms, p99Ms: result.p99Ms, lost: result.lost })}\n`);
generator.close();
host.kill('SIGTERM');
await new Promise((resolve) => host.once('exit', resolve));
process.stdout.write(`profiles in ${values.dir}\n`);
