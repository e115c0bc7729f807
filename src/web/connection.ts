/**
 * The WebSocket to the host: binary frames through the shared codec, request ids, and
 * reconnection with exponential backoff and full jitter. It knows nothing about rooms;
 * the app rejoins them when a new `welcome` arrives.
 */
import { CloseCode, decodeServerFrame, encodeClientRequest, type ClientRequest, type ServerEvent } from '../protocol/index.js';

export type ConnectionState =
  | { readonly kind: 'connecting'; readonly attempt: number }
  | { readonly kind: 'open' }
  | { readonly kind: 'waiting'; readonly attempt: number; readonly retryAt: number; readonly reason: string }
  | { readonly kind: 'stopped'; readonly reason: string };

export interface ConnectionHandlers {
  onEvent(event: ServerEvent): void;
  onState(state: ConnectionState): void;
  /** The socket that was open is gone (called once per lost connection, before reconnecting). */
  onLost(code: number, reason: string): void;
}

/** Distributive Omit, so each request variant keeps its own fields. */
export type Request = ClientRequest extends infer R ? (R extends ClientRequest ? Omit<R, 'requestId'> : never) : never;

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 10_000;
const WELCOME_TIMEOUT_MS = 10_000;

/**
 * Delay before reconnect attempt `attempt` (1, 2, ...): "full jitter" between half and all of
 * base * 2^(attempt-1), capped. `random` is injectable for tests.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Why a connection ended, in plain words. */
export function describeClose(code: number): string {
  if (code === CloseCode.ServiceRestart) return 'the host is restarting';
  if (code === CloseCode.GoingAway) return 'the host is shutting down';
  if (code === CloseCode.TooSlow) return 'this page fell too far behind reading messages';
  if (code === CloseCode.PolicyViolation) return 'this page sent too many requests for too long';
  if (code === CloseCode.TokenExpired) return 'your access token expired';
  return 'the connection was lost';
}

/** Close codes after which reconnecting with the same client cannot help. */
const FATAL_CLOSES: ReadonlySet<number> = new Set([CloseCode.UnsupportedData, CloseCode.InvalidPayload, CloseCode.MessageTooBig, CloseCode.PolicyViolation]);

export class Connection {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private nextId = 1;
  /** The current socket got its welcome: only then is the connection usable (and its loss worth telling). */
  private welcomed = false;
  state: ConnectionState = { kind: 'connecting', attempt: 1 };

  constructor(
    private readonly url: string,
    private readonly handlers: ConnectionHandlers,
  ) {}

  get isOpen(): boolean {
    return this.welcomed && this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.connect();
  }

  /** Skips the wait: reconnect now (the "Retry now" button, the browser coming back online). */
  retryNow(): void {
    if (this.state.kind !== 'waiting') return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  }

  /** Connects again after a stop, e.g. once a fresh access token came; the app rejoins its rooms with `since` on the welcome. */
  restart(): void {
    if (this.state.kind !== 'stopped') return;
    this.attempt = 0;
    this.connect();
  }

  /** Sends a request with a fresh request id; returns the id, or null when not connected. */
  send(request: Request): number | null {
    if (!this.isOpen || this.socket === null) return null;
    const requestId = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    this.socket.send(encodeClientRequest({ ...request, requestId } as ClientRequest));
    return requestId;
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    this.handlers.onState(state);
  }

  private connect(): void {
    this.attempt += 1;
    this.welcomed = false;
    this.setState({ kind: 'connecting', attempt: this.attempt });
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.setState({ kind: 'stopped', reason: `cannot connect: ${(error as Error).message}` });
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    // A handshake that ends without a welcome (a stuck proxy, a host not answering) is retried.
    socket.addEventListener('open', () => {
      setTimeout(() => {
        if (this.socket === socket && !this.welcomed) socket.close(1000, 'no welcome');
      }, WELCOME_TIMEOUT_MS);
    });
    socket.addEventListener('message', (e: MessageEvent) => {
      if (!(e.data instanceof ArrayBuffer)) {
        console.warn('chat: ignored a text frame from the host');
        return;
      }
      let event: ServerEvent;
      try {
        event = decodeServerFrame(new Uint8Array(e.data));
      } catch (error) {
        console.warn('chat: ignored an undecodable frame', error);
        return;
      }
      if (event.type === 'welcome' && !this.welcomed) {
        // Open for us means the host has greeted this connection, not merely that the handshake ended.
        this.welcomed = true;
        this.attempt = 0;
        this.setState({ kind: 'open' });
      }
      this.handlers.onEvent(event);
    });
    socket.addEventListener('close', (e: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      const wasOpen = this.welcomed;
      this.welcomed = false;
      if (wasOpen) this.handlers.onLost(e.code, e.reason);
      if (e.code === CloseCode.TokenExpired) {
        // The same token would be refused: wait for a fresh one (the app calls restart()).
        this.setState({ kind: 'stopped', reason: 'your access token expired; open this page with a fresh #token= link to rejoin' });
        return;
      }
      if (FATAL_CLOSES.has(e.code)) {
        this.setState({ kind: 'stopped', reason: `the host closed the connection (${e.code}${e.reason ? `: ${e.reason}` : ''}); reload the page` });
        return;
      }
      this.schedule(e.code);
    });
  }

  private schedule(code: number): void {
    // A restarting worker asks for an immediate reconnect: only jitter, so that its clients spread out.
    const first = this.attempt <= 1 && code === CloseCode.ServiceRestart;
    const delay = first ? Math.round(Math.random() * 250) : backoffDelay(Math.max(1, this.attempt));
    const reason = describeClose(code);
    this.setState({ kind: 'waiting', attempt: this.attempt + 1, retryAt: Date.now() + delay, reason });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }
}
