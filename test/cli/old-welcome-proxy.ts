/**
 * A WebSocket relay in front of a real host that makes it look like a host from
 * before Welcome announced the rate limit: the Welcome is passed on without its
 * rate fields, every other frame unchanged, and closes go both ways.
 */
import { WebSocket, WebSocketServer } from 'ws';
import { decodeServerFrame, encodeWelcome } from '../../src/protocol/index.js';

export interface RelayProxy {
  readonly url: string;
  close(): Promise<void>;
}

export async function oldWelcomeProxy(hostUrl: string): Promise<RelayProxy> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  server.on('connection', (client) => {
    const upstream = new WebSocket(hostUrl);
    const early: Buffer[] = [];
    client.on('message', (data: Buffer) => (upstream.readyState === WebSocket.OPEN ? upstream.send(data) : early.push(data)));
    upstream.on('open', () => {
      for (const data of early.splice(0)) upstream.send(data);
    });
    upstream.on('message', (data: Buffer) => {
      const event = decodeServerFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      client.send(event.type === 'welcome' ? encodeWelcome({ ...event, rateLimitPerSecond: 0, rateBurst: 0 }) : data);
    });
    client.on('close', (code) => upstream.close(code === 1005 ? 1000 : code));
    upstream.on('close', (code, reason) => client.close(code === 1005 || code === 1006 ? 1011 : code, reason));
    upstream.on('error', (error) => client.close(1011, error.message.slice(0, 100)));
  });
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve, reject) => {
        for (const client of server.clients) client.terminate();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
