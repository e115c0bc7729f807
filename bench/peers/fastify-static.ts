/**
 * The HTTP reference: fastify + @fastify/static serving the same public/ folder
 * as the host, plus /healthz and /api/rooms answering JSON of the same shape.
 */
import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { portArg } from './bare-protocol.js';

export async function startFastify(port: number, publicDir: string): Promise<{ port: number; close(): Promise<void> }> {
  const app = Fastify({ logger: false });
  await app.register(fastifyStatic, { root: resolve(publicDir), etag: true, cacheControl: false });
  app.get('/healthz', async () => ({ status: 'ok', workers: 1, connections: 0, rooms: 0, workerRestarts: 0, perWorker: [{ worker: 0, connections: 0 }] }));
  app.get('/api/rooms', async () => ({ rooms: [] }));
  await app.listen({ host: '127.0.0.1', port });
  const address = app.server.address();
  return { port: typeof address === 'object' && address ? address.port : port, close: () => app.close() };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--public-dir');
  const { port, close } = await startFastify(portArg(process.argv), i >= 0 ? process.argv[i + 1]! : 'public');
  process.stdout.write(`${JSON.stringify({ peer: 'fastify', port })}\n`);
  process.once('SIGTERM', () => void close().then(() => process.exit(0)));
}
