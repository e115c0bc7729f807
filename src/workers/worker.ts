/**
 * A worker thread: one uWS app on the shared port, talking to the main thread's
 * sequencer through its end of the relay (relay/worker-end.ts). Every way out of this thread (shutdown, crash, failed listen)
 * first closes the listen socket and every socket: a worker that ends with uWS
 * handles open aborts the whole process.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ConnectionLimits } from '../admission/connection-limits.js';
import { createLogger } from '../log.js';
import { newWorkerCounts, type WorkerSnapshot } from '../metrics/counters.js';
import { LagMonitor } from '../metrics/lag.js';
import { CloseCode } from '../protocol/index.js';
import { WorkerEnd } from '../relay/worker-end.js';
import { ChatServer } from '../transport/server.js';
import { isNative, loadUws } from '../transport/uws.js';
import type { FromWorker, ToWorker, WorkerData } from './messages.js';

if (!parentPort) throw new Error('worker.ts runs only as a worker thread');
const port = parentPort;
const data = workerData as WorkerData;
const { config } = data;
const log = createLogger(config.logLevel, { worker: data.index, incarnation: data.incarnation });
const post = (message: FromWorker): void => port.postMessage(message);

/** Time a crashed worker gives its clients' closing handshakes before cutting them. */
const CRASH_GRACE_MS = 100;

let server: ChatServer | null = null;
let exiting = false;
const counts = newWorkerCounts();
const lag = new LagMonitor();
const snapshot = (): WorkerSnapshot => ({ ...counts, lag: lag.window() });
/** GET /metrics requests waiting for the main thread's text. */
const pendingMetrics = new Map<number, (text: string) => void>();
let nextMetricsId = 1;

/**
 * Ends the thread the only safe way: close the listen socket and every socket,
 * close the port to the main thread, and let the event loop run dry. (process.exit
 * or terminate() with uWS handles open aborts the whole process.)
 */
function exit(code: number, closeCode: number, reason: string, graceMs: number): void {
  if (exiting) return;
  exiting = true;
  process.exitCode = code;
  const closed = server ? server.closeAll(closeCode, reason, graceMs) : Promise.resolve();
  void closed.then(() => {
    lag.stop();
    post({ kind: 'final-counts', snapshot: snapshot() });
    port.close();
    // The pure-JS fallback keeps Node sockets that nothing else closes; it has no native handles to abort on.
    if (!isNative(uws)) process.exit(code);
  });
}

function crash(error: unknown): void {
  log.fatal({ err: error }, 'worker crashed; closing its sockets so that it can be restarted');
  post({ kind: 'crashed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  exit(1, CloseCode.ServiceRestart, 'worker restarting; reconnect', CRASH_GRACE_MS);
}

process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

const uws = loadUws(config.allowJsFallback);
const broker = new WorkerEnd(port, counts);
server = new ChatServer({
  uws,
  config,
  broker,
  log,
  workerIndex: data.index,
  incarnation: data.incarnation,
  nodeId: data.nodeId,
  admission: new ConnectionLimits(data.shared, data.index, config),
  counts,
  metricsText: () =>
    new Promise((resolve) => {
      const id = nextMetricsId++;
      pendingMetrics.set(id, resolve);
      post({ kind: 'metrics-request', id });
    }),
  onCrashRequest: () => {
    throw new Error('fault injection: crash requested by POST /debug/crash-worker');
  },
});
broker.setHandler(server);

port.on('message', (message: ToWorker) => {
  switch (message.kind) {
    case 'relay':
      broker.receive(message);
      break;
    case 'shutdown':
      exit(0, CloseCode.GoingAway, 'server shutting down', config.shutdownGraceMs);
      break;
    case 'metrics-collect':
      post({ kind: 'metrics-snapshot', id: message.id, snapshot: snapshot() });
      break;
    case 'metrics-text': {
      const resolve = pendingMetrics.get(message.id);
      pendingMetrics.delete(message.id);
      resolve?.(message.text);
      break;
    }
  }
});

const listening = await server.listen(config.host, data.port);
if (listening === false) {
  post({ kind: 'listen-failed' });
  exit(1, CloseCode.GoingAway, 'listen failed', 0);
} else {
  log.debug({ port: listening }, 'worker listening');
  post({ kind: 'listening', port: listening });
}
