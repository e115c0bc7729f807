/**
 * A workerman-chat client for tests: JSON text frames over the `ws` package, sent as
 * the seed's page writes them (its exact bytes where a test says so) and read strictly:
 * every frame from the host must be a JSON object with a string `type`, else it is a fault.
 */
import WebSocket from 'ws';

/** One frame from the host, parsed, with the text it came as. */
export interface CompatFrame {
  readonly type: string;
  readonly [field: string]: unknown;
}

export interface LoginFrame extends CompatFrame {
  readonly type: 'login';
  readonly client_id: string;
  readonly client_name: string;
  readonly time: string;
  readonly client_list?: Record<string, string>;
}

export interface SayFrame extends CompatFrame {
  readonly type: 'say';
  readonly from_client_id: string;
  readonly from_client_name: string;
  readonly to_client_id: string;
  readonly content: string;
  readonly time: string;
}

export interface ErrorFrame extends CompatFrame {
  readonly type: 'error';
  readonly code: number;
  readonly error: string;
  readonly msg: string;
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

export class CompatClient {
  /** Every frame so far, in order, parsed. */
  readonly frames: CompatFrame[] = [];
  /** The same frames as the host wrote them. */
  readonly texts: string[] = [];
  /** Every text frame as the host wrote it, in order, never taken away by next() or drain(). */
  readonly received: string[] = [];
  /** Anything a seed page could not take: binary frames, text that is not a JSON object with a type. */
  readonly faults: string[] = [];
  readonly closed: Promise<Closed>;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    this.closed = new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        this.faults.push(`binary frame: ${data.toString('hex')}`);
      } else {
        const text = data.toString();
        this.received.push(text);
        let frame: unknown;
        try {
          frame = JSON.parse(text);
        } catch (error) {
          this.faults.push(`not JSON (${String(error)}): ${text}`);
        }
        if (typeof frame === 'object' && frame !== null && typeof (frame as CompatFrame).type === 'string') {
          this.frames.push(frame as CompatFrame);
          this.texts.push(text);
        } else if (frame !== undefined) this.faults.push(`not an object with a type: ${text}`);
      }
      this.wake();
    });
    void this.closed.then(() => this.wake());
  }

  static async connect(url: string, options: WebSocket.ClientOptions = {}): Promise<CompatClient> {
    const socket = new WebSocket(url, options);
    const client = new CompatClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  /** Sends a text exactly as given (the seed page builds its JSON by hand). */
  sendText(text: string): void {
    this.socket.send(text);
  }

  send(frame: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(frame));
  }

  /** Logs in as the seed's page does (room id unquoted) and resolves with this client's own login: the one with client_list. */
  async login(name: string, roomId: number | string): Promise<LoginFrame> {
    const room = typeof roomId === 'number' ? String(roomId) : JSON.stringify(roomId);
    this.sendText(`{"type":"login","client_name":"${name.replace(/"/g, '\\"')}","room_id":${room}}`);
    return (await this.next('login', (f) => f.client_list !== undefined)) as LoginFrame;
  }

  /** Says `content` as the seed's page does: to "all" (所有人) or to a client id with its name. */
  say(content: string, to: { id: string; name: string } | null = null): void {
    const escaped = content.replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
    this.sendText(`{"type":"say","to_client_id":"${to?.id ?? 'all'}","to_client_name":"${to?.name ?? '所有人'}","content":"${escaped}"}`);
  }

  /** The next unread frame of `type` (matching `where`); frames before it stay unread. Rejects if the socket closes first. */
  async next(type: string, where: (f: CompatFrame) => boolean = () => true): Promise<CompatFrame> {
    for (;;) {
      for (let i = 0; i < this.frames.length; i++) {
        const f = this.frames[i]!;
        if (f.type === type && where(f)) {
          this.frames.splice(i, 1);
          this.texts.splice(i, 1);
          return f;
        }
      }
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting for ${type}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async nextSay(where: (f: SayFrame) => boolean = () => true): Promise<SayFrame> {
    return (await this.next('say', (f) => where(f as SayFrame))) as SayFrame;
  }

  async nextError(where: (f: ErrorFrame) => boolean = () => true): Promise<ErrorFrame> {
    return (await this.next('error', (f) => where(f as ErrorFrame))) as ErrorFrame;
  }

  /** Removes and returns every unread frame so far. */
  drain(): CompatFrame[] {
    this.texts.splice(0);
    return this.frames.splice(0);
  }

  close(): Promise<Closed> {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(1000);
    return this.closed;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
