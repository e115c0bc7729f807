/**
 * A crowd for big-room tests: thousands of room members as bare protocol connections (the `ws`
 * package, the shared codec), not browser pages. Joins run with a bounded number in flight; each
 * member keeps only the messages it receives (Presence and the rest are decoded and dropped).
 */
import WebSocket from 'ws';
import { decodeServerFrame, encodeClientRequest, PROTOCOL_VERSION, type ChatMessage } from '../../src/protocol/index.js';

export interface CrowdMember {
  readonly name: string;
  /** The member id the host gave this connection (Joined.you.id). */
  readonly id: string;
  readonly socket: WebSocket;
  readonly messages: ChatMessage[];
}

const JOIN_TIMEOUT_MS = 20_000;

export class Crowd {
  private readonly sockets: WebSocket[] = [];
  private readonly members = new Map<string, CrowdMember>();
  private waiters: (() => void)[] = [];

  private constructor(
    readonly url: string,
    readonly room: string,
  ) {}

  /** Joins `room` once per name (one connection each), at most `inFlight` joins at a time. Rejects on the first failure, after closing every socket. */
  static async join(url: string, room: string, names: readonly string[], inFlight = 50): Promise<Crowd> {
    const crowd = new Crowd(url, room);
    try {
      await crowd.add(names, inFlight);
    } catch (error) {
      await crowd.close();
      throw error;
    }
    return crowd;
  }

  get size(): number {
    return this.members.size;
  }

  member(name: string): CrowdMember {
    const m = this.members.get(name);
    if (m === undefined) throw new Error(`no crowd member ${name}`);
    return m;
  }

  /** More members, as `join` does. */
  async add(names: readonly string[], inFlight = 50): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < names.length) {
        const name = names[next++]!;
        this.members.set(name, await this.joinOne(name));
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, names.length) }, worker));
  }

  /** Resolves with the first message `name` received that matches (already received or future). */
  async message(name: string, predicate: (m: ChatMessage) => boolean): Promise<ChatMessage> {
    const member = this.member(name);
    for (;;) {
      const found = member.messages.find(predicate);
      if (found !== undefined) return found;
      if (member.socket.readyState !== WebSocket.OPEN) throw new Error(`${name}'s connection closed while waiting for a message`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Closes one member's connection and waits until it is closed. */
  async leave(name: string): Promise<void> {
    const socket = this.member(name).socket;
    this.members.delete(name);
    await closeSocket(socket);
  }

  /** Closes every connection (1000), waiting a bounded time before cutting the stragglers. */
  async close(): Promise<void> {
    this.members.clear();
    await Promise.all(this.sockets.splice(0).map((s) => closeSocket(s)));
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private joinOne(name: string): Promise<CrowdMember> {
    const socket = new WebSocket(this.url);
    this.sockets.push(socket);
    const messages: ChatMessage[] = [];
    return new Promise<CrowdMember>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`${name}: no Joined within ${JOIN_TIMEOUT_MS} ms`)), JOIN_TIMEOUT_MS);
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.terminate();
        reject(error);
      };
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) return fail(new Error(`${name}: text frame from the host`));
        const event = decodeServerFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        switch (event.type) {
          case 'welcome':
            socket.send(encodeClientRequest({ type: 'join', requestId: 1, room: this.room, nickname: name, since: null, protocolVersion: PROTOCOL_VERSION }));
            return;
          case 'joined':
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({ name, id: event.you.id, socket, messages });
            return;
          case 'error':
            if (event.requestId === 1) fail(new Error(`${name}: join refused: ${event.code} ${event.message}`));
            return;
          case 'message':
            messages.push(event);
            this.wake();
            return;
          default:
            return;
        }
      });
      socket.on('error', (error) => fail(new Error(`${name}: ${error.message}`)));
      socket.once('close', (code) => {
        fail(new Error(`${name}: closed (${code}) before joining`));
        this.wake();
      });
    });
  }
}

function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => socket.terminate(), 5000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    else socket.close(1000);
  });
}
