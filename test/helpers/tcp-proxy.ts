/**
 * A TCP proxy on a free loopback port, standing in for a load balancer in front of
 * several nodes: each new connection goes to the current target port (`retarget`
 * switches it, as a balancer stops sending to a node that failed its health check),
 * and `cut()` ends every connection through it at once, as a network blip does.
 * When either side of a connection closes or fails, the other side is ended too.
 */
import { createServer, type Socket, connect } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Connections made from now on go to `port`. */
  retarget(port: number): void;
  /** Ends every connection through the proxy now (both sides). */
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  const open = new Set<Socket>();
  const server = createServer((downstream) => {
    const upstream = connect(target, '127.0.0.1');
    open.add(downstream);
    open.add(upstream);
    const end = (): void => {
      downstream.destroy();
      upstream.destroy();
      open.delete(downstream);
      open.delete(upstream);
    };
    // A failed side (reset, refused) ends the pair: the peer sees the connection drop, as through a balancer.
    for (const socket of [downstream, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
  return {
    port: address.port,
    url: `http://127.0.0.1:${address.port}`,
    retarget: (port) => {
      target = port;
    },
    cut: () => {
      for (const socket of [...open]) socket.destroy();
      open.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
