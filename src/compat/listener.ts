/**
 * The workerman-chat listener of one worker (--compat-port): a second uWS app of the
 * same kind as the main one (TLS with --cert), speaking the seed's JSON protocol
 * (protocol.ts) to the same rooms through the same Broker as FlatBuffers clients.
 *
 * Admission is the main port's: origin policy, the shared connection counts, the
 * per-connection and per-address request budgets, --max-frame (1009), the slow-reader
 * close (4001) and --idle-timeout. Exits close every socket, as ChatServer.closeAll.
 *
 * Room traffic arrives as the sequencer's FlatBuffers frames, once per worker
 * (onPublish). Each is decoded once, made into the seed's JSON text once, and
 * published once to the room's topic on this app: uWS writes the same bytes to every
 * compat client of the room. Nothing is encoded per recipient, except what has one
 * recipient (a login's client list, a private message, an error).
 */
import type { HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js';
import type { ConnectionLimits } from '../admission/connection-limits.js';
import { machineAddresses, OriginCheck, parseOriginPolicy } from '../admission/origin.js';
import { RateLimiter, type RateLimitSettings } from '../admission/rate-limit.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { countError, type RefusalReason, type WorkerCounts } from '../metrics/counters.js';
import { CloseCode, closeReason, decodeServerFrame, type MemberInfo, ProtocolError, type ServerEvent } from '../protocol/index.js';
import type { Broker, BrokerHandler } from '../relay/broker.js';
import { endAllThenClose, forEachSlowReader, type UWS } from '../transport/uws.js';
import { ClientIds } from './client-ids.js';
import {
  type CompatErrorName,
  type CompatMember,
  type CompatRequest,
  errorText,
  formatTime,
  loginText,
  logoutText,
  PING_TEXT,
  PRIVATE_TO_YOU_PREFIX,
  parseClientText,
  privateEchoPrefix,
  sayText,
  TO_ALL,
} from './protocol.js';
import { type RoomView, RoomViews } from './room-view.js';

export interface CompatListenerOptions {
  readonly uws: UWS;
  readonly config: Config;
  readonly broker: Broker;
  readonly log: Logger;
  /** Unique per worker start; with the node id, prefixes connection ids (as the main port's, with a `w`). */
  readonly incarnation: number;
  readonly nodeId: string;
  /** The same shared connection counts as the main port's. */
  readonly admission: ConnectionLimits;
  readonly counts: WorkerCounts;
}

/** Per-connection state, in uWS userData. A compat client is in one room at most. */
interface CompatConnection {
  readonly id: string;
  readonly limiter: RateLimiter;
  /** The connection-limit slot to release on close. */
  readonly admissionSlot: number;
  /** The room logged in to, or being logged in to; null before a login (or after a refused one). */
  room: string | null;
  /** The login's join has been answered with Joined: subscribed to the room's topic. */
  joined: boolean;
  /** The current login's join attempt (replies to older ones are stale). */
  attempt: number;
  /** A frame came since the last ping tick. */
  heard: boolean;
}

type Ws = WebSocket<CompatConnection>;

/** How often sockets are checked for a send buffer over --max-backpressure (as the main port). */
const BACKPRESSURE_CHECK_MS = 100;
/** The seed's ping interval: a client silent for a whole interval gets {"type":"ping"}. */
const SEED_PING_INTERVAL_MS = 10_000;

/** The seed's JSON ping goes to a client silent for one interval: 10 s as the seed, shorter for an --idle-timeout under 20 s. */
export function pingIntervalMs(idleTimeoutSeconds: number): number {
  return Math.min(SEED_PING_INTERVAL_MS, Math.floor((idleTimeoutSeconds * 1000) / 2));
}

export class CompatListener implements BrokerHandler {
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | null = null;
  private readonly sockets = new Map<string, Ws>();
  private readonly rooms = new RoomViews();
  private readonly ids: ClientIds;
  private readonly idPrefix: string;
  private nextConnection = 0;
  private draining = false;
  private origins: OriginCheck | null = null;
  private readonly rateLimit: RateLimitSettings;
  private readonly decoder = new TextDecoder();
  private readonly backpressureTimer: NodeJS.Timeout;
  private readonly pingTimer: NodeJS.Timeout;
  private readonly debug: boolean;
  /** The last second formatted, and its text: a burst of messages formats the time once. */
  private timeSecond = Number.NaN;
  private timeText = '';

  constructor(private readonly options: CompatListenerOptions) {
    const { uws, config } = options;
    this.idPrefix = `${options.nodeId}.${options.incarnation.toString(36)}.w`;
    this.ids = new ClientIds(config.clusterName);
    this.debug = options.log.isLevelEnabled('debug');
    this.rateLimit = { perSecond: config.rateLimit, burst: config.rateBurst, abuseMs: config.rateAbuseSeconds * 1000 };
    this.app = config.certFile ? uws.SSLApp({ cert_file_name: config.certFile, key_file_name: config.keyFile }) : uws.App();
    this.backpressureTimer = setInterval(() => this.closeSlowReaders(), BACKPRESSURE_CHECK_MS);
    this.backpressureTimer.unref();
    this.pingTimer = setInterval(() => this.pingSilent(), pingIntervalMs(config.idleTimeoutSeconds));
    this.pingTimer.unref();
    this.app.ws<CompatConnection>('/*', {
      // As the main port: room above --max-frame so that most oversized frames get a proper 1009.
      maxPayloadLength: Math.max(config.maxFrameBytes * 4, 64 * 1024),
      idleTimeout: config.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      maxBackpressure: config.maxBackpressureBytes * 4 + 16 * 1024 * 1024,
      closeOnBackpressureLimit: 1,
      compression: uws.DISABLED,
      upgrade: (res, req, context) => {
        if (this.draining) return this.refuse(res, 'draining', '503 Service Unavailable', 'the host is shutting down');
        if (!this.origins?.allows(req.getHeader('origin'))) {
          return this.refuse(res, 'origin', '403 Forbidden', 'this origin may not connect (see --public-origin and --allowed-origins)');
        }
        const admission = this.options.admission.admit(Buffer.from(res.getRemoteAddressAsText()).toString());
        if (!admission.ok) {
          return admission.limit === 'global'
            ? this.refuse(res, 'global-limit', '503 Service Unavailable', 'the host is at its connection limit')
            : this.refuse(res, 'per-ip-limit', '429 Too Many Requests', 'too many connections from this address');
        }
        const state: CompatConnection = {
          id: this.idPrefix + (this.nextConnection++).toString(36),
          limiter: new RateLimiter(this.rateLimit, performance.now()),
          admissionSlot: admission.slot,
          room: null,
          joined: false,
          attempt: 0,
          heard: true,
        };
        res.upgrade(
          state,
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context as Parameters<HttpResponse['upgrade']>[4],
        );
      },
      open: (ws) => this.open(ws),
      message: (ws, message, isBinary) => this.message(ws, message, isBinary),
      close: (ws) => this.close(ws),
    });
    // No pages here: the seed's page and bots only open WebSockets on this port.
    this.app.any('/*', (res) => {
      res.onAborted(ignoreAbort);
      res.cork(() => {
        res.writeStatus('426 Upgrade Required').writeHeader('Content-Type', 'application/json; charset=utf-8').writeHeader('Upgrade', 'websocket');
        res.end(JSON.stringify({ error: 'this port speaks the workerman-chat WebSocket protocol only' }), true);
      });
    });
  }

  /**
   * Listens with SO_REUSEPORT (as the main port); resolves false on failure. `pagePort` is
   * the main port, whose pages are the host's own origin for the default origin policy.
   */
  listen(host: string, port: number, pagePort: number): Promise<number | false> {
    return new Promise((resolve) => {
      this.app.listen(host, port, (socket) => {
        if (!socket) return resolve(false);
        this.listenSocket = socket;
        const { config } = this.options;
        this.origins = new OriginCheck(parseOriginPolicy(config.allowedOrigins), config.publicOrigin, {
          protocol: config.certFile ? 'https:' : 'http:',
          port: pagePort,
          machineAddresses,
        });
        resolve(this.options.uws.us_socket_local_port(socket));
      });
    });
  }

  /** As ChatServer.closeAll: stop listening, end every socket with `code`, then after `graceMs` close what uWS still holds. */
  closeAll(code: number, reason: string, graceMs: number): Promise<void> {
    this.draining = true;
    clearInterval(this.backpressureTimer);
    clearInterval(this.pingTimer);
    if (this.listenSocket) {
      this.options.uws.us_listen_socket_close(this.listenSocket);
      this.listenSocket = null;
    }
    return endAllThenClose(this.app, this.sockets.values(), code, reason, graceMs);
  }

  /** Whether the connection is one of this listener's (the router sends its answers here). */
  holds(connectionId: string): boolean {
    return this.sockets.has(connectionId);
  }

  // ------------------------------------------------------------ BrokerHandler

  /** Room traffic: translated once for all of this worker's compat clients of the room. */
  onPublish(room: string, frame: Uint8Array): void {
    const view = this.rooms.get(room);
    if (!view) return;
    const event = this.decode(frame);
    if (!event) return;
    switch (event.type) {
      case 'message': {
        if (event.to !== null) return;
        const from = this.seen(view, event.sender);
        this.publish(room, sayText(from, TO_ALL, event.text, this.time(event.timestampMs)));
        return;
      }
      case 'presence': {
        // In a room over --presence-events-max-members both lists are empty: compat clients see no logins and logouts there.
        const time = this.time(Date.now());
        for (const member of event.left) this.left(room, view, member, time);
        for (const member of event.joined) this.joined(room, view, member, time);
        return;
      }
      case 'memberJoined':
        return this.joined(room, view, event.member, this.time(Date.now()));
      case 'memberLeft':
        return this.left(room, view, event.member, this.time(Date.now()));
      default:
        return;
    }
  }

  /** A reply for one connection: an error (a say refused by the sequencer), or a room that started again (an unasked Joined). */
  onSend(connectionId: string, frame: Uint8Array): void {
    const ws = this.sockets.get(connectionId);
    if (!ws) return;
    const event = this.decode(frame);
    if (!event) return;
    const state = ws.getUserData();
    if (event.type === 'error') return this.sendText(ws, errorText(event.code, event.message));
    // A cluster room Redis lost starts again under its members: the member list as it is now.
    if (event.type === 'joined' && state.joined && state.room === event.room) {
      const view = this.rooms.get(event.room);
      if (view) this.sendText(ws, this.clientListLogin(view, event.you, event.members));
    }
    // Sent, MemberPage, Left: not asked for on this port (its says carry request id 0).
  }

  /** A private message of `room`, to or from this connection: the seed's prefixed copies. */
  onSendInRoom(connectionId: string, room: string, frame: Uint8Array): void {
    const ws = this.sockets.get(connectionId);
    if (!ws) return;
    const state = ws.getUserData();
    if (state.room !== room || !state.joined) return;
    const event = this.decode(frame);
    if (event?.type !== 'message' || event.to === null) return;
    const view = this.rooms.get(room);
    const from = view ? this.seen(view, event.sender) : this.member(event.sender);
    const to = view ? this.seen(view, event.to) : this.member(event.to);
    const time = this.time(event.timestampMs);
    ws.cork(() => {
      if (event.to!.id === connectionId) this.sendText(ws, sayText(from, to.clientId, event.text, time, PRIVATE_TO_YOU_PREFIX));
      if (event.sender.id === connectionId) this.sendText(ws, sayText(from, to.clientId, event.text, time, privateEchoPrefix(event.to!.name)));
    });
  }

  /** The login's join succeeded: subscribe, then the joiner's login with the client list. */
  onJoined(connectionId: string, attempt: number, room: string, frame: Uint8Array): void {
    const ws = this.sockets.get(connectionId);
    if (!ws) return;
    const state = ws.getUserData();
    // A reply to an older login: the connection logged in elsewhere since.
    if (state.attempt !== attempt || state.room !== room) return;
    const event = this.decode(frame);
    if (event?.type !== 'joined') return;
    state.joined = true;
    const view = this.rooms.enter(room);
    const text = this.clientListLogin(view, event.you, event.members);
    ws.cork(() => {
      ws.subscribe(room);
      this.sendText(ws, text);
    });
  }

  onJoinFailed(connectionId: string, attempt: number, room: string, frame: Uint8Array): void {
    const ws = this.sockets.get(connectionId);
    if (!ws) return;
    const state = ws.getUserData();
    if (state.attempt !== attempt || state.room !== room) return;
    state.room = null;
    const event = this.decode(frame);
    // NicknameTaken comes out as the seed's {"type":"error","code":101,...}.
    if (event?.type === 'error') this.sendText(ws, errorText(event.code, event.message));
  }

  /** The sequencer took the connection out of its room (on a cluster: NicknameLost). */
  onRemoved(connectionId: string, room: string, frame: Uint8Array): void {
    const ws = this.sockets.get(connectionId);
    if (!ws) return;
    const state = ws.getUserData();
    if (state.room !== room || !state.joined) return;
    this.leaveRoom(ws, state);
    const event = this.decode(frame);
    const text = event?.type === 'error' ? errorText(event.code, event.message) : errorText('NotJoined', 'you are no longer in the room: log in again');
    this.sendText(ws, text);
  }

  // ------------------------------------------------------------ WebSocket

  private refuse(res: HttpResponse, reason: RefusalReason, status: string, message: string): void {
    const counts = this.options.counts;
    counts.refused[reason]++;
    counts.compatRefused[reason]++;
    if (this.debug) this.options.log.debug({ reason, address: Buffer.from(res.getRemoteAddressAsText()).toString() }, 'compat upgrade refused');
    res.onAborted(ignoreAbort);
    res.cork(() => {
      res.writeStatus(status).writeHeader('Content-Type', 'application/json; charset=utf-8').writeHeader('Cache-Control', 'no-store');
      res.end(JSON.stringify({ error: message }), true);
    });
  }

  private open(ws: Ws): void {
    const state = ws.getUserData();
    this.sockets.set(state.id, ws);
    const counts = this.options.counts;
    counts.connections++;
    counts.connectionsOpened++;
    counts.compatConnections++;
    counts.compatConnectionsOpened++;
    if (this.debug) this.options.log.debug({ conn: state.id, address: Buffer.from(ws.getRemoteAddressAsText()).toString() }, 'compat connection opened');
    this.options.broker.open(state.id);
    // The seed says nothing first: its clients log in as soon as the socket opens.
  }

  private message(ws: Ws, message: ArrayBuffer, isBinary: boolean): void {
    const { config, counts } = this.options;
    if (isBinary) return this.end(ws, CloseCode.UnsupportedData, 'binary frames are not supported on the workerman-chat port: send JSON text');
    if (message.byteLength > config.maxFrameBytes) {
      return this.end(ws, CloseCode.MessageTooBig, `frame of ${message.byteLength} bytes is over the ${config.maxFrameBytes}-byte limit`);
    }
    const state = ws.getUserData();
    state.heard = true;
    // Every frame counts against the budgets, a bad one too: garbage costs a parse and an answer.
    const decision = state.limiter.take(performance.now());
    if (decision !== 'allow') {
      counts.rateLimited++;
      if (decision === 'close') {
        return this.end(ws, CloseCode.PolicyViolation, `over the rate limit of ${this.rateLimit.perSecond} requests/s for ${config.rateAbuseSeconds} s`);
      }
      const text = `too many requests: at most ${this.rateLimit.perSecond} per second (bursts of ${this.rateLimit.burst}); this one was not carried out`;
      return this.refuseRequest(ws, 'RateLimited', text);
    }
    if (!this.options.admission.takeRequest(state.admissionSlot, Date.now())) {
      counts.rateLimited++;
      const text = `too many requests from your address: its connections together may make ${config.rateLimitPerIp} per second; this one was not carried out`;
      return this.refuseRequest(ws, 'RateLimited', text);
    }
    // The ArrayBuffer is only valid during this call: decoded at once. uWS has checked that a text frame is UTF-8.
    const parsed = parseClientText(this.decoder.decode(message), config.maxTextChars);
    if (!parsed.ok) {
      if (parsed.refusal.error === 'BadRequest') counts.compatBadRequests++;
      return this.refuseRequest(ws, parsed.refusal.error, parsed.refusal.message);
    }
    counts.requests++;
    counts.compatRequests++;
    this.handle(ws, state, parsed.request);
  }

  private handle(ws: Ws, state: CompatConnection, request: CompatRequest): void {
    const broker = this.options.broker;
    switch (request.type) {
      case 'pong':
        return;
      case 'login': {
        // Logging in again moves the connection: it leaves its room (the others see its logout) and joins the new one.
        if (state.room !== null) {
          const previous = state.room;
          this.leaveRoom(ws, state);
          broker.leave(state.id, previous);
        }
        state.room = request.room;
        state.joined = false;
        state.attempt++;
        broker.join(state.id, state.attempt, {
          requestId: 0,
          room: request.room,
          nickname: request.name,
          since: null,
          epoch: 0,
          ...(state.admissionSlot >= 0 ? { addressSlot: state.admissionSlot } : {}),
        });
        return;
      }
      case 'say': {
        // A say right behind its login (bots do not wait for the answer) goes to the sequencer after the join.
        if (state.room === null) return this.refuseRequest(ws, 'NotJoined', 'log in first: {"type":"login","client_name":NAME,"room_id":ROOM}');
        let to: string | null = null;
        if (request.to !== null) {
          // Private messages are room-scoped: the recipient must be a member this worker has seen in the room.
          const member = state.joined ? this.rooms.get(state.room)?.member(request.to) : undefined;
          if (!member) return this.refuseRequest(ws, 'RecipientNotFound', 'no such member in this room');
          to = member.id;
        }
        broker.say(state.id, { requestId: 0, room: state.room, text: request.text, to });
        return;
      }
    }
  }

  private close(ws: Ws): void {
    const state = ws.getUserData();
    if (this.debug) this.options.log.debug({ conn: state.id }, 'compat connection closed');
    this.sockets.delete(state.id);
    if (state.joined && state.room !== null) this.rooms.leave(state.room);
    const counts = this.options.counts;
    counts.connections--;
    counts.compatConnections--;
    if (state.admissionSlot >= 0) this.options.admission.release(state.admissionSlot);
    // The sequencer takes it out of its room: the others get its logout.
    this.options.broker.close(state.id);
  }

  /** Forgets the connection's room here (topic, view); the caller tells the broker if it must. */
  private leaveRoom(ws: Ws, state: CompatConnection): void {
    if (state.room === null) return;
    if (state.joined) {
      ws.unsubscribe(state.room);
      this.rooms.leave(state.room);
    }
    state.room = null;
    state.joined = false;
  }

  /** A request refused here, answered with an error frame; the connection stays. */
  private refuseRequest(ws: Ws, error: CompatErrorName, message: string): void {
    if (error !== 'BadRequest') countError(this.options.counts.errors, error);
    this.sendText(ws, errorText(error, message));
  }

  /** Closes a connection the host gives up on, with a code the README documents. */
  private end(ws: Ws, code: number, reason: string): void {
    const closes = this.options.counts.closes;
    closes[code] = (closes[code] ?? 0) + 1;
    if (this.debug) this.options.log.debug({ conn: ws.getUserData().id, code, reason }, 'closing compat connection');
    ws.end(code, closeReason(reason));
  }

  private sendText(ws: Ws, text: string): void {
    ws.send(text, false);
    this.options.counts.deliveries++;
    this.options.counts.compatDeliveries++;
  }

  /** One publish of one text to the room's topic; `except` (a joiner hearing of its own login) is left out, as the seed does. */
  private publish(room: string, text: string, except?: Ws): void {
    const subscribers = this.app.numSubscribers(room);
    if (except) except.publish(room, text, false);
    else this.app.publish(room, text, false);
    const delivered = except ? subscribers - 1 : subscribers;
    this.options.counts.deliveries += delivered;
    this.options.counts.compatDeliveries += delivered;
  }

  // ------------------------------------------------------------ translation

  /** A frame from the sequencer; null (logged) if it does not decode, which would be a bug of the host's, not a client's. */
  private decode(frame: Uint8Array): ServerEvent | null {
    try {
      return decodeServerFrame(frame);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.options.log.error({ err: error }, 'compat: a frame from the sequencer did not decode; dropped');
      return null;
    }
  }

  private member(m: MemberInfo): CompatMember {
    return { clientId: this.ids.of(m.id), name: m.name };
  }

  /** The member as compat clients see it, noted in the room's view (a to_client_id may name it). */
  private seen(view: RoomView, m: MemberInfo): CompatMember {
    const member = this.member(m);
    view.see(member.clientId, m);
    return member;
  }

  private joined(room: string, view: RoomView, m: MemberInfo, time: string): void {
    const member = this.seen(view, m);
    // The joiner has its own login, with the client list: the seed never sends it this one.
    const own = this.sockets.get(m.id);
    const state = own?.getUserData();
    this.publish(room, loginText(member, time), state?.joined && state.room === room ? own : undefined);
  }

  private left(room: string, view: RoomView, m: MemberInfo, time: string): void {
    const member = this.member(m);
    view.forget(member.clientId);
    this.publish(room, logoutText(member, time));
  }

  /**
   * The joiner's login: `client_list` is the Joined frame's first page of members (at
   * most 100, in nickname order) and the joiner; a bigger room's other members show up
   * as they join (or, for a to_client_id, as they speak).
   */
  private clientListLogin(view: RoomView, you: MemberInfo, members: readonly MemberInfo[]): string {
    const list: CompatMember[] = [];
    const self = this.seen(view, you);
    for (const m of members) if (m.id !== you.id) list.push(this.seen(view, m));
    list.push(self);
    return loginText(self, this.time(Date.now()), list);
  }

  private time(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.timeSecond) {
      this.timeSecond = second;
      this.timeText = formatTime(ms);
    }
    return this.timeText;
  }

  // ------------------------------------------------------------ timers

  /** The seed's heartbeat: {"type":"ping"} to each client silent for a whole interval (its page answers pong). */
  private pingSilent(): void {
    for (const ws of this.sockets.values()) {
      const state = ws.getUserData();
      if (!state.heard) ws.send(PING_TEXT, false);
      state.heard = false;
    }
  }

  /** The slow-reader policy of the main port: over --max-backpressure, close 4001. */
  private closeSlowReaders(): void {
    forEachSlowReader(this.sockets.values(), this.options.config.maxBackpressureBytes, (ws, reason) => {
      this.options.counts.backpressureCloses++;
      this.end(ws, CloseCode.TooSlow, reason);
    });
  }
}

function ignoreAbort(): void {
  // The answer is handed to uWS whole; an aborted connection takes it with it.
}
