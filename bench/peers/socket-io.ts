/**
 * socket.io: rooms the socket.io way. 'join' (with an ack) puts the socket in a
 * room; 'say' (room, text) emits 'msg' (text) to the room, sender included.
 * WebSocket transport only, no compression.
 */
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { Server } from 'socket.io';
import { portArg } from './bare-protocol.js';

export function startSocketIoPeer(port: number): Promise<{ port: number; close(): Promise<void> }> {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, maxHttpBufferSize: 64 * 1024 });
  io.on('connection', (socket) => {
    socket.on('join', (room: unknown, ack: unknown) => {
      if (typeof room !== 'string') return;
      void socket.join(room);
      if (typeof ack === 'function') ack();
    });
    socket.on('say', (room: unknown, text: unknown) => {
      if (typeof room === 'string' && typeof text === 'string' && socket.rooms.has(room)) io.to(room).emit('msg', text);
    });
  });
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => {
      const address = http.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : port,
        close: () => new Promise<void>((done) => void io.close(() => done())),
      });
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port, close } = await startSocketIoPeer(portArg(process.argv));
  process.stdout.write(`${JSON.stringify({ peer: 'socket.io', port })}\n`);
  process.once('SIGTERM', () => void close().then(() => process.exit(0)));
}
