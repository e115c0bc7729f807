/** A protocol client for tests: the shared codec over the `ws` package. */
import WebSocket from 'ws';
import {
  decodeServerFrame,
  encodeClientRequest,
  type ChatMessage,
  type ClientRequest,
  type ServerEvent,
  type WelcomeInfo,
  PROTOCOL_VERSION,
} from '../../src/protocol/index.js';

type Event = ServerEvent;
export type Joined = Extract<Event, { type: 'joined' }>;
export type ErrorEvent = Extract<Event, { type: 'error' }>;
export type MessageEvent = Extract<Event, { type: 'message' }>;

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

export class TestClient {
  readonly events: Event[] = [];
  private cursor = 0;
  private waiters: (() => void)[] = [];
  private nextRequestId = 1;
  welcome!: WelcomeInfo;
  readonly closed: Promise<Closed>;

  private constructor(readonly socket: WebSocket) {
    this.closed = new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) throw new Error(`unexpected text frame: ${data.toString()}`);
      const event = decodeServerFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      this.events.push(event);
      // A Presence frame is also read as one event per member, in the order the frame says
      // to apply them (left, then joined), so that a test can wait for one member's change.
      if (event.type === 'presence') {
        for (const member of event.left) this.events.push({ type: 'memberLeft', room: event.room, member });
        for (const member of event.joined) this.events.push({ type: 'memberJoined', room: event.room, member });
      }
      this.wake();
    });
    void this.closed.then(() => this.wake());
  }

  static async connect(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const socket = new WebSocket(url, options);
    // Listen before 'open': the welcome can arrive in the same TCP read as the handshake.
    const client = new TestClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const welcome = await client.next('welcome');
    client.welcome = welcome;
    return client;
  }

  get id(): string {
    return this.welcome.connectionId;
  }

  /** The worker incarnation holding this connection (the id is NODE.INCARNATION.N). */
  get incarnation(): string {
    return this.id.split('.')[1]!;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /**
   * The next unread event of `type` (and matching `where`); events of other kinds
   * before it stay unread. Rejects if the socket closes first.
   */
  async next<T extends Event['type']>(type: T, where: (e: Extract<Event, { type: T }>) => boolean = () => true): Promise<Extract<Event, { type: T }>> {
    for (;;) {
      for (let i = this.cursor; i < this.events.length; i++) {
        const e = this.events[i]!;
        if (e.type === type && where(e as Extract<Event, { type: T }>)) {
          this.events.splice(i, 1);
          return e as Extract<Event, { type: T }>;
        }
      }
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting for ${type}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /**
   * Waits until this client has heard, through Presence, that each of `ids` joined
   * `room`. Presence is coalesced per tick, and someone who comes and goes within one
   * tick is never mentioned: a test that wants others to see a member leave first
   * waits for that member to hear its own join (its tick has then gone out). Only
   * members who were in the room before a join hear of it; a later joiner finds it
   * in its Joined page instead.
   */
  async heardJoins(room: string, ids: readonly string[]): Promise<void> {
    for (const id of ids) await this.next('memberJoined', (e) => e.room === room && e.member.id === id);
  }

  /** Removes and returns every unread event so far. */
  drain(): Event[] {
    return this.events.splice(0);
  }

  send(request: ClientRequest): void {
    this.socket.send(encodeClientRequest(request));
  }

  sendRaw(bytes: Uint8Array | string): void {
    this.socket.send(bytes);
  }

  newRequestId(): number {
    return this.nextRequestId++;
  }

  /** Joins and resolves with Joined, or rejects with the Error event. */
  async join(room: string, nickname: string, since: number | null = null, token?: string): Promise<Joined> {
    const requestId = this.newRequestId();
    this.send({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId, room, nickname, since, ...(token ? { token } : {}) });
    return this.reply(requestId, 'joined') as Promise<Joined>;
  }

  async leave(room: string): Promise<Event> {
    const requestId = this.newRequestId();
    this.send({ type: 'leave', requestId, room });
    return this.reply(requestId, 'left');
  }

  /** Says `text`; resolves with the Sent reply (seq), or rejects with the Error. */
  async say(room: string, text: string, to: string | null = null): Promise<Extract<Event, { type: 'sent' }>> {
    const requestId = this.newRequestId();
    this.send({ type: 'say', requestId, room, text, to });
    return this.reply(requestId, 'sent') as Promise<Extract<Event, { type: 'sent' }>>;
  }

  /** Sends a request and resolves with the Error frame it must cause. */
  async expectError(request: ClientRequest): Promise<ErrorEvent> {
    this.send(request);
    return this.next('error', (e) => e.requestId === request.requestId);
  }

  private async reply(requestId: number, type: Event['type']): Promise<Event> {
    const event = await this.nextWhere((e) => 'requestId' in e && e.requestId === requestId && (e.type === type || e.type === 'error'));
    if (event.type === 'error') throw Object.assign(new Error(`${event.code}: ${event.message}`), { event });
    return event;
  }

  async nextWhere(predicate: (e: Event) => boolean): Promise<Event> {
    for (;;) {
      const i = this.events.findIndex(predicate);
      if (i >= 0) return this.events.splice(i, 1)[0]!;
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error('socket closed while waiting');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Room messages of `room` received so far, removed from the unread events. */
  takeMessages(room: string): ChatMessage[] {
    const out: ChatMessage[] = [];
    for (let i = 0; i < this.events.length; ) {
      const e = this.events[i]!;
      if (e.type === 'message' && e.room === room) {
        out.push(e);
        this.events.splice(i, 1);
      } else i++;
    }
    return out;
  }

  close(): Promise<Closed> {
    this.socket.close(1000);
    return this.closed;
  }
}

/** Opens connections until at least one is held by each of `workers` workers (bounded). */
/** The ErrorReply a request of TestClient's (join, leave, say) is refused with: it rejects with it. */
export async function refused(request: Promise<unknown>): Promise<ErrorEvent> {
  try {
    await request;
  } catch (error) {
    return (error as { event: ErrorEvent }).event;
  }
  throw new Error('the request was carried out, not refused');
}

export async function connectAcrossWorkers(url: string, workers: number, perWorker = 1, limit = 64): Promise<TestClient[][]> {
  const byIncarnation = new Map<string, TestClient[]>();
  const spare: TestClient[] = [];
  for (let i = 0; i < limit; i++) {
    const client = await TestClient.connect(url);
    const list = byIncarnation.get(client.incarnation) ?? [];
    if (list.length < perWorker) {
      list.push(client);
      byIncarnation.set(client.incarnation, list);
    } else spare.push(client);
    if (byIncarnation.size === workers && [...byIncarnation.values()].every((l) => l.length >= perWorker)) break;
  }
  await Promise.all(spare.map((c) => c.close()));
  if (byIncarnation.size < workers) throw new Error(`connections reached ${byIncarnation.size} of ${workers} workers after ${limit} tries`);
  return [...byIncarnation.values()];
}
