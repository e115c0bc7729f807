/**
 * The uWS app of one worker: WebSocket endpoint, HTTP routes, and the bookkeeping
 * uWS leaves to us: the listen socket and every open WebSocket are tracked so that
 * each exit path can close them (with a code) before app.close() cuts the rest.
 */
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js';
import type { Broker, BrokerHandler, Directory } from '../broker/broker.js';
import type { Config } from '../config.js';
import { etagMatches, StaticFiles } from '../http/static-files.js';
import type { Logger } from '../log.js';
import {
  CloseCode,
  closeReason,
  decodeClientFrame,
  encodeWelcome,
  PROTOCOL_VERSION,
  ProtocolError,
} from '../protocol/index.js';
import { checkRoomName } from '../rooms/rules.js';
import { handleRequest, newConnectionState, type ConnectionState } from './connection.js';
import type { UWS } from './uws.js';

export interface ServerOptions {
  readonly uws: UWS;
  readonly config: Config;
  readonly broker: Broker;
  readonly log: Logger;
  readonly workerIndex: number;
  /** Unique per worker start; prefixes connection ids. */
  readonly incarnation: number;
  /** Unique per node (host process) of a cluster; prefixes connection ids before the incarnation. */
  readonly nodeId: string;
  /** Called when POST /debug/crash-worker asks this worker to crash (fault injection only). */
  readonly onCrashRequest?: () => void;
}

type Ws = WebSocket<ConnectionState>;

/**
 * The native build of uWS.js 20.30 has app.close() (close the listen sockets and
 * every socket, HTTP keep-alive ones included), but its typings do not declare it.
 */
type ClosableApp = TemplatedApp & { close(): void };

const OK = '200 OK';

export class ChatServer implements BrokerHandler {
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | null = null;
  private readonly sockets = new Map<string, Ws>();
  private readonly files: StaticFiles;
  private nextConnection = 0;
  private draining = false;
  private readonly idPrefix: string;

  constructor(private readonly options: ServerOptions) {
    const { uws, config } = options;
    this.idPrefix = `${options.nodeId}.${options.incarnation.toString(36)}.`;
    this.files = new StaticFiles(config.publicDir);
    this.app = uws.App();
    this.app.ws<ConnectionState>('/*', {
      // uWS cuts a connection without a close frame past maxPayloadLength; leave
      // room above our limit so that most oversized frames get a proper 1009.
      maxPayloadLength: Math.max(config.maxFrameBytes * 4, 64 * 1024),
      idleTimeout: config.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      maxBackpressure: config.maxBackpressureBytes,
      closeOnBackpressureLimit: 1,
      compression: uws.DISABLED,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => this.open(ws),
      message: (ws, message, isBinary) => this.message(ws, message, isBinary),
      close: (ws) => this.close(ws),
    });
    // Answered at once from the broker's directory: uWS stalls pipelined requests
    // queued behind a response that is given asynchronously.
    this.app.get('/healthz', (res) =>
      this.fromDirectory(res, { status: 'starting' }, (d) => ({ status: this.draining ? 'draining' : 'ok', ...d.stats })),
    );
    this.app.get('/api/rooms', (res) => this.fromDirectory(res, { error: 'starting' }, (d) => ({ rooms: d.rooms })));
    this.app.get('/api/rooms/:room', (res, req) => this.roomDetail(res, req));
    if (config.faultInjection) {
      this.app.post('/debug/crash-worker', (res) => {
        res.cork(() => this.writeJson(res, '200 OK', { worker: options.workerIndex, incarnation: options.incarnation }));
        setImmediate(() => options.onCrashRequest?.());
      });
    }
    this.app.get('/*', (res, req) => this.staticFile(res, req, true));
    this.app.head('/*', (res, req) => this.staticFile(res, req, false));
    this.app.any('/*', (res) => {
      res.cork(() => this.writeJson(res, '404 Not Found', { error: 'not found' }));
    });
  }

  /** Listens with SO_REUSEPORT (uSockets' default for a non-zero port); resolves false on failure. */
  listen(host: string, port: number): Promise<number | false> {
    return new Promise((resolve) => {
      this.app.listen(host, port, (socket) => {
        if (!socket) return resolve(false);
        this.listenSocket = socket;
        resolve(this.options.uws.us_socket_local_port(socket));
      });
    });
  }

  /** Stops accepting connections. */
  private stopListening(): void {
    if (this.listenSocket) {
      this.options.uws.us_listen_socket_close(this.listenSocket);
      this.listenSocket = null;
    }
  }

  /**
   * Stops listening, ends every WebSocket with `code` and `reason`, gives the closing
   * handshakes `graceMs`, then closes whatever uWS still holds (idle HTTP keep-alive
   * connections included) so that the thread has no handle left and can end.
   */
  closeAll(code: number, reason: string, graceMs: number): Promise<void> {
    this.draining = true;
    this.stopListening();
    const text = closeReason(reason);
    for (const ws of [...this.sockets.values()]) ws.end(code, text);
    return new Promise((resolve) =>
      setTimeout(() => {
        // The pure-JS fallback (--allow-js-fallback) has no close(); its worker is ended by process.exit.
        const app = this.app as Partial<ClosableApp>;
        if (typeof app.close === 'function') app.close();
        resolve();
      }, graceMs),
    );
  }

  // ------------------------------------------------------------ BrokerHandler

  onPublish(room: string, frame: Uint8Array): void {
    this.app.publish(room, frame, true);
  }

  onSend(connectionId: string, frame: Uint8Array): void {
    this.sockets.get(connectionId)?.send(frame, true);
  }

  onJoined(connectionId: string, attempt: number, room: string, frame: Uint8Array): void {
    const ws = this.sockets.get(connectionId);
    if (!ws) return;
    const membership = ws.getUserData().rooms.get(room);
    // A reply to an older attempt: the client left (and maybe rejoined) meanwhile.
    if (!membership || membership.attempt !== attempt) return;
    membership.joined = true;
    ws.cork(() => {
      ws.subscribe(room);
      ws.send(frame, true);
    });
  }

  onJoinFailed(connectionId: string, attempt: number, room: string, frame: Uint8Array): void {
    const ws = this.sockets.get(connectionId);
    if (!ws) return;
    const state = ws.getUserData();
    if (state.rooms.get(room)?.attempt === attempt) state.rooms.delete(room);
    ws.send(frame, true);
  }

  // ------------------------------------------------------------ WebSocket

  private upgrade(res: HttpResponse, req: HttpRequest, context: unknown): void {
    if (this.draining) {
      res.cork(() => res.writeStatus('503 Service Unavailable').end('shutting down'));
      return;
    }
    const id = this.idPrefix + (this.nextConnection++).toString(36);
    res.upgrade(
      newConnectionState(id),
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context as Parameters<HttpResponse['upgrade']>[4],
    );
  }

  private open(ws: Ws): void {
    const state = ws.getUserData();
    this.sockets.set(state.id, ws);
    this.options.broker.open(state.id);
    const { config } = this.options;
    ws.send(
      encodeWelcome({
        connectionId: state.id,
        protocolVersion: PROTOCOL_VERSION,
        maxFrameBytes: config.maxFrameBytes,
        maxRooms: config.maxRooms,
        maxTextChars: config.maxTextChars,
        idleTimeoutSeconds: config.idleTimeoutSeconds,
      }),
      true,
    );
  }

  private message(ws: Ws, message: ArrayBuffer, isBinary: boolean): void {
    if (!isBinary) {
      ws.end(CloseCode.UnsupportedData, 'text frames are not supported: send binary FlatBuffers frames');
      return;
    }
    if (message.byteLength > this.options.config.maxFrameBytes) {
      ws.end(CloseCode.MessageTooBig, `frame of ${message.byteLength} bytes is over the ${this.options.config.maxFrameBytes}-byte limit`);
      return;
    }
    let request;
    try {
      // The ArrayBuffer is only valid during this call: decode synchronously.
      request = decodeClientFrame(new Uint8Array(message));
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      ws.end(error.closeCode, closeReason(`${error.code}: ${error.message}`));
      return;
    }
    handleRequest(ws.getUserData(), ws, request, this.options.broker, this.options.config);
  }

  private close(ws: Ws): void {
    const state = ws.getUserData();
    this.sockets.delete(state.id);
    this.options.broker.close(state.id);
  }

  // ------------------------------------------------------------ HTTP

  /** GET (withBody) or HEAD of a file under --public-dir. */
  private staticFile(res: HttpResponse, req: HttpRequest, withBody: boolean): void {
    const file = this.files.lookup(req.getUrl());
    const ifNoneMatch = req.getHeader('if-none-match');
    res.cork(() => {
      if (!file) {
        if (withBody) return this.writeJson(res, '404 Not Found', { error: 'not found' });
        res.writeStatus('404 Not Found').endWithoutBody();
        return;
      }
      if (etagMatches(ifNoneMatch, file.etag)) {
        res.writeStatus('304 Not Modified').writeHeader('ETag', file.etag).writeHeader('Cache-Control', 'no-cache').endWithoutBody();
        return;
      }
      res
        .writeStatus('200 OK')
        .writeHeader('Content-Type', file.contentType)
        .writeHeader('ETag', file.etag)
        .writeHeader('Cache-Control', 'no-cache')
        .writeHeader('X-Content-Type-Options', 'nosniff');
      if (withBody) res.end(file.body);
      // uWS 20.30's endWithoutBody(length) waits for `length` bytes that never come
      // (the response never ends); without an argument it writes no Content-Length.
      else res.writeHeader('Content-Length', String(file.body.byteLength)).endWithoutBody();
    });
  }

  private roomDetail(res: HttpResponse, req: HttpRequest): void {
    let name: string;
    try {
      name = decodeURIComponent(req.getParameter(0));
    } catch (error) {
      if (!(error instanceof URIError)) throw error;
      name = '';
    }
    if (!checkRoomName(name).ok) {
      res.cork(() => this.writeJson(res, '400 Bad Request', { error: 'invalid room name' }));
      return;
    }
    // A room's members and recent messages come from the hub, asynchronously (exact, not
    // from the directory): uWS 20.30 closes a connection that pipelines another request
    // behind such a response. Browsers and health checkers do not pipeline.
    this.json(res, async () => {
      const room = await this.options.broker.room(name);
      return room ? [OK, room] : ['404 Not Found', { error: 'no such room' }];
    });
  }

  /** Answers at once from the broker's directory, or 503 with `starting` before the first one arrives. */
  private fromDirectory(res: HttpResponse, starting: unknown, body: (directory: Directory) => unknown): void {
    const directory = this.options.broker.directory();
    res.cork(() => (directory ? this.writeJson(res, OK, body(directory)) : this.writeJson(res, '503 Service Unavailable', starting)));
  }

  /** Answers with the status and JSON body `produce` resolves to. */
  private json(res: HttpResponse, produce: () => Promise<[string, unknown]>): void {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    produce().then(
      ([status, body]) => {
        if (!aborted) res.cork(() => this.writeJson(res, status, body));
      },
      (error: unknown) => {
        this.options.log.error({ err: error }, 'HTTP handler failed');
        if (!aborted) res.cork(() => this.writeJson(res, '500 Internal Server Error', { error: 'internal error' }));
      },
    );
  }

  private writeJson(res: HttpResponse, status: string, body: unknown): void {
    res
      .writeStatus(status)
      .writeHeader('Content-Type', 'application/json; charset=utf-8')
      .writeHeader('Cache-Control', 'no-store')
      .end(JSON.stringify(body));
  }
}
