/**
 * A WebSocket client over a bare TCP socket, for tests that must send what no
 * well-behaved library would: unmasked, fragmented, oversized or half-written frames,
 * half-finished upgrades. It reads the host's frames strictly: every binary frame must
 * decode with the protocol codec, anything else is recorded as a fault.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { decodeServerFrame, type ServerEvent } from '../../src/protocol/index.js';

export const Opcode = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

export interface RawFrame {
  readonly opcode: number;
  readonly payload?: Uint8Array;
  readonly fin?: boolean;
  /** Clients must mask; false sends an unmasked frame (a protocol violation). */
  readonly mask?: boolean;
  /** RSV1-3 bits (no extension is negotiated, so any set bit is a violation). */
  readonly rsv?: number;
  /** A length to announce instead of the payload's own (a lie). */
  readonly announcedLength?: number;
}

export interface Ended {
  /** The close code of the host's close frame; 1005 for one without a code; 1006 when TCP ended without one. */
  readonly code: number;
  readonly reason: string;
}

/** Encodes one client frame. */
export function encodeFrame(frame: RawFrame): Uint8Array {
  const payload = frame.payload ?? new Uint8Array(0);
  const length = frame.announcedLength ?? payload.length;
  const mask = frame.mask ?? true;
  const header: number[] = [((frame.fin ?? true) ? 0x80 : 0) | ((frame.rsv ?? 0) << 4) | frame.opcode];
  const maskBit = mask ? 0x80 : 0;
  if (length < 126) header.push(maskBit | length);
  else if (length < 0x10000) header.push(maskBit | 126, length >> 8, length & 0xff);
  else {
    header.push(maskBit | 127);
    const big = BigInt(length);
    for (let i = 7; i >= 0; i--) header.push(Number((big >> BigInt(8 * i)) & 0xffn));
  }
  const key = mask ? randomBytes(4) : null;
  const out = new Uint8Array(header.length + (key ? 4 : 0) + payload.length);
  out.set(header);
  let at = header.length;
  if (key) {
    out.set(key, at);
    at += 4;
  }
  for (let i = 0; i < payload.length; i++) out[at + i] = key ? payload[i]! ^ key[i & 3]! : payload[i]!;
  return out;
}

export function upgradeRequest(port: number): string {
  return [
    'GET / HTTP/1.1',
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    '',
    '',
  ].join('\r\n');
}

/** Opens a TCP connection to the host and resolves once it is connected. */
export function openTcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export class RawWs {
  /** Every event the host sent, decoded, in order. */
  readonly events: ServerEvent[] = [];
  /** Anything the host sent that a protocol client could not take: text or undecodable frames. */
  readonly faults: string[] = [];
  /** Socket errors; a host that cuts the connection while we write gives ECONNRESET or EPIPE. */
  readonly socketErrors: string[] = [];
  readonly ended: Promise<Ended>;
  private closeFrame: Ended | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private isEnded = false;

  private constructor(readonly socket: Socket) {
    this.ended = new Promise((resolve) =>
      socket.once('close', () => {
        this.isEnded = true;
        this.wake();
        resolve(this.closeFrame ?? { code: 1006, reason: '' });
      }),
    );
    socket.on('error', (error: NodeJS.ErrnoException) => this.socketErrors.push(error.code ?? error.message));
  }

  /** Completes the upgrade; the Welcome arrives as the first event. */
  static async connect(port: number): Promise<RawWs> {
    const socket = await openTcp(port);
    const client = new RawWs(socket);
    await new Promise<void>((resolve, reject) => {
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        socket.off('close', onClose);
        const status = head.subarray(0, head.indexOf('\r\n')).toString();
        if (!/^HTTP\/1\.1 101 /.test(status)) return reject(new Error(`upgrade refused: ${status}`));
        socket.on('data', (data: Buffer) => client.receive(data));
        client.receive(head.subarray(end + 4));
        resolve();
      };
      const onClose = (): void => reject(new Error('connection closed during the upgrade'));
      socket.on('data', onData);
      socket.once('close', onClose);
      socket.write(upgradeRequest(port));
    });
    return client;
  }

  get closed(): boolean {
    return this.isEnded;
  }

  /** Writes raw bytes; false once the socket is gone (the host may close us at any time). */
  write(bytes: Uint8Array | string): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false;
    this.socket.write(bytes);
    return true;
  }

  sendFrame(frame: RawFrame): boolean {
    return this.write(encodeFrame(frame));
  }

  sendBinary(payload: Uint8Array): boolean {
    return this.sendFrame({ opcode: Opcode.binary, payload });
  }

  /** Sends a close frame and waits for the host's answer (or the end of the connection). */
  async close(code = 1000): Promise<Ended> {
    this.sendFrame({ opcode: Opcode.close, payload: Uint8Array.from([code >> 8, code & 0xff]) });
    return this.ended;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves with the first event (already received or future) matching `predicate`, or null when the connection ends first. */
  async waitFor(predicate: (e: ServerEvent) => boolean): Promise<ServerEvent | null> {
    for (let seen = 0; ; ) {
      for (; seen < this.events.length; seen++) if (predicate(this.events[seen]!)) return this.events[seen]!;
      if (this.isEnded) return null;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Resolves once `count` events match `predicate`, or the connection ended; returns how many matched. */
  async waitForCount(count: number, predicate: (e: ServerEvent) => boolean): Promise<number> {
    for (;;) {
      const matched = this.events.filter(predicate).length;
      if (matched >= count || this.isEnded) return matched;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private receive(data: Buffer): void {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    for (;;) {
      const frame = this.parseFrame();
      if (!frame) break;
      this.onFrame(frame.fin, frame.opcode, frame.payload);
    }
    this.wake();
  }

  private parseFrame(): { fin: boolean; opcode: number; payload: Buffer } | null {
    const b = this.buffer;
    if (b.length < 2) return null;
    const fin = (b[0]! & 0x80) !== 0;
    const opcode = b[0]! & 0x0f;
    if (b[1]! & 0x80) this.faults.push('the host sent a masked frame');
    let length = b[1]! & 0x7f;
    let at = 2;
    if (length === 126) {
      if (b.length < 4) return null;
      length = b.readUInt16BE(2);
      at = 4;
    } else if (length === 127) {
      if (b.length < 10) return null;
      length = Number(b.readBigUInt64BE(2));
      at = 10;
    }
    if (b.length < at + length) return null;
    const payload = b.subarray(at, at + length);
    this.buffer = b.subarray(at + length);
    return { fin, opcode, payload };
  }

  private onFrame(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case Opcode.binary:
      case Opcode.continuation: {
        this.fragments.push(payload);
        if (!fin) return;
        const message = Buffer.concat(this.fragments);
        this.fragments = [];
        try {
          this.events.push(decodeServerFrame(new Uint8Array(message.buffer, message.byteOffset, message.byteLength)));
        } catch (error) {
          this.faults.push(`undecodable frame from the host (${String(error)}): ${message.toString('hex')}`);
        }
        return;
      }
      case Opcode.text:
        this.faults.push(`text frame from the host: ${payload.toString()}`);
        return;
      case Opcode.close:
        this.closeFrame = payload.length >= 2 ? { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString() } : { code: 1005, reason: '' };
        // Answer the close (RFC 6455 5.5.1); the host then ends the TCP connection.
        this.sendFrame({ opcode: Opcode.close, payload: payload.subarray(0, 2) });
        return;
      case Opcode.ping:
        this.sendFrame({ opcode: Opcode.pong, payload });
        return;
      case Opcode.pong:
        return;
      default:
        this.faults.push(`frame with opcode ${opcode} from the host`);
    }
  }
}
