/**
 * The workerman-chat port is held to the main port's rules, by real hosts: origins, one set
 * of connection counts for both ports, the per-connection and per-address request budgets,
 * the slow-reader close, the seed's idle ping, TLS, metrics by protocol, and every way out
 * of a worker (shutdown, crash) closing its compat sockets too. Also the flag's own checks.
 */
import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { CloseCode } from '../../src/protocol/index.js';
import { TestClient } from '../helpers/client.js';
import { CompatClient } from '../helpers/compat-client.js';
import { runHost, startHost, type Host } from '../helpers/host.js';
import { scrape } from '../helpers/metrics.js';

async function withHost(args: string[], body: (host: Host) => Promise<void>): Promise<void> {
  const host = await startHost(['--compat-port', '0', ...args]);
  try {
    await body(host);
  } finally {
    await host.stop();
  }
}

/** The HTTP status a WebSocket upgrade to `url` gets: 101, or the refusal's. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      socket.terminate();
    });
    socket.once('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}

describe('admission', () => {
  test('origins: the host pages and listed origins pass, others get 403; clients without Origin (bots) pass', async () => {
    await withHost(['--workers', '1', '--allowed-origins', 'http://seed.example:55151'], async (host) => {
      const url = host.compatWs!;
      expect(await upgradeStatus(url, { Origin: 'http://seed.example:55151' })).toBe(101);
      expect(await upgradeStatus(url, { Origin: `http://127.0.0.1:${host.port}` })).toBe(101);
      expect(await upgradeStatus(url, { Origin: 'http://evil.example:55151' })).toBe(403);
      expect(await upgradeStatus(url)).toBe(101);
      const metrics = await scrape(host.http);
      expect(metrics.get('chat_connections_refused_total{reason="origin"}')).toBe(1);
      expect(metrics.get('chat_connections_refused_by_protocol_total{protocol="workerman",reason="origin"}')).toBe(1);
      expect(metrics.get('chat_connections_refused_by_protocol_total{protocol="flatbuffers",reason="origin"}')).toBe(0);
    });
  });

  test('one set of connection counts for both ports (--max-connections-per-ip); metrics say which protocol', async () => {
    await withHost(['--workers', '2', '--max-connections-per-ip', '3'], async (host) => {
      const flat = await TestClient.connect(host.ws);
      const first = await CompatClient.connect(host.compatWs!);
      const second = await CompatClient.connect(host.compatWs!);
      expect(await upgradeStatus(host.compatWs!)).toBe(429);
      expect(await upgradeStatus(host.ws)).toBe(429);
      let metrics = await scrape(host.http);
      expect(metrics.get('chat_connections')).toBe(3);
      expect(metrics.get('chat_connections_by_protocol{protocol="workerman"}')).toBe(2);
      expect(metrics.get('chat_connections_by_protocol{protocol="flatbuffers"}')).toBe(1);
      expect(metrics.get('chat_connections_refused_by_protocol_total{protocol="workerman",reason="per-ip-limit"}')).toBe(1);
      expect(metrics.get('chat_connections_refused_by_protocol_total{protocol="flatbuffers",reason="per-ip-limit"}')).toBe(1);
      await second.close();
      // The released slot is taken by whichever port asks (counts are released on close, polled until the scrape agrees).
      while ((await scrape(host.http)).get('chat_connections') !== 2) await new Promise((resolve) => setTimeout(resolve, 20));
      const third = await CompatClient.connect(host.compatWs!);
      await third.login('Third', 1);
      await first.login('First', 1);
      first.say('counted');
      await third.nextSay((f) => f.content === 'counted');
      metrics = await scrape(host.http);
      expect(metrics.get('chat_requests_by_protocol_total{protocol="workerman"}')).toBe(3);
      expect(metrics.get('chat_requests_by_protocol_total{protocol="flatbuffers"}')).toBe(0);
      expect(metrics.get('chat_connections_opened_by_protocol_total{protocol="workerman"}')).toBe(3);
      expect(metrics.get('chat_deliveries_by_protocol_total{protocol="workerman"}')).toBeGreaterThanOrEqual(4);
      await Promise.all([flat.close(), first.close(), third.close()]);
    });
  });

  test('requests past the per-connection rate get RateLimited; sustained flooding closes 1008', async () => {
    await withHost(['--workers', '1', '--rate-limit', '2', '--rate-burst', '2', '--rate-abuse-seconds', '1'], async (host) => {
      const flood = await CompatClient.connect(host.compatWs!);
      for (let i = 0; i < 3; i++) flood.sendText('{"type":"pong"}');
      const limited = await flood.nextError();
      expect(limited).toMatchObject({ type: 'error', code: 100, error: 'RateLimited' });
      expect(limited.msg).toMatch(/^too many requests: at most 2 per second/);
      // Keep going faster than 2/s: after a second of refusals the host closes.
      let closed = false;
      void flood.closed.then(() => (closed = true));
      for (let i = 0; i < 500 && !closed; i++) {
        flood.sendText('{"type":"pong"}');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const end = await flood.closed;
      expect(end.code).toBe(CloseCode.PolicyViolation);
      expect(end.reason).toBe('over the rate limit of 2 requests/s for 1 s');
    });
  });

  test('the per-address request budget (--rate-limit-per-ip, counted with the main port) applies here too', async () => {
    await withHost(['--workers', '2', '--rate-limit-per-ip', '3'], async (host) => {
      const compat = await CompatClient.connect(host.compatWs!);
      // 10 at once: across a one-second window's edge at most 6 pass.
      for (let i = 0; i < 10; i++) compat.sendText('{"type":"pong"}');
      const refused = await compat.nextError((f) => f.error === 'RateLimited');
      expect(refused.msg).toMatch(/^too many requests from your address/);
      await compat.close();
    });
  });

  test('a compat reader that stops reading is closed 4001; the others get everything', { timeout: 120_000 }, async () => {
    const limit = 64 * 1024;
    await withHost(['--workers', '1', '--max-backpressure', String(limit), '--rate-limit', '100000', '--rate-burst', '100000'], async (host) => {
      const sender = await TestClient.connect(host.ws);
      await sender.join('7', 'sender');
      const reader = await CompatClient.connect(host.compatWs!);
      const stalled = await CompatClient.connect(host.compatWs!);
      await reader.login('reader', 7);
      await stalled.login('stalled', 7);
      reader.drain();
      (stalled.socket as unknown as { _socket: Socket })._socket.pause();
      const text = 'x'.repeat(1500);
      let sent = 0;
      let metrics = await scrape(host.http);
      // Bounded: at most 400 rounds of 50 messages (30 MB; loopback's kernel queues hold about 4 MB).
      for (let round = 0; round < 400 && metrics.get('chat_backpressure_closes_total') === 0; round++) {
        for (let i = 0; i < 50; i++) sender.send({ type: 'say', requestId: 0, room: '7', text: `${sent++} ${text}`, to: null });
        const lastText = `${sent - 1} `;
        await reader.nextSay((f) => f.content.startsWith(lastText));
        reader.drain();
        metrics = await scrape(host.http);
      }
      expect(metrics.get('chat_closes_total{code="4001"}')).toBe(1);
      (stalled.socket as unknown as { _socket: Socket })._socket.resume();
      const closed = await stalled.closed;
      expect(closed.code).toBe(CloseCode.TooSlow);
      expect(closed.reason).toMatch(new RegExp(`^too slow: \\d+ bytes waiting to be sent, over the ${limit}-byte limit; reconnect$`));
      // Every message the stalled reader read came in order, none skipped.
      const numbers = stalled.frames.filter((f) => f.type === 'say').map((f) => Number((f.content as string).split(' ')[0]));
      expect(numbers).toEqual(numbers.map((_, i) => i));
      await sender.say('7', 'after');
      await reader.nextSay((f) => f.content === 'after');
      await Promise.all([sender.close(), reader.close()]);
    });
  });

  test('a silent client gets the seed ping, {"type":"ping"}, and stays when it answers pong', async () => {
    // --idle-timeout 8: the ping interval is 4 s (10 s, as the seed, from an idle timeout of 20 s up).
    await withHost(['--workers', '1', '--idle-timeout', '8'], async (host) => {
      const quiet = await CompatClient.connect(host.compatWs!);
      await quiet.login('Quiet', 3);
      await quiet.next('ping');
      expect(quiet.received.at(-1)).toBe('{"type":"ping"}');
      quiet.sendText('{"type":"pong"}');
      quiet.say('still here');
      await quiet.nextSay((f) => f.content === 'still here');
      expect(quiet.frames.filter((f) => f.type === 'error')).toEqual([]);
      await quiet.close();
    });
  });
});

describe('TLS and exits', () => {
  const fixtures = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
  const ca = readFileSync(`${fixtures}cert.pem`);

  test('with --cert and --key the compat port speaks WSS in every worker, and says so at start', async () => {
    await withHost(['--workers', '2', '--cert', `${fixtures}cert.pem`, '--key', `${fixtures}key.pem`], async (host) => {
      const line = await host.waitForLog((l) => String(l.msg).startsWith('chat host listening'));
      expect(line.msg).toBe(`chat host listening on https://127.0.0.1:${host.port}, workerman-chat clients on wss://127.0.0.1:${host.compatPort}`);
      const url = `wss://127.0.0.1:${host.compatPort}`;
      const ann = await CompatClient.connect(url, { ca });
      const bob = await CompatClient.connect(url, { ca });
      await ann.login('Ann', 9);
      await bob.login('Bob', 9);
      ann.say('over TLS');
      expect((await bob.nextSay((f) => f.content === 'over TLS')).from_client_name).toBe('Ann');
      await expect(CompatClient.connect(host.compatWs!)).rejects.toThrow();
      await Promise.all([ann.close(), bob.close()]);
    });
  });

  test('SIGTERM closes compat clients with 1001 and the host exits 0', async () => {
    const host = await startHost(['--workers', '2', '--compat-port', '0']);
    const clients = await Promise.all([0, 1, 2, 3].map(() => CompatClient.connect(host.compatWs!)));
    await clients[0]!.login('Ann', 1);
    const exit = host.stop('SIGTERM');
    for (const c of clients) expect(await c.closed).toEqual({ code: CloseCode.GoingAway, reason: 'server shutting down' });
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(host.stderr()).toBe('');
  });

  test('a worker crash closes its compat clients with 1012; the worker comes back and the process lives on', async () => {
    await withHost(['--workers', '1', '--fault-injection'], async (host) => {
      const ann = await CompatClient.connect(host.compatWs!);
      const bob = await TestClient.connect(host.ws);
      await ann.login('Ann', 5);
      const crash = await fetch(`${host.http}/debug/crash-worker`, { method: 'POST' });
      expect(crash.status).toBe(200);
      expect(await ann.closed).toEqual({ code: CloseCode.ServiceRestart, reason: 'worker restarting; reconnect' });
      expect((await bob.closed).code).toBe(CloseCode.ServiceRestart);
      await host.waitForLog((line) => line.msg === 'worker restarted');
      const again = await CompatClient.connect(host.compatWs!);
      const login = await again.login('Ann', 5);
      expect(Object.values(login.client_list!)).toEqual(['Ann']);
      await again.close();
      expect(host.process.exitCode).toBeNull();
    });
  });
});

describe('--compat-port checks', () => {
  test.concurrent.for([
    [['--compat-port', 'abc'], 'invalid --compat-port: expected a whole number, got "abc"'],
    [['--compat-port', '70000'], 'invalid --compat-port: 70000 is outside 0-65535'],
    [['--port', '7272', '--compat-port', '7272'], 'invalid --compat-port: 7272 is --port too; the workerman-chat listener needs a port of its own'],
    [
      ['--compat-port', '7272', '--token-secret', 'x'.repeat(32)],
      '--compat-port cannot go with --token-secret: workerman-chat clients have no way to send a join token',
    ],
  ])('%j', async ([args, message], { expect }) => {
    const { code, stderr } = await runHost(args as string[]);
    expect(code).toBe(2);
    expect(stderr).toBe(`chat-host: ${message}\n`);
  });

  test('a compat port in use stops the host with one line naming it', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as AddressInfo).port;
    try {
      const { code, stderr } = await runHost(['--host', '127.0.0.1', '--port', '0', '--workers', '1', '--compat-port', String(taken)]);
      expect(code).toBe(2);
      expect(stderr).toMatch(
        new RegExp(
          `^chat-host: cannot listen on 127\\.0\\.0\\.1:\\d+ or 127\\.0\\.0\\.1:${taken} \\(--compat-port\\) \\(in use by another program, or not an address of this machine\\)\\n$`,
        ),
      );
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  test('CHAT_COMPAT_PORT turns it on', async () => {
    const host = await startHost(['--workers', '1'], { CHAT_COMPAT_PORT: '0' });
    try {
      expect(host.compatPort).toBeGreaterThan(0);
      const c = await CompatClient.connect(host.compatWs!);
      await c.login('Env', 1);
      await c.close();
    } finally {
      await host.stop();
    }
  });
});
