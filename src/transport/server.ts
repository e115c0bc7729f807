/**
 * The uWS app of one worker: WebSocket endpoint, HTTP routes, and the bookkeeping
 * uWS leaves to us: the listen socket and every open WebSocket are tracked so that
 * each exit path can close them (with a code) before app.close() cuts the rest.
 */
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js';
import type { ConnectionLimits as AdmissionLimits } from '../admission/connection-limits.js';
import { machineAddresses, OriginCheck, parseOriginPolicy } from '../admission/origin.js';
import { type RateLimitSettings, takeToken } from '../admission/rate-limit.js';
import { TokenVerifier } from '../admission/token.js';
import { BrokerUnavailable, type Broker, type BrokerHandler, type Directory } from '../relay/broker.js';
import type { Config } from '../config.js';
import { DEFAULT_ROOM_PAGE, parseRoomListQuery, roomListPage } from '../http/room-list.js';
import { etagMatches, SECURITY_HEADERS, StaticFiles } from '../http/static-files.js';
import type { Logger } from '../log.js';
import type { RefusalReason, WorkerCounts } from '../metrics/counters.js';
import { type ClientRequest, CloseCode, closeReason, decodeClientFrame, encodeWelcome, PROTOCOL_VERSION, ProtocolError } from '../protocol/index.js';
import { checkRoomName } from '../rooms/rules.js';
import { redisReady } from '../sequencer/sequencer.js';
import {
  dropMembership,
  earliestTokenExpiry,
  handleRequest,
  membershipIn,
  newConnectionState,
  replyError,
  type ConnectionLimits,
  type ConnectionState,
} from './connection.js';
import { endAllThenClose, forEachSlowReader, type UWS } from './uws.js';

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
  /** Shared per-process connection counts. */
  readonly admission: AdmissionLimits;
  /** This worker's counts for /metrics. */
  readonly counts: WorkerCounts;
  /** The Prometheus text for the whole host (gathered by the main thread). */
  readonly metricsText: () => Promise<string>;
  /** Called when POST /debug/crash-worker asks this worker to crash (fault injection only). */
  readonly onCrashRequest?: () => void;
}

type Ws = WebSocket<ConnectionState>;

const OK = '200 OK';
const JSON_TYPE = 'application/json; charset=utf-8';
/** The Prometheus text exposition format, version 0.0.4 (what prom-client renders). */
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
/** The longest delay setTimeout takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How often sockets are checked for a send buffer over --max-backpressure. */
const BACKPRESSURE_CHECK_MS = 100;
/**
 * uWS's own hard limit, past which it cuts a socket without a close frame: far
 * enough above ours that our check (with a code and reason) comes first, even for
 * a socket that gains megabytes between two checks.
 */
function hardBackpressureLimit(limit: number): number {
  return limit * 4 + 16 * 1024 * 1024;
}

export class ChatServer implements BrokerHandler {
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | null = null;
  private readonly sockets = new Map<string, Ws>();
  private readonly files: StaticFiles;
  private nextConnection = 0;
  private draining = false;
  private readonly idPrefix: string;
  /** Set once listening: the default origin policy needs the port. */
  private origins: OriginCheck | null = null;
  private readonly rateLimit: RateLimitSettings;
  private readonly limits: ConnectionLimits;
  private readonly backpressureTimer: NodeJS.Timeout;
  /** JSON bodies serialised from the directory `bodiesOf`, by route variant. */
  private bodiesOf: Directory | null = null;
  private readonly bodies = new Map<string, string>();
  /** Per-connection debug lines are built only when asked for (--log-level debug): these paths are hot. */
  private readonly debug: boolean;
  /**
   * Each HTTP answer closes its connection unless --http-keep-alive: uWS 20.30 never times
   * out an idle keep-alive connection and tells us nothing about it, so kept ones could
   * pile up until the open-file limit (then uWS spins on failing accepts).
   */
  private readonly closeAfterAnswer: boolean;

  constructor(private readonly options: ServerOptions) {
    const { uws, config, counts } = options;
    this.idPrefix = `${options.nodeId}.${options.incarnation.toString(36)}.`;
    this.files = new StaticFiles(config.publicDir);
    this.debug = options.log.isLevelEnabled('debug');
    this.closeAfterAnswer = !config.httpKeepAlive;
    this.rateLimit = { perSecond: config.rateLimit, burst: config.rateBurst, abuseMs: config.rateAbuseSeconds * 1000 };
    this.limits = {
      maxRooms: config.maxRooms,
      maxTextChars: config.maxTextChars,
      tokens: config.tokenSecret ? new TokenVerifier(config.tokenSecret, config.tokenMaxLifetimeSeconds) : null,
      watchTokenExpiry: (state) => this.watchTokenExpiry(state),
      errors: counts.errors,
    };
    this.app = config.certFile ? uws.SSLApp({ cert_file_name: config.certFile, key_file_name: config.keyFile }) : uws.App();
    this.backpressureTimer = setInterval(() => this.closeSlowReaders(), BACKPRESSURE_CHECK_MS);
    this.backpressureTimer.unref();
    this.app.ws<ConnectionState>('/*', {
      // uWS cuts a connection without a close frame past maxPayloadLength; leave
      // room above our limit so that most oversized frames get a proper 1009.
      maxPayloadLength: Math.max(config.maxFrameBytes * 4, 64 * 1024),
      idleTimeout: config.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      maxBackpressure: hardBackpressureLimit(config.maxBackpressureBytes),
      closeOnBackpressureLimit: 1,
      compression: uws.DISABLED,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => this.open(ws),
      message: (ws, message, isBinary) => this.message(ws, message, isBinary),
      close: (ws, code) => this.close(ws, code),
    });
    // Answered at once from the broker's directory: uWS stalls pipelined requests
    // queued behind a response that is given asynchronously.
    this.app.get('/healthz', (res) =>
      this.fromDirectory(res, this.draining ? 'healthz-draining' : 'healthz', { status: 'starting' }, (d) => ({
        status: this.draining ? 'draining' : 'ok',
        ...d.stats,
      })),
    );
    this.app.get('/readyz', (res) => {
      const directory = this.options.broker.directory();
      // A cluster node that cannot reach Redis refuses every join: out of the balancer (after a short grace, see redisReady).
      const status = this.draining
        ? 'draining'
        : directory === null
          ? 'starting'
          : redisReady(directory.stats.redis, Date.now())
            ? 'ready'
            : 'redis-unavailable';
      this.answerNow(res, json(status === 'ready' ? OK : '503 Service Unavailable', { status }));
    });
    this.app.get('/metrics', (res) => this.metrics(res));
    this.app.get('/api/rooms', (res, req) => this.roomList(res, req));
    this.app.get('/api/rooms/:room', (res, req) => this.roomDetail(res, req));
    if (config.faultInjection) {
      this.app.post('/debug/crash-worker', (res) => {
        this.answerNow(res, json('200 OK', { worker: options.workerIndex, incarnation: options.incarnation }));
        setImmediate(() => options.onCrashRequest?.());
      });
    }
    this.app.get('/*', (res, req) => this.staticFile(res, req, true));
    this.app.head('/*', (res, req) => this.staticFile(res, req, false));
    this.app.any('/*', (res) => {
      this.answerNow(res, json('404 Not Found', { error: 'not found' }));
    });
  }

  /** Listens with SO_REUSEPORT (uSockets' default for a non-zero port); resolves false on failure. */
  listen(host: string, port: number): Promise<number | false> {
    return new Promise((resolve) => {
      this.app.listen(host, port, (socket) => {
        if (!socket) return resolve(false);
        this.listenSocket = socket;
        const { config } = this.options;
        const listeningOn = this.options.uws.us_socket_local_port(socket);
        this.origins = new OriginCheck(parseOriginPolicy(config.allowedOrigins), config.publicOrigin, {
          protocol: config.certFile ? 'https:' : 'http:',
          port: listeningOn,
          machineAddresses,
        });
        resolve(listeningOn);
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
    clearInterval(this.backpressureTimer);
    this.stopListening();
    return endAllThenClose(this.app, this.sockets.values(), code, reason, graceMs);
  }

  // ------------------------------------------------------------ BrokerHandler

  onPublish(room: string, frame: Uint8Array): void {
    this.app.publish(room, frame, true);
    this.options.counts.deliveries += this.app.numSubscribers(room);
  }

  onSend(connectionId: string, frame: Uint8Array): void {
    const ws = this.sockets.get(connectionId);
    if (!ws) return;
    ws.send(frame, true);
    this.options.counts.deliveries++;
  }

  onSendInRoom(connectionId: string, room: string, frame: Uint8Array): void {
    const ws = this.sockets.get(connectionId);
    if (!ws || !membershipIn(ws.getUserData(), room)?.joined) return;
    ws.send(frame, true);
    this.options.counts.deliveries++;
  }

  onJoined(connectionId: string, attempt: number, room: string, frame: Uint8Array): void {
    const ws = this.sockets.get(connectionId);
    if (!ws) return;
    const membership = membershipIn(ws.getUserData(), room);
    // A reply to an older attempt: the client left (and maybe rejoined) meanwhile.
    if (!membership || membership.attempt !== attempt) return;
    membership.joined = true;
    ws.cork(() => {
      ws.subscribe(room);
      ws.send(frame, true);
    });
    this.options.counts.deliveries++;
  }

  onJoinFailed(connectionId: string, attempt: number, room: string, frame: Uint8Array): void {
    const ws = this.sockets.get(connectionId);
    if (!ws) return;
    const state = ws.getUserData();
    // A reply to an older attempt was answered already (JoinCancelled, when the Leave overtook it).
    if (membershipIn(state, room)?.attempt !== attempt) return;
    dropMembership(state, room);
    ws.send(frame, true);
  }

  onRemoved(connectionId: string, room: string, frame: Uint8Array): void {
    const ws = this.sockets.get(connectionId);
    if (!ws) return;
    const state = ws.getUserData();
    // Only the membership the sequencer removed: a join of the room made since (left and joined again) is not it.
    if (!membershipIn(state, room)?.joined) return;
    dropMembership(state, room);
    ws.cork(() => {
      ws.unsubscribe(room);
      ws.send(frame, true);
    });
    this.options.counts.deliveries++;
  }

  // ------------------------------------------------------------ WebSocket

  private upgrade(res: HttpResponse, req: HttpRequest, context: unknown): void {
    if (this.draining) return this.refuse(res, 'draining', '503 Service Unavailable', 'the host is shutting down');
    if (!this.origins?.allows(req.getHeader('origin'))) {
      return this.refuse(res, 'origin', '403 Forbidden', 'this origin may not connect (see --public-origin and --allowed-origins)');
    }
    const address = Buffer.from(res.getRemoteAddressAsText()).toString();
    const admission = this.options.admission.admit(address);
    if (!admission.ok) {
      return admission.limit === 'global'
        ? this.refuse(res, 'global-limit', '503 Service Unavailable', 'the host is at its connection limit')
        : this.refuse(res, 'per-ip-limit', '429 Too Many Requests', 'too many connections from this address');
    }
    const id = flat(this.idPrefix + (this.nextConnection++).toString(36));
    res.upgrade(
      newConnectionState(id, { burst: this.rateLimit.burst, now: performance.now() }, admission.slot),
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context as Parameters<HttpResponse['upgrade']>[4],
    );
  }

  private refuse(res: HttpResponse, reason: RefusalReason, status: string, message: string): void {
    this.options.counts.refused[reason]++;
    if (this.debug) this.options.log.debug({ reason, address: Buffer.from(res.getRemoteAddressAsText()).toString() }, 'upgrade refused');
    this.answerNow(res, json(status, { error: message }));
  }

  private open(ws: Ws): void {
    const state = ws.getUserData();
    this.sockets.set(state.id, ws);
    this.options.counts.connections++;
    this.options.counts.connectionsOpened++;
    if (this.debug) this.options.log.debug({ conn: state.id, address: Buffer.from(ws.getRemoteAddressAsText()).toString() }, 'connection opened');
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
        rateLimitPerSecond: config.rateLimit,
        rateBurst: config.rateBurst,
      }),
      true,
    );
  }

  private message(ws: Ws, message: ArrayBuffer, isBinary: boolean): void {
    if (!isBinary) {
      return this.end(ws, CloseCode.UnsupportedData, 'text frames are not supported: send binary FlatBuffers frames');
    }
    if (message.byteLength > this.options.config.maxFrameBytes) {
      return this.end(ws, CloseCode.MessageTooBig, `frame of ${message.byteLength} bytes is over the ${this.options.config.maxFrameBytes}-byte limit`);
    }
    let request: ClientRequest;
    try {
      // The ArrayBuffer is only valid during this call: decode synchronously.
      request = decodeClientFrame(new Uint8Array(message));
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      return this.end(ws, error.closeCode, `${error.code}: ${error.message}`);
    }
    const state = ws.getUserData();
    const counts = this.options.counts;
    counts.requests++;
    const decision = state.limited ? takeToken(state, this.rateLimit, performance.now()) : 'allow';
    if (decision !== 'allow') {
      counts.rateLimited++;
      if (decision === 'close') {
        return this.end(
          ws,
          CloseCode.PolicyViolation,
          `over the rate limit of ${this.rateLimit.perSecond} requests/s for ${this.options.config.rateAbuseSeconds} s`,
        );
      }
      const text = `too many requests: at most ${this.rateLimit.perSecond} per second (bursts of ${this.rateLimit.burst}); this one was not carried out`;
      return replyError(ws, this.limits, request, 'RateLimited', text, request.room.length > 0 ? request.room : null, true);
    }
    if (!this.options.admission.takeRequest(state.admissionSlot, Date.now())) {
      counts.rateLimited++;
      const text = `too many requests from your address: its connections together may make ${this.options.config.rateLimitPerIp} per second; this one was not carried out`;
      return replyError(ws, this.limits, request, 'RateLimited', text, request.room.length > 0 ? request.room : null, true);
    }
    handleRequest(state, ws, request, this.options.broker, this.limits);
  }

  private close(ws: Ws, code: number): void {
    const state = ws.getUserData();
    if (this.debug) this.options.log.debug({ conn: state.id, code }, 'connection closed');
    this.sockets.delete(state.id);
    if (state.tokenExpiry?.timer) clearTimeout(state.tokenExpiry.timer);
    this.options.counts.connections--;
    if (state.admissionSlot >= 0) this.options.admission.release(state.admissionSlot);
    this.options.broker.close(state.id);
  }

  /** Closes a connection the host gives up on, with a code the README documents. */
  private end(ws: Ws, code: number, reason: string): void {
    const closes = this.options.counts.closes;
    closes[code] = (closes[code] ?? 0) + 1;
    if (this.debug) this.options.log.debug({ conn: ws.getUserData().id, code, reason }, 'closing connection');
    ws.end(code, closeReason(reason));
  }

  /**
   * Arms the connection's one expiry timer for the earliest token among its rooms, unless it is
   * armed for that time or earlier already (it re-arms itself when it fires early, e.g. for a
   * room left since). Unref'd: a pending expiry never keeps a worker from ending.
   */
  private watchTokenExpiry(state: ConnectionState): void {
    const expiry = state.tokenExpiry;
    const atMs = earliestTokenExpiry(state);
    if (!expiry || atMs === null || (expiry.timer !== null && expiry.armedAtMs <= atMs)) return;
    if (expiry.timer !== null) clearTimeout(expiry.timer);
    expiry.armedAtMs = atMs;
    // setTimeout takes at most 2^31-1 ms (24.8 days); a later expiry is checked again then.
    expiry.timer = setTimeout(() => this.tokenExpired(state.id), Math.min(Math.max(0, atMs - Date.now()), MAX_TIMER_MS));
    expiry.timer.unref();
  }

  /** The expiry timer fired: closes the connection with 4002 if a token of a room it is in has expired by the wall clock, else re-arms. */
  private tokenExpired(connectionId: string): void {
    const ws = this.sockets.get(connectionId);
    if (!ws) return;
    const state = ws.getUserData();
    if (state.tokenExpiry) state.tokenExpiry.timer = null;
    const atMs = earliestTokenExpiry(state);
    if (atMs === null) return;
    // Timers run on a monotonic clock and `exp` is wall-clock time: act only once the wall clock agrees.
    if (atMs > Date.now()) return this.watchTokenExpiry(state);
    this.end(ws, CloseCode.TokenExpired, 'token expired: get a fresh token, reconnect and rejoin with since');
  }

  /**
   * The slow-reader policy: a socket whose send buffer passed --max-backpressure is
   * closed with 4001, so that one stalled reader never makes the host buffer without
   * bound. It may reconnect and rejoin with `since`, but it is then usually further
   * behind than the room's history: its Joined says `recovered = false` (a gap).
   */
  private closeSlowReaders(): void {
    forEachSlowReader(this.sockets.values(), this.options.config.maxBackpressureBytes, (ws, reason) => {
      this.options.counts.backpressureCloses++;
      this.end(ws, CloseCode.TooSlow, reason);
    });
  }

  // ------------------------------------------------------------ HTTP

  /** GET (withBody) or HEAD of a file under --public-dir. */
  private staticFile(res: HttpResponse, req: HttpRequest, withBody: boolean): void {
    const file = this.files.lookup(req.getUrl());
    const ifNoneMatch = req.getHeader('if-none-match');
    // As in answerNow: a file may outlive a reset connection (nothing to clean up, it is in memory).
    res.onAborted(ignoreAbort);
    res.cork(() => {
      if (file === 'malformed') {
        if (withBody) return this.writeJson(res, '400 Bad Request', { error: 'malformed percent-encoding in the path' });
        this.endEmpty(res.writeStatus('400 Bad Request'));
        return;
      }
      if (!file) {
        if (withBody) return this.writeJson(res, '404 Not Found', { error: 'not found' });
        this.endEmpty(res.writeStatus('404 Not Found'));
        return;
      }
      if (etagMatches(ifNoneMatch, file.etag)) {
        res.writeStatus('304 Not Modified').writeHeader('ETag', file.etag).writeHeader('Cache-Control', 'no-cache');
        writeSecurityHeaders(res);
        this.endEmpty(res);
        return;
      }
      res.writeStatus('200 OK').writeHeader('Content-Type', file.contentType).writeHeader('ETag', file.etag).writeHeader('Cache-Control', 'no-cache');
      writeSecurityHeaders(res);
      if (withBody) res.end(file.body, this.closeAfterAnswer);
      // uWS 20.30's endWithoutBody(length) waits for `length` bytes that never come
      // (the response never ends); without an argument it writes no Content-Length.
      else if (!this.closeAfterAnswer) res.writeHeader('Content-Length', String(file.body.byteLength)).endWithoutBody();
      // Closing, it can only say Content-Length 0 (see endEmpty).
      else this.endEmpty(res);
    });
  }

  /**
   * Ends a response that has no body. Without --http-keep-alive the connection is closed
   * too: uWS 20.30 can only do that through end(), which writes Content-Length: 0
   * (endWithoutBody(n, true) leaves the socket open waiting for n bytes).
   */
  private endEmpty(res: HttpResponse): void {
    if (this.closeAfterAnswer) res.end(undefined, true);
    else res.endWithoutBody();
  }

  private metrics(res: HttpResponse): void {
    this.later(
      res,
      async () => ({ status: OK, contentType: PROMETHEUS_TEXT, body: await this.options.metricsText() }),
      (error) => {
        this.options.log.error({ err: error }, 'gathering metrics failed');
        return json('500 Internal Server Error', { error: 'metrics unavailable' });
      },
    );
  }

  /** GET /api/rooms: a page of the busiest rooms (with tokens on, only those the bearer token covers). */
  private roomList(res: HttpResponse, req: HttpRequest): void {
    const grant = this.httpGrant(req);
    if (grant && !grant.ok) return this.answerNow(res, grant.answer);
    const parsed = parseRoomListQuery(req.getQuery() ?? '');
    if (!parsed.ok) return this.answerNow(res, json('400 Bad Request', { error: parsed.error }));
    const { query } = parsed;
    const covered = grant?.rooms;
    const visible = covered === undefined || covered === '*' ? undefined : (name: string): boolean => covered.includes(name);
    // The first page everyone without a token limit asks for is serialised once per directory.
    const shared = visible === undefined && query.after === null && query.limit === DEFAULT_ROOM_PAGE;
    this.fromDirectory(res, shared ? 'rooms' : null, { error: 'starting' }, (d) => roomListPage(d.rooms, query, d.stats.rooms, visible));
  }

  /**
   * With --token-secret, the room API asks for the authority a join needs: a bearer
   * token (Authorization: Bearer TOKEN) whose `rooms` claim covers the room. Undefined
   * when tokens are off; the answer to give when the token is missing or not valid.
   */
  private httpGrant(
    req: HttpRequest,
  ): { readonly ok: true; readonly rooms: '*' | readonly string[] } | { readonly ok: false; readonly answer: Answer } | undefined {
    const tokens = this.limits.tokens;
    if (!tokens) return undefined;
    const bearer = /^Bearer +([^\s]+)$/i.exec(req.getHeader('authorization'));
    if (!bearer) return { ok: false, answer: unauthorized('this host needs a bearer token for its room API (Authorization: Bearer TOKEN)') };
    const check = tokens.verify(bearer[1]!, Date.now());
    if (!check.ok) return { ok: false, answer: unauthorized(check.reason) };
    return { ok: true, rooms: check.grant.rooms };
  }

  private roomDetail(res: HttpResponse, req: HttpRequest): void {
    const grant = this.httpGrant(req);
    if (grant && !grant.ok) return this.answerNow(res, grant.answer);
    let name: string;
    try {
      name = decodeURIComponent(req.getParameter(0));
    } catch (error) {
      if (!(error instanceof URIError)) throw error;
      name = '';
    }
    if (!checkRoomName(name).ok) {
      this.answerNow(res, json('400 Bad Request', { error: 'invalid room name' }));
      return;
    }
    if (grant && grant.rooms !== '*' && !grant.rooms.includes(name)) {
      this.answerNow(res, json('403 Forbidden', { error: 'the token does not allow this room' }));
      return;
    }
    // A room's members and recent messages come from the hub, asynchronously (exact, not
    // from the directory): uWS 20.30 closes a connection that pipelines another request
    // behind such a response. Browsers and health checkers do not pipeline.
    this.later(
      res,
      async () => {
        const room = await this.options.broker.room(name);
        return room ? json(OK, room) : json('404 Not Found', { error: 'no such room' });
      },
      (error) => {
        if (error instanceof BrokerUnavailable) return json('503 Service Unavailable', { error: error.message });
        this.options.log.error({ err: error }, 'HTTP handler failed');
        return json('500 Internal Server Error', { error: 'internal error' });
      },
    );
  }

  /**
   * Answers at once from the broker's directory, or 503 with `starting` before the first
   * one arrives. Each body is serialised once per directory (`key` names the variant),
   * however many requests read it before the next directory comes.
   */
  private fromDirectory(res: HttpResponse, key: string | null, starting: unknown, body: (directory: Directory) => unknown): void {
    const directory = this.options.broker.directory();
    if (!directory) {
      this.answerNow(res, json('503 Service Unavailable', starting));
      return;
    }
    if (directory !== this.bodiesOf) {
      this.bodiesOf = directory;
      this.bodies.clear();
    }
    let text = key === null ? undefined : this.bodies.get(key);
    if (text === undefined) {
      text = JSON.stringify(body(directory));
      if (key !== null) this.bodies.set(key, text);
    }
    this.answerNow(res, jsonText(OK, text));
  }

  /**
   * Answers in full at once. An answer larger than the socket takes at once stays pending
   * in uWS after end(); if the client resets the connection meanwhile, uWS aborts the whole
   * process unless the response has an abort handler, so every answer given at once has one.
   */
  private answerNow(res: HttpResponse, answer: Answer): void {
    res.onAborted(ignoreAbort);
    res.cork(() => this.write(res, answer));
  }

  /** Answers with what `produce` resolves to (or `failed` makes of its error), unless the client has gone meanwhile. */
  private later(res: HttpResponse, produce: () => Promise<Answer>, failed: (error: unknown) => Answer): void {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void produce()
      .catch(failed)
      .then((answer) => {
        if (!aborted) res.cork(() => this.write(res, answer));
      });
  }

  private writeJson(res: HttpResponse, status: string, body: unknown): void {
    this.write(res, json(status, body));
  }

  private write(res: HttpResponse, answer: Answer): void {
    res.writeStatus(answer.status).writeHeader('Content-Type', answer.contentType).writeHeader('Cache-Control', 'no-store');
    if (answer.authenticate) res.writeHeader('WWW-Authenticate', 'Bearer');
    res.end(answer.body, this.closeAfterAnswer);
  }
}

/**
 * The string as one flat sequence of bytes. V8 keeps a concatenation of 13 characters or more as
 * a pair of pointers to its parts (a cons string), which costs a connection id 24 bytes more for
 * as long as the connection lives (bench/memory-parts.ts). Ids are ASCII.
 */
function flat(ascii: string): string {
  return Buffer.from(ascii, 'latin1').toString('latin1');
}

/** The web client's protections (CSP, no framing, no referrer, no sniffing) on every static file. */
function writeSecurityHeaders(res: HttpResponse): void {
  for (const [name, value] of SECURITY_HEADERS) res.writeHeader(name, value);
}

/** An abort handler for a response written in full at once: nothing to undo. */
function ignoreAbort(): void {
  // The file or JSON body is already handed to uWS; the aborted connection takes it with it.
}

/** An HTTP answer that is not a static file (never cached by clients). */
interface Answer {
  readonly status: string;
  readonly contentType: string;
  readonly body: string;
  /** A 401: say which scheme (WWW-Authenticate: Bearer). */
  readonly authenticate?: boolean;
}

function unauthorized(reason: string): Answer {
  return { ...json('401 Unauthorized', { error: reason }), authenticate: true };
}

function json(status: string, body: unknown): Answer {
  return jsonText(status, JSON.stringify(body));
}

function jsonText(status: string, text: string): Answer {
  return { status, contentType: JSON_TYPE, body: text };
}
