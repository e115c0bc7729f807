/**
 * Entry point: validate the configuration, make sure uWebSockets.js is native,
 * start the worker pool, and shut it down cleanly on SIGINT/SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { type Config, ConfigError, helpText, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { MainEnd } from './relay/main-end.js';
import { InProcessSequencer } from './sequencer/in-process.js';
import { RedisSequencer } from './sequencer/redis/redis-sequencer.js';
import { parseRedisUrl } from './sequencer/redis/target.js';
import type { Sequencer } from './sequencer/sequencer.js';
import { isNative, loadUws, NativeUwsMissing } from './transport/uws.js';
import { cpuBudget } from './workers/cpu-budget.js';
import { Supervisor } from './workers/supervisor.js';

function stop(message: string): never {
  process.stderr.write(`chat-host: ${message}\n`);
  process.exit(2);
}

let config: Config | null;
try {
  config = loadConfig(process.argv.slice(2), process.env);
} catch (error) {
  if (error instanceof ConfigError) stop(error.message);
  throw error;
}
if (config === null) {
  process.stdout.write(`${helpText()}\n`);
  process.exit(0);
}

// Each part logs through a child of one root with its own `component`: a child of `log`
// would repeat the key (pino does not merge bindings) and print "component" twice.
const rootLog = createLogger(config.logLevel);
const log = rootLog.child({ component: 'main' });
try {
  const uws = loadUws(config.allowJsFallback);
  if (!isNative(uws)) {
    log.warn('RUNNING ON THE SLOW PURE-JS uWebSockets.js FALLBACK (--allow-js-fallback): do not use this for real traffic');
  }
} catch (error) {
  if (error instanceof NativeUwsMissing) stop(error.message);
  throw error;
}

// Unique per process: connection ids start with it, so they are unique across a cluster's nodes.
const nodeId = randomBytes(4).toString('hex');
const roomSettings = {
  historyCapacity: config.historySize,
  joinHistory: config.joinHistory,
  emptyRoomTtlMs: config.emptyRoomTtlSeconds * 1000,
  presenceEventsMaxMembers: config.presenceEventsMaxMembers,
  maxRoomsTotal: config.maxRoomsTotal,
  newRoomsPerMinute: config.newRoomsPerMinute,
};
const sequencer: Sequencer =
  config.redisUrl === ''
    ? new InProcessSequencer(roomSettings)
    : new RedisSequencer(
        {
          ...roomSettings,
          redis: parseRedisUrl(config.redisUrl),
          clusterName: config.clusterName,
          nodeId,
          nodeTtlMs: config.nodeTtlSeconds * 1000,
        },
        rootLog.child({ component: 'cluster', node: nodeId }),
      );
const relay = new MainEnd(sequencer, rootLog.child({ component: 'hub' }));
const supervisor = new Supervisor(config, log, relay, nodeId);
let started: Promise<number> | null = null;
let shuttingDown = false;
const shutdown = (signal: string): void => {
  if (shuttingDown) return;
  shuttingDown = true;
  log.info({ signal }, 'shutting down: closing every client with 1001');
  // Workers end within --shutdown-grace; one that does not (stuck in a loop) must not hold the host forever.
  setTimeout(() => {
    log.error('workers did not stop in time; exiting anyway');
    process.exit(1);
  }, config.shutdownGraceMs + 4000).unref();
  // A signal during start waits for the pool to be up, then stops all of it.
  const ready = started ? started.catch(() => 0) : Promise.resolve(0);
  ready
    .then(() => supervisor.shutdown())
    .then(
      () => {
        log.info('shut down cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
};
// Installed before the pool starts, so that no signal finds the host without them.
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));

started = supervisor.start();
let port: number;
try {
  port = await started;
} catch (error) {
  stop((error as Error).message);
}
if (!shuttingDown) {
  const scheme = config.certFile ? 'https' : 'http';
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const compatPort = supervisor.compatPort;
  const compat = compatPort === null ? '' : `, workerman-chat clients on ${config.certFile ? 'wss' : 'ws'}://${host}:${compatPort}`;
  // A CPU quota lowers the default worker count: say so, as it is not what the CPU count suggests.
  const budget = cpuBudget();
  const quota = budget.quotaCores === null ? {} : { cpus: budget.cpus, cpuQuota: budget.quotaCores, cpuQuotaSource: budget.quotaSource };
  log.info(
    { host: config.host, port, workers: config.workers, ...quota, tls: config.certFile !== '', ...(compatPort === null ? {} : { compatPort }) },
    `chat host listening on ${scheme}://${host}:${port}${compat}`,
  );
}
