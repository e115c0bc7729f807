/**
 * A worker thread: one uWS app on the shared port (and with --compat-port a second one,
 * speaking the workerman-chat protocol, compat/listener.ts), talking to the main thread's
 * sequencer through its end of the relay (relay/worker-end.ts). Every way out of this thread (shutdown, crash, failed listen)
 * first closes the listen sockets and every socket: a worker that ends with uWS
 * handles open aborts the whole process.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ConnectionLimits } from '../admission/connection-limits.js';
import { CompatListener } from '../compat/listener.js';
import { ProtocolRouter } from '../compat/router.js';
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
let compat: CompatListener | null = null;
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
  const closed = Promise.all([server?.closeAll(closeCode, reason, graceMs), compat?.closeAll(closeCode, reason, graceMs)]);
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
// One set of connection counts for both ports: the limits are per process.
const admission = new ConnectionLimits(data.shared, data.index, config);
server = new ChatServer({
  uws,
  config,
  broker,
  log,
  workerIndex: data.index,
  incarnation: data.incarnation,
  nodeId: data.nodeId,
  admission,
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
if (data.compatPort >= 0) {
  compat = new CompatListener({ uws, config, broker, log, incarnation: data.incarnation, nodeId: data.nodeId, admission, counts });
  broker.setHandler(new ProtocolRouter(server, compat));
} else {
  broker.setHandler(server);
}

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
const compatListening = listening !== false && compat ? await compat.listen(config.host, data.compatPort, listening) : null;
if (listening === false || compatListening === false) {
  post({ kind: 'listen-failed' });
  exit(1, CloseCode.GoingAway, 'listen failed', 0);
} else {
  log.debug({ port: listening, compatPort: compatListening }, 'worker listening');
  post({ kind: 'listening', port: listening, ...(compatListening !== null ? { compatPort: compatListening } : {}) });
}
