/**
 * uws-bare: uWebSockets.js pub/sub with no protocol work (bare-protocol.ts). A
 * joined socket subscribes to the room's topic; a say frame is published as is to
 * the topic, sender included. One thread. Same limits as the host's defaults.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { JOIN, JOINED, portArg, SAY, sayRoom } from './bare-protocol.js';

type UWS = typeof import('uWebSockets.js');

export function startUwsBare(port: number): Promise<{ port: number; close(): void }> {
  const uws = createRequire(import.meta.url)('uWebSockets.js') as UWS;
  const app = uws.App();
  app.ws('/*', {
    compression: uws.DISABLED,
    maxPayloadLength: 64 * 1024,
    idleTimeout: 120,
    maxBackpressure: 1024 * 1024,
    closeOnBackpressureLimit: 1,
    message: (ws, message) => {
      const bytes = new Uint8Array(message);
      if (bytes[0] === SAY) {
        app.publish(sayRoom(bytes), message, true);
      } else if (bytes[0] === JOIN) {
        const room = bytes.slice(1);
        ws.subscribe(room);
        const ack = new Uint8Array(room.length + 1);
        ack[0] = JOINED;
        ack.set(room, 1);
        ws.send(ack, true);
      }
    },
  });
  return new Promise((resolve, reject) => {
    app.listen('127.0.0.1', port, (socket) => {
      if (!socket) return reject(new Error('listen failed'));
      resolve({ port: uws.us_socket_local_port(socket), close: () => (app as unknown as { close(): void }).close() });
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port, close } = await startUwsBare(portArg(process.argv));
  process.stdout.write(`${JSON.stringify({ peer: 'uws-bare', port })}\n`);
  process.once('SIGTERM', () => {
    close();
    process.exit(0);
  });
}
