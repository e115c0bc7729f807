/**
 * ws: the ws package the way most people write a room chat with it: a Map of
 * room names to Sets of sockets, a loop of ws.send over the room. bare-protocol.ts.
 */
import { pathToFileURL } from 'node:url';
import { type WebSocket, WebSocketServer } from 'ws';
import { JOIN, JOINED, portArg, SAY } from './bare-protocol.js';

export function startWsPeer(port: number): Promise<{ port: number; close(): Promise<void> }> {
  const rooms = new Map<string, Set<WebSocket>>();
  const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, maxPayload: 64 * 1024 });
  wss.on('connection', (ws) => {
    const mine = new Set<string>();
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) return;
      if (data[0] === SAY) {
        const room = data.toString('utf8', 2, 2 + data[1]!);
        const members = rooms.get(room);
        if (members?.has(ws)) for (const member of members) member.send(data, { binary: true });
      } else if (data[0] === JOIN) {
        const room = data.toString('utf8', 1);
        let members = rooms.get(room);
        if (!members) {
          members = new Set();
          rooms.set(room, members);
        }
        members.add(ws);
        mine.add(room);
        ws.send(Buffer.concat([Buffer.of(JOINED), data.subarray(1)]), { binary: true });
      }
    });
    ws.on('close', () => {
      for (const room of mine) {
        const members = rooms.get(room);
        members?.delete(ws);
        if (members?.size === 0) rooms.delete(room);
      }
    });
  });
  return new Promise((resolve, reject) => {
    wss.once('error', reject);
    wss.once('listening', () => {
      const address = wss.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : port,
        close: () =>
          new Promise<void>((done) => {
            for (const client of wss.clients) client.terminate();
            wss.close(() => done());
          }),
      });
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port, close } = await startWsPeer(portArg(process.argv));
  process.stdout.write(`${JSON.stringify({ peer: 'ws', port })}\n`);
  process.once('SIGTERM', () => void close().then(() => process.exit(0)));
}
