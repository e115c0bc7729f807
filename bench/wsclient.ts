/**
 * A minimal WebSocket client over a raw `net` socket, built to cost the load
 * generator as little CPU as possible: it parses frame headers in place (many
 * frames per TCP chunk, frames split across chunks), never copies a payload it
 * does not need, and hands each complete data frame to a FrameSink as
 * (buffer, start, end). Sent frames are masked (RFC 6455 5.3) with keys from a
 * pre-filled random pool. No extensions, no fragmentation (none of the servers
 * measured fragments its small frames; a continuation frame is counted as an error).
 */
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import net from 'node:net';

export const OP_TEXT = 1;
export const OP_BINARY = 2;
const OP_CLOSE = 8;
const OP_PING = 9;
const OP_PONG = 10;
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Receives every complete text or binary frame; the bytes are valid only during the call. */
export interface FrameSink {
  onFrame(conn: WsConn, buf: Buffer, start: number, end: number): void;
  onClose(conn: WsConn, error: Error | null): void;
}

/**
 * Every connection reads into this one buffer: reads are handled synchronously, one at a
 * time, and nothing keeps a reference to it past the callback (split frames are copied).
 */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

// Masking keys come from one pool refilled 16 KiB at a time.
const keyPool = Buffer.allocUnsafe(16 * 1024);
let keyPos = keyPool.length;

/** Writes a masked client frame header + payload into a fresh buffer. */
export function maskFrame(opcode: number, payload: Uint8Array): Buffer {
  const len = payload.length;
  const hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(hdr + 4 + len);
  writeMaskedFrame(out, 0, opcode, payload);
  return out;
}

/** Size of a masked client frame with `len` payload bytes. */
export function maskedFrameSize(len: number): number {
  return (len < 126 ? 2 : len < 65536 ? 4 : 10) + 4 + len;
}

/** Writes a masked frame at `out[at]`; returns the offset after it. */
export function writeMaskedFrame(out: Buffer, at: number, opcode: number, payload: Uint8Array): number {
  const len = payload.length;
  out[at] = 0x80 | opcode;
  let p = at + 2;
  if (len < 126) {
    out[at + 1] = 0x80 | len;
  } else if (len < 65536) {
    out[at + 1] = 0x80 | 126;
    out.writeUInt16BE(len, at + 2);
    p = at + 4;
  } else {
    out[at + 1] = 0x80 | 127;
    out.writeUInt32BE(0, at + 2);
    out.writeUInt32BE(len, at + 6);
    p = at + 10;
  }
  if (keyPos + 4 > keyPool.length) {
    randomFillSync(keyPool);
    keyPos = 0;
  }
  const k0 = keyPool[keyPos]!;
  const k1 = keyPool[keyPos + 1]!;
  const k2 = keyPool[keyPos + 2]!;
  const k3 = keyPool[keyPos + 3]!;
  keyPos += 4;
  out[p] = k0;
  out[p + 1] = k1;
  out[p + 2] = k2;
  out[p + 3] = k3;
  p += 4;
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    out[p + i] = payload[i]! ^ k0;
    out[p + i + 1] = payload[i + 1]! ^ k1;
    out[p + i + 2] = payload[i + 2]! ^ k2;
    out[p + i + 3] = payload[i + 3]! ^ k3;
  }
  for (; i < len; i++) out[p + i] = payload[i]! ^ keyPool[keyPos - 4 + (i & 3)]!;
  return p + len;
}

export interface ConnectOptions {
  readonly port: number;
  readonly host?: string;
  readonly path: string;
  readonly timeoutMs?: number;
  /** Set on the connection before any frame is handled. */
  readonly room?: string;
  readonly probe?: boolean;
}

/** One client connection. Fields are public and mutable: the generator keeps its per-connection state here. */
export class WsConn {
  /** Index of this connection in the generator. */
  readonly index: number;
  readonly socket: net.Socket;
  /** Unparsed tail of the previous chunk (a frame split across chunks). */
  private pending: Buffer | null = null;
  open = false;
  closed = false;
  /** Adapter state: handshake step reached. */
  step = 0;
  joined = false;
  room = '';
  /** Data frames classified as room messages. */
  messages = 0;
  /** Latency is read from this connection's messages. */
  probe = false;
  errors = 0;
  /** Reads nothing (socket paused): a slow consumer; the generator leaves it out of its counts. */
  stalled = false;
  /** Code and reason of the server's close frame, once one arrived. */
  closeCode: number | null = null;
  closeReason = '';
  /** The socket error that ended the connection (e.g. ECONNRESET), if any. */
  endError: string | null = null;
  /** Set by destroy(): the close that follows is ours, not the server's. */
  private deliberate = false;

  constructor(
    index: number,
    socket: net.Socket,
    private readonly sink: FrameSink,
  ) {
    this.index = index;
    this.socket = socket;
  }

  /** Opens the TCP connection and completes the HTTP upgrade. */
  static connect(index: number, options: ConnectOptions, sink: FrameSink): Promise<WsConn> {
    return new Promise((resolve, reject) => {
      // Reads land in one buffer shared by every connection (see READ_BUFFER), not in a
      // fresh Buffer per read pushed through a stream: that per-read cost is most of what
      // a receiver pays once frames are parsed in place.
      const socket: net.Socket = net.connect({
        port: options.port,
        host: options.host ?? '127.0.0.1',
        noDelay: true,
        onread: { buffer: READ_BUFFER, callback: (nread: number, buf: Uint8Array): boolean => conn.onRead(buf as Buffer, nread) },
      });
      const conn = new WsConn(index, socket, sink);
      conn.room = options.room ?? '';
      conn.probe = options.probe ?? false;
      const key = randomBytes(16).toString('base64');
      const expected = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      let head: Buffer = Buffer.alloc(0);
      const timer = setTimeout(() => fail(new Error('handshake timeout')), options.timeoutMs ?? 15_000);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        conn.onHead = null;
        socket.destroy();
        reject(error);
      };
      socket.on('error', (error) => (conn.open ? conn.finish(error) : fail(error)));
      socket.on('close', () => (conn.open ? conn.finish(null) : fail(new Error('closed during handshake'))));
      socket.on('connect', () => {
        socket.write(
          `GET ${options.path} HTTP/1.1\r\nHost: 127.0.0.1:${options.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      conn.onHead = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]); // a copy: chunk is the shared read buffer
        const endOfHead = head.indexOf('\r\n\r\n');
        if (endOfHead < 0) {
          if (head.length > 8192) fail(new Error('handshake response too long'));
          return;
        }
        const text = head.toString('latin1', 0, endOfHead);
        if (!/^HTTP\/1\.1 101/.test(text)) return fail(new Error(`upgrade refused: ${text.split('\r\n')[0]}`));
        const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(text)?.[1];
        if (accept !== expected) return fail(new Error('bad Sec-WebSocket-Accept'));
        clearTimeout(timer);
        conn.onHead = null;
        conn.open = true;
        resolve(conn);
        const rest = head.subarray(endOfHead + 4);
        if (rest.length > 0) conn.onData(rest);
      };
    });
  }

  /** Until the upgrade completes: collects the HTTP response head. */
  private onHead: ((chunk: Buffer) => void) | null = null;

  /** Always true: keep reading (a stalled connection is paused with socket.pause()). */
  private onRead(buf: Buffer, nread: number): boolean {
    const chunk = buf.subarray(0, nread);
    if (this.onHead !== null) this.onHead(chunk);
    else if (this.open) this.onData(chunk);
    return true;
  }

  /** Sends one masked frame. */
  send(opcode: number, payload: Uint8Array): void {
    if (!this.closed) this.socket.write(maskFrame(opcode, payload));
  }

  /** Writes bytes that already are masked frames. */
  write(frames: Buffer): void {
    if (!this.closed) this.socket.write(frames);
  }

  /** Drops the connection with a TCP RST (no TIME_WAIT left behind across thousands of connections). */
  destroy(): void {
    this.deliberate = true;
    this.closed = true;
    this.socket.resetAndDestroy();
  }

  private finish(error: Error | null): void {
    if (!this.open) return;
    this.open = false;
    this.closed = true;
    this.endError = error?.message ?? null;
    if (!this.deliberate) this.sink.onClose(this, error);
  }

  /** The hot path: walks every frame of the chunk in place. */
  onData(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    const end = buf.length;
    let pos = 0;
    while (pos + 2 <= end) {
      const b0 = buf[pos]!;
      const b1 = buf[pos + 1]!;
      let len = b1 & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (pos + 4 > end) break;
        len = (buf[pos + 2]! << 8) | buf[pos + 3]!;
        hdr = 4;
      } else if (len === 127) {
        if (pos + 10 > end) break;
        len = buf.readUInt32BE(pos + 6);
        hdr = 10;
      }
      if (b1 & 0x80) hdr += 4; // a masked server frame is a protocol error; skipped, counted below
      const start = pos + hdr;
      const stop = start + len;
      if (stop > end) break;
      const op = b0 & 0x0f;
      if (op === OP_BINARY || op === OP_TEXT) {
        if (b1 & 0x80 || !(b0 & 0x80)) this.errors++;
        else this.sink.onFrame(this, buf, start, stop);
      } else if (op === OP_PING) {
        this.send(OP_PONG, buf.subarray(start, stop));
      } else if (op === OP_CLOSE) {
        if (len >= 2) {
          this.closeCode = (buf[start]! << 8) | buf[start + 1]!;
          this.closeReason = buf.toString('utf8', start + 2, stop);
        }
        this.closed = true;
        this.socket.end();
      } else if (op !== OP_PONG) {
        this.errors++;
      }
      pos = stop;
    }
    // A copy: the chunk may be the shared read buffer, which the next read overwrites.
    if (pos < end) this.pending = Buffer.from(buf.subarray(pos));
  }
}
